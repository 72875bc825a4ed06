// The module's security claims, each as a check over its parsed source. Every
// check returns findings (empty = claim holds) and has a breakage test in
// test/terraform/breakage.test.ts proving it reports a violation.
import { isBody, pureExpression } from './load.ts';
import type { Finding, HclBody, HclValue, TfBlock, TfModule } from './load.ts';
import { documentStatements, policyStatements, resolvePolicy, roleOtherGrants, rolePolicies } from './iam.ts';
import type { Statement } from './iam.ts';
import { DEPLOY_CHECKS } from './policy-deploy.ts';
import { ECS_RUNTIME_CHECKS } from './policy-ecs-runtime.ts';
import { ECS_EGRESS_RULES, ECS_ROLE_CHECKS } from './policy-ecs.ts';
import { evaluateInModule } from './render.ts';
import { RUNNER_NODE_OPTIONS } from '../../../src/runner/node-options.ts';

export const FUNCTION_ROLE = 'aws_iam_role.lambda';
export const SCHEDULER_ROLE = 'aws_iam_role.scheduler';
export const BUCKET = 'aws_s3_bucket.this';
export const FUNCTION = 'aws_lambda_function.this';
export const FUNCTION_SG = 'aws_security_group.lambda';

/** Every action the function role may have, per concern; nothing else. */
export const FUNCTION_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  's3 objects under the prefix': ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'],
  's3 listing of the prefix': ['s3:ListBucket'],
  'kms via s3': ['kms:GenerateDataKey', 'kms:Decrypt'],
  'rds iam auth': ['rds-db:connect'],
  'secret mode': ['secretsmanager:GetSecretValue'],
  logs: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  'vpc enis': [
    'ec2:CreateNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses',
    'ec2:UnassignPrivateIpAddresses',
  ],
  'on-failure destination': ['sqs:SendMessage', 'sns:Publish', 'lambda:InvokeFunction', 'events:PutEvents'],
};

/** The only actions that may use Resource "*": EC2 Describe* has no resource-level permissions. */
export const UNSCOPABLE_ACTIONS: readonly string[] = ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'];

/**
 * Actions a backup writer must never be allowed (README and #12): nothing that reads,
 * deletes, re-tags an existing version, or shortens/lifts a retention.
 */
export const FORBIDDEN_ACTIONS: readonly string[] = [
  's3:GetObject',
  's3:GetObjectVersion',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:HeadObject',
  's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
];

/** The tag the engine writes (src/core/tiers.ts TIER_TAG) and the verify record suffix (src/core/keys.ts). */
export const TIER_TAG = 'backup-tier';
export const VERIFY_SUFFIX = '.verify.json';

/** Function environment the engine reads (configuration only). */
export const FUNCTION_ENV_KEYS: readonly string[] = [
  'RDS_S3_BACKUP_TO',
  'RDS_S3_BACKUP_DATABASES',
  'RDS_S3_BACKUP_GLOBALS',
  'RDS_S3_BACKUP_COMPRESS',
  'RDS_S3_BACKUP_KMS_KEY_ID',
  'RDS_S3_BACKUP_AUTH',
  'RDS_S3_BACKUP_SECRET_ID',
  'RDS_S3_BACKUP_DB_REGION',
  'RDS_S3_BACKUP_ROW_COUNTS',
  'RDS_S3_BACKUP_PGTOOLS_DIR',
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGDATABASE',
  'PGSSLMODE',
  'PGSSLROOTCERT',
  'PGCONNECT_TIMEOUT',
  'POWERTOOLS_SERVICE_NAME',
  'POWERTOOLS_METRICS_NAMESPACE',
  'NODE_OPTIONS',
];

export const RETENTION_TIERS: readonly string[] = ['daily', 'weekly', 'monthly', 'yearly'];

export type Emit = (message: string, address?: string) => void;
export type Check = (mod: TfModule, emit: Emit) => void | Promise<void>;

function block(v: HclValue | undefined): HclBody | undefined {
  if (Array.isArray(v) && isBody(v[0])) return v[0];
  return undefined;
}

function blocks(v: HclValue | undefined): HclBody[] {
  return Array.isArray(v) ? v.filter((x): x is HclBody => isBody(x)) : [];
}

/** Follows `local.x` (and `var.x` to its default) until a literal or a non-trivial expression. */
export function resolveValue(mod: TfModule, v: HclValue | undefined, depth = 0): HclValue | undefined {
  if (depth > 8) return v;
  const pure = pureExpression(v);
  if (pure === undefined) return v;
  const local = /^local\.(\w+)$/.exec(pure);
  if (local && mod.locals.has(local[1]!)) return resolveValue(mod, mod.locals.get(local[1]!)!.value, depth + 1);
  const variable = /^var\.(\w+)$/.exec(pure);
  if (variable && mod.variables.has(`var.${variable[1]}`))
    return resolveValue(mod, mod.variables.get(`var.${variable[1]}`)!.body['default'], depth + 1);
  return v;
}

