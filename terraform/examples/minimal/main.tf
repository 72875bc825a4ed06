# The smallest use: an existing RDS for PostgreSQL instance "app-db" in the
# provider's region; everything else is discovered from it. Build the function
# and layer first (`npm run package` at the repository root).

provider "aws" {}

variable "environment" {
  description = "Environment name used in resource names."
  type        = string
  default     = "dev"
}

module "backups" {
  source = "../.."

  environment            = var.environment
  db_instance_identifier = "app-db"
}

output "backup_bucket_name" {
  description = "The bucket the backups go to."
  value       = module.backups.bucket_name
}
