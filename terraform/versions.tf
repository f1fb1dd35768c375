terraform {
  # The oldest Terraform this configuration is written and checked for.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.30+: target tracking with metric math (customized_metric_specification.metrics) and
      # aws_vpc_security_group_*_rule resources; stay on the 5.x major.
      version = "~> 5.30"
    }
  }
}