export function resourcesOf(mod: TfModule, type: string): TfBlock[] {
  return [...mod.resources.values()].filter((r) => r.type === type);
}

function targets(b: TfBlock, key: string, address: string): boolean {
  const v = String(b.body[key] ?? '');
  return v === `\${${address}.id}` || v === `\${${address}.bucket}` || v === `\${${address}.name}` || v === `\${${address}.arn}`;
}

export function bucketResource(mod: TfModule, type: string, emit: Emit): TfBlock | undefined {
  const found = resourcesOf(mod, type).filter((r) => targets(r, 'bucket', BUCKET));
  if (found.length === 0) emit(`no ${type} for ${BUCKET}`);
  return found[0];
}

async function bucketPolicyStatements(mod: TfModule, emit: Emit): Promise<Statement[]> {
  const pol = bucketResource(mod, 'aws_s3_bucket_policy', emit);
  if (!pol) return [];
  const src = await resolvePolicy(mod, String(pol.body['policy']), pol.file);
  try {
    return policyStatements(mod, src);
  } catch (err) {
    emit((err as Error).message, pol.address);
    return [];
  }
}

function hasCondition(s: Statement, test: string, variable: string, value?: string): boolean {
  return s.conditions.some((c) => c.test === test && c.variable === variable && (value === undefined || c.values.includes(value)));
}

async function functionStatements(mod: TfModule, emit: Emit): Promise<Statement[]> {
  const out: Statement[] = [];
  for (const g of roleOtherGrants(mod, FUNCTION_ROLE)) emit(g);
  for (const { policy, source } of await rolePolicies(mod, FUNCTION_ROLE)) {
    try {
      out.push(...policyStatements(mod, source));
    } catch (err) {
      emit((err as Error).message, policy.address);
    }
  }
  if (out.length === 0) emit(`no inline policies found on ${FUNCTION_ROLE}`);
  return out;
}

/** Actions of a statement, with an action chosen by a local's lookup() expanded to every action it can choose. */
function actionsOf(mod: TfModule, s: Statement): string[] {
  return s.actions.flatMap((a) => {
    const local = /^\$\{local\.(\w+)\}$/.exec(a);
    if (!local) return [a];
    const text = JSON.stringify(mod.locals.get(local[1]!)?.value ?? '');
    return [...text.matchAll(/\\"([a-z0-9-]+:[A-Za-z]+)\\"/g)].map((m) => m[1]!).filter((x) => x !== 'none:none');
  });
}

/** `${address.attr}` or, for a conditional (count) resource, `${address[0].attr}`. */
export function isRef(v: HclValue | undefined, address: string, attr: string): boolean {
  return v === `\${${address}.${attr}}` || v === `\${${address}[0].${attr}}`;
}

function wildcardAction(a: string): boolean {
  return a.includes('*') || a.includes('?');
}

/** An ARN (or expression yielding one) whose partition/service/region/account are not wildcards. */
function scopedResource(r: string): boolean {
  if (r === '*') return false;
  // An expression: scoped unless it can produce a bare "*" or wildcard the ARN's account/region.
  if (r.startsWith('${')) return !/"\*"|:\*:/.test(r);
  const parts = r.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) return false;
  return !parts.slice(1, 5).some((p) => p.includes('*'));
}

