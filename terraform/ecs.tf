# The ECS cluster, one task definition per process (api, scheduler, worker, db-init) and the three
# long-running services. db-init has no service: it is run once with `aws ecs run-task` (guide STEP 8).

resource "aws_ecs_cluster" "main" {
  name = local.cluster_name

  # Container Insights also publishes RunningTaskCount, which worker autoscaling divides by.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  depends_on = [aws_cloudwatch_log_group.container_insights]
}

locals {
  cluster_name = "health-monitor-cluster"
}

# Container Insights writes its performance events here; ECS would create the group itself, with no
# retention, and `terraform destroy` would leave it behind. Created first, it is ours to expire and delete.
resource "aws_cloudwatch_log_group" "container_insights" {
  name              = "/aws/ecs/containerinsights/${local.cluster_name}/performance"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "ecs" {
  for_each          = local.ecr_repositories # same keys: api, scheduler, worker, db-init
  name              = "/ecs/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

locals {
  # Every container gets the same configuration; DATABASE_URL comes from Secrets Manager only.
  container_environment = [
    { name = "SQS_QUEUE_URL", value = aws_sqs_queue.checks.url },
    { name = "AWS_REGION", value = var.aws_region },
    { name = "FAIL_THRESHOLD", value = tostring(var.fail_threshold) },
    { name = "SUCCESS_THRESHOLD", value = tostring(var.success_threshold) },
    { name = "PORT", value = tostring(local.api_port) },
    { name = "LOG_LEVEL", value = var.log_level },
    { name = "QUEUE_VISIBILITY_TIMEOUT", value = tostring(local.queue_visibility_timeout) },
  ]
  container_secrets = [
    { name = "DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
  ]

  # One container per task. The image's user (uid 10001) is kept. The root filesystem stays
  # writable: gunicorn needs a writable temp dir and Fargate's task volumes are root-owned
  # (aws/containers-roadmap#938), so a read-only root would need a change to the image first.
  containers = {
    api = {
      name         = "api"
      image        = "${aws_ecr_repository.app["api"].repository_url}:${var.image_tag}"
      essential    = true
      command      = ["healthmon", "api"]
      portMappings = [{ containerPort = local.api_port, protocol = "tcp" }]
      environment  = local.container_environment
      secrets      = local.container_secrets
      logConfiguration = {
        logDriver = "awslogs"
        options   = { awslogs-group = aws_cloudwatch_log_group.ecs["api"].name, awslogs-region = var.aws_region, awslogs-stream-prefix = "api" }
      }
    }
    scheduler = {
      name        = "scheduler"
      image       = "${aws_ecr_repository.app["scheduler"].repository_url}:${var.image_tag}"
      essential   = true
      command     = ["healthmon", "scheduler"]
      environment = local.container_environment
      secrets     = local.container_secrets
      logConfiguration = {
        logDriver = "awslogs"
        options   = { awslogs-group = aws_cloudwatch_log_group.ecs["scheduler"].name, awslogs-region = var.aws_region, awslogs-stream-prefix = "scheduler" }
      }
    }
    worker = {
      name        = "worker"
      image       = "${aws_ecr_repository.app["worker"].repository_url}:${var.image_tag}"
      essential   = true
      command     = ["healthmon", "checker"]
      environment = local.container_environment
      secrets     = local.container_secrets
      # SIGTERM, then SIGKILL after 30 s: the pool drains in-flight checks within SHUTDOWN_GRACE (20 s)
      # and releases the rest back to SQS. An init process forwards the signal to the pool's
      # processes and reaps them.
      stopTimeout     = 30
      linuxParameters = { initProcessEnabled = true }
      logConfiguration = {
        logDriver = "awslogs"
        options   = { awslogs-group = aws_cloudwatch_log_group.ecs["worker"].name, awslogs-region = var.aws_region, awslogs-stream-prefix = "worker" }
      }
    }
    db-init = {
      name        = "db-init"
      image       = "${aws_ecr_repository.app["db-init"].repository_url}:${var.image_tag}"
      essential   = true
      command     = ["healthmon", "init-db"]
      environment = local.container_environment
      # init-db also registers the initial API key (secrets.tf); no other container gets it.
      secrets = concat(local.container_secrets, [
        { name = "HEALTHMON_INITIAL_API_KEY", valueFrom = aws_secretsmanager_secret.initial_api_key.arn },
      ])
      logConfiguration = {
        logDriver = "awslogs"
        options   = { awslogs-group = aws_cloudwatch_log_group.ecs["db-init"].name, awslogs-region = var.aws_region, awslogs-stream-prefix = "db-init" }
      }
    }
  }

  # Only the processes that use SQS get a task role (iam.tf); the API and db-init call no AWS API.
  task_role_arns = {
    api       = null
    scheduler = aws_iam_role.scheduler_task.arn
    worker    = aws_iam_role.worker_task.arn
    db-init   = null
  }
}

resource "aws_ecs_task_definition" "app" {
  for_each                 = local.containers
  family                   = "${local.name}-${each.key}" # health-monitor-api, -scheduler, -worker, -db-init
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu[each.key]
  memory                   = var.task_memory[each.key]
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = local.task_role_arns[each.key]
  container_definitions    = jsonencode([each.value])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture # build the images with --platform linux/amd64 (ARM64: linux/arm64)
  }
}

locals {
  # Private subnets behind NAT, or (tasks_public_ip) public subnets with a public IP and no NAT.
  service_network = {
    subnets          = var.tasks_public_ip ? aws_subnet.public[*].id : aws_subnet.private[*].id
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = var.tasks_public_ip
  }
}

resource "aws_ecs_service" "api" {
  name            = "health-monitor-api"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.app["api"].arn
  desired_count   = var.api_desired_count
  launch_type     = "FARGATE"

  # gunicorn needs a few seconds to start; don't let the ALB kill a task that is still booting.
  health_check_grace_period_seconds = 30

  network_configuration {
    subnets          = local.service_network.subnets
    security_groups  = local.service_network.security_groups
    assign_public_ip = local.service_network.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = local.api_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.http_forward, aws_lb_listener.http_redirect]
}

resource "aws_ecs_service" "scheduler" {
  name            = "health-monitor-scheduler"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.app["scheduler"].arn
  desired_count   = var.scheduler_desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = local.service_network.subnets
    security_groups  = local.service_network.security_groups
    assign_public_ip = local.service_network.assign_public_ip
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_service" "worker" {
  name            = "health-monitor-worker"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.app["worker"].arn
  desired_count   = var.worker_min_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = local.service_network.subnets
    security_groups  = local.service_network.security_groups
    assign_public_ip = local.service_network.assign_public_ip
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Autoscaling owns the worker count after creation (autoscaling.tf).
  lifecycle {
    ignore_changes = [desired_count]
  }
}
