// The ECS runner's and the restore drill's policies, rendered from the module's own
// templates: the drill may write exactly the keys the engine uses for verify records
// and none of a backup's keys; the task role shares the function's policy sources.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backupKeys } from '../../src/core/catalog/keys.ts';
import { jsonStatements, renderTemplate, rolePolicies } from './checks/iam.ts';
import type { Statement } from './checks/iam.ts';
import { loadModule } from './checks/load.ts';
import { MODULE_ROOT } from './checks/mutate.ts';
import { ECS_TASK_ROLE, VERIFY_TASK_ROLE } from './checks/policy-ecs.ts';

const mod = await loadModule(MODULE_ROOT);
const BUCKET = 'arn:aws:s3:::b';
const PREFIX = 'postgres/app-db';

/** IAM resource matching: `*` matches any run of characters (including "/"), `?` one character. */
function arnMatches(pattern: string, arn: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(arn);
}

function allows(stmts: Statement[], action: string, arn: string): boolean {
  return stmts.some((s) => s.effect === 'Allow' && s.actions.includes(action) && s.resources.some((r) => arnMatches(r, arn)));
}

const drill = jsonStatements(
  renderTemplate(readFileSync(join(MODULE_ROOT, 'templates/verify-drill-policy.json.tftpl'), 'utf8'), {
    bucket_arn: BUCKET,
    backup_prefix: PREFIX,
    kms_key_arn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
    s3_service_endpoint: 's3.eu-west-1.amazonaws.com',
  }),
  'drill',
);

describe('restore drill policy (templates/verify-drill-policy.json.tftpl)', () => {
  const db = backupKeys(PREFIX, 'database', 'app', '20261203T050000Z-0a1b2c3d');
  const globals = backupKeys(PREFIX, 'globals', null, '20261203T050000Z-0a1b2c3d');

  it('writes (and tags) verify records of databases and globals', () => {
    for (const key of [db.verify, globals.verify]) {
      assert.ok(allows(drill, 's3:PutObject', `${BUCKET}/${key}`), key);
      assert.ok(allows(drill, 's3:PutObjectTagging', `${BUCKET}/${key}`), key);
    }
  });

  it('cannot write, re-tag or delete a backup, its manifest or anything outside the prefix', () => {
    for (const key of [db.data, db.manifest, globals.data, globals.manifest, 'other/app/20261203T050000Z-0a1b2c3d.verify.json']) {
      for (const action of [
        's3:PutObject',
        's3:PutObjectTagging',
        's3:DeleteObject',
        's3:DeleteObjectVersion',
        's3:AbortMultipartUpload',
        's3:PutObjectRetention',
      ]) {
        assert.equal(allows(drill, action, `${BUCKET}/${key}`), false, `${action} ${key}`);
      }
    }
  });

  it('reads backups under the prefix only, lists with the prefix condition, uses the key via S3 only', () => {
    assert.ok(allows(drill, 's3:GetObject', `${BUCKET}/${db.data}`));
    assert.equal(allows(drill, 's3:GetObject', `${BUCKET}/elsewhere/x.dump`), false);
    const list = drill.find((s) => s.actions.includes('s3:ListBucket'));
    assert.deepEqual(list?.conditions, [{ test: 'StringLike', variable: 's3:prefix', values: [`${PREFIX}/*`] }]);
    const kms = drill.find((s) => s.actions.includes('kms:Decrypt'));
    assert.deepEqual(kms?.conditions, [{ test: 'StringEquals', variable: 'kms:ViaService', values: ['s3.eu-west-1.amazonaws.com'] }]);
    assert.deepEqual(kms?.actions, ['kms:Decrypt', 'kms:GenerateDataKey']);
  });
});

describe('role wiring', () => {
  it("the ECS task role's S3/KMS policy is the function's template, with the same variables", async () => {
    const fn = (await rolePolicies(mod, 'aws_iam_role.lambda')).find((p) => p.source.kind === 'template');
    const task = (await rolePolicies(mod, ECS_TASK_ROLE)).find((p) => p.source.kind === 'template');
    assert.equal(task?.source.ref, 'templates/backup-writer-policy.json.tftpl');
    assert.deepEqual(task?.source.templateVars, fn?.source.templateVars);
  });

  it('the drill role has only its template and the metrics document', async () => {
    const sources = (await rolePolicies(mod, VERIFY_TASK_ROLE)).map((p) => `${p.source.kind}:${p.source.ref}`).sort();
    assert.deepEqual(sources, ['document:data.aws_iam_policy_document.put_metrics', 'template:templates/verify-drill-policy.json.tftpl']);
  });
});
