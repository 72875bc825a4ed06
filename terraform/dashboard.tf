################################################################################
# Dashboard (create_dashboard): one per deployment. Per database the last
# successful backup (from the runner's logs), duration against the runner's
# limit, archive size over time and throughput (the engine's metrics), and the
# restore drills' results.
################################################################################

variable "create_dashboard" {
  description = "Create one CloudWatch dashboard for this deployment: per database the last success, duration against the runner's limit, archive size, throughput, and the drill results."
  type        = bool
  default     = true
  nullable    = false
}

locals {
  dashboard_name = local.name
  # The runner's log group: where "backup done" lines (one per database) are.
  runner_log_group_name = local.ecs_runner ? local.ecs_log_group_name : local.log_group_name

  # Per-database engine metrics carry the dimensions service + database; a search
  # finds every database, including those behind databases = ["all"].
  per_database_search = format("{%s,database,service} service=%q", local.metrics_namespace, local.name)
  metric_search = {
    for metric, stat in {
      BackupDuration   = "Maximum"
      BackupBytes      = "Maximum"
      BackupThroughput = "Average"
    } : metric => format("SEARCH('%s MetricName=%q', '%s', 86400)", local.per_database_search, metric, stat)
  }

  runner_limit_annotation = local.lambda_runner ? [{ label = "Lambda timeout (${var.timeout} s)", value = var.timeout * 1000 }] : []

  dashboard_widgets = [
    {
      type = "text", x = 0, y = 0, width = 24, height = 2
      properties = {
        markdown = join("\n", [
          "## RDS backups of ${var.db_instance_identifier} (${var.environment})",
          "Runner: **${var.runner}**, schedule `${var.schedule_expression}` (${var.schedule_timezone}). Backups: `s3://${aws_s3_bucket.this.bucket}/${local.backup_prefix}`. Restore drills: ${var.verify_enabled ? "`${var.verify_schedule_expression}`" : "off (`verify_enabled`)"}. Operators: `rds-s3-backup status --from s3://${aws_s3_bucket.this.bucket}/${local.backup_prefix}`.",
        ])
      }
    },
    {
      type = "log", x = 0, y = 2, width = 24, height = 6
      properties = {
        title  = "Last successful backup per database (last 14 days of ${local.runner_log_group_name})"
        region = local.region
        view   = "table"
        query  = "SOURCE '${local.runner_log_group_name}' | filter message = 'backup done' | stats latest(@timestamp) as last_success, latest(bytes) as bytes, latest(durationMs) as duration_ms, count(*) as backups by database | sort last_success asc"
      }
    },
    {
      type = "metric", x = 0, y = 8, width = 12, height = 6
      properties = {
        title       = local.lambda_runner ? "Duration per database (ms) against the Lambda timeout" : "Duration per database (ms); the ECS task has no time limit"
        region      = local.region
        view        = "timeSeries"
        period      = 86400
        metrics     = [[{ expression = local.metric_search["BackupDuration"], id = "duration", label = "" }]]
        annotations = { horizontal = local.runner_limit_annotation }
        yAxis       = { left = { min = 0 } }
      }
    },
    {
      type = "metric", x = 12, y = 8, width = 12, height = 6
      properties = {
        title   = "Archive size per database (bytes)"
        region  = local.region
        view    = "timeSeries"
        period  = 86400
        metrics = [[{ expression = local.metric_search["BackupBytes"], id = "bytes", label = "" }]]
        yAxis   = { left = { min = 0 } }
      }
    },
    {
      type = "metric", x = 0, y = 14, width = 12, height = 6
      properties = {
        title   = "Throughput per database (compressed bytes/s)"
        region  = local.region
        view    = "timeSeries"
        period  = 86400
        metrics = [[{ expression = local.metric_search["BackupThroughput"], id = "throughput", label = "" }]]
        yAxis   = { left = { min = 0 } }
      }
    },
    {
      type = "metric", x = 12, y = 14, width = 12, height = 6
      properties = {
        title  = "Runs: backups and restore drills"
        region = local.region
        view   = "bar"
        period = 86400
        stat   = "Sum"
        metrics = [
          [local.metrics_namespace, "BackupSucceeded", "service", local.name, { label = "backup succeeded", color = "#2ca02c" }],
          [local.metrics_namespace, "BackupFailed", "service", local.name, { label = "backup failed", color = "#d62728" }],
          [local.metrics_namespace, "VerifySucceeded", "service", local.name, { label = "drill succeeded", color = "#1f77b4" }],
          [local.metrics_namespace, "VerifyFailed", "service", local.name, { label = "drill failed", color = "#ff7f0e" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 20, width = 24, height = 6
      properties = {
        title  = var.verify_enabled ? "Restore drills per database (1 = verified, restored and row counts equal)" : "Restore drills per database (off: verify_enabled = false)"
        region = local.region
        view   = "bar"
        period = 86400
        metrics = [
          [{ expression = format("SEARCH('%s MetricName=%q', 'Sum', 86400)", local.per_database_search, "DatabaseVerifySucceeded"), id = "verified", label = "verified" }],
          [{ expression = format("SEARCH('%s MetricName=%q', 'Sum', 86400)", local.per_database_search, "DatabaseVerifyFailed"), id = "failed", label = "failed" }],
        ]
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
