// Security claims of the ECS tasks, the drill, the failed-task rule, the network and
// the dashboard (registered in CHECKS by policy.ts; each has a breakage test in
// test/terraform/breakage-ecs.test.ts). count/for_each are checked by plan-time.ts.
import { isBody, pureExpression } from './load.ts';
import type { HclValue, TfBlock, TfModule } from './load.ts';
import { documentStatements } from './iam.ts';
import { blocks, ECS_EGRESS_RULES, HARDENING_KEYS, local } from './policy-ecs.ts';
import type { Check } from './policy-ecs.ts';

function taskDefinitions(mod: TfModule): TfBlock[] {
  return [...mod.resources.values()].filter((r) => r.type === 'aws_ecs_task_definition');
}

export const ECS_RUNTIME_CHECKS: Readonly<Record<string, Check>> = {
  'ecs-task-definition': (mod, emit) => {
    const hardening = local(mod, 'container_hardening');
    if (!isBody(hardening)) return emit('local.container_hardening must be an object literal');
    const expect: Record<string, HclValue> = {
      essential: true,
      readonlyRootFilesystem: true,
      privileged: false,
      user: '${var.container_user}',
    };
    for (const [k, v] of Object.entries(expect))
      if (JSON.stringify(hardening[k]) !== JSON.stringify(v))
        emit(`container ${k} must be ${JSON.stringify(v)}, is ${JSON.stringify(hardening[k] ?? null)}`, 'local.container_hardening');
    const lp = hardening['linuxParameters'];
    if (
      !isBody(lp) ||
      !isBody(lp['capabilities']) ||
      JSON.stringify(lp['capabilities']['drop']) !== '["ALL"]' ||
      'add' in lp['capabilities']
    )
      emit('linuxParameters.capabilities must drop ALL and add nothing', 'local.container_hardening');
    const mounts = hardening['mountPoints'];
    if (JSON.stringify(mounts) !== JSON.stringify([{ containerPath: '/tmp', readOnly: false, sourceVolume: 'tmp' }]))
      emit('the only writable mount must be the tmp volume at /tmp', 'local.container_hardening');
    const user = mod.variables.get('var.container_user');
    const validation = JSON.stringify(user?.body['validation'] ?? '');
    if (user?.body['default'] === undefined || /^0*(:|$)|^root/.test(String(user.body['default'])) || !validation.includes('^0+(:|$)'))
      emit('container_user must default to a non-root UID and refuse 0', 'var.container_user');
    for (const [name, container] of [
      ['backup_container', 'backup'],
      ['verify_container', 'verify'],
    ] as const) {
      const expr = pureExpression(local(mod, name)) ?? '';
      if (!expr.startsWith('merge(local.container_hardening, {')) emit(`local.${name} must be merge(local.container_hardening, {...})`);
      for (const k of HARDENING_KEYS) if (new RegExp(`\\n\\s*${k}\\s*=`).test(expr)) emit(`local.${name} overrides the hardening key ${k}`);
      if (!new RegExp(`command\\s*=\\s*\\["${container}"\\]`).test(expr)) emit(`local.${name} must run the ${container} command`);
      if (!/logDriver\s*=\s*"awslogs"/.test(expr) || !/awslogs-group\s*=\s*local\.ecs_log_group_name/.test(expr))
        emit(`local.${name} must log with awslogs to the module's log group`);
    }
    for (const td of taskDefinitions(mod)) {
      if (JSON.stringify(td.body['requires_compatibilities']) !== '["FARGATE"]')
        emit('requires_compatibilities must be [FARGATE]', td.address);
      if (td.body['network_mode'] !== 'awsvpc') emit('network_mode must be awsvpc', td.address);
      const container = td.address.endsWith('.backup') ? 'backup_container' : 'verify_container';
      if (td.body['container_definitions'] !== `\${jsonencode([local.${container}])}`)
        emit(`container_definitions must be jsonencode([local.${container}])`, td.address);
      const vols = blocks(td.body['volume']);
      if (vols.length !== 1 || JSON.stringify(vols[0]) !== '{"name":"tmp"}')
        emit('the only volume must be the task-storage bind mount {name = tmp} (no host path, EFS or Docker volume)', td.address);
    }
    const lg = mod.resources.get('aws_cloudwatch_log_group.ecs');
    if (lg?.body['retention_in_days'] !== '${var.log_retention_days}')
      emit("the tasks' log group must have retention (var.log_retention_days)", 'aws_cloudwatch_log_group.ecs');
    // The backup task gets the function's configuration; the drill nothing about the source database.
    if (!(pureExpression(local(mod, 'backup_container_environment_all')) ?? '').startsWith('merge(local.function_environment, {'))
      emit("the backup container's environment must come from local.function_environment");
    const drillEnv = local(mod, 'verify_container_environment_all');
    if (!isBody(drillEnv)) return emit('local.verify_container_environment_all must be an object literal');
    for (const k of Object.keys(drillEnv))
      if (/^PG|AUTH|SECRET|PASSWORD|INSTANCE/.test(k))
        emit(`the drill must not get ${k} (it never connects to the source database)`, 'local.verify_container_environment_all');
  },

  'ecs-task-failed-rule': (mod, emit) => {
    const pattern = local(mod, 'ecs_task_failed_pattern');
    if (!isBody(pattern) || !isBody(pattern['detail'])) return emit('local.ecs_task_failed_pattern must be an object literal');
    const detail = pattern['detail'];
    if (JSON.stringify(pattern['source']) !== '["aws.ecs"]' || JSON.stringify(pattern['detail-type']) !== '["ECS Task State Change"]')
      emit('the rule must match aws.ecs ECS Task State Change events');
    if (JSON.stringify(detail['lastStatus']) !== '["STOPPED"]') emit('the rule must match STOPPED tasks');
    if (JSON.stringify(detail['clusterArn']) !== '["${local.ecs_cluster_arn}"]') emit("the rule must match the module's cluster only");
    if (
      !String(detail['taskDefinitionArn']).includes('task-definition/${f}:') ||
      !String(detail['taskDefinitionArn']).includes('local.ecs_task_families')
    )
      emit("the rule must match the module's task families only");
    const or = JSON.stringify(detail['$or'] ?? '');
    if (!or.includes('{"exitCode":[{"anything-but":0}]}')) emit('the rule must match a non-zero container exit code');
    if (!or.includes('TaskFailedToStart')) emit('the rule must match tasks that failed to start');
    const target = mod.resources.get('aws_cloudwatch_event_target.ecs_task_failed');
    if (target?.body['arn'] !== '${local.alarm_topic_arn}')
      emit("the rule's target must be the module's alarm topic", 'aws_cloudwatch_event_target.ecs_task_failed');
    const topic = mod.dataSources.get('data.aws_iam_policy_document.alarms_topic');
    const events = topic ? documentStatements(topic).find((s) => s.principals['Service']?.includes('events.amazonaws.com')) : undefined;
    if (!events?.conditions.some((c) => c.variable === 'aws:SourceArn' && c.values.join() === '${statement.value}'))
      emit('the topic policy must let only the failed-task rule (aws:SourceArn) publish', 'data.aws_iam_policy_document.alarms_topic');
  },

  'drill-alarms': (mod, emit) => {
    const failed = mod.resources.get('aws_cloudwatch_metric_alarm.verify_failed');
    const stale = mod.resources.get('aws_cloudwatch_metric_alarm.verify_stale');
    if (
      failed?.body['metric_name'] !== 'VerifyFailed' ||
      failed.body['comparison_operator'] !== 'GreaterThanThreshold' ||
      failed.body['threshold'] !== 0
    )
      emit('an alarm must fire on VerifyFailed > 0');
    if (stale?.body['metric_name'] !== 'VerifySucceeded') return emit('an alarm must watch VerifySucceeded (stale drills)');
    if (stale.body['treat_missing_data'] !== 'breaching') emit('the stale-drill alarm must treat missing data as breaching', stale.address);
    if (
      stale.body['evaluation_periods'] !== '${var.verify_max_age_days * 24}' ||
      stale.body['period'] !== 3600 ||
      stale.body['datapoints_to_alarm'] !== stale.body['evaluation_periods']
    )
      emit('the stale-drill alarm must look back verify_max_age_days in hourly periods, all breaching', stale.address);
    for (const a of [failed, stale].filter((x): x is TfBlock => x !== undefined))
      if (JSON.stringify(a.body['dimensions']) !== '{"service":"${local.name}"}')
        emit('drill alarms must use the dimension service = local.name', a.address);
  },

  dashboard: (mod, emit) => {
    const d = mod.resources.get('aws_cloudwatch_dashboard.this');
    if (d?.body['count'] !== '${var.create_dashboard ? 1 : 0}')
      return emit('aws_cloudwatch_dashboard.this must exist, counted on var.create_dashboard');
    if (mod.variables.get('var.create_dashboard')?.body['default'] !== true)
      emit('create_dashboard must default to true', 'var.create_dashboard');
    if (!String(mod.outputs.get('output.dashboard_url')?.body['value'] ?? '').includes('aws_cloudwatch_dashboard.this[0].dashboard_name'))
      emit('output dashboard_url must link the dashboard');
    const widgets = JSON.stringify(local(mod, 'dashboard_widgets') ?? '');
    const searches = JSON.stringify(local(mod, 'metric_search') ?? '');
    for (const metric of ['BackupDuration', 'BackupBytes', 'BackupThroughput']) {
      if (!searches.includes(`${metric} `) || !widgets.includes(`local.metric_search[\\"${metric}\\"]`))
        emit(`the dashboard has no widget for ${metric} per database`);
    }
    for (const want of [
      'backup done',
      'BackupSucceeded',
      'VerifySucceeded',
      'VerifyFailed',
      'DatabaseVerifyFailed',
      'local.runner_limit_annotation',
    ])
      if (!widgets.includes(want)) emit(`the dashboard has no widget for ${want}`);
  },

  'ecs-network': (mod, emit) => {
    const rules = [...mod.resources.values()].filter((r) => r.type === 'aws_vpc_security_group_egress_rule');
    const tasks = mod.resources.get(ECS_EGRESS_RULES[0]!);
    if (!tasks) return emit(`${ECS_EGRESS_RULES[0]} not found`);
    const sig = (r: TfBlock) => `${String(r.body['ip_protocol'])} ${String(r.body['from_port'])}-${String(r.body['to_port'])}`;
    if (sig(tasks) !== 'tcp 443-443') emit(`the tasks' AWS API egress must be tcp 443 only, is ${sig(tasks)}`, tasks.address);
    if (
      tasks.body['for_each'] !== '${local.ecs_https_egress}' ||
      tasks.body['security_group_id'] !== '${local.ecs_task_security_groups[each.value.task]}'
    )
      emit("the tasks' AWS API egress must come from local.ecs_https_egress", tasks.address);
    if (tasks.body['cidr_ipv4'] !== '${each.value.kind == "cidr" ? var.ecs_https_egress_cidr_blocks[each.value.index] : null}')
      emit('CIDR destinations must be var.ecs_https_egress_cidr_blocks only', tasks.address);
    if (
      tasks.body['referenced_security_group_id'] !== '${each.value.kind == "endpoint" ? local.ecs_endpoint_sg_ids[each.value.index] : null}'
    )
      emit("group destinations must be the endpoints' groups only", tasks.address);
    const drillSg = '${aws_security_group.verify_drill[0].id}';
    const sg = mod.resources.get('aws_security_group.verify_drill');
    for (const inline of ['egress', 'ingress'])
      if (sg && inline in sg.body) emit(`the drill's group must not have inline ${inline} blocks`, sg.address);
    for (const r of rules.filter((x) => x.body['security_group_id'] === drillSg)) {
      if (r.address !== ECS_EGRESS_RULES[1])
        emit(`unexpected egress rule on the drill's group (it may reach S3 and the AWS API paths only)`, r.address);
      else if (sig(r) !== 'tcp 443-443' || r.body['prefix_list_id'] !== '${data.aws_prefix_list.s3.id}')
        emit("the drill's S3 egress must be tcp 443 to the S3 prefix list", r.address);
    }
    const sgs = local(mod, 'ecs_task_security_groups');
    if (
      !isBody(sgs) ||
      sgs['verify'] !== '${var.verify_enabled ? aws_security_group.verify_drill[0].id : null}' ||
      sgs['backup'] !== '${aws_security_group.lambda.id}'
    )
      emit("the drill must use its own group and the backup task the function's");
    for (const r of [...mod.resources.values()].filter(
      (x) =>
        x.type === 'aws_vpc_security_group_ingress_rule' && x.body['security_group_id'] === '${aws_security_group.ecs_endpoints[0].id}',
    )) {
      if (sig(r) !== 'tcp 443-443' || r.body['referenced_security_group_id'] !== '${local.ecs_task_security_groups[each.value]}')
        emit("the endpoints' group may admit 443 from the tasks' groups only", r.address);
    }
  },
};
