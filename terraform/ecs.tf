################################################################################
# ECS runner (runner = "ecs"): the engine's image as a Fargate task, started by
# EventBridge Scheduler in the module's private subnets with the function's
# security group. The cluster, log group and execution role also serve the
# restore drill (verify_drill.tf), which runs on ECS whatever the runner.
################################################################################

locals {
  ecs_runner    = var.runner == "ecs"
  lambda_runner = var.runner == "lambda"
  # Known at plan: a variable's literal value, never a resource attribute.
  ecs_needed         = local.ecs_runner || var.verify_enabled
  create_ecs_cluster = local.ecs_needed && var.create_ecs_cluster
  ecs_cluster_arn    = local.create_ecs_cluster ? aws_ecs_cluster.this[0].arn : var.ecs_cluster_arn

  ecr_repository_arns = concat(var.create_ecr_repository ? [aws_ecr_repository.this[0].arn] : [], var.container_image_ecr_repository_arns)
  pulls_from_ecr      = var.create_ecr_repository || length(var.container_image_ecr_repository_arns) > 0
  container_image     = var.container_image != null ? var.container_image : (var.create_ecr_repository && var.container_image_tag != null ? "${aws_ecr_repository.this[0].repository_url}:${var.container_image_tag}" : null)

  ecs_log_group_name = "/ecs/${local.name}"

  # The function's configuration, minus the two paths that exist only in the Lambda
  # runtime (its CA file and the layer's /opt/pgtools); the image sets its own.
  backup_container_environment_all = merge(local.function_environment, {
    PGSSLROOTCERT             = var.container_ssl_root_cert
    RDS_S3_BACKUP_PGTOOLS_DIR = null
  })
  backup_container_environment = [for k in sort(keys(local.backup_container_environment_all)) : { name = k, value = local.backup_container_environment_all[k] } if local.backup_container_environment_all[k] != null]

  ecs_task_trust_source_arn = "arn:${local.partition}:ecs:${local.region}:${local.account}:*"

  # Hardening shared by both containers: read-only root, non-root user, no
  # privileges or capabilities, an init process that forwards SIGTERM (StopTask)
  # to the engine, and the longest stop timeout Fargate allows (120 s) so an
  # aborted upload is cleaned up before SIGKILL.
  container_hardening = {
    essential              = true
    user                   = var.container_user
    readonlyRootFilesystem = true
    privileged             = false
    stopTimeout            = 120
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    # /tmp is the only writable path: a bind mount on the task's ephemeral storage.
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
  }

  backup_container = merge(local.container_hardening, {
    name        = "backup"
    image       = local.container_image
    command     = ["backup"]
    environment = local.backup_container_environment
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.ecs_log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = "backup"
      }
    }
  })
}

################################################################################
# Cluster (created Fargate-only, or an existing one) and optional ECR repository
################################################################################

resource "aws_ecs_cluster" "this" {
  count = local.create_ecs_cluster ? 1 : 0

  name = local.name

  setting {
    name  = "containerInsights"
    value = var.ecs_container_insights ? "enabled" : "disabled"
  }

  tags = local.tags
}

# Fargate only: no EC2 capacity can ever join this cluster.
resource "aws_ecs_cluster_capacity_providers" "this" {
  count = local.create_ecs_cluster ? 1 : 0

  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_ecr_repository" "this" {
  count = var.create_ecr_repository ? 1 : 0

  name                 = local.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  # KMS with the AWS managed aws/ecr key: ECR needs a grant on a customer key, which
  # the backup key's policy deliberately does not allow.
  encryption_configuration {
    encryption_type = "KMS"
  }

  tags = local.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = var.create_ecr_repository ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Expire untagged images"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = var.ecr_untagged_image_expiration_days
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "ecs" {
  count = local.ecs_needed ? 1 : 0

  name              = local.ecs_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_logs_kms_key_arn

  tags = local.tags
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "backup" {
  count = local.ecs_runner ? 1 : 0

  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.ecs_cpu)
  memory                   = tostring(var.ecs_memory)
  execution_role_arn       = aws_iam_role.ecs_execution[0].arn
  task_role_arn            = aws_iam_role.ecs_task[0].arn
  container_definitions    = jsonencode([local.backup_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture == "arm64" ? "ARM64" : "X86_64"
  }

  volume {
    name = "tmp"
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.container_image != null
      error_message = "runner = \"ecs\" needs container_image, or create_ecr_repository = true with container_image_tag."
    }

    precondition {
      condition     = contains(local.fargate_memory_by_cpu[tostring(var.ecs_cpu)], var.ecs_memory)
      error_message = "ecs_memory is not a valid Fargate memory size for ecs_cpu (see the variable's description)."
    }

    precondition {
      condition     = var.create_ecs_cluster || var.ecs_cluster_arn != null
      error_message = "create_ecs_cluster = false needs ecs_cluster_arn."
    }

    precondition {
      condition     = length(var.ecs_https_egress_cidr_blocks) > 0 || length(var.ecs_endpoint_security_group_ids) > 0 || var.create_ecs_interface_endpoints
      error_message = "The task pulls its image and ships its logs through its own network interface: set create_ecs_interface_endpoints, ecs_endpoint_security_group_ids or ecs_https_egress_cidr_blocks."
    }
  }
}


locals {
  # Valid Fargate memory sizes (MiB) per CPU size (AWS: "Task CPU and memory").
  fargate_memory_by_cpu = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }
}
