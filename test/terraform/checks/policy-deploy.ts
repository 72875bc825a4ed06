// Deployability (#11) and immutability against the writer (#12), as checks over the
// module's source, its evaluated expressions and its rendered policies. Each has a
// breakage test in test/terraform/breakage-deploy.test.ts.
import { join } from 'node:path';
import { jsonStatements } from './iam.ts';
import type { Statement } from './iam.ts';
import { BUCKET, bucketResource, FORBIDDEN_ACTIONS, resolveValue, resourcesOf, TIER_TAG, VERIFY_SUFFIX } from './policy.ts';
import type { Check } from './policy.ts';
import { evaluateInModule, renderPolicies } from './render.ts';

export const DEPLOY_CHECKS: Readonly<Record<string, Check>> = {
  // #12: whoever holds a writer role can create backups and nothing else. Checked on
  // the rendered policies (what AWS reads), for the complete example's inputs.
  'writer-immutability': async (mod, emit) => {
    let files: Map<string, string>;
    try {
      files = await renderPolicies({ moduleDir: mod.dir, exampleDir: join(mod.dir, 'examples', 'complete') });
    } catch (err) {
      return emit(`cannot render the policies: ${(err as Error).message}`);
    }
    const ctx = JSON.parse(files.get('context.json')!) as {
      bucket_arn: string;
      backup_prefix: string;
      backup_writer_role_arns: string[];
      roles: { writer: string };
    };
    const bucket = jsonStatements(files.get('bucket-policy.json')!, 'bucket-policy.json');
    const writer = jsonStatements(files.get('writer-identity.json')!, 'writer-identity.json');
    if (!ctx.backup_writer_role_arns.includes(ctx.roles.writer))
      emit('the function role is not in local.backup_writer_role_arns', 'local.backup_writer_role_arns');
    const objects = `${ctx.bucket_arn}/*`;
    const forWriters = (st: Statement) =>
      st.effect === 'Deny' &&
      st.principals['*']?.includes('*') &&
      st.conditions.some(
        (c) =>
          c.test === 'ArnEquals' && c.variable === 'aws:PrincipalArn' && ctx.backup_writer_role_arns.every((r) => c.values.includes(r)),
      );
    const cond = (st: Statement, test: string, variable: string, value: string) =>
      st.conditions.some((c) => c.test === test && c.variable === variable && c.values.length === 1 && c.values[0] === value);
    const createOnly = bucket.find(
      (st) =>
        forWriters(st) &&
        st.actions.includes('s3:PutObject') &&
        st.resources.includes(objects) &&
        cond(st, 'Null', 's3:if-none-match', 'true') &&
        cond(st, 'Bool', 's3:ObjectCreationOperation', 'true'),
    );
    if (!createOnly)
      emit(
        'bucket policy does not deny writers a PutObject/CompleteMultipartUpload without If-None-Match (Null s3:if-none-match = true, Bool s3:ObjectCreationOperation = true)',
      );
    else if (createOnly.conditions.length !== 3)
      emit('the create-only deny must have exactly the principal, if-none-match and creation-operation conditions', 'WritersCreateOnly');
    const retag = bucket.find((st) => forWriters(st) && cond(st, 'Null', `s3:ExistingObjectTag/${TIER_TAG}`, 'false'));
    for (const a of ['s3:PutObjectTagging', 's3:PutObjectVersionTagging', 's3:DeleteObjectTagging']) {
      if (!retag?.actions.includes(a)) emit(`bucket policy does not deny writers ${a} on objects that already carry the ${TIER_TAG} tag`);
    }
    const denied = new Set(
      bucket.filter((st) => forWriters(st) && st.conditions.length === 1 && st.resources.includes(objects)).flatMap((st) => st.actions),
    );
    for (const a of [
      's3:GetObject',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:PutObjectRetention',
      's3:PutObjectLegalHold',
      's3:BypassGovernanceRetention',
    ]) {
      if (!denied.has(a)) emit(`bucket policy does not deny writers ${a}`);
    }
    const verifyDeny = writer.find(
      (st) =>
        st.effect === 'Deny' &&
        st.actions.includes('s3:PutObject') &&
        st.resources.some(
          (r) => r === `${ctx.bucket_arn}/*${VERIFY_SUFFIX}` || r === `${ctx.bucket_arn}/${ctx.backup_prefix}/*${VERIFY_SUFFIX}`,
        ),
    );
    if (!verifyDeny) emit(`the writer's identity policy does not deny PutObject on ${VERIFY_SUFFIX} records`);
    for (const st of writer) {
      if (st.effect !== 'Allow') continue;
      for (const a of st.actions) if (FORBIDDEN_ACTIONS.includes(a)) emit(`the writer is allowed ${a}`);
    }
    // Identity-side denies too: they hold if a broader policy is attached to the role later.
    const selfDenied = new Set(writer.filter((st) => st.effect === 'Deny' && st.resources.includes(objects)).flatMap((st) => st.actions));
    for (const a of [
      's3:GetObject',
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:PutObjectVersionTagging',
      's3:PutObjectRetention',
      's3:BypassGovernanceRetention',
    ]) {
      if (!selfDenied.has(a)) emit(`the writer's identity policy does not deny ${a}`);
    }
  },

  // Object Lock on by default, enable-able on an existing bucket (never through
  // aws_s3_bucket.object_lock_enabled, which replaces the bucket), retention at
  // least the shortest tier's.
  'object-lock': async (mod, emit) => {
    const b = mod.resources.get(BUCKET);
    if (b && 'object_lock_enabled' in b.body)
      emit(
        'aws_s3_bucket must not set object_lock_enabled (changing it replaces the bucket); use aws_s3_bucket_object_lock_configuration',
        BUCKET,
      );
    const lock = bucketResource(mod, 'aws_s3_bucket_object_lock_configuration', emit);
    if (!lock) return;
    if (lock.body['object_lock_enabled'] !== 'Enabled')
      emit('object_lock_enabled must be "Enabled" on the lock configuration (enables Object Lock on an existing bucket)', lock.address);
    if (resolveValue(mod, '${var.object_lock_mode}') !== 'GOVERNANCE')
      emit('object_lock_mode must default to GOVERNANCE', 'var.object_lock_mode');
    const days = async (inputs: Record<string, unknown>) =>
      Number(await evaluateInModule(mod.dir, inputs as never, 'local.object_lock_retention_days'));
    try {
      if ((await days({})) !== 14) emit("default retention must be the shortest tier's (daily, 14 days)", lock.address);
      if ((await days({ tier_expiration_days: { daily: 7, weekly: 35 } })) !== 7)
        emit('retention must follow the shortest tier', lock.address);
      if ((await days({ expiration_days: 5 })) !== 5) emit('retention must follow expiration_days when it is shorter', lock.address);
    } catch (err) {
      emit(`cannot evaluate the retention: ${(err as Error).message}`, lock.address);
    }
    if (!mod.variables.has('var.noncurrent_version_expiration_days'))
      emit('noncurrent versions must be kept for a variable number of days');
  },

  // CreateKey fails when the policy locks out its caller; a key whose administrators
  // are deleted is unmanageable. The account root is always an administrator.
  'kms-root-admin': async (mod, emit) => {
    try {
      const admins = (await evaluateInModule(
        mod.dir,
        { kms_key_administrator_arns: ['arn:aws:iam::111122223333:role/admin'] },
        'local.kms_key_administrators',
      )) as string[];
      if (!admins.includes('arn:aws:iam::111122223333:root'))
        emit(
          `the account root is not a key administrator when kms_key_administrator_arns is set (${admins.join(', ')})`,
          'local.kms_key_administrators',
        );
    } catch (err) {
      emit(`cannot evaluate the key administrators: ${(err as Error).message}`);
    }
  },

  // Destroy order: bucket before key, so a non-empty bucket stops the destroy before
  // the key (and with it every backup) is scheduled for deletion.
  'bucket-depends-on-key': (mod, emit) => {
    const b = mod.resources.get(BUCKET);
    if (!JSON.stringify(b?.body['depends_on'] ?? []).includes('aws_kms_key.this'))
      emit('aws_s3_bucket.this must depend_on aws_kms_key.this', BUCKET);
  },

  'variables-nullable': (mod, emit) => {
    for (const v of mod.variables.values()) {
      if (!('default' in v.body) || v.body['default'] === null) continue;
      if (v.body['nullable'] !== false)
        emit(`variable ${v.name} has a default: set nullable = false so an explicit null means the default, not null`, v.address);
    }
  },

  // IAM is global: names carry the region; path and boundary apply to every role.
  'iam-roles': (mod, emit) => {
    for (const r of resourcesOf(mod, 'aws_iam_role')) {
      if (!String(r.body['name'] ?? '').startsWith('${local.role_name_prefix}-'))
        emit('role name must start with local.role_name_prefix (name and region)', r.address);
      if (r.body['path'] !== '${var.iam_role_path}') emit('path must be var.iam_role_path', r.address);
      if (r.body['permissions_boundary'] !== '${var.iam_permissions_boundary_arn}')
        emit('permissions_boundary must be var.iam_permissions_boundary_arn', r.address);
    }
    if (!/local\.region/.test(String(mod.locals.get('role_name_prefix')?.value ?? '')))
      emit('local.role_name_prefix must include the region', 'local.role_name_prefix');
  },
};
