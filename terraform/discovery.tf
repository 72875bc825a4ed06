################################################################################
# Discovery: everything the module needs to know about the DB instance, read
# from the instance itself; each value can be overridden by a variable.
################################################################################

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_db_instance" "this" {
  db_instance_identifier = var.db_instance_identifier
}

data "aws_db_subnet_group" "this" {
  name = data.aws_db_instance.this.db_subnet_group
}

data "aws_prefix_list" "s3" {
  name = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.s3"
}

data "aws_route_tables" "function_subnets" {
  count = var.create_s3_gateway_endpoint && length(var.s3_gateway_endpoint_route_table_ids) == 0 ? 1 : 0

  vpc_id = local.vpc_id

  filter {
    name   = "association.subnet-id"
    values = local.subnet_ids
  }
}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  # The id of aws_region is the region name in both provider majors (6.x deprecates `name`).
  region = data.aws_region.current.id

  db_host               = coalesce(var.db_host, data.aws_db_instance.this.address)
  db_port               = coalesce(var.db_port, data.aws_db_instance.this.port)
  db_resource_id        = coalesce(var.db_resource_id, data.aws_db_instance.this.resource_id)
  db_engine_version     = coalesce(var.db_engine_version, data.aws_db_instance.this.engine_version)
  db_engine_major       = tonumber(split(".", local.db_engine_version)[0])
  db_security_group_ids = var.db_security_group_ids != null ? var.db_security_group_ids : tolist(data.aws_db_instance.this.vpc_security_groups)
  subnet_ids            = var.subnet_ids != null ? var.subnet_ids : tolist(data.aws_db_subnet_group.this.subnet_ids)
  vpc_id                = coalesce(var.vpc_id, data.aws_db_subnet_group.this.vpc_id)

  name          = var.name != null ? var.name : trimsuffix(substr("${var.environment}-${lower(var.db_instance_identifier)}-backup", 0, 40), "-")
  backup_prefix = var.backup_prefix != null ? var.backup_prefix : lower(var.db_instance_identifier)

  tags = merge(var.tags, {
    Environment  = var.environment
    DBInstance   = var.db_instance_identifier
    BackupModule = "rds-s3-backup"
  })
}
