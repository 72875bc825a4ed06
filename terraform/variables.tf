################################################################################
# Identity
################################################################################

variable "environment" {
  description = "Environment name (e.g. `prod`), used in resource names and tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 characters: lowercase letters, digits and hyphens, starting with a letter or digit."
  }
}

variable "db_instance_identifier" {
  description = "Identifier of the RDS for PostgreSQL instance to back up. Everything else about the instance is discovered from it unless overridden below."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,62}$", var.db_instance_identifier))
    error_message = "db_instance_identifier must be a valid RDS instance identifier (1-63 letters, digits or hyphens, starting with a letter)."
  }
}

variable "name" {
  description = "Base name for every resource this module creates. Default: `<environment>-<db_instance_identifier>-backup`, cut to 40 characters."
  type        = string
  default     = null

  validation {
    condition     = var.name == null || can(regex("^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters: lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Discovery overrides (default: read from the DB instance)
################################################################################

variable "discover_db_instance" {
  description = "Read the instance (and its DB subnet group) with data sources. Set false when the instance is created in the same configuration, and pass `db_host`, `db_port`, `db_resource_id`, `db_engine_version`, `db_security_group_ids`, `subnet_ids` and `vpc_id`: nothing is then read at plan time and every policy is known at plan."
  type        = bool
  default     = true
  nullable    = false
}

variable "db_host" {
  description = "Override: hostname the function connects to. Default: the instance's endpoint address."
  type        = string
  default     = null
}

variable "db_port" {
  description = "Override: database port. Default: the instance's port."
  type        = number
  default     = null

  validation {
    condition     = var.db_port == null || try(var.db_port >= 1 && var.db_port <= 65535, false)
    error_message = "db_port must be between 1 and 65535."
  }
}

variable "db_resource_id" {
  description = "Override: the instance's DbiResourceId (`db-...`), used in the `rds-db:connect` ARN. Default: discovered."
  type        = string
  default     = null

  validation {
    condition     = var.db_resource_id == null || can(regex("^db-[A-Z0-9]+$", var.db_resource_id))
    error_message = "db_resource_id must look like db-ABCDEFGHIJKLMNOPQRSTUVWXYZ."
  }
}

variable "db_engine_version" {
  description = "Override: the instance's PostgreSQL version (e.g. `17.4`). Default: discovered. Used to refuse versions newer than the bundled pg_dump (18)."
  type        = string
  default     = null
}

variable "db_security_group_ids" {
  description = "Override: the instance's VPC security group ids. Default: discovered. The function may reach the database through these groups only."
  type        = list(string)
  default     = null
}

variable "subnet_ids" {
  description = "Override: subnets for the function's network interfaces. Default: the subnets of the instance's DB subnet group."
  type        = list(string)
  default     = null
}

variable "vpc_id" {
  description = "Override: VPC of the function's security group. Default: the VPC of the instance's DB subnet group."
  type        = string
  default     = null
}

################################################################################
# Database connection and what to back up
################################################################################

variable "auth_mode" {
  description = "How the function authenticates to PostgreSQL: `iam` (RDS IAM auth token, no stored password) or `secret` (password from a Secrets Manager secret)."
  type        = string
  default     = "iam"
  nullable    = false

  validation {
    condition     = contains(["iam", "secret"], var.auth_mode)
    error_message = "auth_mode must be iam or secret."
  }
}

variable "db_username" {
  description = "PostgreSQL role the backup connects as. Create it as described in the README (member of `pg_read_all_data`, plus `rds_iam` in IAM mode); never the master user."
  type        = string
  default     = "rds_s3_backup"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_username))
    error_message = "db_username must be a plain lowercase PostgreSQL identifier (letters, digits, underscore; at most 63)."
  }
}

variable "db_secret_arn" {
  description = "Secrets Manager secret holding the backup role's password (`auth_mode = \"secret\"`). The function may read this one secret only."
  type        = string
  default     = null

  validation {
    condition     = var.db_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.db_secret_arn))
    error_message = "db_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "db_secret_kms_key_arn" {
  description = "Customer managed KMS key that encrypts `db_secret_arn`, if any. The function gets kms:Decrypt on it via Secrets Manager only."
  type        = string
  default     = null

  validation {
    condition     = var.db_secret_kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.db_secret_kms_key_arn))
    error_message = "db_secret_kms_key_arn must be a KMS key ARN (arn:...:key/...)."
  }
}

variable "db_connect_database" {
  description = "Database the function connects to first (to list databases and for globals)."
  type        = string
  default     = "postgres"
  nullable    = false
}

