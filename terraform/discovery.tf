################################################################################
# Discovery: everything the module needs to know about the DB instance, read
# from the instance itself unless discover_db_instance = false (then every
# value comes from its override variable and nothing is read at plan time).
################################################################################

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_db_instance" "this" {
  count = var.discover_db_instance ? 1 : 0

  db_instance_identifier = var.db_instance_identifier
}

data "aws_db_subnet_group" "this" {
  count = var.discover_db_instance ? 1 : 0

  name = data.aws_db_instance.this[0].db_subnet_group
}

data "aws_prefix_list" "s3" {
  name = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.s3"
}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  # The id of aws_region is the region name in both provider majors (6.x deprecates `name`).
  region = data.aws_region.current.id

  # try(): with discover_db_instance = false the data sources have no instance and
  # a precondition on the function requires every override.
  db_host               = var.db_host != null ? var.db_host : try(data.aws_db_instance.this[0].address, null)
  db_port               = var.db_port != null ? var.db_port : try(data.aws_db_instance.this[0].port, null)
  db_resource_id        = var.db_resource_id != null ? var.db_resource_id : try(data.aws_db_instance.this[0].resource_id, null)
  db_engine_version     = var.db_engine_version != null ? var.db_engine_version : try(data.aws_db_instance.this[0].engine_version, "0")
  db_engine_major       = tonumber(split(".", local.db_engine_version)[0])
  db_security_group_ids = var.db_security_group_ids != null ? var.db_security_group_ids : try(tolist(data.aws_db_instance.this[0].vpc_security_groups), [])
  subnet_ids            = var.subnet_ids != null ? var.subnet_ids : try(tolist(data.aws_db_subnet_group.this[0].subnet_ids), [])
  vpc_id                = var.vpc_id != null ? var.vpc_id : try(data.aws_db_subnet_group.this[0].vpc_id, null)

  name          = var.name != null ? var.name : trimsuffix(substr("${var.environment}-${lower(var.db_instance_identifier)}-backup", 0, 40), "-")
  backup_prefix = var.backup_prefix != null ? var.backup_prefix : lower(var.db_instance_identifier)

  tags = merge(var.tags, {
    Environment  = var.environment
    DBInstance   = var.db_instance_identifier
    BackupModule = "rds-s3-backup"
  })
}
