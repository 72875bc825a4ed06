output "bucket_name" {
  description = "Name of the backup bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = aws_s3_bucket.this.arn
}

output "backup_s3_uri" {
  description = "Where backups are written: `s3://<bucket>/<prefix>`."
  value       = local.function_environment["RDS_S3_BACKUP_TO"]
}

output "function_name" {
  description = "Name of the backup Lambda function (null with runner = ecs)."
  value       = local.lambda_runner ? aws_lambda_function.this[0].function_name : null
}

output "function_arn" {
  description = "ARN of the backup Lambda function (null with runner = ecs)."
  value       = local.lambda_runner ? aws_lambda_function.this[0].arn : null
}

output "role_arn" {
  description = "ARN of the backup writer's IAM role: the function's, or the ECS task's with runner = ecs (grant it nothing else)."
  value       = local.lambda_runner ? aws_iam_role.lambda[0].arn : aws_iam_role.ecs_task[0].arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the backups."
  value       = local.kms_key_arn
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic the alarms notify (null if none)."
  value       = local.alarm_topic_arn
}

output "security_group_id" {
  description = "ID of the function's security group."
  value       = aws_security_group.lambda.id
}

output "log_group_name" {
  description = "Name of the backup runner's CloudWatch log group."
  value       = local.lambda_runner ? aws_cloudwatch_log_group.this[0].name : aws_cloudwatch_log_group.ecs[0].name
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule of the backup."
  value       = local.lambda_runner ? aws_scheduler_schedule.this[0].arn : aws_scheduler_schedule.ecs_backup[0].arn
}

output "db_user_connect_arn" {
  description = "The `rds-db:connect` resource the function may use (IAM auth), null in secret mode."
  value       = var.auth_mode == "iam" ? local.db_user_arn : null
}

output "reader_policy_json" {
  description = "Identity policy for whoever restores or verifies: list the prefix, read every object and version under it, decrypt through S3. Attach it to your operators' role (and list that role in `kms_key_restore_principal_arns`) or use `create_restore_role`."
  value       = data.aws_iam_policy_document.reader.json
}

output "verify_writer_policy_json" {
  description = "Identity policy for whoever runs `verify`: write `*.verify.json` records (with their tier tag) under the prefix, encrypt through S3."
  value       = data.aws_iam_policy_document.verify_writer.json
}

output "restore_role_arn" {
  description = "ARN of the restore role (`create_restore_role`), null otherwise."
  value       = one(aws_iam_role.restore[*].arn)
}

output "backup_writer_role_arns" {
  description = "Roles that write backups; the bucket policy holds them to create-only writes."
  value       = local.backup_writer_role_arns
}