variable "databases" {
  description = "Databases to back up, or `[\"all\"]` for every connectable non-template database."
  type        = list(string)
  default     = ["all"]
  nullable    = false

  validation {
    condition     = length(var.databases) > 0 && alltrue([for d in var.databases : length(d) > 0 && !strcontains(d, ",")])
    error_message = "databases must be a non-empty list of database names without commas (or [\"all\"])."
  }
}

variable "include_globals" {
  description = "Also back up roles and tablespaces (`pg_dumpall --globals-only`, without role passwords)."
  type        = bool
  default     = true
  nullable    = false
}

variable "compression" {
  description = "pg_dump compression, e.g. `zstd:1` (the measured default), `zstd:3`, `gzip:6`, `lz4`, `none`."
  type        = string
  default     = "zstd:1"
  nullable    = false

  validation {
    condition     = can(regex("^(none|gzip|lz4|zstd)(:[0-9]{1,2})?$", var.compression))
    error_message = "compression must be none, gzip, lz4 or zstd, optionally with :<level>."
  }
}

variable "ssl_mode" {
  description = "libpq sslmode. Only modes that encrypt are allowed; `verify-full` also checks the server certificate and host name."
  type        = string
  default     = "verify-full"
  nullable    = false

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.ssl_mode)
    error_message = "ssl_mode must be require, verify-ca or verify-full."
  }
}

variable "ssl_root_cert" {
  description = "Path of the CA bundle inside the Lambda environment used to verify the RDS certificate. The default is the bundle the Lambda Node.js runtime ships (it includes the RDS CAs); not verified by this project's tests."
  type        = string
  default     = "/var/runtime/ca-cert.pem"
  nullable    = false
}

variable "connect_timeout_seconds" {
  description = "libpq connect_timeout in seconds."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.connect_timeout_seconds >= 2 && var.connect_timeout_seconds <= 120
    error_message = "connect_timeout_seconds must be between 2 and 120."
  }
}

################################################################################
# Bucket
################################################################################

variable "backup_prefix" {
  description = "Key prefix of every backup object (`<prefix>/<database>/...`). Default: the DB instance identifier in lowercase."
  type        = string
  default     = null

  validation {
    condition     = var.backup_prefix == null || can(regex("^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$", var.backup_prefix))
    error_message = "backup_prefix must be lowercase path segments ([a-z0-9._-]) separated by single slashes, without leading or trailing slash."
  }
}

variable "expiration_days" {
  description = "Optional: expire every backup object this many days after creation, whatever its tier. Null keeps objects until a tier rule expires them."
  type        = number
  default     = null

  validation {
    condition     = var.expiration_days == null || try(var.expiration_days >= 1, false)
    error_message = "expiration_days must be at least 1."
  }
}

variable "tier_expiration_days" {
  description = "Days to keep each retention tier (the `backup-tier` tag the engine writes: daily, weekly, monthly, yearly). Null keeps that tier forever."
  type = object({
    daily   = optional(number, 14)
    weekly  = optional(number, 63)
    monthly = optional(number, 400)
    yearly  = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for d in values(var.tier_expiration_days) : d == null || try(d >= 1, false)])
    error_message = "Every tier_expiration_days value must be null or at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Abort multipart uploads left incomplete (e.g. by a killed run) after this many days."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Delete noncurrent object versions (left by expiry or overwrites) this many days after they become noncurrent."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "object_lock_mode" {
  description = "S3 Object Lock default retention mode: `GOVERNANCE` (default; principals with s3:BypassGovernanceRetention can still delete early) or `COMPLIANCE` (nobody, including the root user, can delete a version before its retention ends). Null leaves Object Lock off. Enabling it on an existing bucket does not replace the bucket; once enabled it cannot be disabled."
  type        = string
  default     = "GOVERNANCE"
  nullable    = false

  validation {
    condition     = var.object_lock_mode == null || contains(["GOVERNANCE", "COMPLIANCE"], coalesce(var.object_lock_mode, "-"))
    error_message = "object_lock_mode must be null, GOVERNANCE or COMPLIANCE."
  }
}

variable "object_lock_retention_days" {
  description = "Default Object Lock retention of every new object version, in days. Default: the shortest retention of any tier (`tier_expiration_days`, `expiration_days`), so every backup is locked for at least as long as its tier keeps it. A value below that is refused."
  type        = number
  default     = null

  validation {
    condition     = var.object_lock_retention_days == null || try(var.object_lock_retention_days >= 1 && var.object_lock_retention_days <= 36500, false)
    error_message = "object_lock_retention_days must be between 1 and 36500."
  }
}

################################################################################
# Encryption
################################################################################

variable "create_kms_key" {
  description = "Create a dedicated KMS key (with rotation) for the bucket. If false, `kms_key_arn` is required."
  type        = bool
  default     = true
  nullable    = false
}

variable "kms_key_arn" {
  description = "Existing KMS key ARN for the bucket (`create_kms_key = false`). Its key policy must let the function role use it via S3."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:...:key/...), not an alias."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before a destroyed KMS key is deleted."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

