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
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mock" }
  }
  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl" }
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
  # Destroy removes everything (the guide's cleanup step).
  assert {
    condition     = aws_db_instance.main.deletion_protection == false && aws_db_instance.main.skip_final_snapshot == true
    error_message = "the database must be deletable without a snapshot by default"
  }
  assert {
    condition     = alltrue([for r in aws_ecr_repository.app : r.force_delete])
    error_message = "ECR repositories must be force-deleted by default"
  }
  assert {
    condition = (aws_secretsmanager_secret.database_url.recovery_window_in_days == 0 &&
    aws_secretsmanager_secret.initial_api_key.recovery_window_in_days == 0)
    error_message = "secrets are deleted at once by default"
  }
  # The initial API key: a healthmon key, given to db-init only.
  assert {
    condition     = can(regex("^hmw_[A-Za-z0-9]{48}$", aws_secretsmanager_secret_version.initial_api_key.secret_string))
    error_message = "the initial key must be hmw_ and 48 letters or digits"
  }
  assert {
    condition = alltrue([for k, td in aws_ecs_task_definition.app : (
      contains([for s in jsondecode(td.container_definitions)[0].secrets : s.name], "HEALTHMON_INITIAL_API_KEY") == (k == "db-init")
    )])
    error_message = "only db-init gets HEALTHMON_INITIAL_API_KEY"
  }
  # Alarms exist without an e-mail; they notify no one.
  assert {
    condition = (length(aws_sns_topic.alarms) == 0 && length(aws_cloudwatch_metric_alarm.dlq_depth.alarm_actions) == 0 &&
    aws_cloudwatch_metric_alarm.api_unhealthy_hosts.threshold == 0)
    error_message = "alarms without actions when alarm_email is unset"
  }
  # NAT by default: services in the private subnets without public IPs.
  assert {
    condition     = length(aws_nat_gateway.main) == 1 && aws_ecs_service.worker.network_configuration[0].assign_public_ip == false
    error_message = "one NAT gateway and private tasks by default"
  }
}

run "production_settings_protect_the_data_and_alarms_mail" {
  command = plan

  variables {
    db_deletion_protection      = true
    db_skip_final_snapshot      = false
    ecr_force_delete            = false
    secret_recovery_window_days = 30
    alarm_email                 = "ops@example.com"
  }

  assert {
    condition     = aws_db_instance.main.deletion_protection && !aws_db_instance.main.skip_final_snapshot
    error_message = "production database settings"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic_subscription.alarm_email[0].endpoint == "ops@example.com"
    error_message = "alarm topic and e-mail subscription"
  }
}

run "tasks_public_ip_drops_the_nat_gateway" {
  command = apply

  variables {
    tasks_public_ip = true
  }

  assert {
    condition     = length(aws_nat_gateway.main) == 0 && length(aws_eip.nat) == 0
    error_message = "no NAT gateway or its EIP"
  }
  assert {
    condition = alltrue([for s in [aws_ecs_service.api, aws_ecs_service.scheduler, aws_ecs_service.worker] :
    s.network_configuration[0].assign_public_ip && toset(s.network_configuration[0].subnets) == toset(aws_subnet.public[*].id)])
    error_message = "services in the public subnets with public IPs"
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

run "arm64_tasks" {
  command = plan

  variables {
    cpu_architecture = "ARM64"
  }

  assert {
    condition     = alltrue([for td in aws_ecs_task_definition.app : td.runtime_platform[0].cpu_architecture == "ARM64"])
    error_message = "every task definition runs ARM64"
  }
}

run "an_unknown_architecture_is_refused" {
  command = plan

  variables {
    cpu_architecture = "arm64"
  }

  expect_failures = [var.cpu_architecture]
}
