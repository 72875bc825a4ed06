# Every option of the module, end to end in a sandbox account: a private VPC
# without internet access, a small RDS for PostgreSQL instance, and the backup
# module wired to it. Build the artifacts first (`npm run package -- --out
# terraform/artifacts` writes them into the module's artifacts/ directory), then create the backup role in the
# database (see the module README) before the first run.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Example = "rds-s3-backup-complete"
    }
  }
}

variable "region" {
  description = "Region for the sandbox."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name used in resource names."
  type        = string
  default     = "sandbox"
}

variable "auth_mode" {
  description = "iam (default) or secret: how the backup authenticates to PostgreSQL."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "secret"], var.auth_mode)
    error_message = "auth_mode must be iam or secret."
  }
}

variable "runner" {
  description = "lambda (default) or ecs: what runs the backup. ecs needs the backup image pushed to the created repository and container_image_tag."
  type        = string
  default     = "lambda"
}

variable "verify_enabled" {
  description = "Weekly restore drills (a Fargate task; needs the verify image and verify_container_image_tag)."
  type        = bool
  default     = false
}

variable "container_image_tag" {
  description = "Tag of the engine's backup image pushed to the module's ECR repository (output ecr_repository_url)."
  type        = string
  default     = null
}

variable "verify_container_image_tag" {
  description = "Tag of the engine's verify image pushed to the module's ECR repository."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "Who gets the alarms."
  type        = list(string)
  default     = []
}

variable "artifacts_dir" {
  description = "Directory of the function and layer zips. Null: the module's own artifacts/ directory, where `npm run package -- --out terraform/artifacts` writes them."
  type        = string
  default     = null
}

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name = "rds-s3-backup-${var.environment}"
  azs  = slice(data.aws_availability_zones.available.names, 0, 2)
}

################################################################################
# Private network: two subnets, one route table, no internet gateway, no NAT
################################################################################

resource "aws_vpc" "this" {
  cidr_block           = "10.42.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, count.index)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "${local.name}-private" }
}

