# The first six are the deployment guide's (docs/DEPLOYMENT.md uses them by these names).

output "api_url" {
  description = "Base URL of the API (GET $api_url/health answers {\"status\":\"ok\"})."
  value = local.https ? "https://${coalesce(var.api_domain_name, aws_lb.api.dns_name)}" : (
    "http://${coalesce(var.api_domain_name, aws_lb.api.dns_name)}"
  )
}

output "ecr_repositories" {
  description = "ECR repository URL per image: api, scheduler, worker, db-init."
  value       = { for key, repo in aws_ecr_repository.app : key => repo.repository_url }
}

output "sqs_queue_url" {
  description = "URL of the check queue (SQS_QUEUE_URL of the containers)."
  value       = aws_sqs_queue.checks.url
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.main.name
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT). A one-off task started here needs assignPublicIp=ENABLED."
  value       = aws_subnet.public[*].id
}

output "ecs_security_group_id" {
  description = "Security group of the ECS tasks; use it for one-off tasks (db-init, api-key) too."
  value       = aws_security_group.ecs.id
}

output "private_subnet_ids" {
  description = "Private subnets where the services run; the place for one-off tasks (assignPublicIp=DISABLED)."
  value       = aws_subnet.private[*].id
}

output "dlq_url" {
  description = "URL of the dead-letter queue (checks that failed 5 receives)."
  value       = aws_sqs_queue.checks_dlq.url
}

output "db_endpoint" {
  description = "host:port of the PostgreSQL instance (reachable from the ECS tasks only)."
  value       = aws_db_instance.main.endpoint
}

output "database_url_secret_arn" {
  description = "ARN of the Secrets Manager secret holding DATABASE_URL."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "initial_api_key_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the initial API key (docs/DEPLOYMENT.md, \"Your API key\")."
  value       = aws_secretsmanager_secret.initial_api_key.arn
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point api_domain_name at it with a CNAME or alias)."
  value       = aws_lb.api.dns_name
}

output "log_groups" {
  description = "CloudWatch log group per process: api, scheduler, worker, db-init."
  value       = { for key, group in aws_cloudwatch_log_group.ecs : key => group.name }
}