variable "kms_key_administrator_arns" {
  description = "Principals allowed to administer (not use) the created key, in addition to the account root, which is always an administrator (so CreateKey never locks out its caller and the key stays manageable when these principals are deleted)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "kms_key_restore_principal_arns" {
  description = "Principals (besides the optional restore role) allowed to decrypt backups and encrypt verify records through S3 with the created key: whoever restores or verifies. Give them the `reader_policy_json` (and `verify_writer_policy_json`) output as their identity policy."
  type        = list(string)
  default     = []
  nullable    = false
}

################################################################################
# Function
################################################################################

variable "artifacts_dir" {
  description = "Directory holding `function.zip` and `pgtools-layer-<arch>.zip`. Default: `artifacts/` inside this module (`npm run package -- --out terraform/artifacts`), so a copied module (`source = \"./extras/backups\"`) or a registry package that ships them works as is. Ignored when `artifacts_s3_bucket` is set."
  type        = string
  default     = null
}

variable "artifacts_s3_bucket" {
  description = "S3 bucket holding the artifacts instead of local files (for git sources, which carry no build output): the function from `function_s3_key`, the layer from `layer_s3_key`. Same region as the function."
  type        = string
  default     = null
}

variable "function_s3_key" {
  description = "Key of the function zip in `artifacts_s3_bucket`."
  type        = string
  default     = "function.zip"
  nullable    = false
}

variable "function_s3_object_version" {
  description = "Object version of `function_s3_key` (versioned artifact buckets): a new version updates the function."
  type        = string
  default     = null
}

variable "layer_s3_key" {
  description = "Key of the pg tools layer zip for `architecture` in `artifacts_s3_bucket`. Default: `pgtools-layer-<architecture>.zip`."
  type        = string
  default     = null
}

variable "layer_s3_object_version" {
  description = "Object version of `layer_s3_key`: a new version publishes a new layer version."
  type        = string
  default     = null
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function. Null (default) leaves it unreserved: AWS refuses any reservation that leaves the account fewer than 100 unreserved executions (new accounts often have a limit of 10, so even 1 fails there). Set 1 to make overlapping runs impossible where the account allows it."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 0, false)
    error_message = "reserved_concurrent_executions must be null or at least 0 (0 disables the function)."
  }
}

variable "architecture" {
  description = "Lambda instruction set; selects the matching pg tools layer."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Function memory in MB (CPU scales with it; pg_dump compression is CPU bound)."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = var.memory_size >= 256 && var.memory_size <= 10240
    error_message = "memory_size must be between 256 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds (Lambda's maximum is 900). A database that needs longer has outgrown Lambda; the duration alarm warns first."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.timeout >= 60 && var.timeout <= 900
    error_message = "timeout must be between 60 and 900 seconds."
  }
}

variable "async_maximum_retry_attempts" {
  description = "Retries Lambda makes for a failed scheduled (asynchronous) invocation."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.async_maximum_retry_attempts >= 0 && var.async_maximum_retry_attempts <= 2
    error_message = "async_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "async_maximum_event_age_seconds" {
  description = "How long a scheduled invocation may wait (e.g. behind a still running backup) before Lambda drops it."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.async_maximum_event_age_seconds >= 60 && var.async_maximum_event_age_seconds <= 21600
    error_message = "async_maximum_event_age_seconds must be between 60 and 21600."
  }
}

variable "enable_on_failure_destination" {
  description = "Send invocations that failed after all retries to `on_failure_destination_arn`. A plain boolean so the module knows at plan time whether to create the send permission, even when the ARN comes from a resource created in the same apply."
  type        = bool
  default     = false
  nullable    = false
}

variable "on_failure_destination_arn" {
  description = "Destination (SQS queue, SNS topic, Lambda function or EventBridge bus ARN) for invocations that failed after all retries, with `enable_on_failure_destination = true`. The function role gets the one matching send permission on it."
  type        = string
  default     = null

  validation {
    condition     = var.on_failure_destination_arn == null || can(regex("^arn:[a-z-]+:(sqs|sns|lambda|events):", var.on_failure_destination_arn))
    error_message = "on_failure_destination_arn must be an SQS, SNS, Lambda or EventBridge ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "cloudwatch_logs_kms_key_arn" {
  description = "Optional KMS key ARN to encrypt the log group. Its key policy must allow the CloudWatch Logs service."
  type        = string
  default     = null

  validation {
    condition     = var.cloudwatch_logs_kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.cloudwatch_logs_kms_key_arn))
    error_message = "cloudwatch_logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression for the backup run."
  type        = string
  default     = "cron(0 3 * * ? *)"
  nullable    = false

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a cron(...) or rate(...) expression."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of `schedule_expression`."
  type        = string
  default     = "UTC"
  nullable    = false
}

