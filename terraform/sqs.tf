# The check queue: the scheduler sends, the workers receive. A message that fails five receives
# (a check that keeps crashing its worker) goes to the dead-letter queue instead of looping forever.

locals {
  # Above the longest check (30 s, healthmon.defaults.MAX_CHECK_TIMEOUT) plus recording the result;
  # the worker extends it with ChangeMessageVisibility when it needs more. Same value as the app's
  # QUEUE_VISIBILITY_TIMEOUT default.
  queue_visibility_timeout = 60
  queue_max_receives       = 5
  queue_retention_seconds  = 24 * 60 * 60 # the guide: unprocessed checks are stale after a day
}

resource "aws_sqs_queue" "checks" {
  name                       = "${local.name}-checks"
  visibility_timeout_seconds = local.queue_visibility_timeout
  message_retention_seconds  = local.queue_retention_seconds
  receive_wait_time_seconds  = 20 # long polling: fewer empty receives
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.checks_dlq.arn
    maxReceiveCount     = local.queue_max_receives
  })
}

resource "aws_sqs_queue" "checks_dlq" {
  name                      = "${local.name}-checks-dlq"
  message_retention_seconds = 14 * 24 * 60 * 60 # the SQS maximum: time to inspect poison messages
  sqs_managed_sse_enabled   = true
}

# Only the check queue may use this queue as its dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "checks_dlq" {
  queue_url = aws_sqs_queue.checks_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.checks.arn]
  })
}