resource "aws_route_table_association" "private" {
  count = length(local.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

################################################################################
# A small RDS for PostgreSQL instance with IAM authentication
################################################################################

resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_security_group" "db" {
  name_prefix = "${local.name}-db-"
  description = "PostgreSQL; ingress rules are added by the backup module"
  vpc_id      = aws_vpc.this.id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  identifier                          = "${local.name}-db"
  engine                              = "postgres"
  engine_version                      = "17"
  instance_class                      = "db.t4g.micro"
  allocated_storage                   = 20
  storage_type                        = "gp3"
  storage_encrypted                   = true
  db_name                             = "app"
  username                            = "app_admin"
  manage_master_user_password         = true
  iam_database_authentication_enabled = true
  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [aws_security_group.db.id]
  publicly_accessible                 = false
  backup_retention_period             = 1
  apply_immediately                   = true
  deletion_protection                 = false
  skip_final_snapshot                 = true
}

################################################################################
# Secret mode only: a secret for the backup role's password. Put the password
# in it yourself (aws secretsmanager put-secret-value); Terraform never sees it.
################################################################################

resource "aws_secretsmanager_secret" "backup_user" {
  count = var.auth_mode == "secret" ? 1 : 0

  name_prefix = "${local.name}-backup-user-"
  description = "Password of the rds_s3_backup PostgreSQL role"
  kms_key_id  = aws_kms_key.auxiliary.arn
}

################################################################################
# A key for the log group, the alarm topic and the backup-user secret, and a
# queue for invocations that failed after all retries
################################################################################

data "aws_iam_policy_document" "auxiliary_key" {
  statement {
    sid       = "AccountAdministration"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisExample"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/*",
        "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/ecs/*",
      ]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "auxiliary" {
  description         = "${local.name}: logs, alarm topic, backup-user secret"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.auxiliary_key.json
}

resource "aws_sqs_queue" "failed_backups" {
  name                      = "${local.name}-failed-backups"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

################################################################################
# The backup module with every option set
################################################################################

module "backups" {
  source = "../.."

  environment            = var.environment
  db_instance_identifier = aws_db_instance.this.identifier
  name                   = "${local.name}-app"
  tags                   = { Owner = "platform" }

  # The instance is created in this same configuration: nothing to discover.
  # Pass what the module would otherwise look up, so every count and every
  # policy is known at plan and no module-level depends_on is needed.
  discover_db_instance  = false
  db_host               = aws_db_instance.this.address
  db_port               = aws_db_instance.this.port
  db_resource_id        = aws_db_instance.this.resource_id
  db_engine_version     = aws_db_instance.this.engine_version
  db_security_group_ids = [aws_security_group.db.id]
  subnet_ids            = aws_subnet.private[*].id
  vpc_id                = aws_vpc.this.id

  auth_mode               = var.auth_mode
  db_username             = "rds_s3_backup"
  db_secret_arn           = var.auth_mode == "secret" ? aws_secretsmanager_secret.backup_user[0].arn : null
  db_secret_kms_key_arn   = var.auth_mode == "secret" ? aws_kms_key.auxiliary.arn : null
  db_connect_database     = "postgres"
  databases               = ["app"]
  include_globals         = true
  compression             = "zstd:6"
  ssl_mode                = "verify-full"
  ssl_root_cert           = "/var/runtime/ca-cert.pem"
  connect_timeout_seconds = 15

  backup_prefix   = "postgres/app-db"
  expiration_days = 3660
  tier_expiration_days = {
    daily   = 10
    weekly  = 40
    monthly = 370
    yearly  = 2557
  }
  abort_incomplete_multipart_upload_days = 2
  noncurrent_version_expiration_days     = 3
  object_lock_mode                       = "GOVERNANCE"
  object_lock_retention_days             = 10

  create_kms_key                 = true
  kms_key_deletion_window_days   = 7
  kms_key_administrator_arns     = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
  kms_key_restore_principal_arns = []

  create_restore_role                 = true
  restore_role_trusted_principal_arns = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
  iam_role_path                       = "/backups/"
  iam_permissions_boundary_arn        = null

  artifacts_dir                   = var.artifacts_dir
  artifacts_s3_bucket             = null
  function_s3_key                 = "function.zip"
  function_s3_object_version      = null
  layer_s3_key                    = null
  layer_s3_object_version         = null
  reserved_concurrent_executions  = null
  architecture                    = "arm64"
  memory_size                     = 2048
  timeout                         = 900
  async_maximum_retry_attempts    = 1
  async_maximum_event_age_seconds = 7200
  enable_on_failure_destination   = true
  on_failure_destination_arn      = aws_sqs_queue.failed_backups.arn
  log_retention_days              = 30
  cloudwatch_logs_kms_key_arn     = aws_kms_key.auxiliary.arn
  schedule_expression             = "cron(30 2 * * ? *)"
  schedule_timezone               = "Europe/Dublin"
  schedule_enabled                = true

  create_s3_gateway_endpoint                 = true
  s3_gateway_endpoint_route_table_ids        = [aws_route_table.private.id]
  check_s3_route                             = true
  create_db_ingress_rule                     = true
  create_secretsmanager_endpoint             = var.auth_mode == "secret"
  secretsmanager_endpoint_security_group_ids = []
  secretsmanager_egress_cidr_blocks          = []

  create_sns_topic                 = true
  alarm_sns_topic_arn              = null
  alarm_email_addresses            = var.alarm_email_addresses
  sns_kms_key_arn                  = aws_kms_key.auxiliary.arn
  missed_backup_alarm_hours        = null
  duration_alarm_threshold_percent = 75

  # ECS runner and restore drills: the images come from the module's ECR
  # repository; the tasks reach ECR, Logs and metrics through interface endpoints
  # (this VPC has no internet access), S3 through the gateway endpoint.
  runner                              = var.runner
  create_ecs_cluster                  = true
  ecs_cluster_arn                     = null
  ecs_container_insights              = true
  create_ecr_repository               = true
  container_image                     = null
  container_image_tag                 = var.container_image_tag
  container_image_ecr_repository_arns = []
  ecr_untagged_image_expiration_days  = 7
  ecs_cpu                             = 1024
  ecs_memory                          = 3072
  container_user                      = "65532:65532"
  container_ssl_root_cert             = null
  create_ecs_interface_endpoints      = true
  ecs_endpoint_security_group_ids     = []
  ecs_https_egress_cidr_blocks        = []
  verify_enabled                      = var.verify_enabled
  record_row_counts                   = true
  verify_container_image              = null
  verify_container_image_tag          = var.verify_container_image_tag
  verify_schedule_expression          = "cron(0 5 ? * SUN *)"
  verify_max_age_days                 = 7
  verify_cpu                          = 1024
  verify_memory                       = 4096
  verify_ephemeral_storage_gib        = 30
  create_dashboard                    = true
}

output "bucket_name" {
  description = "The backup bucket."
  value       = module.backups.bucket_name
}

output "ecr_repository_url" {
  description = "Push the engine's images here (skopeo copy oci-archive:dist/image-backup-arm64.oci.tar docker://<this>:<tag>), then set container_image_tag / verify_container_image_tag."
  value       = module.backups.ecr_repository_url
}

output "dashboard_url" {
  description = "The deployment's CloudWatch dashboard."
  value       = module.backups.dashboard_url
}

output "function_name" {
  description = "Invoke it once by hand: aws lambda invoke --function-name <this> /dev/stdout"
  value       = module.backups.function_name
}

output "db_address" {
  description = "Where to run the backup-role SQL from the README (from inside the VPC)."
  value       = aws_db_instance.this.address
}

output "restore_role_arn" {
  description = "Assume it to restore or verify: rds-s3-backup restore --from <backup_s3_uri> ..."
  value       = module.backups.restore_role_arn
}

output "backup_s3_uri" {
  description = "Where the backups are."
  value       = module.backups.backup_s3_uri
}

output "master_user_secret_arn" {
  description = "RDS-managed secret of the master user (for the one-time role setup only)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}
