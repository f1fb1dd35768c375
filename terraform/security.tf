# Three security groups, each open only to the one before it:
#   internet --80/443--> ALB --api port--> ECS tasks --5432--> RDS
# Rules are separate resources so the ALB and ECS groups can refer to each other without a cycle.

resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Load balancer: HTTP/HTTPS from the internet, forwards to the API tasks"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients (redirected to HTTPS when a certificate is set)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.alb_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to the API tasks and run health checks on them"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
}

resource "aws_security_group" "ecs" {
  name        = "${local.name}-ecs-tasks"
  description = "ECS tasks: API port from the ALB only; outbound to checked URLs, Slack, AWS APIs and RDS"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-ecs-tasks" }
}

resource "aws_vpc_security_group_ingress_rule" "ecs_from_alb" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "API port from the load balancer only"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = local.api_port
  to_port                      = local.api_port
}

# Monitored URLs may use any TCP port (https://example.com:8443/), so outbound TCP is open; the app
# itself refuses private, link-local and metadata addresses (healthmon.netguard). DNS to the VPC
# resolver is not filtered by security groups.
resource "aws_vpc_security_group_egress_rule" "ecs_tcp_out" {
  security_group_id = aws_security_group.ecs.id
  description       = "Outbound TCP: checked URLs, Slack webhooks, ECR, SQS, Secrets Manager, CloudWatch"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}

resource "aws_security_group" "rds" {
  name        = "${local.name}-rds"
  description = "PostgreSQL: from the ECS tasks only; no outbound rules"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-rds" }
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_ecs" {
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the ECS tasks"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
