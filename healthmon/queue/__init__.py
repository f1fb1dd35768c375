"""The check queue: one interface (`healthmon.queue.base.CheckQueue`), two backends.

`open_queue(settings)` returns the SQS backend when SQS_QUEUE_URL is set, else the database backend.
"""

from __future__ import annotations

from healthmon.queue.base import CheckJob, CheckQueue, ReceivedJob
from healthmon.settings import Settings

__all__ = ["CheckJob", "CheckQueue", "ReceivedJob", "open_queue"]


def open_queue(settings: Settings) -> CheckQueue:
    """The queue named by the settings: `SqsQueue` if SQS_QUEUE_URL is set, else `DatabaseQueue`.

    Opening connects nothing: the SQS client is built on first use in the calling process, and the
    database backend uses the process's bound database (call `healthmon.db.bind` first).
    Imports are lazy so the database backend never loads boto3.
    """
    if settings.queue_backend == "sqs":
        from healthmon.queue.sqs import SqsQueue

        return SqsQueue(settings)
    from healthmon.queue.database import DatabaseQueue

    return DatabaseQueue(settings)
