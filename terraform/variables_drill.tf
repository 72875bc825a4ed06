################################################################################
# Scheduled restore drills: `verify` of the latest backup of each database in a
# Fargate task (whatever the runner), and alarms on their results.
################################################################################

variable "verify_enabled" {
  description = "Schedule restore drills: a Fargate task runs `verify` (restore of the latest backup of each database into a throwaway PostgreSQL inside the task, exact row counts against the manifest) and records the result in the bucket. Needs `verify_container_image` (or the created ECR repository) and an ECS cluster, also with runner = `lambda`."
  type        = bool
  default     = false
  nullable    = false
}

variable "verify_container_image" {
  description = "Full reference of the engine's verify image (`npm run image` builds it beside the backup image: the same engine plus a throwaway PostgreSQL server), by tag or `@sha256:` digest. Required with verify_enabled unless `create_ecr_repository` with `verify_container_image_tag`."
  type        = string
  default     = null

  validation {
    condition     = var.verify_container_image == null || can(regex("^[a-z0-9][a-z0-9._/:-]*[a-z0-9](:[A-Za-z0-9_.-]{1,128}|@sha256:[a-f0-9]{64})$", var.verify_container_image))
    error_message = "verify_container_image must be a full image reference with a tag or an @sha256: digest."
  }
}

variable "verify_container_image_tag" {
  description = "Tag of the verify image in the created ECR repository (`create_ecr_repository = true`, `verify_container_image` unset); the backup image uses `container_image_tag` in the same repository."
  type        = string
  default     = null

  validation {
    condition     = var.verify_container_image_tag == null || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.verify_container_image_tag))
    error_message = "verify_container_image_tag must be a valid image tag."
  }
}

variable "record_row_counts" {
  description = "Backups record every table's row count in their manifest (a count in the dump's own snapshot; costs a scan of each table), so the drill compares exact counts. Null: on when `verify_enabled`."
  type        = bool
  default     = null
}

variable "verify_schedule_expression" {
  description = "EventBridge Scheduler expression of the restore drill (in `schedule_timezone`). Default: weekly, Sunday 05:00."
  type        = string
  default     = "cron(0 5 ? * SUN *)"
  nullable    = false

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.verify_schedule_expression))
    error_message = "verify_schedule_expression must be a cron(...) or rate(...) expression."
  }
}

variable "verify_max_age_days" {
  description = "Alarm when no drill succeeded for this many days (missing data counts as failed). CloudWatch alarms look back at most 7 days. The window closes exactly N days after the previous success, so give the drill some slack: a weekly drill with 7 days alarms briefly when a drill finishes later than the one a week before."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.verify_max_age_days >= 1 && var.verify_max_age_days <= 7 && floor(var.verify_max_age_days) == var.verify_max_age_days
    error_message = "verify_max_age_days must be a whole number from 1 to 7 (CloudWatch evaluates at most 7 days)."
  }
}

variable "verify_cpu" {
  description = "Fargate CPU units of the drill task (it runs pg_restore and a PostgreSQL server). Same valid values as `ecs_cpu`."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.verify_cpu)
    error_message = "verify_cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "verify_memory" {
  description = "Fargate memory in MiB of the drill task; a valid Fargate combination with `verify_cpu` (see `ecs_memory`)."
  type        = number
  default     = 4096
  nullable    = false

  validation {
    condition     = var.verify_memory >= 512 && var.verify_memory <= 122880 && (var.verify_memory == 512 || var.verify_memory % 1024 == 0)
    error_message = "verify_memory must be 512 or a multiple of 1024 up to 122880 MiB."
  }
}

variable "verify_ephemeral_storage_gib" {
  description = "Task storage of the drill in GiB (21-200): the throwaway PostgreSQL's data directory lives in /tmp on it, so size it above the largest restored database with its indexes."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = var.verify_ephemeral_storage_gib >= 21 && var.verify_ephemeral_storage_gib <= 200 && floor(var.verify_ephemeral_storage_gib) == var.verify_ephemeral_storage_gib
    error_message = "verify_ephemeral_storage_gib must be a whole number from 21 to 200."
  }
}
