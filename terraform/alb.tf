# Internet-facing ALB in the public subnets, forwarding to the API tasks (target type ip, Fargate).
# HTTPS only when acm_certificate_arn is set; then port 80 redirects to 443.

locals {
  https = var.acm_certificate_arn != null
}

resource "aws_lb" "api" {
  name               = "${local.name}-alb"
  load_balancer_type = "application"
  internal           = false
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  # An ALB holds no data and `terraform apply` recreates it; protection would only block destroy.
  enable_deletion_protection = false
}

resource "aws_lb_target_group" "api" {
  name        = "${local.name}-api"
  vpc_id      = aws_vpc.main.id
  target_type = "ip"
  protocol    = "HTTP"
  port        = local.api_port

  # In-flight API requests are short; 30 s is plenty to drain a task that is being replaced.
  deregistration_delay = 30

  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

# HTTP without a certificate: forward to the API.
resource "aws_lb_listener" "http_forward" {
  #checkov:skip=CKV_AWS_2:Plain HTTP is served only while acm_certificate_arn is unset (the guide's setup); with a certificate this listener is replaced by http_redirect.
  #checkov:skip=CKV_AWS_103:No TLS on this listener at all (see CKV_AWS_2); the HTTPS listener enforces TLS 1.2+.
  count             = local.https ? 0 : 1
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

# HTTP with a certificate: redirect to HTTPS.
resource "aws_lb_listener" "http_redirect" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  count             = local.https ? 1 : 0
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.acm_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
