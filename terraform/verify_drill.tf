################################################################################
# Restore drills (verify_enabled): on its own schedule, a Fargate task runs
# `verify` for each configured database: the latest backup is restored into a
# throwaway PostgreSQL inside the task and compared with its manifest, and the
# result is written next to the backup (<id>.verify.json). It runs on ECS
# whatever the runner, in the module's subnets with its own security group that
# reaches S3 (and the ECR/Logs/metrics paths) only: never the database, since
# the archive it restores is untrusted input.
################################################################################

locals {
  verify_family          = "${local.name}-verify"
  record_row_counts      = var.record_row_counts != null ? var.record_row_counts : var.verify_enabled
  verify_container_image = var.verify_container_image != null ? var.verify_container_image : (var.create_ecr_repository && var.verify_container_image_tag != null ? "${aws_ecr_repository.this[0].repository_url}:${var.verify_container_image_tag}" : null)

  # Where the backups are and which databases to verify: nothing about the source
  # database (no host, user or credentials) reaches the drill.
  verify_container_environment_all = {
    RDS_S3_BACKUP_FROM           = local.function_environment_all["RDS_S3_BACKUP_TO"]
    RDS_S3_BACKUP_TO             = local.function_environment_all["RDS_S3_BACKUP_TO"]
    RDS_S3_BACKUP_DATABASES      = local.function_environment_all["RDS_S3_BACKUP_DATABASES"]
    POWERTOOLS_SERVICE_NAME      = local.name
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
  }
  verify_container_environment = [for k in sort(keys(local.verify_container_environment_all)) : { name = k, value = local.verify_container_environment_all[k] }]

  verify_container = merge(local.container_hardening, {
    name        = "verify"
    image       = local.verify_container_image
    command     = ["verify"]
    environment = local.verify_container_environment
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = local.ecs_log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = "verify"
      }
    }
  })
}

resource "aws_iam_role" "verify_task" {
  count = var.verify_enabled ? 1 : 0

  name                  = "${local.role_name_prefix}-verify"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
  description           = "Restore drill of ${var.db_instance_identifier} (${var.environment}): reads backups, writes verify records only"
  assume_role_policy    = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  force_detach_policies = true

  tags = local.tags
}

# The operators' policies (operators.tf), one source: read and decrypt backups, and
# write verify records only.
resource "aws_iam_role_policy" "verify_task_reader" {
  count = var.verify_enabled ? 1 : 0

  name   = "read-backups"
  role   = aws_iam_role.verify_task[0].id
  policy = data.aws_iam_policy_document.reader.json
}

resource "aws_iam_role_policy" "verify_task_verify_writer" {
  count = var.verify_enabled ? 1 : 0

  name   = "write-verify-records"
  role   = aws_iam_role.verify_task[0].id
  policy = data.aws_iam_policy_document.verify_writer.json
}

resource "aws_iam_role_policy" "verify_task_metrics" {
  count = var.verify_enabled ? 1 : 0

  name   = "put-metrics"
  role   = aws_iam_role.verify_task[0].id
  policy = data.aws_iam_policy_document.put_metrics.json
}

resource "aws_security_group" "verify_drill" {
  count = var.verify_enabled ? 1 : 0

  name_prefix = "${local.name}-verify-"
  description = "RDS backup restore drill: egress to S3 and the ECR/Logs/metrics paths only, never the database"
  vpc_id      = local.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-verify" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "verify_drill_to_s3" {
  count = var.verify_enabled ? 1 : 0

  security_group_id = aws_security_group.verify_drill[0].id
  description       = "HTTPS to S3 (backups; image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_prefix_list.s3.id

  tags = local.tags
}

resource "aws_ecs_task_definition" "verify" {
  count = var.verify_enabled ? 1 : 0

  family                   = local.verify_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.verify_cpu)
  memory                   = tostring(var.verify_memory)
  execution_role_arn       = aws_iam_role.ecs_execution[0].arn
  task_role_arn            = aws_iam_role.verify_task[0].arn
  container_definitions    = jsonencode([local.verify_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture == "arm64" ? "ARM64" : "X86_64"
  }

  # The restored database lives in /tmp (the bind mount below) on this storage.
  ephemeral_storage {
    size_in_gib = var.verify_ephemeral_storage_gib
  }

  volume {
    name = "tmp"
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.verify_container_image != null
      error_message = "verify_enabled needs verify_container_image, or create_ecr_repository = true with verify_container_image_tag."
    }

    precondition {
      condition     = contains(local.fargate_memory_by_cpu[tostring(var.verify_cpu)], var.verify_memory)
      error_message = "verify_memory is not a valid Fargate memory size for verify_cpu (see ecs_memory's description)."
    }

    precondition {
      condition     = var.create_ecs_cluster || var.ecs_cluster_arn != null
      error_message = "create_ecs_cluster = false needs ecs_cluster_arn."
    }

    precondition {
      condition     = length(var.ecs_https_egress_cidr_blocks) > 0 || length(var.ecs_endpoint_security_group_ids) > 0 || var.create_ecs_interface_endpoints
      error_message = "The drill pulls its image and ships its logs through its own network interface: set create_ecs_interface_endpoints, ecs_endpoint_security_group_ids or ecs_https_egress_cidr_blocks."
    }
  }
}

resource "aws_scheduler_schedule" "verify" {
  count = var.verify_enabled ? 1 : 0

  name                         = "${local.name}-verify"
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "Restore drill of the latest backup of each database of ${var.db_instance_identifier}"
  schedule_expression          = var.verify_schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = local.ecs_cluster_arn
    role_arn = aws_iam_role.ecs_scheduler[0].arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.verify[0].arn
      launch_type         = "FARGATE"
      task_count          = 1

      network_configuration {
        subnets          = local.subnet_ids
        security_groups  = [aws_security_group.verify_drill[0].id]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }
  }

  depends_on = [aws_iam_role_policy.ecs_scheduler]
}

################################################################################
# Drill alarms. The drill publishes (PutMetricData, dimension service = the
# module's name) VerifySucceeded / VerifyFailed per run. A failed drill alarms at
# once (and its non-zero exit reaches the topic through the task-state rule); a
# drill that did not succeed for verify_max_age_days (never ran, schedule
# disabled, kept failing) alarms because missing data is breaching.
################################################################################

resource "aws_cloudwatch_metric_alarm" "verify_failed" {
  count = var.verify_enabled ? 1 : 0

  alarm_name          = "${local.name}-verify-failed"
  alarm_description   = "A restore drill of ${var.db_instance_identifier} failed: a backup did not restore or its row counts differ from the manifest."
  namespace           = local.metrics_namespace
  metric_name         = "VerifyFailed"
  dimensions          = { service = local.name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "verify_stale" {
  count = var.verify_enabled ? 1 : 0

  alarm_name          = "${local.name}-verify-stale"
  alarm_description   = "No successful restore drill of ${var.db_instance_identifier} for ${var.verify_max_age_days} days."
  namespace           = local.metrics_namespace
  metric_name         = "VerifySucceeded"
  dimensions          = { service = local.name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.verify_max_age_days * 24
  datapoints_to_alarm = var.verify_max_age_days * 24
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}
