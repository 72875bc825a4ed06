################################################################################
# The backup function: artifacts from `npm run package`, its IAM role with one
# policy per concern, VPC placement, log group, async invoke config, schedule.
################################################################################

locals {
  # Artifacts: local zips (default: artifacts/ inside this module, written there by
  # `npm run package`, so a copied or registry module carries them), or objects in
  # an S3 bucket. filebase64sha256() sits in the branch not taken with S3, where
  # Terraform discards its result (and its error when the file is absent).
  artifacts_from_s3 = var.artifacts_s3_bucket != null
  artifacts_dir     = var.artifacts_dir != null ? var.artifacts_dir : "${path.module}/artifacts"
  function_zip      = "${local.artifacts_dir}/function.zip"
  layer_zip         = "${local.artifacts_dir}/pgtools-layer-${var.architecture}.zip"
  layer_s3_key      = var.layer_s3_key != null ? var.layer_s3_key : "pgtools-layer-${var.architecture}.zip"

  # IAM names are global: the region keeps two deployments of the same name in
  # different regions of one account apart. At most 40 + 1 + 14 + 9 = 64 characters.
  role_name_prefix = "${local.name}-${local.region}"

  log_group_name = "/aws/lambda/${local.name}"
  db_user_arn    = "arn:${local.partition}:rds-db:${local.region}:${local.account}:dbuser:${local.db_resource_id}/${var.db_username}"

  # Configuration only: no password ever goes here (IAM tokens are minted at run
  # time; secret mode passes the secret's ARN, not its value).
  function_environment_all = {
    RDS_S3_BACKUP_TO             = "s3://${aws_s3_bucket.this.bucket}/${local.backup_prefix}"
    RDS_S3_BACKUP_DATABASES      = join(",", var.databases)
    RDS_S3_BACKUP_GLOBALS        = tostring(var.include_globals)
    RDS_S3_BACKUP_COMPRESS       = var.compression
    RDS_S3_BACKUP_KMS_KEY_ID     = local.kms_key_arn
    RDS_S3_BACKUP_AUTH           = var.auth_mode
    RDS_S3_BACKUP_SECRET_ID      = var.auth_mode == "secret" ? var.db_secret_arn : null
    RDS_S3_BACKUP_DB_REGION      = local.region
    RDS_S3_BACKUP_ROW_COUNTS     = tostring(local.record_row_counts)
    RDS_S3_BACKUP_PGTOOLS_DIR    = "/opt/pgtools"
    PGHOST                       = local.db_host
    PGPORT                       = tostring(local.db_port)
    PGUSER                       = var.db_username
    PGDATABASE                   = var.db_connect_database
    PGSSLMODE                    = var.ssl_mode
    PGSSLROOTCERT                = var.ssl_root_cert
    PGCONNECT_TIMEOUT            = tostring(var.connect_timeout_seconds)
    POWERTOOLS_SERVICE_NAME      = local.name
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    # A small young generation frees the streamed Buffers early: ~30 MiB less peak memory and less CPU
    # (src/runner/node-options.ts); naming it also stops the runtime sizing the heap from the memory setting.
    NODE_OPTIONS = "--max-semi-space-size=2"
  }
  function_environment = { for k, v in local.function_environment_all : k => v if v != null }

  # The one send action the destination's service needs; may be unknown at plan
  # (an ARN created in the same apply), which is fine outside count/for_each.
  on_failure_destination_action = var.enable_on_failure_destination ? lookup({
    sqs    = "sqs:SendMessage"
    sns    = "sns:Publish"
    lambda = "lambda:InvokeFunction"
    events = "events:PutEvents"
  }, split(":", coalesce(var.on_failure_destination_arn, "arn:aws:none"))[2], "none:none") : null

  schedule_group_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account}:schedule-group/${local.name}"
}

################################################################################
# IAM: function role, one policy document per concern
################################################################################

data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = local.lambda_runner ? 1 : 0

  name                  = "${local.role_name_prefix}-writer"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
  description           = "Runs the RDS to S3 backup of ${var.db_instance_identifier} (${var.environment})"
  assume_role_policy    = data.aws_iam_policy_document.lambda_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

# S3 + KMS: rendered from templates/backup-writer-policy.json.tftpl (see s3.tf).
resource "aws_iam_role_policy" "s3_kms" {
  count = local.lambda_runner ? 1 : 0

  name   = "backup-writer-s3-kms"
  role   = aws_iam_role.lambda[0].id
  policy = local.backup_writer_policy_json
}

