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
# IAM: the execution role (pull the image, write logs) and the backup task role
# (exactly the function's writer permissions, from the same policy sources, plus
# PutMetricData in the module's namespace).
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume_role" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.ecs_task_trust_source_arn]
    }
  }
}

resource "aws_iam_role" "ecs_execution" {
  count = local.ecs_needed ? 1 : 0

  name                  = "${local.name}-ecs-exec"
  description           = "Pulls the rds-s3-backup image and writes its task logs"
  assume_role_policy    = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

data "aws_iam_policy_document" "ecs_execution" {
  count = local.ecs_needed ? 1 : 0

  statement {
    sid       = "WriteTaskLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.ecs[0].arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = local.pulls_from_ecr ? [local.ecr_repository_arns] : []

    content {
      sid       = "PullEngineImage"
      effect    = "Allow"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = statement.value
    }
  }

  # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
  dynamic "statement" {
    for_each = local.pulls_from_ecr ? ["*"] : []

    content {
      sid       = "EcrLogin"
      effect    = "Allow"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "ecs_execution" {
  count = local.ecs_needed ? 1 : 0

  name   = "pull-image-write-logs"
  role   = aws_iam_role.ecs_execution[0].id
  policy = data.aws_iam_policy_document.ecs_execution[0].json
}

resource "aws_iam_role" "ecs_task" {
  count = local.ecs_runner ? 1 : 0

  name                  = "${local.name}-task"
  description           = "Runs the RDS to S3 backup of ${var.db_instance_identifier} (${var.environment}) as an ECS task"
  assume_role_policy    = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

# The same S3/KMS policy source as the function (templates/backup-writer-policy.json.tftpl).
resource "aws_iam_role_policy" "ecs_task_s3_kms" {
  count = local.ecs_runner ? 1 : 0

  name   = "backup-writer-s3-kms"
  role   = aws_iam_role.ecs_task[0].id
  policy = local.backup_writer_policy_json
}

resource "aws_iam_role_policy" "ecs_task_rds_connect" {
  count = local.ecs_runner && var.auth_mode == "iam" ? 1 : 0

  name   = "rds-iam-connect"
  role   = aws_iam_role.ecs_task[0].id
  policy = data.aws_iam_policy_document.rds_connect[0].json
}

resource "aws_iam_role_policy" "ecs_task_db_secret" {
  count = local.ecs_runner && var.auth_mode == "secret" ? 1 : 0

  name   = "read-db-secret"
  role   = aws_iam_role.ecs_task[0].id
  policy = data.aws_iam_policy_document.db_secret[0].json
}

# EMF in awslogs output is not extracted into metrics (only the Lambda and the
# CloudWatch agent do that), so the container publishes with PutMetricData, which
# has no resource-level permissions: the namespace condition is the scope.
data "aws_iam_policy_document" "put_metrics" {
  statement {
    sid       = "PutMetricsInModuleNamespace"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace]
    }
  }
}

resource "aws_iam_role_policy" "ecs_task_metrics" {
  count = local.ecs_runner ? 1 : 0

  name   = "put-metrics"
  role   = aws_iam_role.ecs_task[0].id
  policy = data.aws_iam_policy_document.put_metrics.json
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

################################################################################
# Schedule: the backup task, started by EventBridge Scheduler (RunTask) in the
# module's schedule group, with a role that may run only this module's task
# definitions on this cluster and pass only their two roles to ECS tasks.
################################################################################

resource "aws_scheduler_schedule" "ecs_backup" {
  count = local.ecs_runner ? 1 : 0

  name                         = "${local.name}-task"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "Logical backup of ${var.db_instance_identifier} as an ECS task"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = local.ecs_cluster_arn
    role_arn = aws_iam_role.ecs_scheduler[0].arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.backup[0].arn
      launch_type         = "FARGATE"
      task_count          = 1

      network_configuration {
        subnets          = local.subnet_ids
        security_groups  = [aws_security_group.lambda.id]
        assign_public_ip = false
      }
    }

    # Delivery retries only (RunTask accepted or not); a failed run is reported by
    # the task-state rule and the missed-backup alarm.
    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }
  }

  depends_on = [aws_iam_role_policy.ecs_scheduler]
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

  ecs_task_definition_arns = concat(
    local.ecs_runner ? [aws_ecs_task_definition.backup[0].arn] : [],
    var.verify_enabled ? [aws_ecs_task_definition.verify[0].arn] : [],
  )
  ecs_passed_role_arns = concat(
    local.ecs_needed ? [aws_iam_role.ecs_execution[0].arn] : [],
    local.ecs_runner ? [aws_iam_role.ecs_task[0].arn] : [],
    var.verify_enabled ? [aws_iam_role.verify_task[0].arn] : [],
  )
}

resource "aws_iam_role" "ecs_scheduler" {
  count = local.ecs_needed ? 1 : 0

  name                  = "${local.name}-sched-ecs"
  description           = "Lets the backup and drill schedules start this module's ECS tasks"
  assume_role_policy    = data.aws_iam_policy_document.scheduler_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

data "aws_iam_policy_document" "ecs_scheduler" {
  count = local.ecs_needed ? 1 : 0

  statement {
    sid       = "RunModuleTasksOnItsCluster"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = local.ecs_task_definition_arns

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.ecs_cluster_arn]
    }
  }

  statement {
    sid       = "PassTaskRolesToEcsTasksOnly"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = local.ecs_passed_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "ecs_scheduler" {
  count = local.ecs_needed ? 1 : 0

  name   = "run-module-tasks"
  role   = aws_iam_role.ecs_scheduler[0].id
  policy = data.aws_iam_policy_document.ecs_scheduler[0].json
}

################################################################################
# Failed tasks: an ECS task of this module's families that stopped with a
# non-zero exit code, or never started (image pull, network, capacity), is
# published to the module's SNS topic.
################################################################################

locals {
  ecs_task_families = concat(local.ecs_runner ? [local.name] : [], var.verify_enabled ? [local.verify_family] : [])
  ecs_task_failed_pattern = {
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn        = [local.ecs_cluster_arn]
      lastStatus        = ["STOPPED"]
      taskDefinitionArn = [for f in local.ecs_task_families : { prefix = "arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${f}:" }]
      "$or" = [
        { containers = { exitCode = [{ anything-but = 0 }] } },
        { stopCode = ["TaskFailedToStart"] },
      ]
    }
  }
}

resource "aws_cloudwatch_event_rule" "ecs_task_failed" {
  count = local.ecs_needed ? 1 : 0

  name          = "${local.name}-task-failed"
  description   = "A backup or drill task of ${local.name} stopped with a non-zero exit code or failed to start"
  event_pattern = jsonencode(local.ecs_task_failed_pattern)

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "ecs_task_failed" {
  count = local.ecs_needed ? 1 : 0

  rule      = aws_cloudwatch_event_rule.ecs_task_failed[0].name
  target_id = "alarm-topic"
  arn       = local.alarm_topic_arn

  input_transformer {
    input_paths = {
      group    = "$.detail.group"
      reason   = "$.detail.stoppedReason"
      stopCode = "$.detail.stopCode"
      exitCode = "$.detail.containers[0].exitCode"
      task     = "$.detail.taskArn"
    }
    input_template = "\"${local.name}: ECS task <group> stopped (exit code <exitCode>, <stopCode>: <reason>). Logs: ${local.ecs_log_group_name}, task <task>.\""
  }

  lifecycle {
    precondition {
      condition     = local.alarm_topic_arn != null
      error_message = "ECS tasks report failures to SNS: keep create_sns_topic = true or set alarm_sns_topic_arn (its policy must let events.amazonaws.com publish)."
    }
  }
}

################################################################################
# Network: the tasks reach ECR, CloudWatch Logs and CloudWatch metrics on 443
# (created interface endpoints, existing endpoints' groups, or CIDRs).
################################################################################

locals {
  ecs_endpoint_services = ["ecr.api", "ecr.dkr", "logs", "monitoring"]
  create_ecs_endpoints  = local.ecs_needed && var.create_ecs_interface_endpoints
  # The tasks' security groups: the function's group for the backup task, the drill's own group.
  ecs_task_kinds = concat(local.ecs_runner ? ["backup"] : [], var.verify_enabled ? ["verify"] : [])
  ecs_task_security_groups = {
    backup = aws_security_group.lambda.id
    verify = var.verify_enabled ? aws_security_group.verify_drill[0].id : null
  }
  ecs_endpoint_sg_ids = concat(local.create_ecs_endpoints ? [aws_security_group.ecs_endpoints[0].id] : [], var.ecs_endpoint_security_group_ids)
  # One rule per (task, destination), keyed and counted from variables only so that
  # for_each is known at plan; the group ids are looked up inside the resource.
  ecs_https_egress = merge(
    { for pair in setproduct(local.ecs_task_kinds, range(length(var.ecs_https_egress_cidr_blocks))) : "${pair[0]}-cidr-${pair[1]}" => { task = pair[0], kind = "cidr", index = pair[1] } },
    { for pair in setproduct(local.ecs_task_kinds, range((local.create_ecs_endpoints ? 1 : 0) + length(var.ecs_endpoint_security_group_ids))) : "${pair[0]}-endpoint-${pair[1]}" => { task = pair[0], kind = "endpoint", index = pair[1] } },
  )
}

resource "aws_vpc_security_group_egress_rule" "ecs_task_https" {
  for_each = local.ecs_https_egress

  security_group_id            = local.ecs_task_security_groups[each.value.task]
  description                  = "HTTPS to ECR, CloudWatch Logs and metrics (${each.value.task} task)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  cidr_ipv4                    = each.value.kind == "cidr" ? var.ecs_https_egress_cidr_blocks[each.value.index] : null
  referenced_security_group_id = each.value.kind == "endpoint" ? local.ecs_endpoint_sg_ids[each.value.index] : null

  tags = local.tags
}

resource "aws_security_group" "ecs_endpoints" {
  count = local.create_ecs_endpoints ? 1 : 0

  name_prefix = "${local.name}-ecs-endpoints-"
  description = "ECR, CloudWatch Logs and metrics endpoints: HTTPS from the backup and drill tasks only"
  vpc_id      = local.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-ecs-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "ecs_endpoints_from_tasks" {
  for_each = local.create_ecs_endpoints ? toset(local.ecs_task_kinds) : toset([])

  security_group_id            = aws_security_group.ecs_endpoints[0].id
  description                  = "HTTPS from the ${each.value} task"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = local.ecs_task_security_groups[each.value]

  tags = local.tags
}

resource "aws_vpc_endpoint" "ecs" {
  for_each = local.create_ecs_endpoints ? toset(local.ecs_endpoint_services) : toset([])

  vpc_id              = local.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.ecs_endpoints[0].id]
  private_dns_enabled = true

  tags = merge(local.tags, { Name = "${local.name}-${each.value}" })
}