variable "schedule_enabled" {
  description = "Whether the schedule is enabled."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Network
################################################################################

variable "create_s3_gateway_endpoint" {
  description = "Create an S3 gateway endpoint on the route tables of the function's subnets (the main route table for subnets without an explicit association). Off by default: a VPC can have only one S3 gateway endpoint per route table, it is shared by every workload there, and destroying this module would remove it. Refused at plan when one of those route tables already routes S3 through an endpoint."
  type        = bool
  default     = false
  nullable    = false
}

variable "s3_gateway_endpoint_route_table_ids" {
  description = "Route tables for the created S3 gateway endpoint. Default: the route table of each function subnet. Must cover every function subnet's route table."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "check_s3_route" {
  description = "Read the route table of each function subnet and warn (a Terraform check, not an error) when one has neither an S3 gateway endpoint route nor a default route through a NAT gateway, transit gateway or network interface: the function could not reach S3."
  type        = bool
  default     = true
  nullable    = false
}

variable "create_db_ingress_rule" {
  description = "Add the matching ingress rule (from the function's security group, on the DB port) to each DB security group."
  type        = bool
  default     = true
  nullable    = false
}

variable "create_secretsmanager_endpoint" {
  description = "Secret mode: create a Secrets Manager interface endpoint (private DNS) reachable only from the function."
  type        = bool
  default     = false
  nullable    = false
}

variable "secretsmanager_endpoint_security_group_ids" {
  description = "Secret mode: security groups of an existing Secrets Manager interface endpoint; the function gets egress 443 to each (a list, so its length is known at plan even when the ids are not)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "secretsmanager_egress_cidr_blocks" {
  description = "Secret mode: IPv4 CIDRs the function may reach on 443 for Secrets Manager (e.g. the subnets of an existing endpoint, or a NAT path)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.secretsmanager_egress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "secretsmanager_egress_cidr_blocks must be IPv4 CIDR blocks."
  }
}

################################################################################
# Monitoring
################################################################################

variable "create_sns_topic" {
  description = "Create an SNS topic for the alarms."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_sns_topic_arn" {
  description = "Existing SNS topic for the alarms (with `create_sns_topic = false`)."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the created topic (each must confirm the subscription)."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "sns_kms_key_arn" {
  description = "Optional customer managed KMS key for the created topic. Its key policy must allow cloudwatch.amazonaws.com to use it, or alarms cannot publish."
  type        = string
  default     = null
}

variable "missed_backup_alarm_hours" {
  description = "Alarm when no successful backup was reported for this many consecutive hours (missing data counts as missed). Default: derived from `schedule_expression`: the interval plus an eighth of it (at least 2 hours) so a run that ends later than the previous one or a DST change does not page; 27 hours for a daily schedule; 168 (CloudWatch's maximum for hourly periods) for schedules that do not run every day."
  type        = number
  default     = null

  validation {
    condition     = var.missed_backup_alarm_hours == null || try(var.missed_backup_alarm_hours >= 1 && var.missed_backup_alarm_hours <= 168 && floor(var.missed_backup_alarm_hours) == var.missed_backup_alarm_hours, false)
    error_message = "missed_backup_alarm_hours must be a whole number from 1 to 168 (CloudWatch evaluates at most 7 days of hourly periods)."
  }
}

variable "duration_alarm_threshold_percent" {
  description = "Alarm when a run takes more than this percentage of the function timeout."
  type        = number
  default     = 80
  nullable    = false

  validation {
    condition     = var.duration_alarm_threshold_percent > 0 && var.duration_alarm_threshold_percent < 100
    error_message = "duration_alarm_threshold_percent must be between 0 and 100."
  }
}

################################################################################
# IAM
################################################################################

variable "iam_role_path" {
  description = "Path of every IAM role the module creates."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.iam_role_path))
    error_message = "iam_role_path must start and end with a slash (e.g. / or /backups/)."
  }
}

variable "iam_permissions_boundary_arn" {
  description = "Permissions boundary attached to every IAM role the module creates (required by some organisations' SCPs)."
  type        = string
  default     = null
}

################################################################################
# Operators: restore and verify
################################################################################

variable "create_restore_role" {
  description = "Create a role for operators that may list and read the backups (restore) and write verify records: the `reader_policy_json` and `verify_writer_policy_json` outputs attached to it, and allowed on the key through S3."
  type        = bool
  default     = false
  nullable    = false
}

variable "restore_role_trusted_principal_arns" {
  description = "Principals that may assume the restore role. Default: the account root, i.e. any principal of this account whose own IAM policy allows sts:AssumeRole on it."
  type        = list(string)
  default     = []
  nullable    = false
}