# Explicit denies on the writer's own identity, so they hold even if a broader
# policy is attached to the role later (the bucket policy denies the same).
data "aws_iam_policy_document" "writer_guardrails" {
  statement {
    sid       = "NoVerifyRecords"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:PutObjectTagging"]
    resources = ["${aws_s3_bucket.this.arn}/*${local.verify_record_suffix}"]
  }

  statement {
    sid    = "NoReadDeleteRetagOrUnlock"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:PutObjectVersionTagging",
      "s3:DeleteObjectTagging",
      "s3:DeleteObjectVersionTagging",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:BypassGovernanceRetention",
    ]
    resources = ["${aws_s3_bucket.this.arn}/*"]
  }
}

resource "aws_iam_role_policy" "writer_guardrails" {
  count = local.lambda_runner ? 1 : 0

  name   = "backup-writer-guardrails"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.writer_guardrails.json
}

data "aws_iam_policy_document" "rds_connect" {
  count = var.auth_mode == "iam" ? 1 : 0

  statement {
    sid       = "ConnectAsBackupUser"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.db_user_arn]
  }
}

resource "aws_iam_role_policy" "rds_connect" {
  count = local.lambda_runner && var.auth_mode == "iam" ? 1 : 0

  name   = "rds-iam-connect"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.rds_connect[0].json
}

