################################################################################
# Operators: who restores and verifies. Two identity policies (module outputs,
# attach them to your own principals) and an optional role that has both. The
# key policy lets these principals use the key through S3 only.
################################################################################

# Restore, list and verify read: the catalog under the prefix, any object and
# any version of it there, incomplete uploads (`list` shows them), and the key
# through S3. Nothing that writes, deletes or changes tags.
data "aws_iam_policy_document" "reader" {
  statement {
    sid       = "ListBackupPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.backup_prefix}/*"]
    }
  }

  statement {
    sid       = "ListIncompleteUploads"
    effect    = "Allow"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.this.arn]
  }

  statement {
    sid       = "ReadBackups"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.this.arn}/${local.backup_prefix}/*"]
  }

  statement {
    sid       = "DecryptViaS3"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_service_endpoint]
    }
  }
}

# Verify writes `<prefix>/<database>/<id>.verify.json` (and `@globals/...`),
# tagged with the backup's tier in the same request: PutObject and
# PutObjectTagging on those keys only, and the key through S3 to encrypt them.
data "aws_iam_policy_document" "verify_writer" {
  statement {
    sid       = "WriteVerifyRecords"
    effect    = "Allow"
    actions   = ["s3:PutObject", "s3:PutObjectTagging"]
    resources = ["${aws_s3_bucket.this.arn}/${local.backup_prefix}/*${local.verify_record_suffix}"]
  }

  statement {
    sid       = "EncryptViaS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_service_endpoint]
    }
  }
}

data "aws_iam_policy_document" "restore_assume_role" {
  count = var.create_restore_role ? 1 : 0

  statement {
    sid     = "OperatorsAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = length(var.restore_role_trusted_principal_arns) > 0 ? var.restore_role_trusted_principal_arns : ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
}

resource "aws_iam_role" "restore" {
  count = var.create_restore_role ? 1 : 0

  name                  = "${local.role_name_prefix}-restore"
  path                  = var.iam_role_path
  permissions_boundary  = var.iam_permissions_boundary_arn
  description           = "Restores and verifies the RDS backups of ${var.db_instance_identifier} (${var.environment})"
  assume_role_policy    = data.aws_iam_policy_document.restore_assume_role[0].json
  force_detach_policies = true

  tags = local.tags
}

resource "aws_iam_role_policy" "restore_reader" {
  count = var.create_restore_role ? 1 : 0

  name   = "read-backups"
  role   = aws_iam_role.restore[0].id
  policy = data.aws_iam_policy_document.reader.json
}

resource "aws_iam_role_policy" "restore_verify_writer" {
  count = var.create_restore_role ? 1 : 0

  name   = "write-verify-records"
  role   = aws_iam_role.restore[0].id
  policy = data.aws_iam_policy_document.verify_writer.json
}
