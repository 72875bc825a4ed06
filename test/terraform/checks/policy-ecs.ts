// Security claims of the ECS runner's and the restore drill's IAM roles, each as a
// check over the module's parsed source, and helpers shared with policy-ecs-runtime.ts
// (registered in CHECKS by policy.ts; each has a breakage test in
// test/terraform/breakage-ecs.test.ts).
import { getReferencesInExpression } from '@cdktn/hcl2json';
import { isBody, walkStrings } from './load.ts';
import type { HclBody, HclValue, TfModule } from './load.ts';
import { documentStatements, policyStatements, roleOtherGrants, rolePolicies } from './iam.ts';
import type { PolicySource, Statement } from './iam.ts';

export type Emit = (message: string, address?: string) => void;
export type Check = (mod: TfModule, emit: Emit) => void | Promise<void>;

export const ECS_TASK_ROLE = 'aws_iam_role.ecs_task';
export const VERIFY_TASK_ROLE = 'aws_iam_role.verify_task';
export const ECS_EXECUTION_ROLE = 'aws_iam_role.ecs_execution';
export const ECS_SCHEDULER_ROLE = 'aws_iam_role.ecs_scheduler';

/** Egress rules of the ECS tasks' groups, checked by "ecs-network" instead of "sg-egress". */
export const ECS_EGRESS_RULES: readonly string[] = [
  'aws_vpc_security_group_egress_rule.ecs_task_https',
  'aws_vpc_security_group_egress_rule.verify_drill_to_s3',
];

/** What the backup task role may do: the function's writer actions (no logs, no ENIs: Fargate does those) plus metrics. */
export const ECS_TASK_ACTIONS: readonly string[] = [
  's3:PutObject',
  's3:AbortMultipartUpload',
  's3:PutObjectTagging',
  's3:ListBucket',
  'kms:GenerateDataKey',
  'kms:Decrypt',
  'rds-db:connect',
  'secretsmanager:GetSecretValue',
  'cloudwatch:PutMetricData',
];

/** What the drill may do: list, read and decrypt backups, write verify records, publish metrics. */
export const VERIFY_ACTIONS: readonly string[] = [
  's3:ListBucketMultipartUploads',
  's3:GetObjectVersion',
  's3:ListBucket',
  's3:GetObject',
  's3:PutObject',
  's3:PutObjectTagging',
  'kms:Decrypt',
  'kms:GenerateDataKey',
  'cloudwatch:PutMetricData',
];

/** Container keys only the shared hardening object may set. */
export const HARDENING_KEYS = [
  'essential',
  'user',
  'readonlyRootFilesystem',
  'privileged',
  'linuxParameters',
  'mountPoints',
  'stopTimeout',
];

export function blocks(v: HclValue | undefined): HclBody[] {
  return Array.isArray(v) ? v.filter((x): x is HclBody => isBody(x)) : [];
}

function isRef(v: HclValue | undefined, address: string, attr: string): boolean {
  return v === `\${${address}.${attr}}` || v === `\${${address}[0].${attr}}`;
}

export function local(mod: TfModule, name: string): HclValue | undefined {
  return mod.locals.get(name)?.value;
}

async function roleStatements(mod: TfModule, role: string, emit: Emit): Promise<{ stmts: Statement[]; sources: PolicySource[] }> {
  for (const g of roleOtherGrants(mod, role)) emit(g);
  const stmts: Statement[] = [];
  const sources: PolicySource[] = [];
  for (const { policy, source } of await rolePolicies(mod, role)) {
    sources.push(source);
    try {
      stmts.push(...policyStatements(mod, source));
    } catch (err) {
      emit((err as Error).message, policy.address);
    }
  }
  if (stmts.length === 0) emit(`no inline policies found on ${role}`);
  return { stmts, sources };
}

