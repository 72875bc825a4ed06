################################################################################
# Backup bucket: private, owner-enforced, versioned, SSE-KMS with a bucket key,
# TLS only, retention by tier.
################################################################################

locals {
  bucket_name = "${local.name}-${random_id.bucket_suffix.hex}"

  # The function's S3/KMS policy: one source, rendered by Terraform and by
  # `npm run terraform:policies` (terraform/rendered/writer-identity.json).
  backup_writer_policy_json = templatefile("${path.module}/templates/backup-writer-policy.json.tftpl", {
    bucket_arn          = aws_s3_bucket.this.arn
    backup_prefix       = local.backup_prefix
    kms_key_arn         = local.kms_key_arn
    s3_service_endpoint = local.s3_service_endpoint
  })

  # Every role that writes backups. The bucket policy holds them to create-only
  # writes (see data.aws_iam_policy_document.bucket). Another runner of the
  # engine (e.g. an ECS task role) adds its role ARN here.
  backup_writer_role_arns = [aws_iam_role.lambda.arn]

  # The engine tags every object it writes with backup-tier = daily|weekly|monthly|yearly,
  # in the upload itself (x-amz-tagging), never afterwards.
  tier_tag             = "backup-tier"
  verify_record_suffix = ".verify.json"
  tier_expiration_days = { for tier, days in var.tier_expiration_days : tier => days if days != null }

  # Object Lock: every new version is locked at least as long as the shortest-lived
  # tier keeps it, so no backup can be deleted (GOVERNANCE: except with
  # s3:BypassGovernanceRetention) before its tier expires it.
  shortest_retention_days    = min(concat(values(local.tier_expiration_days), var.expiration_days != null ? [var.expiration_days] : [], [36500])...)
  object_lock_enabled        = var.object_lock_mode != null
  object_lock_retention_days = var.object_lock_retention_days != null ? var.object_lock_retention_days : local.shortest_retention_days
}

resource "random_id" "bucket_suffix" {
  byte_length = 4
}

# Object Lock is enabled by aws_s3_bucket_object_lock_configuration below, not by
# object_lock_enabled here: that argument forces a new bucket when it changes,
# the configuration resource enables Object Lock on an existing versioned bucket.
resource "aws_s3_bucket" "this" {
  bucket        = local.bucket_name
  force_destroy = false

  tags = local.tags

  # Destroy order: the bucket goes first (and fails while it holds backups), so
  # the key is never scheduled for deletion while backups still need it. To
  # protect the bucket against `terraform destroy` altogether, wrap the module
  # call in a configuration that uses `removed`/`prevent_destroy` or guard it
  # with an SCP; Terraform allows no variable in prevent_destroy.
  depends_on = [aws_kms_key.this]
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
  policy = data.aws_iam_policy_document.bucket.json

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

  # Versions made noncurrent by expiry (delete markers) are kept this long; Object
  # Lock keeps a locked version past this until its retention ends.
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
            (local.tier_tag) = rule.key
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

# Enables Object Lock on the bucket (new or existing: AWS allows it on any
# versioned bucket, no replacement) with a default retention for new versions.
resource "aws_s3_bucket_object_lock_configuration" "this" {
  count = local.object_lock_enabled ? 1 : 0

  bucket              = aws_s3_bucket.this.id
  object_lock_enabled = "Enabled"

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = local.object_lock_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]

  lifecycle {
    precondition {
      condition     = local.object_lock_retention_days >= local.shortest_retention_days || local.shortest_retention_days == 36500
      error_message = "object_lock_retention_days must be at least the shortest tier retention (${local.shortest_retention_days} days), or backups of that tier could be deleted before their tier expires them."
    }
  }
}

################################################################################
# Bucket policy: TLS and SSE-KMS with the module's key for everyone; for the
# backup writers, create-only (AWS "Enforce conditional writes"), tags fixed at
# creation, and nothing that reads, deletes, unlocks or reconfigures.
################################################################################

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  statement {
    sid       = "DenyEncryptionOtherThanKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    # Only a header that is present and wrong is denied: UploadPart and CompleteMultipartUpload carry no
    # encryption header (an ...IfExists test would deny every part), and the bucket's default encryption is the key.
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyOtherKmsKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    # Only a header that is present and wrong is denied: UploadPart and CompleteMultipartUpload carry no
    # encryption header (an ...IfExists test would deny every part), and the bucket's default encryption is the key.
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["false"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [local.kms_key_arn]
    }
  }

  # PutObject and CompleteMultipartUpload must carry If-None-Match: * (S3 then
  # refuses to replace an existing key); CreateMultipartUpload and UploadPart
  # cannot carry it and are exempted by s3:ObjectCreationOperation = false.
  statement {
    sid       = "WritersCreateOnly"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = local.backup_writer_role_arns
    }

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }

    condition {
      test     = "Bool"
      variable = "s3:ObjectCreationOperation"
      values   = ["true"]
    }
  }

  # The tier tag is set in the upload (x-amz-tagging); once an object has it, a
  # writer cannot change or remove it (re-tiering would let lifecycle expire it).
  statement {
    sid    = "WritersNoRetagging"
    effect = "Deny"
    actions = [
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
      "s3:DeleteObjectTagging",
      "s3:DeleteObjectVersionTagging",
    ]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = local.backup_writer_role_arns
    }

    condition {
      test     = "Null"
      variable = "s3:ExistingObjectTag/${local.tier_tag}"
      values   = ["false"]
    }
  }

  # Belt and braces: even if a broader identity policy is attached to a writer
  # role later, the bucket refuses these.
  statement {
    sid    = "WritersNoReadDeleteOrUnlock"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:BypassGovernanceRetention",
      "s3:PutObjectVersionTagging",
      "s3:RestoreObject",
    ]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = local.backup_writer_role_arns
    }
  }

  statement {
    sid       = "WritersNoVerifyRecords"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this.arn}/*${local.verify_record_suffix}"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = local.backup_writer_role_arns
    }
  }

  statement {
    sid    = "WritersNoBucketReconfiguration"
    effect = "Deny"
    actions = [
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketVersioning",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutEncryptionConfiguration",
      "s3:DeleteBucket",
    ]
    resources = [aws_s3_bucket.this.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = local.backup_writer_role_arns
    }
  }
}
