################################################################################
# Network: the function's security group has no default egress. It may reach
# the database on its port, S3 on 443 (prefix list) and, in secret mode,
# Secrets Manager on 443. Nothing else.
################################################################################

locals {
  secret_mode                = var.auth_mode == "secret"
  create_secretsmanager_vpce = local.secret_mode && var.create_secretsmanager_endpoint
  # A list whose length is known at plan (count below), whatever the ids are.
  secretsmanager_endpoint_sgids = local.secret_mode ? concat(
    local.create_secretsmanager_vpce ? [aws_security_group.secretsmanager_endpoint[0].id] : [],
    var.secretsmanager_endpoint_security_group_ids,
  ) : []
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
  count = local.secret_mode ? length(local.secretsmanager_endpoint_sgids) : 0

  security_group_id            = aws_security_group.lambda.id
  description                  = "HTTPS to the Secrets Manager interface endpoint"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = local.secretsmanager_endpoint_sgids[count.index]

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
# S3 path: the route table of every function subnet (its explicit association,
# else the VPC's main route table, which DescribeRouteTables does not report
# per subnet), an optional gateway endpoint on them, and a check that each can
# reach S3.
################################################################################

locals {
  read_route_tables = var.create_s3_gateway_endpoint || var.check_s3_route
  s3_service_name   = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.s3"
}

data "aws_route_tables" "function_subnet" {
  count = local.read_route_tables ? length(local.subnet_ids) : 0

  vpc_id = local.vpc_id

  filter {
    name   = "association.subnet-id"
    values = [local.subnet_ids[count.index]]
  }
}

data "aws_route_table" "main" {
  count = local.read_route_tables ? 1 : 0

  vpc_id = local.vpc_id

  filter {
    name   = "association.main"
    values = ["true"]
  }
}

locals {
  # One entry per function subnet, in subnet order.
  function_subnet_route_table_ids = [
    for i in range(local.read_route_tables ? length(local.subnet_ids) : 0) :
    length(data.aws_route_tables.function_subnet[i].ids) > 0 ? data.aws_route_tables.function_subnet[i].ids[0] : data.aws_route_table.main[0].id
  ]
  s3_endpoint_route_table_ids = length(var.s3_gateway_endpoint_route_table_ids) > 0 ? var.s3_gateway_endpoint_route_table_ids : distinct(local.function_subnet_route_table_ids)
}

# Route tables of the VPC with a route to the S3 prefix list: the only such
# route is an S3 gateway endpoint's. (The singular aws_route_table data source
# leaves endpoint routes out of `routes`, so it cannot show them.)
data "aws_route_tables" "with_s3_endpoint" {
  count = local.read_route_tables ? 1 : 0

  vpc_id = local.vpc_id

  filter {
    name   = "route.destination-prefix-list-id"
    values = [data.aws_prefix_list.s3.id]
  }
}

# The other routes of each function subnet's route table (one lookup per subnet,
# so the count is known at plan; duplicates are harmless).
data "aws_route_table" "function_subnet" {
  count = local.read_route_tables ? length(local.subnet_ids) : 0

  route_table_id = local.function_subnet_route_table_ids[count.index]
}

locals {
  route_tables_with_s3_endpoint = try(data.aws_route_tables.with_s3_endpoint[0].ids, [])
  # Subnets with neither an S3 gateway endpoint route nor a default route through
  # something that carries traffic out of a VPC without public IPs.
  subnets_without_s3_path = [
    for i, rt in data.aws_route_table.function_subnet : local.subnet_ids[i]
    if !contains(local.route_tables_with_s3_endpoint, rt.id) && !anytrue([
      for r in rt.routes : r.cidr_block == "0.0.0.0/0" && (r.nat_gateway_id != "" || r.transit_gateway_id != "" || r.network_interface_id != "")
    ])
  ]
}

resource "aws_vpc_endpoint" "s3" {
  count = var.create_s3_gateway_endpoint ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = local.s3_service_name
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.s3_endpoint_route_table_ids

  tags = merge(local.tags, { Name = "${local.name}-s3" })

  lifecycle {
    precondition {
      condition     = alltrue([for rt in local.function_subnet_route_table_ids : contains(local.s3_endpoint_route_table_ids, rt)])
      error_message = "s3_gateway_endpoint_route_table_ids must include the route table of every function subnet (${join(", ", distinct(local.function_subnet_route_table_ids))})."
    }
  }
}

# A check warns; it does not stop the apply. A second S3 gateway endpoint on a
# route table fails at apply (RouteAlreadyExists); the module cannot tell its own
# endpoint's routes from another's at plan, so create_s3_gateway_endpoint is off
# by default.
check "s3_reachable_from_function_subnets" {
  assert {
    condition     = !var.check_s3_route || var.create_s3_gateway_endpoint || length(local.subnets_without_s3_path) == 0
    error_message = "Function subnets ${join(", ", local.subnets_without_s3_path)} have no S3 gateway endpoint route and no default route through a NAT gateway, transit gateway or network interface: backups cannot reach S3. Set create_s3_gateway_endpoint = true or add a route."
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
