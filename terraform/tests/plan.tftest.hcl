# `terraform test` with a mocked AWS provider: builds the whole graph offline (no credentials, no
# API calls) and checks the values the deployment guide relies on. Run from terraform/ after
# `terraform init` (tests/terraform/test_terraform.py does this against a local provider mirror).

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  # The provider validates ARN arguments even against a mock, so the mocked ARNs must look real.
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/mock/0", dns_name = "mock.elb.example" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mock/0" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:us-east-1:123456789012:mock", url = "https://sqs.us-east-1.amazonaws.com/123456789012/mock" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mock" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  db_password = "aaaaaaaaaaaaaaaaaaaa" # a placeholder, not a secret
}

run "defaults_match_the_guide" {
  command = apply # against the mock: nothing is created

  assert {
    condition     = aws_ecs_cluster.main.name == "health-monitor-cluster"
    error_message = "cluster name"
  }
  assert {
    condition = toset([aws_ecs_service.api.name, aws_ecs_service.scheduler.name, aws_ecs_service.worker.name]) == toset(
    ["health-monitor-api", "health-monitor-scheduler", "health-monitor-worker"])
    error_message = "service names"
  }
  assert {
    condition     = aws_ecs_task_definition.app["db-init"].family == "health-monitor-db-init"
    error_message = "db-init task definition family"
  }
  assert {
    condition = (aws_appautoscaling_target.worker.min_capacity == 1 && aws_appautoscaling_target.worker.max_capacity == 5 &&
    aws_appautoscaling_policy.worker_backlog.target_tracking_scaling_policy_configuration[0].target_value == 10)
    error_message = "worker autoscaling must be 10 messages per task, 1..5 tasks"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app["worker"].container_definitions)[0].stopTimeout == 30
    error_message = "worker stopTimeout"
  }
  assert {
    condition = alltrue([for td in aws_ecs_task_definition.app : (
      contains([for s in jsondecode(td.container_definitions)[0].secrets : s.name], "DATABASE_URL") &&
      !contains([for e in jsondecode(td.container_definitions)[0].environment : e.name], "DATABASE_URL")
    )])
    error_message = "DATABASE_URL must come from secrets, never environment"
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.checks.redrive_policy).maxReceiveCount == 5
    error_message = "redrive maxReceiveCount"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.ecs : g.retention_in_days == 7])
    error_message = "log retention"
  }
  assert {
    condition     = length(aws_lb_listener.http_forward) == 1 && length(aws_lb_listener.https) == 0
    error_message = "without a certificate the ALB serves plain HTTP only"
  }
  assert {
    condition     = startswith(output.api_url, "http://")
    error_message = "api_url is http:// without a certificate"
  }
}

run "a_certificate_turns_on_https_and_the_redirect" {
  command = apply

  variables {
    acm_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    api_domain_name     = "status.example.com"
  }

  assert {
    condition     = length(aws_lb_listener.https) == 1 && length(aws_lb_listener.http_redirect) == 1 && length(aws_lb_listener.http_forward) == 0
    error_message = "HTTPS listener plus HTTP redirect expected"
  }
  assert {
    condition     = output.api_url == "https://status.example.com"
    error_message = "api_url uses the domain over https"
  }
}

run "a_password_that_breaks_the_url_is_refused" {
  command = plan

  variables {
    db_password = "aaaaaaaa/aaaaaaaaaaa"
  }

  expect_failures = [var.db_password]
}