/** Task roles trust ecs-tasks.amazonaws.com of this account only (aws:SourceAccount and aws:SourceArn). */
function checkTaskTrust(mod: TfModule, role: string, emit: Emit): void {
  const r = mod.resources.get(role);
  if (r?.body['assume_role_policy'] !== '${data.aws_iam_policy_document.ecs_tasks_assume_role.json}') {
    emit(`${role} must use data.aws_iam_policy_document.ecs_tasks_assume_role`, role);
    return;
  }
  const doc = mod.dataSources.get('data.aws_iam_policy_document.ecs_tasks_assume_role');
  for (const s of doc ? documentStatements(doc) : []) {
    if (s.principals['Service']?.join() !== 'ecs-tasks.amazonaws.com')
      emit('task roles must be assumable by ecs-tasks.amazonaws.com only', doc!.address);
    const account = s.conditions.some(
      (c) => c.test === 'StringEquals' && c.variable === 'aws:SourceAccount' && c.values.join() === '${local.account}',
    );
    const source = s.conditions.some(
      (c) => c.test === 'ArnLike' && c.variable === 'aws:SourceArn' && c.values.join() === '${local.ecs_task_trust_source_arn}',
    );
    if (!account || !source) emit('task role trust lacks aws:SourceAccount / aws:SourceArn (confused deputy)', doc!.address);
  }
}

/** The writer's own explicit denies (lambda_rds_to_s3.tf), shared by every writer role. */
const GUARDRAILS = 'data.aws_iam_policy_document.writer_guardrails';

function checkActions(stmts: Statement[], allowed: readonly string[], emit: Emit): void {
  for (const s of stmts) {
    // Deny is expected only from the guardrails document; its actions are checked by writer-immutability.
    if (s.effect === 'Deny' && s.source === GUARDRAILS) continue;
    if (s.effect !== 'Allow') emit(`unexpected ${s.effect} statement ${s.sid ?? ''}`, s.source);
    if (s.notActions.length > 0 || s.notResources.length > 0)
      emit(`NotAction/NotResource is not allowed (${s.sid ?? 'statement'})`, s.source);
    for (const a of s.actions) {
      if (a.includes('*') || a.includes('?')) emit(`wildcard action ${a}`, s.source);
      else if (!allowed.includes(a)) emit(`action ${a} is not allowed`, s.source);
    }
  }
}

/** PutMetricData has no resource-level permissions: "*" is allowed only with the namespace condition. */
function checkMetricStatements(stmts: Statement[], emit: Emit): void {
  const metric = stmts.filter((s) => s.actions.includes('cloudwatch:PutMetricData'));
  if (metric.length === 0) emit('no cloudwatch:PutMetricData statement (EMF in awslogs output is not extracted)');
  for (const s of stmts) {
    if (s.resources.includes('*') && !(s.actions.length === 1 && s.actions[0] === 'cloudwatch:PutMetricData'))
      emit(`resource * for ${s.actions.join(', ')}`, s.source);
  }
  for (const s of metric) {
    if (s.actions.length !== 1) emit('PutMetricData must be alone in its statement', s.source);
    if (
      !s.conditions.some(
        (c) => c.test === 'StringEquals' && c.variable === 'cloudwatch:namespace' && c.values.join() === '${local.metrics_namespace}',
      )
    ) {
      emit('PutMetricData must carry condition StringEquals cloudwatch:namespace = local.metrics_namespace', s.source);
    }
  }
}

/** The references (after following locals) an expression depends on. */
export async function dependsOn(mod: TfModule, value: HclValue, file: string, seen = new Set<string>()): Promise<string[]> {
  const out: string[] = [];
  for (const { value: s } of walkStrings(value)) {
    if (!s.includes('${')) continue;
    const refs = (await getReferencesInExpression(file, s)) as { value: string }[];
    for (const { value: ref } of refs) {
      const m = /^local\.(\w+)/.exec(ref);
      if (m) {
        if (seen.has(m[1]!)) continue;
        seen.add(m[1]!);
        const l = mod.locals.get(m[1]!);
        if (l) out.push(...(await dependsOn(mod, l.value, l.file, seen)));
        continue;
      }
      out.push(ref);
    }
  }
  return out;
}

