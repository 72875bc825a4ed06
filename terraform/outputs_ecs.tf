output "runner" {
  description = "What runs the scheduled backup: lambda or ecs."
  value       = var.runner
}

output "ecs_cluster_arn" {
  description = "ECS cluster of the backup task and the restore drill (null when neither runs on ECS)."
  value       = local.ecs_needed ? local.ecs_cluster_arn : null
}

output "ecs_task_definition_arn" {
  description = "Task definition of the backup task (runner = ecs), null otherwise."
  value       = local.ecs_runner ? aws_ecs_task_definition.backup[0].arn : null
}

output "ecs_task_role_arn" {
  description = "Role of the backup task (runner = ecs): the function's writer permissions plus PutMetricData in the module's namespace."
  value       = local.ecs_runner ? aws_iam_role.ecs_task[0].arn : null
}

output "ecs_log_group_name" {
  description = "Log group of the backup task and the restore drill (null when neither runs on ECS)."
  value       = local.ecs_needed ? aws_cloudwatch_log_group.ecs[0].name : null
}

output "ecr_repository_url" {
  description = "URL of the created ECR repository (create_ecr_repository), to push the image to."
  value       = var.create_ecr_repository ? aws_ecr_repository.this[0].repository_url : null
}

output "verify_task_definition_arn" {
  description = "Task definition of the restore drill (verify_enabled), null otherwise."
  value       = var.verify_enabled ? aws_ecs_task_definition.verify[0].arn : null
}

output "verify_task_role_arn" {
  description = "Role of the restore drill: reads and decrypts backups, writes verify records only."
  value       = var.verify_enabled ? aws_iam_role.verify_task[0].arn : null
}

output "verify_schedule_arn" {
  description = "ARN of the restore drill's schedule (null when drills are off)."
  value       = var.verify_enabled ? aws_scheduler_schedule.verify[0].arn : null
}

output "dashboard_url" {
  description = "The deployment's CloudWatch dashboard (null with create_dashboard = false)."
  value       = var.create_dashboard ? "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this[0].dashboard_name}" : null
}
