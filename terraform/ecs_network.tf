################################################################################
# Network: the tasks reach ECR, CloudWatch Logs and CloudWatch metrics on 443
# (created interface endpoints, existing endpoints' groups, or CIDRs).
################################################################################

locals {
  ecs_endpoint_services = ["ecr.api", "ecr.dkr", "logs", "monitoring"]
  create_ecs_endpoints  = local.ecs_needed && var.create_ecs_interface_endpoints
  # The tasks' security groups: the function's group for the backup task, the drill's own group.
  ecs_task_kinds = concat(local.ecs_runner ? ["backup"] : [], var.verify_enabled ? ["verify"] : [])
  ecs_task_security_groups = {
    backup = aws_security_group.lambda.id
    verify = var.verify_enabled ? aws_security_group.verify_drill[0].id : null
  }
  ecs_endpoint_sg_ids = concat(local.create_ecs_endpoints ? [aws_security_group.ecs_endpoints[0].id] : [], var.ecs_endpoint_security_group_ids)
  # One rule per (task, destination), keyed and counted from variables only so that
  # for_each is known at plan; the group ids are looked up inside the resource.
  ecs_https_egress = merge(
    { for pair in setproduct(local.ecs_task_kinds, range(length(var.ecs_https_egress_cidr_blocks))) : "${pair[0]}-cidr-${pair[1]}" => { task = pair[0], kind = "cidr", index = pair[1] } },
    { for pair in setproduct(local.ecs_task_kinds, range((local.create_ecs_endpoints ? 1 : 0) + length(var.ecs_endpoint_security_group_ids))) : "${pair[0]}-endpoint-${pair[1]}" => { task = pair[0], kind = "endpoint", index = pair[1] } },
  )
}

resource "aws_vpc_security_group_egress_rule" "ecs_task_https" {
  for_each = local.ecs_https_egress

  security_group_id            = local.ecs_task_security_groups[each.value.task]
  description                  = "HTTPS to ECR, CloudWatch Logs and metrics (${each.value.task} task)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  cidr_ipv4                    = each.value.kind == "cidr" ? var.ecs_https_egress_cidr_blocks[each.value.index] : null
  referenced_security_group_id = each.value.kind == "endpoint" ? local.ecs_endpoint_sg_ids[each.value.index] : null

  tags = local.tags
}

resource "aws_security_group" "ecs_endpoints" {
  count = local.create_ecs_endpoints ? 1 : 0

  name_prefix = "${local.name}-ecs-endpoints-"
  description = "ECR, CloudWatch Logs and metrics endpoints: HTTPS from the backup and drill tasks only"
  vpc_id      = local.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-ecs-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "ecs_endpoints_from_tasks" {
  for_each = local.create_ecs_endpoints ? toset(local.ecs_task_kinds) : toset([])

  security_group_id            = aws_security_group.ecs_endpoints[0].id
  description                  = "HTTPS from the ${each.value} task"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = local.ecs_task_security_groups[each.value]

  tags = local.tags
}

resource "aws_vpc_endpoint" "ecs" {
  for_each = local.create_ecs_endpoints ? toset(local.ecs_endpoint_services) : toset([])

  vpc_id              = local.vpc_id
  service_name        = "${data.aws_partition.current.reverse_dns_prefix}.${local.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.ecs_endpoints[0].id]
  private_dns_enabled = true

  tags = merge(local.tags, { Name = "${local.name}-${each.value}" })
}
