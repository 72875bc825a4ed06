################################################################################
# Network: the function's security group has no default egress. It may reach
# the database on its port, S3 on 443 (prefix list) and, in secret mode,
# Secrets Manager on 443. Nothing else.
################################################################################

locals {
  secret_mode                  = var.auth_mode == "secret"
  create_secretsmanager_vpce   = local.secret_mode && var.create_secretsmanager_endpoint
  secretsmanager_endpoint_sgid = local.create_secretsmanager_vpce ? aws_security_group.secretsmanager_endpoint[0].id : var.secretsmanager_endpoint_security_group_id
  s3_endpoint_route_table_ids  = length(var.s3_gateway_endpoint_route_table_ids) > 0 ? var.s3_gateway_endpoint_route_table_ids : try(data.aws_route_tables.function_subnets[0].ids, [])
}

# Terraform removes the all-traffic egress rule AWS adds to every new group; the
# rules below are the only ones.
resource "aws_security_group" "lambda" {
  name_prefix = "${local.name}-function-"
  description = "RDS backup function: egress to the database, S3 and Secrets Manager only"
  vpc_id      = local.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-function" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "to_database" {
  count = length(local.db_security_group_ids)

  security_group_id            = aws_security_group.lambda.id
  description                  = "PostgreSQL on the DB instance"
  ip_protocol                  = "tcp"
  from_port                    = local.db_port
  to_port                      = local.db_port
  referenced_security_group_id = local.db_security_group_ids[count.index]

  tags = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "database_from_function" {
  count = var.create_db_ingress_rule ? length(local.db_security_group_ids) : 0

  security_group_id            = local.db_security_group_ids[count.index]
  description                  = "PostgreSQL from the RDS backup function"
  ip_protocol                  = "tcp"
  from_port                    = local.db_port
  to_port                      = local.db_port
  referenced_security_group_id = aws_security_group.lambda.id

  tags = local.tags
}

resource "aws_vpc_security_group_egress_rule" "to_s3" {
  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to S3 (gateway endpoint or NAT)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_prefix_list.s3.id

  tags = local.tags
}

resource "aws_vpc_security_group_egress_rule" "to_secretsmanager_endpoint" {
  count = local.secret_mode && (var.create_secretsmanager_endpoint || var.secretsmanager_endpoint_security_group_id != null) ? 1 : 0

  security_group_id            = aws_security_group.lambda.id
  description                  = "HTTPS to the Secrets Manager interface endpoint"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = local.secretsmanager_endpoint_sgid

  tags = local.tags
}

resource "aws_vpc_security_group_egress_rule" "to_secretsmanager_cidr" {
  count = local.secret_mode ? length(var.secretsmanager_egress_cidr_blocks) : 0

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to Secrets Manager"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.secretsmanager_egress_cidr_blocks[count.index]

  tags = local.tags
}

################################################################################
# S3 gateway endpoint (optional: the VPC may already have one)
################################################################################

resource "aws_vpc_endpoint" "s3" {
  count = var.create_s3_gateway_endpoint ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.s3_endpoint_route_table_ids

  tags = merge(local.tags, { Name = "${local.name}-s3" })

  lifecycle {
    # Subnets that use the VPC's main route table implicitly have no association to discover.
    precondition {
      condition     = length(local.s3_endpoint_route_table_ids) > 0
      error_message = "No route table is explicitly associated with the function's subnets: pass s3_gateway_endpoint_route_table_ids, or set create_s3_gateway_endpoint = false if S3 is reachable otherwise."
    }
  }
}

################################################################################
# Secrets Manager interface endpoint (secret mode, optional)
################################################################################

resource "aws_security_group" "secretsmanager_endpoint" {
  count = local.create_secretsmanager_vpce ? 1 : 0

  name_prefix = "${local.name}-secretsmanager-"
  description = "Secrets Manager endpoint: HTTPS from the RDS backup function only"
  vpc_id      = local.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-secretsmanager" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "secretsmanager_endpoint_from_function" {
  count = local.create_secretsmanager_vpce ? 1 : 0

  security_group_id            = aws_security_group.secretsmanager_endpoint[0].id
  description                  = "HTTPS from the RDS backup function"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.lambda.id

  tags = local.tags
}

resource "aws_vpc_endpoint" "secretsmanager" {
  count = local.create_secretsmanager_vpce ? 1 : 0

  vpc_id              = local.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.secretsmanager"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.secretsmanager_endpoint[0].id]
  private_dns_enabled = true

  tags = merge(local.tags, { Name = "${local.name}-secretsmanager" })
}
