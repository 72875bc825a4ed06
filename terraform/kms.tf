################################################################################
# KMS key for the bucket: a dedicated key with rotation whose policy lets the
# backup role use it only through S3, or an existing key.
################################################################################

locals {
  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  # The account root is always an administrator: KMS refuses CreateKey when the
  # policy would lock out its caller, and a key whose only administrators were
  # deleted can be recovered by AWS Support only.
  kms_key_administrators = distinct(concat(["arn:${local.partition}:iam::${local.account}:root"], var.kms_key_administrator_arns))
  # Whoever restores or verifies: decrypt backups, encrypt verify records, via S3 only.
  # Whoever restores or verifies: the restore role, the restore drill's task role (verify_drill.tf), named principals.
  kms_key_operators   = concat(aws_iam_role.restore[*].arn, aws_iam_role.verify_task[*].arn, var.kms_key_restore_principal_arns)
  s3_service_endpoint = "s3.${local.region}.${data.aws_partition.current.dns_suffix}"
}

data "aws_iam_policy_document" "kms_key" {
  count = var.create_kms_key ? 1 : 0

  # Administration without use: administrators can manage (and, via PutKeyPolicy,
  # recover) the key but cannot decrypt backups with this statement.
  statement {
    sid    = "KeyAdministration"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListAliases",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:RevokeGrant",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = local.kms_key_administrators
    }
  }

  statement {
    sid       = "BackupWriterViaS3"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = local.backup_writer_role_arns
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_service_endpoint]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account]
    }
  }

  dynamic "statement" {
    for_each = var.create_restore_role || var.verify_enabled || length(var.kms_key_restore_principal_arns) > 0 ? [local.kms_key_operators] : []

    content {
      sid       = "RestoreAndVerifyViaS3"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = statement.value
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.s3_service_endpoint]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "Encrypts RDS logical backups of ${var.db_instance_identifier} (${var.environment}) in S3"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms_key[0].json

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