data "aws_iam_policy_document" "db_secret" {
  count = var.auth_mode == "secret" ? 1 : 0

  statement {
    sid       = "ReadBackupUserSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }

  dynamic "statement" {
    for_each = var.db_secret_kms_key_arn != null ? [var.db_secret_kms_key_arn] : []

    content {
      sid       = "DecryptBackupUserSecret"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_role_policy" "db_secret" {
  count = local.lambda_runner && var.auth_mode == "secret" ? 1 : 0

  name   = "read-db-secret"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.db_secret[0].json
}

data "aws_iam_policy_document" "logs" {
  count = local.lambda_runner ? 1 : 0

  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  count = local.lambda_runner ? 1 : 0

  name   = "write-logs"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.logs[0].json
}

# The statement set of the AWS managed AWSLambdaVPCAccessExecutionRole, scoped as
# far as EC2 allows: CreateNetworkInterface to this function's subnets and security
# group, the other ENI writes to network interfaces of this account and region.
# ec2:Describe* calls support no resource-level permissions, so they stay on "*".
data "aws_iam_policy_document" "vpc" {
  statement {
    sid     = "CreateFunctionNetworkInterfaces"
    effect  = "Allow"
    actions = ["ec2:CreateNetworkInterface"]
    resources = concat(
      ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"],
      [for id in local.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/${id}"],
      [aws_security_group.lambda.arn],
    )
  }

  statement {
    sid    = "ManageFunctionNetworkInterfaces"
    effect = "Allow"
    actions = [
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"]
  }

  statement {
    sid       = "DescribeNetworkForEnis"
    effect    = "Allow"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "vpc" {
  count = local.lambda_runner ? 1 : 0

  name   = "vpc-network-interfaces"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.vpc.json
}

data "aws_iam_policy_document" "on_failure_destination" {
  count = local.lambda_runner && var.enable_on_failure_destination ? 1 : 0

  statement {
    sid       = "SendFailedInvocations"
    effect    = "Allow"
    actions   = [local.on_failure_destination_action]
    resources = [var.on_failure_destination_arn]
  }
}

resource "aws_iam_role_policy" "on_failure_destination" {
  count = local.lambda_runner && var.enable_on_failure_destination ? 1 : 0

  name   = "send-failed-invocations"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.on_failure_destination[0].json
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  count = local.lambda_runner ? 1 : 0

  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_logs_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_layer_version" "pgtools" {
  count = local.lambda_runner ? 1 : 0

  layer_name               = "${local.name}-pgtools"
  description              = "PostgreSQL client tools (pg_dump, pg_dumpall) under /opt/pgtools"
  filename                 = local.artifacts_from_s3 ? null : local.layer_zip
  source_code_hash         = local.artifacts_from_s3 ? null : filebase64sha256(local.layer_zip)
  s3_bucket                = var.artifacts_s3_bucket
  s3_key                   = local.artifacts_from_s3 ? local.layer_s3_key : null
  s3_object_version        = local.artifacts_from_s3 ? var.layer_s3_object_version : null
  compatible_runtimes      = ["nodejs24.x"]
  compatible_architectures = [var.architecture]
}

resource "aws_lambda_function" "this" {
  count = local.lambda_runner ? 1 : 0

  function_name     = local.name
  description       = "Logical backup of RDS ${var.db_instance_identifier} (${var.environment}) to s3://${aws_s3_bucket.this.bucket}/${local.backup_prefix}"
  role              = aws_iam_role.lambda[0].arn
  filename          = local.artifacts_from_s3 ? null : local.function_zip
  source_code_hash  = local.artifacts_from_s3 ? null : filebase64sha256(local.function_zip)
  s3_bucket         = var.artifacts_s3_bucket
  s3_key            = local.artifacts_from_s3 ? var.function_s3_key : null
  s3_object_version = local.artifacts_from_s3 ? var.function_s3_object_version : null
  handler           = "index.handler"
  runtime           = "nodejs24.x"
  architectures     = [var.architecture]
  layers            = [aws_lambda_layer_version.pgtools[0].arn]
  memory_size       = var.memory_size
  timeout           = var.timeout

  # Null: unreserved (AWS keeps 100 executions unreserved per account, so any
  # reservation fails in accounts with a low limit). 1: one run at a time, a second
  # invocation waits in the async queue instead of overlapping.
  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.function_environment
  }

  vpc_config {
    subnet_ids         = local.subnet_ids
    security_group_ids = [aws_security_group.lambda.id]
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = !var.discover_db_instance || try(data.aws_db_instance.this[0].engine == "postgres", false)
      error_message = "The DB instance must be RDS for PostgreSQL (engine \"postgres\")."
    }

    precondition {
      condition     = var.discover_db_instance || alltrue([for v in [var.db_host, var.db_port, var.db_resource_id, var.db_engine_version, var.db_security_group_ids, var.subnet_ids, var.vpc_id] : v != null])
      error_message = "discover_db_instance = false needs db_host, db_port, db_resource_id, db_engine_version, db_security_group_ids, subnet_ids and vpc_id."
    }

    precondition {
      condition     = !var.enable_on_failure_destination || local.on_failure_destination_action != "none:none"
      error_message = "enable_on_failure_destination needs on_failure_destination_arn: an SQS, SNS, Lambda or EventBridge ARN."
    }

    precondition {
      condition     = local.db_engine_major <= 18
      error_message = "The bundled pg_dump is PostgreSQL 18 and cannot dump a newer server."
    }

    precondition {
      condition     = var.auth_mode != "secret" || var.db_secret_arn != null
      error_message = "auth_mode = \"secret\" needs db_secret_arn."
    }

    precondition {
      condition     = var.auth_mode != "secret" || var.create_secretsmanager_endpoint || length(var.secretsmanager_endpoint_security_group_ids) > 0 || length(var.secretsmanager_egress_cidr_blocks) > 0
      error_message = "auth_mode = \"secret\" needs a network path to Secrets Manager: create_secretsmanager_endpoint, secretsmanager_endpoint_security_group_id or secretsmanager_egress_cidr_blocks."
    }
  }

  # The role must be able to create ENIs and write logs before the function exists.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.logs,
    aws_iam_role_policy.vpc,
  ]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  count = local.lambda_runner ? 1 : 0

  function_name                = aws_lambda_function.this[0].function_name
  maximum_retry_attempts       = var.async_maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_maximum_event_age_seconds

  dynamic "destination_config" {
    for_each = var.enable_on_failure_destination ? [var.on_failure_destination_arn] : []

    content {
      on_failure {
        destination = destination_config.value
      }
    }
  }

  depends_on = [aws_iam_role_policy.on_failure_destination]
}

################################################################################
# Schedule: EventBridge Scheduler in its own group, with a role that may invoke
# this one function and that only schedules of this group may assume.
################################################################################

resource "aws_scheduler_schedule_group" "this" {
  name = local.name

  tags = local.tags
}

data "aws_iam_policy_document" "scheduler_assume_role" {
  statement {
    sid     = "SchedulerAssumeRoleForThisGroup"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }

    # AWS documents the schedule group (not the schedule) as the SourceArn.
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.schedule_group_arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.lambda_runner ? 1 : 0

  name                  = "${local.role_name_prefix}-schedule"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
  description           = "Lets the backup schedule invoke the backup function"
  assume_role_policy    = data.aws_iam_policy_document.scheduler_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

data "aws_iam_policy_document" "scheduler_invoke" {
  count = local.lambda_runner ? 1 : 0

  statement {
    sid       = "InvokeBackupFunction"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this[0].arn]
  }
}

resource "aws_iam_role_policy" "scheduler_invoke" {
  count = local.lambda_runner ? 1 : 0

  name   = "invoke-backup-function"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler_invoke[0].json
}

resource "aws_scheduler_schedule" "this" {
  count = local.lambda_runner ? 1 : 0

  name                         = local.name
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "Logical backup of ${var.db_instance_identifier}"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({})

    # Delivery retries only (Lambda accepted-or-not); run failures are governed by
    # the function's async invoke config.
    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }
  }

  depends_on = [aws_iam_role_policy.scheduler_invoke]
}
