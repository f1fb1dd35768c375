# Every input of the deployment. Only db_password has no default (see terraform.tfvars.example).

# --- Region and tags --------------------------------------------------------------------------

variable "aws_region" {
  type        = string
  description = "AWS region to deploy into; also passed to the containers as AWS_REGION."
  default     = "us-east-1"
}

variable "tags" {
  type        = map(string)
  description = "Extra tags added to every resource (Project and ManagedBy are always set)."
  default     = {}
}

# --- Network ----------------------------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC; split into two public and two private /20 subnets."
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR of size /18 or larger (four /20 subnets are carved from it)."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for both private subnets (cheaper). Set false for one per AZ, so egress survives an AZ outage."
  default     = true
}

variable "tasks_public_ip" {
  type        = bool
  description = "Run the services in the public subnets with a public IP each instead of in the private subnets behind a NAT gateway. Saves the NAT gateway (about $33/month plus $0.045/GB) for $3.65/month per task in public IPv4 charges; inbound traffic is still only the ALB's (security group). The database stays private."
  default     = false
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the load balancer on ports 80 and 443."
  default     = ["0.0.0.0/0"]
}

variable "acm_certificate_arn" {
  type        = string
  description = "ARN of an ACM certificate for the API's domain. When set, the ALB serves HTTPS on 443 and redirects HTTP to it; when null, the API is served on HTTP 80 only."
  default     = null
}

variable "api_domain_name" {
  type        = string
  description = "DNS name you point at the load balancer (for the ACM certificate). Used in the api_url output when set."
  default     = null
}

# --- Database ---------------------------------------------------------------------------------

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the PostgreSQL database."
  default     = "db.t3.micro"
}

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL major version (or major.minor) for RDS; minor upgrades are applied automatically."
  default     = "16"
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial storage of the database in GiB (gp3)."
  default     = 20
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Upper bound in GiB for RDS storage autoscaling."
  default     = 100
}

variable "db_name" {
  type        = string
  description = "Name of the database created on the instance."
  default     = "healthmon"
}

variable "db_username" {
  type        = string
  description = "Master user name of the database."
  default     = "healthmon"
}

variable "db_password" {
  type        = string
  description = "Master password of the database (16-128 characters). It is stored in Secrets Manager inside DATABASE_URL and in the Terraform state: keep the state in an encrypted backend."
  sensitive   = true

  # RDS refuses / @ " ' and spaces; ? # [ ] % would break or change the DATABASE_URL the app parses.
  validation {
    condition     = can(regex("^[^/@\"' ?#%\\[\\]]{16,128}$", var.db_password))
    error_message = "db_password must be 16-128 characters, without spaces or any of / @ \" ' ? # % [ ]."
  }
}

variable "db_multi_az" {
  type        = bool
  description = "Run the database as a Multi-AZ deployment (standby in the second AZ; doubles the RDS cost)."
  default     = false
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated RDS backups (point-in-time recovery window)."
  default     = 7
}

variable "db_deletion_protection" {
  type        = bool
  description = "Refuse to delete the database. false (the default) lets `terraform destroy` remove everything, as the guide promises; set true in production (then set it false and apply before a destroy)."
  default     = false
}

variable "db_skip_final_snapshot" {
  type        = bool
  description = "Delete the database without a final snapshot on destroy. true (the default) leaves nothing billable behind; set false in production to keep a snapshot named health-monitor-db-final."
  default     = true
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a destroyed secret (DATABASE_URL, initial API key) can still be restored. 0 (the default) deletes at once, so `terraform destroy` leaves nothing and a new apply may reuse the names; 7-30 for production."
  default     = 0

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or 7 to 30 (the Secrets Manager limits)."
  }
}

variable "ecr_force_delete" {
  type        = bool
  description = "Let `terraform destroy` delete the ECR repositories with the images they still hold. true (the default) is the guide's destroy-everything; set false in production so a destroy cannot drop released images."
  default     = true
}

# --- Containers -------------------------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Tag of the images in the four ECR repositories that the task definitions run."
  default     = "latest"
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the Fargate tasks: X86_64 (build the images with --platform linux/amd64, as docs/DEPLOYMENT.md does) or ARM64 (Graviton, about 20% cheaper; build with --platform linux/arm64, natively on an ARM machine)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  type        = map(number)
  description = "Fargate CPU units per task (256 = 0.25 vCPU), keyed api, scheduler, worker, db-init."
  default     = { api = 256, scheduler = 256, worker = 256, db-init = 256 }

  validation {
    condition     = length(setsubtract(["api", "scheduler", "worker", "db-init"], keys(var.task_cpu))) == 0
    error_message = "task_cpu must have the keys api, scheduler, worker and db-init."
  }
}

variable "task_memory" {
  type        = map(number)
  description = "Fargate memory per task in MiB, keyed api, scheduler, worker, db-init."
  default     = { api = 512, scheduler = 512, worker = 512, db-init = 512 }

  validation {
    condition     = length(setsubtract(["api", "scheduler", "worker", "db-init"], keys(var.task_memory))) == 0
    error_message = "task_memory must have the keys api, scheduler, worker and db-init."
  }
}

variable "api_desired_count" {
  type        = number
  description = "API tasks behind the load balancer (two spread over both AZs survive one task or AZ failing)."
  default     = 2
}

variable "scheduler_desired_count" {
  type        = number
  description = "Scheduler tasks. Several are safe (due monitors are claimed atomically); one is enough."
  default     = 1
}

variable "fail_threshold" {
  type        = number
  description = "FAIL_THRESHOLD: consecutive failed checks before a monitor goes DOWN."
  default     = 2
}

variable "success_threshold" {
  type        = number
  description = "SUCCESS_THRESHOLD: consecutive good checks before a monitor goes UP."
  default     = 2
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL of every container: DEBUG, INFO, WARNING or ERROR."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "alarm_email" {
  type        = string
  description = "E-mail address the CloudWatch alarms (dead letters, unhealthy API tasks) notify through an SNS topic. null (the default): the alarms exist but notify no one."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps container, VPC flow and database logs."
  default     = 7
}

# --- Worker autoscaling (the guide's numbers) ---------------------------------------------------

variable "worker_target_messages_per_task" {
  type        = number
  description = "Visible SQS messages per running worker that autoscaling aims for."
  default     = 10
}

variable "worker_min_count" {
  type        = number
  description = "Fewest worker tasks."
  default     = 1
}

variable "worker_max_count" {
  type        = number
  description = "Most worker tasks."
  default     = 5
}
