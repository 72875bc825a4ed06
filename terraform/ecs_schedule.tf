################################################################################
# Schedule: the backup task, started by EventBridge Scheduler (RunTask) in the
# module's schedule group, with a role that may run only this module's task
# definitions on this cluster and pass only their roles to ECS tasks.
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
