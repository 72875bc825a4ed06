// The module's security claims hold on its source (each claim is a check in
// checks/policy.ts; breakage.test.ts shows each one failing on a broken copy).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { jsonStatements, policyStatements, renderTemplate, rolePolicies } from './checks/iam.ts';
import { loadModule } from './checks/load.ts';
import { MODULE_ROOT } from './checks/mutate.ts';
import { CHECKS, FUNCTION_ROLE, runCheck } from './checks/policy.ts';

const mod = await loadModule(MODULE_ROOT);

describe('security claims of the module', () => {
  for (const name of Object.keys(CHECKS)) {
    it(name, async () => {
      const findings = await runCheck(name, mod);
      assert.deepEqual(findings, [], findings.map((f) => `${f.address ?? ''}: ${f.message}`).join('\n'));
    });
  }
});

describe('templatefile renderer', () => {
  it('substitutes ${name}, keeps $${ escapes, rejects what it cannot render', () => {
    assert.equal(renderTemplate('a ${x} $${y} b', { x: '1' }), 'a 1 ${y} b');
    assert.throws(() => renderTemplate('${x}', {}), /was not given/);
    assert.throws(() => renderTemplate('${upper(x)}', { x: 'a' }), /not supported/);
    assert.throws(() => renderTemplate('%{ if x }a%{ endif }', { x: 'a' }), /not supported/);
  });

  it("renders the function's S3/KMS policy from the module's template to exactly the documented statements", async () => {
    const sources = await rolePolicies(mod, FUNCTION_ROLE);
    const tpl = sources.find((s) => s.source.kind === 'template');
    assert.ok(tpl, 'the function role has a policy rendered from a template');
    assert.equal(tpl.source.ref, 'templates/backup-writer-policy.json.tftpl');
    const text = readFileSync(join(MODULE_ROOT, tpl.source.ref), 'utf8');
    const json = renderTemplate(text, {
      bucket_arn: 'arn:aws:s3:::b',
      backup_prefix: 'app-db',
      kms_key_arn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
      s3_service_endpoint: 's3.eu-west-1.amazonaws.com',
    });
    const stmts = jsonStatements(json, 'rendered');
    assert.deepEqual(
      stmts.map((s) => ({ effect: s.effect, actions: s.actions, resources: s.resources, conditions: s.conditions })),
      [
        {
          effect: 'Allow',
          actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'],
          resources: ['arn:aws:s3:::b/app-db/*'],
          conditions: [],
        },
        {
          effect: 'Allow',
          actions: ['s3:ListBucket'],
          resources: ['arn:aws:s3:::b'],
          conditions: [{ test: 'StringLike', variable: 's3:prefix', values: ['app-db/*'] }],
        },
        {
          effect: 'Allow',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: ['arn:aws:kms:eu-west-1:111122223333:key/k'],
          conditions: [{ test: 'StringEquals', variable: 'kms:ViaService', values: ['s3.eu-west-1.amazonaws.com'] }],
        },
      ],
    );
    // Rendering with the HCL expressions gives the same shape the checks use.
    const symbolic = policyStatements(mod, tpl.source);
    assert.equal(symbolic[0]!.resources[0], '${aws_s3_bucket.this.arn}/${local.backup_prefix}/*');
  });
});
