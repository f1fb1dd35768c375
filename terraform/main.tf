# healthmon on AWS: ALB -> API on ECS Fargate; scheduler -> SQS -> worker pool; RDS PostgreSQL.
# Names (cluster, services, task definitions, log groups, ECR repositories) are the deployment
# guide's and are used verbatim by docs/DEPLOYMENT.md: change them only together with the docs.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge({ Project = local.name, ManagedBy = "terraform" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name       = "health-monitor"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Two AZs: the ALB needs two, and RDS subnet groups need two even for a single-AZ instance.
  azs = slice(data.aws_availability_zones.available.names, 0, 2)

  # The port the API container listens on (the image's PORT default) and the ALB forwards to.
  api_port = 8000
}
