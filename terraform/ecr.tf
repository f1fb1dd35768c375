# One repository per ECS service / task, built from docker/Dockerfile.{api,scheduler,worker,dbinit}.

locals {
  # Task key (as in ecs.tf) => ECR repository name (the guide's names).
  ecr_repositories = {
    api       = "${local.name}-api"
    scheduler = "${local.name}-scheduler"
    worker    = "${local.name}-worker"
    db-init   = "${local.name}-db-init"
  }
}

resource "aws_ecr_repository" "app" {
  for_each = local.ecr_repositories
  name     = each.value
  # The guide's release flow pushes :latest and forces a new deployment, so tags are mutable.
  image_tag_mutability = "MUTABLE"
  force_delete         = var.ecr_force_delete # destroy removes pushed images too (variables.tf)

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

# Keep the 20 newest images; untagged layers left by re-pushing :latest go after a week.
resource "aws_ecr_lifecycle_policy" "app" {
  for_each   = aws_ecr_repository.app
  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the 20 newest images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
        action       = { type = "expire" }
      },
    ]
  })
}
