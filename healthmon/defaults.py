"""Named defaults and bounds. Each constant says why it has the value it has."""

DEFAULT_DATABASE_URL = "sqlite:///healthmon.db"
"""The embedded default: one SQLite file in the working directory, no server needed."""

DEFAULT_FAIL_THRESHOLD = 2
"""Consecutive failed checks before a monitor goes DOWN (the guide's FAIL_THRESHOLD)."""

DEFAULT_SUCCESS_THRESHOLD = 2
"""Consecutive good checks before a monitor goes UP (the guide's SUCCESS_THRESHOLD)."""

MAX_THRESHOLD = 10
"""Above ten consecutive checks an alert is too late to be useful; Gatus and Uptime Kuma cap similarly."""

DEFAULT_MIN_CHECK_INTERVAL = 10
"""The lowest check_interval (seconds) the API accepts; tests lower it through MIN_CHECK_INTERVAL."""

MAX_CHECK_INTERVAL = 86_400
"""One day. Longer intervals are better served by a cron job (Uptime Kuma broke past ~24.8 days)."""

DEFAULT_CHECK_INTERVAL = 60
"""check_interval when a request omits it."""

DEFAULT_CHECK_TIMEOUT = 5
"""timeout (seconds) when a request omits it; the guide's examples use 5."""

MIN_CHECK_TIMEOUT = 1
MAX_CHECK_TIMEOUT = 30
"""A check's whole wall-clock budget is capped so a draining checker finishes within ECS's 30 s stop window."""

DEFAULT_EXPECTED_STATUS = 200

MAX_URL_LENGTH = 2048
"""Longest URL accepted; browsers and most proxies stop around here."""

MAX_REQUEST_BYTES = 64 * 1024
"""Largest API request body; anything bigger is answered 413 before it is parsed."""

MAX_BULK_MONITORS = 1000
"""Most monitors one POST /monitors/bulk creates. The same as the largest page of GET /monitors, so a
config-as-code `apply` can list and create in steps of one size; it keeps one request's transaction, its
validation (~40 ms) and its response (~0.6 MB of JSON) bounded. Larger sets are sent as several requests."""

MAX_BULK_REQUEST_BYTES = 1024 * 1024
"""Largest POST /monitors/bulk body (every other route keeps MAX_REQUEST_BYTES): 1,000 monitors at an
average of 1 KiB each. A typical monitor is 150-400 bytes of JSON; a set with very long URLs or webhooks is
split into smaller requests. Bigger bodies are answered 413 before they are parsed, as elsewhere."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A check reads at most 1 MiB of the target's body, then stops: an endless body cannot exhaust memory."""

MAX_REDIRECTS = 5
"""Redirect hops a check follows; a loop fails with too_many_redirects."""

DEFAULT_CHECKER_CONCURRENCY = 100
"""Checks one checker process runs at once (libcurl multi handle, one thread)."""

MAX_CHECKER_CONCURRENCY = 5000

DEFAULT_SCHEDULER_TICK = 1.0
"""Seconds between scheduler ticks; the issue asks for at most 1 s."""

DEFAULT_SCHEDULER_BATCH = 1000
"""Most monitors one scheduler tick enqueues. 10,000 monitors created at once (all due now) are spread
over ten ticks instead of hitting the queue and the targets in one second; at one tick per second this
still sustains 1,000 checks/s, i.e. 60,000 monitors at a 60 s interval."""

MAX_SCHEDULER_BATCH = 100_000

MAX_WAIT_TIME_SECONDS = 20
"""SQS long-poll maximum (ReceiveMessage WaitTimeSeconds).
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html"""

MAX_BATCH_SIZE = 10
"""SQS SendMessageBatch / ReceiveMessage MaxNumberOfMessages maximum.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html"""

DEFAULT_VISIBILITY_TIMEOUT = 60
"""Seconds a received message stays invisible: above the longest check (30 s) plus recording."""

MAX_VISIBILITY_TIMEOUT = 43_200
"""SQS maximum visibility timeout (12 hours)."""

DEFAULT_MAX_RECEIVES = 5
"""Receives before a message goes to the dead-letter queue (SQS redrive maxReceiveCount)."""

DEFAULT_SHUTDOWN_GRACE = 20.0
"""Seconds a checker drains in-flight checks after SIGTERM before releasing the rest; ECS kills at 30 s."""

DEFAULT_RESULT_RETENTION_DAYS = 14
"""Raw check results older than this are deleted (their hourly and daily rollups stay for 90 and 400 days;
healthmon.retention); state changes are kept. Two weeks of raw rows serve the 24 h and 7 d views and
debugging; the long history is in the rollups, at a few bytes per check."""

MAX_APPLY_MONITORS = 20_000
"""Most monitors one POST /apply (config as code) declares: twice the 10,000 it is measured at (bench/apply.py).
Validated and planned in one request and one transaction, so a failed apply changes nothing."""

MAX_PLANNED_CHANNELS = 1000
"""Most channels one POST /channels/plan compares (a config file declares a handful; this bounds the request)."""

MAX_CHANNEL_PLAN_REQUEST_BYTES = 8 * 1024 * 1024
"""Largest POST /channels/plan body: 1,000 channels of the largest kind (e-mail to 20 addresses of 254
characters, a 256-character password: about 6 KiB) and then some."""

MAX_APPLY_REQUEST_BYTES = 32 * 1024 * 1024
"""Largest POST /apply body: 20,000 monitors at an average of 1.6 KiB."""
