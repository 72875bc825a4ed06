# The smallest use: an existing RDS for PostgreSQL instance "app-db" in the
# provider's region; everything else is discovered from it. Build the function
# and layer first (`npm run package -- --out terraform/artifacts` at the
# repository root writes them into the module's artifacts/ directory). The one
# extra input is who gets paged: a backup system that fails silently is worse
# than none.

provider "aws" {}

variable "environment" {
  description = "Environment name used in resource names."
  type        = string
  default     = "dev"
}

variable "alarm_email" {
  description = "Who gets the missed/failed backup alarms (confirm the subscription email)."
  type        = string
}

module "backups" {
  source = "../.."

  environment            = var.environment
  db_instance_identifier = "app-db"
  alarm_email_addresses  = [var.alarm_email]
}

output "backup_bucket_name" {
  description = "The bucket the backups go to."
  value       = module.backups.bucket_name
}
