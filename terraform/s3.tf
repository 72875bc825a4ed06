################################################################################
# Backup bucket: private, owner-enforced, versioned, SSE-KMS with a bucket key,
# TLS only, retention by tier.
################################################################################

locals {
  bucket_name = "${local.name}-${random_id.bucket_suffix.hex}"

  # The one source of the bucket policy and of the function's S3/KMS policy;
  # test/terraform renders the same templates.
  bucket_policy_json = templatefile("${path.module}/templates/bucket-policy.json.tftpl", {
    bucket_arn  = aws_s3_bucket.this.arn
    kms_key_arn = local.kms_key_arn
  })
  backup_writer_policy_json = templatefile("${path.module}/templates/backup-writer-policy.json.tftpl", {
    bucket_arn          = aws_s3_bucket.this.arn
    backup_prefix       = local.backup_prefix
    kms_key_arn         = local.kms_key_arn
    s3_service_endpoint = local.s3_service_endpoint
  })

  # The engine tags every object it writes with backup-tier = daily|weekly|monthly|yearly.
  tier_expiration_days = { for tier, days in var.tier_expiration_days : tier => days if days != null }
}

resource "random_id" "bucket_suffix" {
  byte_length = 4
}

resource "aws_s3_bucket" "this" {
  bucket              = local.bucket_name
  force_destroy       = false
  object_lock_enabled = var.object_lock_mode != null

  tags = local.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
  }

  lifecycle {
    precondition {
      condition     = var.create_kms_key || var.kms_key_arn != null
      error_message = "create_kms_key = false needs kms_key_arn."
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = local.bucket_policy_json

  # A policy put while the public access block is still being created can race it.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  dynamic "rule" {
    for_each = var.expiration_days != null ? [var.expiration_days] : []

    content {
      id     = "expire-all-backups"
      status = "Enabled"

      filter {
        prefix = "${local.backup_prefix}/"
      }

      expiration {
        days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = local.tier_expiration_days

    content {
      id     = "expire-${rule.key}-tier"
      status = "Enabled"

      filter {
        and {
          prefix = "${local.backup_prefix}/"
          tags = {
            "backup-tier" = rule.key
          }
        }
      }

      expiration {
        days = rule.value
      }
    }
  }

  # Lifecycle rules on a versioned bucket need versioning configured first.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_object_lock_configuration" "this" {
  count = var.object_lock_mode != null ? 1 : 0

  bucket = aws_s3_bucket.this.id

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}
