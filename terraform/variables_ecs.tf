################################################################################
# Runner: the same engine as a Lambda function (default) or as an ECS Fargate
# task for databases that do not dump within Lambda's 15 minutes.
################################################################################

variable "runner" {
  description = "What runs the scheduled backup: `lambda` (the function, at most 15 minutes) or `ecs` (a Fargate task from `container_image`, no time limit)."
  type        = string
  default     = "lambda"
  nullable    = false

  validation {
    condition     = contains(["lambda", "ecs"], var.runner)
    error_message = "runner must be lambda or ecs."
  }
}

variable "create_ecs_cluster" {
  description = "Create a Fargate-only ECS cluster for the backup task (runner = `ecs`) and the restore drill. Set false and pass `ecs_cluster_arn` to use an existing cluster (it must have the FARGATE capacity provider)."
  type        = bool
  default     = true
  nullable    = false
}

variable "ecs_cluster_arn" {
  description = "Existing ECS cluster for the tasks, with `create_ecs_cluster = false`."
  type        = string
  default     = null

  validation {
    condition     = var.ecs_cluster_arn == null || can(regex("^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255}$", var.ecs_cluster_arn))
    error_message = "ecs_cluster_arn must be an ECS cluster ARN (arn:...:ecs:<region>:<account>:cluster/<name>)."
  }
}

variable "ecs_container_insights" {
  description = "Enable CloudWatch Container Insights on the created cluster (per-task CPU, memory and network metrics; billed as custom metrics)."
  type        = bool
  default     = true
  nullable    = false
}

variable "container_image" {
  description = "Full reference of the engine's backup image (`npm run image`, pushed by you), e.g. `111122223333.dkr.ecr.eu-west-1.amazonaws.com/rds-s3-backup@sha256:...`. Required for runner = `ecs` unless `create_ecr_repository` with `container_image_tag`. A digest pins exactly what runs."
  type        = string
  default     = null

  validation {
    condition     = var.container_image == null || can(regex("^[a-z0-9][a-z0-9._/:-]*[a-z0-9](:[A-Za-z0-9_.-]{1,128}|@sha256:[a-f0-9]{64})$", var.container_image))
    error_message = "container_image must be a full image reference with a tag or an @sha256: digest."
  }
}

variable "container_image_ecr_repository_arns" {
  description = "ECR repositories `container_image` and `verify_container_image` are pulled from when the module does not create the repository; the task execution role may pull from these only. Leave empty for a public registry."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.container_image_ecr_repository_arns : can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", a))])
    error_message = "container_image_ecr_repository_arns must be ECR repository ARNs."
  }
}

variable "create_ecr_repository" {
  description = "Create a private ECR repository for the engine's images (immutable tags, scan on push, KMS encryption with the AWS managed key). Push the backup and verify images to it with their own tags, then set `container_image_tag` / `verify_container_image_tag`."
  type        = bool
  default     = false
  nullable    = false
}

variable "container_image_tag" {
  description = "Tag of the backup image in the created ECR repository (`create_ecr_repository = true`, `container_image` unset)."
  type        = string
  default     = null

  validation {
    condition     = var.container_image_tag == null || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.container_image_tag))
    error_message = "container_image_tag must be a valid image tag."
  }
}

variable "ecr_untagged_image_expiration_days" {
  description = "The created ECR repository expires untagged images after this many days."
  type        = number
  default     = 14
  nullable    = false

  validation {
    condition     = var.ecr_untagged_image_expiration_days >= 1
    error_message = "ecr_untagged_image_expiration_days must be at least 1."
  }
}

variable "ecs_cpu" {
  description = "Fargate task CPU units of the backup task (1024 = 1 vCPU). Valid: 256, 512, 1024, 2048, 4096, 8192, 16384; `ecs_memory` must be a Fargate combination for it."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.ecs_cpu)
    error_message = "ecs_cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "ecs_memory" {
  description = "Fargate task memory in MiB of the backup task. Valid per CPU: 256 ⇒ 512, 1024, 2048; 512 ⇒ 1024-4096; 1024 ⇒ 2048-8192; 2048 ⇒ 4096-16384 (steps of 1024); 4096 ⇒ 8192-30720 (1024); 8192 ⇒ 16384-61440 (4096); 16384 ⇒ 32768-122880 (8192)."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.ecs_memory >= 512 && var.ecs_memory <= 122880 && (var.ecs_memory == 512 || var.ecs_memory % 1024 == 0)
    error_message = "ecs_memory must be 512 or a multiple of 1024 up to 122880 MiB."
  }
}

variable "container_user" {
  description = "UID:GID the containers run as. Never root: the image must own or world-write (1777) its /tmp for this user, because the writable /tmp volume takes the image's directory permissions."
  type        = string
  default     = "65532:65532"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+(:[0-9]+)?$", var.container_user)) && !can(regex("^0+(:|$)", var.container_user))
    error_message = "container_user must be a numeric UID[:GID] other than 0 (root)."
  }
}

variable "container_ssl_root_cert" {
  description = "CA bundle path inside the image for `ssl_mode` verify-ca/verify-full (PGSSLROOTCERT). Null keeps the image's own default. `ssl_root_cert` is the Lambda's path and is not used for the container."
  type        = string
  default     = null
}

variable "ecs_https_egress_cidr_blocks" {
  description = "runner = `ecs` and the drill: IPv4 CIDRs the tasks may reach on 443 for ECR, CloudWatch Logs and CloudWatch metrics (a NAT path, or the subnets of existing interface endpoints). Fargate pulls the image and ships logs through the task's own network interface."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.ecs_https_egress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "ecs_https_egress_cidr_blocks must be IPv4 CIDR blocks."
  }
}

variable "ecs_endpoint_security_group_ids" {
  description = "runner = `ecs` and the drill: security groups of existing interface endpoints (ecr.api, ecr.dkr, logs, monitoring); the tasks get egress 443 to them. Their ingress must allow the tasks' groups."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "create_ecs_interface_endpoints" {
  description = "runner = `ecs` and the drill: create interface endpoints (private DNS) for ecr.api, ecr.dkr, logs and monitoring in the task subnets, reachable only from the tasks. Image layers come from S3 (the S3 egress rule). Private DNS changes name resolution for the whole VPC; an interface endpoint takes at most one subnet per AZ."
  type        = bool
  default     = false
  nullable    = false
}
