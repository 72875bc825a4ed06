################################################################################
# IAM of the ECS tasks: the execution role (pull the image, write logs), the
# backup task role (exactly the function's writer permissions, from the same
# policy sources, plus PutMetricData in the module's namespace), and the role
# the schedules use to start the tasks.
################################################################################

# Task roles: ECS documents aws:SourceAccount and aws:SourceArn (any ECS resource of
# this account and region; a specific cluster is not supported) against the
# confused deputy.
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

# The execution role is assumed by the Fargate agent, not by the task: AWS
# documents the confused-deputy conditions above for task roles only, so this trust
# names the service alone. The role can only pull this image and write this log group.
data "aws_iam_policy_document" "ecs_execution_assume_role" {
  statement {
    sid     = "EcsAgentPullsAndLogs"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_execution" {
  count = local.ecs_needed ? 1 : 0

  name                  = "${local.role_name_prefix}-ecs-exec"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
  description           = "Pulls the rds-s3-backup image and writes its task logs"
  assume_role_policy    = data.aws_iam_policy_document.ecs_execution_assume_role.json
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

  name                  = "${local.role_name_prefix}-ecs-task"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
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

# The same explicit denies as the function's role (no reads, deletes, re-tagging,
# unlocking or verify records), so they hold even if a broader policy is attached.
resource "aws_iam_role_policy" "ecs_task_guardrails" {
  count = local.ecs_runner ? 1 : 0

  name   = "backup-writer-guardrails"
  role   = aws_iam_role.ecs_task[0].id
  policy = data.aws_iam_policy_document.writer_guardrails.json
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

locals {
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

  name                  = "${local.role_name_prefix}-run-task"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
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
