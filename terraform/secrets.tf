# DATABASE_URL, password included, lives only here. ECS reads it at task start with the execution
# role and injects it as the DATABASE_URL variable (container `secrets`, never `environment`), so it
# is not visible in the task definition, the console or `describe-task-definition`.

resource "aws_secretsmanager_secret" "database_url" {
  # A prefix, not a fixed name: a deleted secret keeps its name for the recovery window, which
  # would block destroy-then-apply.
  name_prefix = "${local.name}/database-url-"
  description = "DATABASE_URL of ${local.name}: a postgresql:// URL with the master credentials"
  kms_key_id  = aws_kms_key.main.arn

  recovery_window_in_days = var.secret_recovery_window_days
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

# The initial API key, so the guide's first /monitors call works with one added header. AWS makes
# the random part (GetRandomPassword; no extra Terraform provider), the db-init task gets the key
# as HEALTHMON_INITIAL_API_KEY and `healthmon init-db` stores its SHA-256 (idempotent; revoking the
# key keeps it revoked). Read it with the one-liner in docs/DEPLOYMENT.md ("Your API key").
# The data source draws a new value on every plan: ignore_changes keeps the first one. Replace the
# key with `terraform apply -replace=aws_secretsmanager_secret_version.initial_api_key`, run db-init,
# and revoke the old one (`healthmon api-key revoke ID`).
data "aws_secretsmanager_random_password" "initial_api_key" {
  password_length     = 48
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "initial_api_key" {
  name_prefix             = "${local.name}/initial-api-key-"
  description             = "The first read-write API key of ${local.name} (hmw_...); db-init registers its hash"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "initial_api_key" {
  secret_id     = aws_secretsmanager_secret.initial_api_key.id
  secret_string = "hmw_${data.aws_secretsmanager_random_password.initial_api_key.random_password}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}
