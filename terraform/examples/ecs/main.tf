# The ECS runner on a platform that already has an ECS cluster: the engine's image
# (`npm run image`, pushed to your registry) runs as a Fargate task on the
# existing cluster for a database that does not dump within Lambda's 15 minutes,
# and a weekly restore drill verifies the latest backups. The task subnets reach
# ECR, CloudWatch Logs and metrics through the VPC's NAT gateway (443 to anywhere
# in `https_egress_cidr_blocks`), S3 through the module's prefix-list rule.

provider "aws" {}

variable "environment" {
  description = "Environment name used in resource names."
  type        = string
  default     = "prod"
}

variable "ecs_cluster_arn" {
  description = "The platform's ECS cluster (it must have the FARGATE capacity provider)."
  type        = string
}

variable "container_image" {
  description = "The engine's image by digest, e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com/rds-s3-backup@sha256:..."
  type        = string
}

variable "verify_container_image" {
  description = "The engine's verify image (with the throwaway PostgreSQL server) by digest."
  type        = string
}

variable "container_image_repository_arn" {
  description = "ECR repository of both images (the execution role may pull from it only)."
  type        = string
}

variable "https_egress_cidr_blocks" {
  description = "Where the tasks reach ECR, CloudWatch Logs and metrics on 443 (the NAT path)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

module "backups" {
  source = "../.."

  environment            = var.environment
  db_instance_identifier = "big-db"
  databases              = ["all"]

  runner                              = "ecs"
  create_ecs_cluster                  = false
  ecs_cluster_arn                     = var.ecs_cluster_arn
  container_image                     = var.container_image
  container_image_ecr_repository_arns = [var.container_image_repository_arn]
  architecture                        = "arm64"
  ecs_cpu                             = 2048
  ecs_memory                          = 4096
  ecs_https_egress_cidr_blocks        = var.https_egress_cidr_blocks
  create_s3_gateway_endpoint          = false

  verify_enabled               = true
  verify_container_image       = var.verify_container_image
  verify_schedule_expression   = "cron(0 5 ? * SUN *)"
  verify_max_age_days          = 7
  verify_cpu                   = 2048
  verify_memory                = 8192
  verify_ephemeral_storage_gib = 100

  create_dashboard      = true
  alarm_email_addresses = ["oncall@example.com"]
}

output "dashboard_url" {
  description = "The deployment's CloudWatch dashboard."
  value       = module.backups.dashboard_url
}

output "backup_s3_uri" {
  description = "Where the backups go."
  value       = module.backups.backup_s3_uri
}