const BASE_CHECKS: Readonly<Record<string, Check>> = {
  'bucket-public-access-block': (mod, emit) => {
    const pab = bucketResource(mod, 'aws_s3_bucket_public_access_block', emit);
    if (!pab) return;
    for (const flag of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']) {
      if (pab.body[flag] !== true) emit(`${flag} must be literally true, is ${JSON.stringify(pab.body[flag] ?? null)}`, pab.address);
    }
    if ('count' in pab.body || 'for_each' in pab.body) emit('the public access block must not be conditional', pab.address);
  },

  'bucket-ownership': (mod, emit) => {
    const oc = bucketResource(mod, 'aws_s3_bucket_ownership_controls', emit);
    if (!oc) return;
    const rule = block(oc.body['rule']);
    if (rule?.['object_ownership'] !== 'BucketOwnerEnforced')
      emit(
        `object_ownership must be BucketOwnerEnforced (ACLs disabled), is ${JSON.stringify(rule?.['object_ownership'] ?? null)}`,
        oc.address,
      );
    if (resourcesOf(mod, 'aws_s3_bucket_acl').length > 0) emit('aws_s3_bucket_acl must not be used with BucketOwnerEnforced');
  },

  'bucket-force-destroy': (mod, emit) => {
    const b = mod.resources.get(BUCKET);
    if (!b) return emit(`${BUCKET} not found`);
    if (b.body['force_destroy'] !== false)
      emit(`force_destroy must be literally false, is ${JSON.stringify(b.body['force_destroy'] ?? null)}`, b.address);
  },

  'bucket-versioning': (mod, emit) => {
    const v = bucketResource(mod, 'aws_s3_bucket_versioning', emit);
    if (!v) return;
    const status = block(v.body['versioning_configuration'])?.['status'];
    if (status !== 'Enabled') emit(`versioning status must be Enabled, is ${JSON.stringify(status ?? null)}`, v.address);
  },

  'bucket-sse-kms': (mod, emit) => {
    const sse = bucketResource(mod, 'aws_s3_bucket_server_side_encryption_configuration', emit);
    if (!sse) return;
    const rule = block(sse.body['rule']);
    const def = block(rule?.['apply_server_side_encryption_by_default']);
    if (def?.['sse_algorithm'] !== 'aws:kms')
      emit(`default encryption must be aws:kms, is ${JSON.stringify(def?.['sse_algorithm'] ?? null)}`, sse.address);
    if (rule?.['bucket_key_enabled'] !== true) emit('bucket_key_enabled must be true', sse.address);
    if (def?.['kms_master_key_id'] !== '${local.kms_key_arn}')
      emit(
        `kms_master_key_id must be the module's key (local.kms_key_arn), is ${JSON.stringify(def?.['kms_master_key_id'] ?? null)}`,
        sse.address,
      );
  },

  'bucket-policy-tls': async (mod, emit) => {
    const stmts = await bucketPolicyStatements(mod, emit);
    const tls = stmts.find(
      (s) =>
        s.effect === 'Deny' &&
        s.principals['*']?.includes('*') &&
        (s.actions.includes('s3:*') || s.actions.includes('*')) &&
        hasCondition(s, 'Bool', 'aws:SecureTransport', 'false'),
    );
    if (!tls) return emit('bucket policy has no Deny of s3:* for everyone when aws:SecureTransport is false');
    const bucketArn = '${aws_s3_bucket.this.arn}';
    for (const r of [bucketArn, `${bucketArn}/*`]) if (!tls.resources.includes(r)) emit(`TLS-only deny does not cover ${r}`);
  },

  'bucket-policy-kms': async (mod, emit) => {
    const stmts = await bucketPolicyStatements(mod, emit);
    const denyPut = (test: string, variable: string, value: string) =>
      stmts.some(
        (s) =>
          s.effect === 'Deny' &&
          s.principals['*']?.includes('*') &&
          s.actions.some((a) => a === 's3:PutObject' || a === 's3:*') &&
          s.resources.includes('${aws_s3_bucket.this.arn}/*') &&
          hasCondition(s, test, variable, value),
      );
    // StringNotEquals with Null=false: only a header that is present and wrong is denied. ...IfExists would also
    // deny UploadPart and CompleteMultipartUpload, which never carry the header (found by the IAM evaluator).
    if (!denyPut('StringNotEquals', 's3:x-amz-server-side-encryption-aws-kms-key-id', '${local.kms_key_arn}')) {
      emit("bucket policy does not deny puts that name a KMS key other than the module's");
    }
    if (!denyPut('StringNotEquals', 's3:x-amz-server-side-encryption', 'aws:kms'))
      emit('bucket policy does not deny puts with encryption other than aws:kms');
    if (
      stmts.some(
        (s) =>
          s.effect === 'Deny' &&
          s.conditions.some((c) => c.test.endsWith('IfExists') && c.variable.startsWith('s3:x-amz-server-side-encryption')),
      )
    )
      emit('a bucket-policy Deny tests an encryption header with ...IfExists: it denies every UploadPart and CompleteMultipartUpload');
  },

  'bucket-lifecycle': (mod, emit) => {
    const lc = bucketResource(mod, 'aws_s3_bucket_lifecycle_configuration', emit);
    if (!lc) return;
    const rules = blocks(lc.body['rule']);
    const dynRules = blocks(isBody(lc.body['dynamic']) ? lc.body['dynamic']['rule'] : undefined);
    if (
      !rules.some(
        (r) => r['status'] === 'Enabled' && block(r['abort_incomplete_multipart_upload'])?.['days_after_initiation'] !== undefined,
      )
    ) {
      emit('no enabled rule aborts incomplete multipart uploads', lc.address);
    }
    if (!rules.some((r) => r['status'] === 'Enabled' && block(r['noncurrent_version_expiration'])?.['noncurrent_days'] !== undefined)) {
      emit('no enabled rule expires noncurrent versions', lc.address);
    }
    const tierRule = dynRules.find((d) => {
      const c = block(d['content']);
      const and = block(block(c?.['filter'])?.['and']);
      const tags = and?.['tags'];
      if (!isBody(tags)) return false;
      const entry = Object.entries(tags).find(
        ([k]) => k === TIER_TAG || resolveValue(mod, k.replace(/^\$\{\((.*)\)\}$/, '$${$1}')) === TIER_TAG,
      );
      return entry?.[1] === '${rule.key}' && c?.['status'] === 'Enabled' && block(c?.['expiration'])?.['days'] === '${rule.value}';
    });
    if (!tierRule)
      return emit(
        'no dynamic rule expires objects by their "backup-tier" tag (filter.and.tags["backup-tier"] = rule.key, expiration.days = rule.value)',
        lc.address,
      );
    // The rule iterates the tier map, whose keys must be exactly the tiers the engine writes.
    const tiersVar = mod.variables.get('var.tier_expiration_days');
    const type = String(tiersVar?.body['type'] ?? '');
    for (const t of RETENTION_TIERS)
      if (!new RegExp(`\\b${t}\\s*=`).test(type)) emit(`tier_expiration_days has no "${t}" tier`, 'var.tier_expiration_days');
  },

  'iam-function-actions': async (mod, emit) => {
    const stmts = await functionStatements(mod, emit);
    const allowed = new Set(Object.values(FUNCTION_ACTIONS).flat());
    const granted = new Set<string>();
    for (const s of stmts) {
      if (s.effect !== 'Allow' && s.effect !== 'Deny') emit(`unexpected effect ${s.effect} in ${s.sid ?? 'statement'}`, s.source);
      if (s.notActions.length > 0) emit(`NotAction is not allowed (${s.sid ?? 'statement'})`, s.source);
      if (s.effect === 'Deny') continue;
      for (const a of actionsOf(mod, s)) {
        granted.add(a);
        if (wildcardAction(a)) emit(`wildcard action ${a}`, s.source);
        else if (FORBIDDEN_ACTIONS.includes(a)) emit(`forbidden action ${a}`, s.source);
        else if (!allowed.has(a)) emit(`action ${a} is not in the documented list`, s.source);
      }
    }
    for (const a of allowed) if (!granted.has(a)) emit(`documented action ${a} is not granted by any statement`);
  },

  'iam-function-resources': async (mod, emit) => {
    const stmts = await functionStatements(mod, emit);
    for (const s of stmts) {
      if (s.effect === 'Deny') continue;
      if (s.notResources.length > 0) emit(`NotResource is not allowed (${s.sid ?? 'statement'})`, s.source);
      if (s.resources.length === 0) emit(`statement ${s.sid ?? ''} has no resources`, s.source);
      for (const r of s.resources) {
        if (scopedResource(r)) continue;
        if (r === '*' && s.actions.length > 0 && s.actions.every((a) => UNSCOPABLE_ACTIONS.includes(a))) continue;
        emit(`resource ${r} is not scoped (actions ${s.actions.join(', ')})`, s.source);
      }
    }
  },

  'iam-s3-kms-scope': async (mod, emit) => {
    const stmts = await functionStatements(mod, emit);
    const bucketArn = '${aws_s3_bucket.this.arn}';
    const prefix = '${local.backup_prefix}';
    const keyArn = '${local.kms_key_arn}';
    const expected = [
      ...FUNCTION_ACTIONS['s3 objects under the prefix']!,
      ...FUNCTION_ACTIONS['s3 listing of the prefix']!,
      ...FUNCTION_ACTIONS['kms via s3']!,
    ];
    const fromTemplate = new Set(stmts.filter((s) => s.source.endsWith('.tftpl') && s.effect === 'Allow').flatMap((s) => s.actions));
    const missing = expected.filter((a) => !fromTemplate.has(a));
    const extra = [...fromTemplate].filter((a) => !expected.includes(a));
    if (missing.length > 0 || extra.length > 0) {
      emit(
        `the S3/KMS template must grant exactly ${expected.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; extra ${extra.join(', ')}` : ''}`,
      );
    }
    for (const s of stmts) {
      if (s.effect !== 'Allow') continue;
      for (const a of s.actions) {
        if (!a.startsWith('s3:') && !(a.startsWith('kms:') && s.source.endsWith('.tftpl'))) continue;
        if (a === 's3:ListBucket') {
          if (s.resources.join() !== bucketArn)
            emit(`s3:ListBucket must be on ${bucketArn} only, is on ${s.resources.join(', ')}`, s.source);
          if (!hasCondition(s, 'StringLike', 's3:prefix', `${prefix}/*`))
            emit(`s3:ListBucket must carry condition StringLike s3:prefix = ${prefix}/*`, s.source);
        } else if (a.startsWith('s3:')) {
          if (s.resources.join() !== `${bucketArn}/${prefix}/*`)
            emit(`${a} must be on ${bucketArn}/${prefix}/* only, is on ${s.resources.join(', ')}`, s.source);
        } else if (s.resources.join() !== keyArn) {
          emit(`${a} must be on the backup key ${keyArn} only, is on ${s.resources.join(', ')}`, s.source);
        }
      }
    }
  },

  'kms-key': (mod, emit) => {
    const key = mod.resources.get('aws_kms_key.this');
    if (!key) return emit('aws_kms_key.this not found');
    if (key.body['enable_key_rotation'] !== true) emit('enable_key_rotation must be true', key.address);
    const doc = mod.dataSources.get('data.aws_iam_policy_document.kms_key');
    if (!doc || key.body['policy'] !== '${data.aws_iam_policy_document.kms_key[0].json}')
      return emit('the key policy must be data.aws_iam_policy_document.kms_key', key.address);
    for (const s of documentStatements(doc)) {
      for (const a of s.actions) if (s.effect === 'Allow' && wildcardAction(a)) emit(`key policy grants wildcard action ${a}`, doc.address);
      const usesKey = s.actions.some((a) =>
        ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'].includes(a),
      );
      if (s.effect === 'Allow' && usesKey && !s.conditions.some((c) => c.variable === 'kms:ViaService'))
        emit(`key policy statement ${s.sid ?? ''} lets principals use the key outside S3 (no kms:ViaService)`, doc.address);
    }
  },

  'sg-egress': (mod, emit) => {
    const sg = mod.resources.get(FUNCTION_SG);
    if (!sg) return emit(`${FUNCTION_SG} not found`);
    for (const inline of ['egress', 'ingress'])
      if (inline in sg.body) emit(`${FUNCTION_SG} must not have inline ${inline} blocks (use aws_vpc_security_group_*_rule)`, sg.address);
    for (const r of resourcesOf(mod, 'aws_security_group_rule'))
      emit('aws_security_group_rule is not used; use aws_vpc_security_group_egress_rule', r.address);
    const expected = new Map<string, string>([
      [
        'tcp ${local.db_port}-${local.db_port} referenced_security_group_id=${local.db_security_group_ids[count.index]}',
        'database on its port',
      ],
      ['tcp 443-443 prefix_list_id=${data.aws_prefix_list.s3.id}', 'S3 prefix list'],
      [
        'tcp 443-443 referenced_security_group_id=${local.secretsmanager_endpoint_sgids[count.index]}',
        'Secrets Manager endpoint (secret mode)',
      ],
      ['tcp 443-443 cidr_ipv4=${var.secretsmanager_egress_cidr_blocks[count.index]}', 'Secrets Manager CIDRs (secret mode)'],
    ]);
    const seen = new Set<string>();
    for (const r of resourcesOf(mod, 'aws_vpc_security_group_egress_rule')) {
      if (ECS_EGRESS_RULES.includes(r.address)) continue;
      if (r.body['security_group_id'] !== `\${${FUNCTION_SG}.id}`) {
        emit(
          `egress rule on another security group (${String(r.body['security_group_id'])}); only the function's group has egress`,
          r.address,
        );
        continue;
      }
      const dests = ['cidr_ipv4', 'cidr_ipv6', 'prefix_list_id', 'referenced_security_group_id'].filter((k) => k in r.body);
      const sig = `${String(r.body['ip_protocol'])} ${String(r.body['from_port'])}-${String(r.body['to_port'])} ${dests.map((k) => `${k}=${String(r.body[k])}`).join(' ')}`;
      if (!expected.has(sig)) {
        emit(`unexpected egress rule: ${sig}`, r.address);
        continue;
      }
      seen.add(sig);
      if (sig.includes('secretsmanager') && !/local\.secret_mode|var\.auth_mode\s*==\s*"secret"/.test(String(r.body['count'] ?? '')))
        emit('Secrets Manager egress must exist in secret mode only (count on secret mode)', r.address);
      for (const v of Object.values(r.body)) if (v === '0.0.0.0/0' || v === '::/0') emit('egress to the whole internet', r.address);
    }
    for (const [sig, what] of expected) if (!seen.has(sig)) emit(`missing egress rule for ${what}: ${sig}`);
  },

  'sg-db-ingress': (mod, emit) => {
    const rules = resourcesOf(mod, 'aws_vpc_security_group_ingress_rule').filter(
      (r) =>
        r.body['referenced_security_group_id'] === `\${${FUNCTION_SG}.id}` &&
        r.body['security_group_id'] === '${local.db_security_group_ids[count.index]}',
    );
    if (rules.length !== 1) return emit("expected exactly one ingress rule on the DB security groups from the function's group");
    const r = rules[0]!;
    if (r.body['ip_protocol'] !== 'tcp' || r.body['from_port'] !== '${local.db_port}' || r.body['to_port'] !== '${local.db_port}')
      emit('DB ingress must be tcp on the DB port only', r.address);
  },

  'log-retention': (mod, emit) => {
    const fn = mod.resources.get(FUNCTION);
    const groups = resourcesOf(mod, 'aws_cloudwatch_log_group');
    const lg = groups.find((g) => resolveValue(mod, g.body['name']) === '/aws/lambda/${local.name}');
    if (!lg) return emit('no log group named /aws/lambda/<function name>');
    if (fn && fn.body['function_name'] !== '${local.name}')
      emit("the function name must be local.name so its log group is the module's", fn.address);
    const retention = resolveValue(mod, lg.body['retention_in_days']);
    if (typeof retention !== 'number' || retention <= 0)
      emit(`retention_in_days must be set to a positive number of days, resolves to ${JSON.stringify(retention ?? null)}`, lg.address);
  },

  'schedule-permission': async (mod, emit) => {
    for (const p of resourcesOf(mod, 'aws_lambda_permission'))
      if (!('source_arn' in p.body)) emit('aws_lambda_permission without source_arn', p.address);
    // The function's schedule; the ECS schedules are checked by "ecs-scheduler" (policy-ecs.ts).
    const sched = resourcesOf(mod, 'aws_scheduler_schedule').find((r) => r.address === 'aws_scheduler_schedule.this');
    if (!sched) return emit('no aws_scheduler_schedule.this');
    const target = block(sched.body['target']);
    if (!isRef(target?.['arn'], FUNCTION, 'arn')) emit('schedule target must be the backup function', sched.address);
    if (!isRef(target?.['role_arn'], SCHEDULER_ROLE, 'arn')) emit(`schedule must use ${SCHEDULER_ROLE}`, sched.address);
    for (const g of roleOtherGrants(mod, SCHEDULER_ROLE)) emit(g);
    const stmts: Statement[] = [];
    for (const { source } of await rolePolicies(mod, SCHEDULER_ROLE)) stmts.push(...policyStatements(mod, source));
    const actions = stmts.flatMap((s) => s.actions);
    if (actions.length !== 1 || actions[0] !== 'lambda:InvokeFunction')
      emit(`scheduler role must allow exactly lambda:InvokeFunction, allows ${actions.join(', ') || 'nothing'}`);
    for (const s of stmts)
      if (!isRef(s.resources.join(), FUNCTION, 'arn')) emit(`scheduler role may invoke only ${FUNCTION}, not ${s.resources.join(', ')}`);
    const role = mod.resources.get(SCHEDULER_ROLE);
    const trustRef = /^data\.aws_iam_policy_document\.(\w+)\.json$/.exec(pureExpression(role?.body['assume_role_policy']) ?? '');
    const trust = trustRef ? mod.dataSources.get(`data.aws_iam_policy_document.${trustRef[1]}`) : undefined;
    if (!trust) return emit('scheduler role trust policy must be an aws_iam_policy_document');
    for (const s of documentStatements(trust)) {
      if (s.principals['Service']?.join() !== 'scheduler.amazonaws.com')
        emit('scheduler role must be assumable by scheduler.amazonaws.com only', trust.address);
      if (!hasCondition(s, 'StringEquals', 'aws:SourceAccount')) emit('scheduler trust lacks aws:SourceAccount', trust.address);
      const arnCond = s.conditions.find((c) => c.variable === 'aws:SourceArn' && (c.test === 'ArnEquals' || c.test === 'ArnLike'));
      const groupArn = String(resolveValue(mod, arnCond?.values[0]) ?? '');
      const group = resourcesOf(mod, 'aws_scheduler_schedule_group')[0];
      if (
        !arnCond ||
        !group ||
        !groupArn.endsWith(`:schedule-group/${String(group.body['name'])}`) ||
        sched.body['group_name'] !== `\${${group.address}.name}`
      ) {
        emit("scheduler trust must be limited (aws:SourceArn) to this module's own schedule group", trust.address);
      }
    }
  },

  // AWS refuses reservations that leave an account fewer than 100 unreserved
  // executions: a hard-coded reservation makes the module fail in small accounts.
  'lambda-concurrency': (mod, emit) => {
    const fn = mod.resources.get(FUNCTION);
    if (!fn) return emit(`${FUNCTION} not found`);
    if (fn.body['reserved_concurrent_executions'] !== '${var.reserved_concurrent_executions}')
      emit(
        `reserved_concurrent_executions must be var.reserved_concurrent_executions, is ${JSON.stringify(fn.body['reserved_concurrent_executions'] ?? null)}`,
        fn.address,
      );
    else if (resolveValue(mod, '${var.reserved_concurrent_executions}') !== null)
      emit('reserved_concurrent_executions must default to null (unreserved)', 'var.reserved_concurrent_executions');
  },

  'lambda-runtime': (mod, emit) => {
    const fn = mod.resources.get(FUNCTION);
    if (!fn) return emit(`${FUNCTION} not found`);
    if (fn.body['runtime'] !== 'nodejs24.x') emit('runtime must be nodejs24.x', fn.address);
    if (fn.body['handler'] !== 'index.handler') emit('handler must be index.handler', fn.address);
    const layer = mod.resources.get('aws_lambda_layer_version.pgtools');
    if (
      fn.body['filename'] !== '${local.artifacts_from_s3 ? null : local.function_zip}' ||
      resolveValue(mod, '${local.function_zip}') !== '${local.artifacts_dir}/function.zip'
    )
      emit('filename must be <artifacts_dir>/function.zip unless the artifacts come from S3', fn.address);
    if (
      !Array.isArray(fn.body['layers']) ||
      fn.body['layers'].length !== 1 ||
      !isRef(fn.body['layers'][0], 'aws_lambda_layer_version.pgtools', 'arn')
    )
      emit('the function must use the pgtools layer', fn.address);
    if (
      layer?.body['filename'] !== '${local.artifacts_from_s3 ? null : local.layer_zip}' ||
      resolveValue(mod, '${local.layer_zip}') !== '${local.artifacts_dir}/pgtools-layer-${var.architecture}.zip'
    )
      emit('the layer must be pgtools-layer-<architecture>.zip', 'aws_lambda_layer_version.pgtools');
    // The default must resolve inside the module directory, where `npm run package` writes the zips.
    if (!String(resolveValue(mod, '${local.artifacts_dir}')).includes('"${path.module}/artifacts"'))
      emit('artifacts_dir must default to ${path.module}/artifacts', 'local.artifacts_dir');
    if (JSON.stringify(fn.body['architectures']) !== JSON.stringify(['${var.architecture}']))
      emit('architectures must be [var.architecture]', fn.address);
    if (resolveValue(mod, '${var.architecture}') !== 'arm64') emit('architecture must default to arm64', 'var.architecture');
    if (resolveValue(mod, fn.body['timeout']) !== 900) emit('timeout must default to 900', fn.address);
  },

  'env-no-secrets': (mod, emit) => {
    const fn = mod.resources.get(FUNCTION);
    const env = block(fn?.body['environment']);
    let vars = resolveValue(mod, env?.['variables']);
    // local.function_environment filters nulls out of local.function_environment_all
    const forOver = /^\{\s*for .* in local\.(\w+)\s*:/.exec(pureExpression(vars) ?? '');
    if (forOver) vars = resolveValue(mod, `\${local.${forOver[1]}}`);
    if (!isBody(vars)) return emit('function environment variables must be an object the checker can read', FUNCTION);
    const keys = Object.keys(vars);
    for (const k of keys) if (!FUNCTION_ENV_KEYS.includes(k)) emit(`unexpected environment variable ${k}`, FUNCTION);
    for (const k of FUNCTION_ENV_KEYS) if (!keys.includes(k)) emit(`missing environment variable ${k}`, FUNCTION);
    for (const [k, v] of Object.entries(vars)) {
      if (/PASSWORD|PGPASS|TOKEN|SECRET(?!_ID$)/i.test(k)) emit(`environment variable ${k} looks like a secret`, FUNCTION);
      if (/password|secret_string|secret_version/i.test(JSON.stringify(v)))
        emit(`environment variable ${k} is derived from a password or secret value`, FUNCTION);
    }
    for (const v of mod.variables.values())
      if (/password/i.test(v.name)) emit(`variable ${v.name}: the module must not take passwords`, v.address);
    if (resolveValue(mod, vars['POWERTOOLS_METRICS_NAMESPACE']) !== 'RdsS3Backup')
      emit('POWERTOOLS_METRICS_NAMESPACE must be RdsS3Backup', FUNCTION);
    if (resolveValue(mod, vars['PGSSLMODE']) !== 'verify-full') emit('PGSSLMODE must default to verify-full', FUNCTION);
    if (vars['RDS_S3_BACKUP_PGTOOLS_DIR'] !== '/opt/pgtools') emit('RDS_S3_BACKUP_PGTOOLS_DIR must be /opt/pgtools', FUNCTION);
    if (vars['NODE_OPTIONS'] !== RUNNER_NODE_OPTIONS)
      emit(`NODE_OPTIONS must be ${RUNNER_NODE_OPTIONS} (src/runner/node-options.ts)`, FUNCTION);
  },

  alarms: async (mod, emit) => {
    const alarms = resourcesOf(mod, 'aws_cloudwatch_metric_alarm');
    const find = (ns: string, metric: string) =>
      alarms.find((a) => resolveValue(mod, a.body['namespace']) === ns && a.body['metric_name'] === metric);
    const missed = find('RdsS3Backup', 'BackupSucceeded');
    if (!missed) emit('no alarm on RdsS3Backup/BackupSucceeded (missed backup)');
    else {
      if (missed.body['treat_missing_data'] !== 'breaching')
        emit('missed-backup alarm must treat missing data as breaching', missed.address);
      if (missed.body['comparison_operator'] !== 'LessThanThreshold' || missed.body['threshold'] !== 1)
        emit('missed-backup alarm must fire when the success count is below 1', missed.address);
      const dims = missed.body['dimensions'];
      // The engine's service name is local.name for either runner (the function's name, the tasks' POWERTOOLS_SERVICE_NAME).
      if (
        !isBody(dims) ||
        Object.keys(dims).join() !== 'service' ||
        (dims['service'] !== '${local.name}' && !isRef(dims['service'], FUNCTION, 'function_name'))
      )
        emit("missed-backup alarm must use the single dimension service = the module's name (local.name)", missed.address);
      // The window, evaluated from the module's own expressions for several schedules:
      // a day plus slack (26-30 h) for daily schedules, never more than CloudWatch's
      // 7 days of hourly periods.
      if (missed.body['period'] !== 3600) emit('missed-backup alarm must use hourly periods', missed.address);
      if (
        missed.body['evaluation_periods'] !== '${local.missed_backup_alarm_hours}' ||
        missed.body['datapoints_to_alarm'] !== '${local.missed_backup_alarm_hours}'
      )
        emit('missed-backup alarm must evaluate local.missed_backup_alarm_hours periods', missed.address);
      const window = async (schedule?: string) => {
        try {
          return Number(
            await evaluateInModule(mod.dir, schedule ? { schedule_expression: schedule } : {}, 'local.missed_backup_alarm_hours'),
          );
        } catch (err) {
          emit(`cannot evaluate the missed-backup window: ${(err as Error).message}`, missed.address);
          return NaN;
        }
      };
      for (const [schedule, min, max] of [
        [undefined, 26, 30],
        ['rate(1 day)', 26, 30],
        ['cron(30 2 * * ? *)', 26, 30],
        ['rate(6 hours)', 7, 9],
        ['cron(0 3 ? * MON *)', 168, 168],
        ['rate(30 days)', 168, 168],
      ] as const) {
        const h = await window(schedule);
        if (!(h >= min && h <= max))
          emit(`missed-backup window for ${schedule ?? 'the default schedule'} is ${h} h, expected ${min}-${max} h`, missed.address);
      }
    }
    const errors = find('AWS/Lambda', 'Errors');
    if (!errors) emit('no alarm on AWS/Lambda Errors');
    const duration = find('AWS/Lambda', 'Duration');
    if (!duration) emit('no alarm on AWS/Lambda Duration');
    else if (!String(duration.body['threshold']).includes('var.timeout'))
      emit('duration alarm threshold must derive from the function timeout', duration.address);
  },

  'variables-documented': (mod, emit) => {
    for (const v of mod.variables.values()) {
      if (typeof v.body['description'] !== 'string' || v.body['description'].length < 10)
        emit(`variable ${v.name} needs a description`, v.address);
      if (!('type' in v.body)) emit(`variable ${v.name} needs a type`, v.address);
    }
    for (const o of mod.outputs.values())
      if (typeof o.body['description'] !== 'string') emit(`output ${o.name} needs a description`, o.address);
  },
};

/** Every check: the security claims here, the deployability and immutability ones in policy-deploy.ts. */
export const CHECKS: Readonly<Record<string, Check>> = { ...BASE_CHECKS, ...DEPLOY_CHECKS, ...ECS_ROLE_CHECKS, ...ECS_RUNTIME_CHECKS };

export async function runCheck(name: string, mod: TfModule): Promise<Finding[]> {
  const check = CHECKS[name];
  if (!check) throw new Error(`no policy check ${name}`);
  const findings: Finding[] = [];
  await check(mod, (message, address) => findings.push({ check: name, message, ...(address ? { address } : {}) }));
  return findings;
}