/** Checks of the ECS and drill roles. */
export const ECS_ROLE_CHECKS: Readonly<Record<string, Check>> = {
  'ecs-task-role': async (mod, emit) => {
    checkTaskTrust(mod, ECS_TASK_ROLE, emit);
    const { stmts, sources } = await roleStatements(mod, ECS_TASK_ROLE, emit);
    checkActions(stmts, ECS_TASK_ACTIONS, emit);
    checkMetricStatements(stmts, emit);
    // One policy source with the function: the same template and the same documents, not copies.
    const fnSources = (await rolePolicies(mod, 'aws_iam_role.lambda')).map((p) => `${p.source.kind}:${p.source.ref}`);
    for (const src of sources) {
      const key = `${src.kind}:${src.ref}`;
      if (src.ref === 'data.aws_iam_policy_document.put_metrics') continue;
      if (!fnSources.includes(key)) emit(`task role policy ${key} is not one of the function's policy sources (a copy?)`);
    }
    for (const want of [
      'template:templates/backup-writer-policy.json.tftpl',
      `document:${GUARDRAILS}`,
      'document:data.aws_iam_policy_document.rds_connect',
      'document:data.aws_iam_policy_document.db_secret',
    ]) {
      if (!sources.some((s) => `${s.kind}:${s.ref}` === want)) emit(`task role lacks the function's ${want}`);
    }
  },

  'verify-role': async (mod, emit) => {
    checkTaskTrust(mod, VERIFY_TASK_ROLE, emit);
    const { stmts, sources } = await roleStatements(mod, VERIFY_TASK_ROLE, emit);
    // One source with the operators' policies (operators.tf), not a copy.
    const got = sources.map((s) => `${s.kind}:${s.ref}`).sort();
    const want = ['reader', 'verify_writer', 'put_metrics'].map((n) => `document:data.aws_iam_policy_document.${n}`).sort();
    if (got.join() !== want.join())
      emit(`the drill role must have exactly the reader, verify_writer and put_metrics documents, has ${got.join(', ')}`);
    checkActions(stmts, VERIFY_ACTIONS, emit);
    checkMetricStatements(stmts, emit);
    const bucket = '${aws_s3_bucket.this.arn}';
    const prefix = '${local.backup_prefix}';
    for (const s of stmts) {
      for (const a of s.actions) {
        if (a === 's3:PutObject' || a === 's3:PutObjectTagging') {
          if (s.resources.join() !== `${bucket}/${prefix}/*\${local.verify_record_suffix}`)
            emit(`${a} must be on ${bucket}/${prefix}/*.verify.json only (verify records), is on ${s.resources.join(', ')}`, s.source);
        } else if (a === 's3:GetObject' || a === 's3:GetObjectVersion') {
          if (s.resources.join() !== `${bucket}/${prefix}/*`) emit(`${a} must be on ${bucket}/${prefix}/* only`, s.source);
        } else if (a === 's3:ListBucketMultipartUploads') {
          if (s.resources.join() !== bucket) emit('s3:ListBucketMultipartUploads must be on the bucket only', s.source);
        } else if (a === 's3:ListBucket') {
          if (s.resources.join() !== bucket || !s.conditions.some((c) => c.variable === 's3:prefix' && c.values.join() === `${prefix}/*`))
            emit('s3:ListBucket must be on the bucket with s3:prefix = <prefix>/*', s.source);
        } else if (a.startsWith('kms:')) {
          if (s.resources.join() !== '${local.kms_key_arn}' || !s.conditions.some((c) => c.variable === 'kms:ViaService'))
            emit(`${a} must be on the backup key via S3 only`, s.source);
        }
      }
    }
  },

  'ecs-execution-role': async (mod, emit) => {
    const { stmts } = await roleStatements(mod, ECS_EXECUTION_ROLE, emit);
    const allowed = [
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'ecr:BatchGetImage',
      'ecr:GetDownloadUrlForLayer',
      'ecr:BatchCheckLayerAvailability',
      'ecr:GetAuthorizationToken',
    ];
    checkActions(stmts, allowed, emit);
    for (const s of stmts) {
      const r = s.resources.join();
      if (s.actions.some((a) => a.startsWith('logs:')) && r !== '${aws_cloudwatch_log_group.ecs[0].arn}:log-stream:*')
        emit(`logs actions must be on the tasks' log group only, are on ${r}`, s.source);
      if (s.actions.includes('ecr:GetAuthorizationToken') && s.actions.length !== 1)
        emit('ecr:GetAuthorizationToken (Resource *) must be alone in its statement', s.source);
      if (s.actions.some((a) => a.startsWith('ecr:') && a !== 'ecr:GetAuthorizationToken') && r !== '${statement.value}')
        emit(`image pull must be scoped to the repositories, is on ${r}`, s.source);
      if (r === '*' && !(s.actions.length === 1 && s.actions[0] === 'ecr:GetAuthorizationToken'))
        emit(`resource * for ${s.actions.join(', ')}`, s.source);
    }
    const pull = mod.dataSources.get('data.aws_iam_policy_document.ecs_execution');
    const dyn = isBody(pull?.body['dynamic']) ? blocks(pull.body['dynamic']['statement']) : [];
    if (!dyn.some((d) => d['for_each'] === '${local.pulls_from_ecr ? [local.ecr_repository_arns] : []}'))
      emit('the pull statement must cover exactly local.ecr_repository_arns');
  },

  'ecs-scheduler': async (mod, emit) => {
    const { stmts } = await roleStatements(mod, ECS_SCHEDULER_ROLE, emit);
    checkActions(stmts, ['ecs:RunTask', 'iam:PassRole'], emit);
    for (const s of stmts) {
      if (s.actions.includes('ecs:RunTask')) {
        if (s.resources.join() !== '${local.ecs_task_definition_arns}')
          emit("ecs:RunTask must be on the module's task definitions only", s.source);
        if (!s.conditions.some((c) => c.variable === 'ecs:cluster' && c.values.join() === '${local.ecs_cluster_arn}'))
          emit("ecs:RunTask must carry condition ecs:cluster = the module's cluster", s.source);
      }
      if (s.actions.includes('iam:PassRole')) {
        if (s.resources.join() !== '${local.ecs_passed_role_arns}')
          emit('iam:PassRole must be on local.ecs_passed_role_arns only', s.source);
        if (
          !s.conditions.some(
            (c) => c.test === 'StringEquals' && c.variable === 'iam:PassedToService' && c.values.join() === 'ecs-tasks.amazonaws.com',
          )
        )
          emit('iam:PassRole must carry condition StringEquals iam:PassedToService = ecs-tasks.amazonaws.com', s.source);
      }
    }
    const passed = await dependsOn(mod, '${local.ecs_passed_role_arns}', 'ecs_iam.tf');
    const roles = [...new Set(passed.filter((r) => r.startsWith('aws_iam_role.')).map((r) => r.split('.').slice(0, 2).join('.')))].sort();
    if (roles.join() !== [ECS_EXECUTION_ROLE, ECS_TASK_ROLE, VERIFY_TASK_ROLE].sort().join())
      emit(`the scheduler may pass exactly the execution, task and drill roles, passes ${roles.join(', ')}`);
    const role = mod.resources.get(ECS_SCHEDULER_ROLE);
    if (role?.body['assume_role_policy'] !== '${data.aws_iam_policy_document.scheduler_assume_role.json}')
      emit('the ECS scheduler role must use the schedule-group-scoped trust policy', ECS_SCHEDULER_ROLE);
    for (const [address, sg] of [
      ['aws_scheduler_schedule.ecs_backup', '${aws_security_group.lambda.id}'],
      ['aws_scheduler_schedule.verify', '${aws_security_group.verify_drill[0].id}'],
    ] as const) {
      const sched = mod.resources.get(address);
      if (!sched) {
        emit(`${address} not found`);
        continue;
      }
      const target = blocks(sched.body['target'])[0];
      if (!isRef(target?.['role_arn'], ECS_SCHEDULER_ROLE, 'arn')) emit(`${address} must use ${ECS_SCHEDULER_ROLE}`, address);
      const ecs = blocks(target?.['ecs_parameters'])[0];
      const net = blocks(ecs?.['network_configuration'])[0];
      if (ecs?.['launch_type'] !== 'FARGATE') emit('launch_type must be FARGATE', address);
      if (net?.['assign_public_ip'] !== false) emit('assign_public_ip must be literally false', address);
      if (net?.['subnets'] !== '${local.subnet_ids}') emit("the tasks must run in the module's subnets (local.subnet_ids)", address);
      if (JSON.stringify(net?.['security_groups']) !== JSON.stringify([sg])) emit(`security_groups must be [${sg}]`, address);
    }
  },
};
