# DATABASE_URL, password included, lives only here. ECS reads it at task start with the execution
# role and injects it as the DATABASE_URL variable (container `secrets`, never `environment`), so it
# is not visible in the task definition, the console or `describe-task-definition`.

resource "aws_secretsmanager_secret" "database_url" {
  # A prefix, not a fixed name: a deleted secret keeps its name for the recovery window, which
  # would block destroy-then-apply.
  name_prefix = "${local.name}/database-url-"
  description = "DATABASE_URL of ${local.name}: a postgresql:// URL with the master credentials"
  kms_key_id  = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  # The password is inserted as is: the variable's validation excludes the characters that would
  # need URL escaping. sslmode=require because the parameter group forces TLS.
  secret_string = "postgresql://${local.db_credentials}@${aws_db_instance.main.endpoint}/${var.db_name}?sslmode=require"
}

locals {
  db_credentials = join(":", [var.db_username, var.db_password]) # user:password
}
