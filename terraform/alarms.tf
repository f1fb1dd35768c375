# CloudWatch alarms on the two things that mean "checks or the API are failing" without anyone
# looking: dead letters (checks that failed 5 receives) and API tasks the ALB finds unhealthy.
# With alarm_email set they notify an SNS topic with an e-mail subscription (confirm the e-mail AWS
# sends); without it they still show in the CloudWatch console. Two alarms cost $0.20/month.

resource "aws_sns_topic" "alarms" {
  count             = var.alarm_email == null ? 0 : 1
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn # kms.tf lets CloudWatch publish with it
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = aws_sns_topic.alarms[*].arn
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${local.name}-dlq-not-empty"
  alarm_description   = "Checks reached the dead-letter queue (5 failed receives). Inspect: aws sqs receive-message --queue-url $(terraform -chdir=terraform output -raw dlq_url)"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.checks_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_unhealthy_hosts" {
  alarm_name          = "${local.name}-api-unhealthy-hosts"
  alarm_description   = "The load balancer finds API tasks unhealthy (GET /health) for 3 minutes. See aws logs tail /ecs/health-monitor-api"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.api.arn_suffix, TargetGroup = aws_lb_target_group.api.arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
