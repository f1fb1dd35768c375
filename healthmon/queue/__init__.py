"""The check queue: one interface (`healthmon.queue.base.CheckQueue`), two backends.

`open_queue(settings)` returns the SQS backend when SQS_QUEUE_URL is set, else the database backend.
"""
