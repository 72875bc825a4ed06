################################################################################
# Monitoring: alarms on function errors, reported backup failures, a missed
# backup (no success metric within the schedule interval plus slack; missing
# data is breaching) and run duration approaching the timeout, sent to an SNS
# topic.
################################################################################

locals {
  # Written by the engine (Powertools EMF) with the single dimension service = function name.
  metrics_namespace = "RdsS3Backup"

  alarm_topic_arn = var.create_sns_topic ? aws_sns_topic.alarms[0].arn : var.alarm_sns_topic_arn
  alarm_actions   = local.alarm_topic_arn != null ? [local.alarm_topic_arn] : []
  alarm_arn_glob  = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${local.name}-*"

  # Missed-backup window from the schedule: rate(N unit) runs every N units; a cron
  # with * or ? in both day fields runs at least daily (24 h, the usual case);
  # any other cron (weekly, monthly) gets CloudWatch's maximum of 168 hourly periods.
  schedule_rate  = try(regex("^(?:rate\\((\\d+) (minutes?|hours?|days?)\\)|cron\\(\\S+ \\S+ (\\S+) \\S+ (\\S+) .*\\))$", var.schedule_expression), [null, null, "-", "-"])
  schedule_units = { minute = 1 / 60, minutes = 1 / 60, hour = 1, hours = 1, day = 24, days = 24 }
  schedule_interval_hours = local.schedule_rate[0] != null ? tonumber(local.schedule_rate[0]) * local.schedule_units[local.schedule_rate[1]] : (
    contains(["*", "?"], local.schedule_rate[2]) && contains(["*", "?"], local.schedule_rate[3]) ? 24 : 168
  )
  # The interval plus an eighth of it, at least 2 h: a run that ends later than the
  # previous one, or a DST shift of a zoned cron, must not page. Daily: 27 h.
  missed_backup_alarm_hours = var.missed_backup_alarm_hours != null ? var.missed_backup_alarm_hours : min(168, ceil(local.schedule_interval_hours + max(2, local.schedule_interval_hours / 8)))
}

resource "aws_sns_topic" "alarms" {
  count = var.create_sns_topic ? 1 : 0

  name              = "${local.name}-alarms"
  kms_master_key_id = var.sns_kms_key_arn

  tags = local.tags
}

data "aws_iam_policy_document" "alarms_topic" {
  count = var.create_sns_topic ? 1 : 0

  statement {
    sid       = "CloudWatchAlarmsOfThisModulePublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arn_glob]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }

  # ECS runner and restore drill: the failed-task rule (ecs.tf) publishes here.
  dynamic "statement" {
    for_each = local.ecs_needed ? [aws_cloudwatch_event_rule.ecs_task_failed[0].arn] : []

    content {
      sid       = "FailedTaskRuleOfThisModulePublishes"
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.alarms[0].arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [statement.value]
      }
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = var.create_sns_topic ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarms_topic[0].json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = var.create_sns_topic ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  count = local.lambda_runner ? 1 : 0

  alarm_name          = "${local.name}-function-errors"
  alarm_description   = "The RDS backup function ${aws_lambda_function.this[0].function_name} failed (error, timeout or crash)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "backup_failed" {
  alarm_name          = "${local.name}-backup-failed"
  alarm_description   = "The backup engine reported a failed backup run."
  namespace           = local.metrics_namespace
  metric_name         = "BackupFailed"
  dimensions          = { service = local.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# Fires when no successful backup was reported in the last N hours. Missing data
# is breaching: a function that never runs (schedule disabled, invoke dropped,
# crash before metrics) must page, not stay silent.
resource "aws_cloudwatch_metric_alarm" "missed_backup" {
  alarm_name          = "${local.name}-missed-backup"
  alarm_description   = "No successful RDS backup reported for ${local.missed_backup_alarm_hours} hours."
  namespace           = local.metrics_namespace
  metric_name         = "BackupSucceeded"
  dimensions          = { service = local.name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = local.missed_backup_alarm_hours
  datapoints_to_alarm = local.missed_backup_alarm_hours
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

# Warns while there is still headroom: a database that keeps growing will hit
# Lambda's 15-minute ceiling.
resource "aws_cloudwatch_metric_alarm" "duration_near_timeout" {
  count = local.lambda_runner ? 1 : 0

  alarm_name          = "${local.name}-duration-near-timeout"
  alarm_description   = "A backup run took more than ${var.duration_alarm_threshold_percent}% of the ${var.timeout} s function timeout."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = aws_lambda_function.this[0].function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.timeout * 1000 * var.duration_alarm_threshold_percent / 100
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}
