terraform {
  # The oldest Terraform whose language this configuration uses (docs/DEPLOYMENT.md states the same;
  # tests/terraform keeps out features of later versions). Only `terraform test` on terraform/tests
  # needs 1.7 (mock providers); Terraform before 1.6 ignores that directory.
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.30+: target tracking with metric math (customized_metric_specification.metrics) and
      # aws_vpc_security_group_*_rule resources; stay on the 5.x major.
      version = "~> 5.30"
    }
  }
}
