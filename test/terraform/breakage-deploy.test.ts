// The deployability and immutability checks (#11, #12), each shown failing on a
// broken copy of the module, most of them on exactly the code the module had
// before: `!= null` counts, ../dist artifacts, a fixed reservation, a 24 h alarm
// window, Object Lock on aws_s3_bucket, no root in the key policy, a writer that
// may overwrite or re-tag.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModule } from './checks/load.ts';
import type { Finding } from './checks/load.ts';
import { append, brokenCopy, removeCopy } from './checks/mutate.ts';
import type { Edit } from './checks/mutate.ts';
import { checkCallerPlanTime, checkNoModuleDependsOn, checkPlanTime } from './checks/plan-time.ts';
import { runCheck } from './checks/policy.ts';
import { renderPolicies } from './checks/render.ts';
import { checkSeedPaths, seedRoot } from './checks/seed.ts';

const copies: string[] = [];
after(() => copies.forEach(removeCopy));

function copy(edits: readonly Edit[]): string {
  const dir = brokenCopy(edits);
  copies.push(dir);
  return dir;
}

function expectMessage(findings: readonly Finding[] | readonly string[], message: RegExp): void {
  const texts = findings.map((f) => (typeof f === 'string' ? f : f.message));
  assert.ok(
    texts.some((t) => message.test(t)),
    `expected a finding matching ${message}, got:\n${texts.join('\n') || '(none)'}`,
  );
}

const LAMBDA = 'lambda_rds_to_s3.tf';
const COMPLETE = 'examples/complete/main.tf';

describe('plan-time check fails on', () => {
  it('the old on-failure count: `var.on_failure_destination_arn != null ? 1 : 0`', async () => {
    const dir = copy([
      {
        file: LAMBDA,
        find: 'resource "aws_iam_role_policy" "on_failure_destination" {\n  count = local.lambda_runner && var.enable_on_failure_destination ? 1 : 0',
        replace: 'resource "aws_iam_role_policy" "on_failure_destination" {\n  count = var.on_failure_destination_arn != null ? 1 : 0',
      },
    ]);
    const { findings } = await checkPlanTime(await loadModule(dir));
    expectMessage(findings, /aws_iam_role_policy\.on_failure_destination\.count: compares var\.on_failure_destination_arn with null/);
  });

  it('the old Secrets Manager endpoint count: a string id compared with null', async () => {
    const dir = copy([
      {
        file: 'network.tf',
        find: '  count = local.secret_mode ? length(local.secretsmanager_endpoint_sgids) : 0',
        replace: '  count = local.secret_mode && var.iam_permissions_boundary_arn != null ? 1 : 0',
      },
    ]);
    const { findings } = await checkPlanTime(await loadModule(dir));
    expectMessage(findings, /compares var\.iam_permissions_boundary_arn with null/);
  });

  it('a count on a resource attribute', async () => {
    const dir = copy([
      {
        file: 'operators.tf',
        find: 'resource "aws_iam_role_policy" "restore_reader" {\n  count = var.create_restore_role ? 1 : 0',
        replace: 'resource "aws_iam_role_policy" "restore_reader" {\n  count = aws_s3_bucket.this.arn != "" ? 1 : 0',
      },
    ]);
    const { findings } = await checkPlanTime(await loadModule(dir));
    expectMessage(findings, /depends on aws_s3_bucket\.this\.arn, which is known only after apply/);
  });

  it("a for_each over a string variable's value followed through a local", async () => {
    const dir = copy([
      append(
        'variables.tf',
        '\nvariable "extra_arn" {\n  description = "An ARN a caller may take from a resource."\n  type        = string\n  default     = null\n}\n',
      ),
      append(
        'outputs.tf',
        '\nlocals {\n  extra = var.extra_arn != null ? [var.extra_arn] : []\n}\n\nresource "aws_iam_role_policy" "extra" {\n  for_each = toset(local.extra)\n\n  name   = "extra"\n  role   = aws_iam_role.lambda.id\n  policy = "{}"\n}\n',
      ),
    ]);
    const { findings } = await checkPlanTime(await loadModule(dir));
    expectMessage(findings, /aws_iam_role_policy\.extra\.for_each -> local\.extra: compares var\.extra_arn with null/);
  });

  it('the complete example deciding a count from a resource ARN', async () => {
    const dir = copy([
      {
        file: COMPLETE,
        find: '  enable_on_failure_destination   = true',
        replace: '  enable_on_failure_destination   = aws_sqs_queue.failed_backups.arn != null',
      },
    ]);
    const findings = await checkCallerPlanTime(await loadModule(dir), await loadModule(join(dir, 'examples/complete')));
    expectMessage(findings, /module\.backups\.enable_on_failure_destination .*compares aws_sqs_queue\.failed_backups\.arn with null/);
  });

  it('the complete example passing a list of unknown length where a count needs its length', async () => {
    const dir = copy([
      {
        file: COMPLETE,
        find: '  db_security_group_ids = [aws_security_group.db.id]',
        replace: '  db_security_group_ids = aws_db_instance.this.vpc_security_group_ids',
      },
    ]);
    const findings = await checkCallerPlanTime(await loadModule(dir), await loadModule(join(dir, 'examples/complete')));
    expectMessage(
      findings,
      /module\.backups\.db_security_group_ids .*depends on aws_db_instance\.this\.vpc_security_group_ids, which is known only after apply/,
    );
  });

  it("the complete example's old module-level depends_on (data sources deferred to apply)", async () => {
    const dir = copy([
      {
        file: COMPLETE,
        find: '  create_dashboard                    = true\n}',
        replace: '  create_dashboard                    = true\n\n  depends_on = [aws_db_instance.this]\n}',
      },
    ]);
    expectMessage(checkNoModuleDependsOn(await loadModule(join(dir, 'examples/complete'))), /module\.backups has depends_on/);
  });
});

describe('seed path check fails on', () => {
  it('the old artifacts default `${path.module}/../dist` (outside a copied module)', async () => {
    const dir = copy([{ file: LAMBDA, find: '"${path.module}/artifacts"', replace: '"${path.module}/../dist"' }]);
    const { root, copy: mod } = seedRoot(dir);
    copies.push(root);
    const { problems } = await checkSeedPaths(root, mod);
    expectMessage(problems, /filebase64sha256\(local\.function_zip\) = .*\/extras\/dist\/function\.zip is outside the module copy/);
  });

  it('a template path that does not exist in the copy', async () => {
    const dir = copy([
      {
        file: 's3.tf',
        find: '"${path.module}/templates/backup-writer-policy.json.tftpl"',
        replace: '"${path.module}/../templates/backup-writer-policy.json.tftpl"',
      },
    ]);
    const { root, copy: mod } = seedRoot(dir);
    copies.push(root);
    expectMessage((await checkSeedPaths(root, mod)).problems, /templatefile\(.*is outside the module copy/);
  });
});

describe('rendered policies go stale when', () => {
  it('the writer template changes', async () => {
    const dir = copy([
      {
        file: 'templates/backup-writer-policy.json.tftpl',
        find: '"Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging"]',
        replace: '"Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]',
      },
    ]);
    const files = await renderPolicies({ moduleDir: dir, exampleDir: join(dir, 'examples/complete') });
    const committed = readFileSync(join(import.meta.dirname, '../../terraform/rendered/writer-identity.json'), 'utf8');
    assert.notEqual(files.get('writer-identity.json'), committed);
    assert.match(files.get('writer-identity.json')!, /s3:PutObjectVersionTagging/);
  });
});

describe('deployability and immutability checks fail on', () => {
  const cases: { check: string; what: string; edits: Edit[]; message: RegExp }[] = [
    {
      check: 'writer-immutability',
      what: 'the create-only deny without the If-None-Match condition (overwrites allowed)',
      edits: [
        {
          file: 's3.tf',
          find: '    condition {\n      test     = "Null"\n      variable = "s3:if-none-match"\n      values   = ["true"]\n    }\n',
          replace: '',
        },
      ],
      message: /does not deny writers a PutObject\/CompleteMultipartUpload without If-None-Match/,
    },
    {
      check: 'writer-immutability',
      what: 'multipart parts not exempted (every multipart upload would be denied)',
      edits: [
        {
          file: 's3.tf',
          find: '      variable = "s3:ObjectCreationOperation"\n      values   = ["true"]',
          replace: '      variable = "s3:ObjectCreationOperation"\n      values   = ["false"]',
        },
      ],
      message: /does not deny writers a PutObject\/CompleteMultipartUpload without If-None-Match/,
    },
    {
      check: 'writer-immutability',
      what: 're-tagging of tagged objects allowed',
      edits: [
        {
          file: 's3.tf',
          find: '      variable = "s3:ExistingObjectTag/${local.tier_tag}"',
          replace: '      variable = "s3:ExistingObjectTag/tier"',
        },
      ],
      message: /does not deny writers s3:PutObjectTagging on objects that already carry the backup-tier tag/,
    },
    {
      check: 'writer-immutability',
      what: 'the writer granted s3:PutObjectVersionTagging (what the old engine needed)',
      edits: [
        {
          file: 'templates/backup-writer-policy.json.tftpl',
          find: '"s3:AbortMultipartUpload", "s3:PutObjectTagging"]',
          replace: '"s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]',
        },
      ],
      message: /the writer is allowed s3:PutObjectVersionTagging/,
    },
    {
      check: 'writer-immutability',
      what: 'the writer allowed to write verify records',
      edits: [
        {
          file: LAMBDA,
          find: '    sid       = "NoVerifyRecords"\n    effect    = "Deny"',
          replace: '    sid       = "NoVerifyRecords"\n    effect    = "Allow"',
        },
      ],
      message: /does not deny PutObject on \.verify\.json records/,
    },
    {
      check: 'writer-immutability',
      what: "the writer's own guardrails without the delete deny",
      edits: [
        {
          file: LAMBDA,
          find: '      "s3:DeleteObject",\n      "s3:DeleteObjectVersion",\n      "s3:PutObjectVersionTagging",',
          replace: '      "s3:DeleteObjectVersion",\n      "s3:PutObjectVersionTagging",',
        },
      ],
      message: /the writer's identity policy does not deny s3:DeleteObject/,
    },
    {
      check: 'writer-immutability',
      what: 'writers not denied BypassGovernanceRetention',
      edits: [{ file: 's3.tf', find: '      "s3:BypassGovernanceRetention",\n', replace: '' }],
      message: /does not deny writers s3:BypassGovernanceRetention/,
    },
    {
      check: 'object-lock',
      what: 'Object Lock on aws_s3_bucket (replaces the bucket when turned on)',
      edits: [
        {
          file: 's3.tf',
          find: '  bucket        = local.bucket_name\n  force_destroy = false\n',
          replace:
            '  bucket              = local.bucket_name\n  force_destroy       = false\n  object_lock_enabled = var.object_lock_mode != null\n',
        },
      ],
      message: /must not set object_lock_enabled/,
    },
    {
      check: 'object-lock',
      what: 'Object Lock off by default',
      edits: [
        {
          file: 'variables.tf',
          find: '  type        = string\n  default     = "GOVERNANCE"',
          replace: '  type        = string\n  default     = null',
        },
      ],
      message: /must default to GOVERNANCE/,
    },
    {
      check: 'object-lock',
      what: 'a fixed 30-day retention (not the shortest tier)',
      edits: [
        {
          file: 's3.tf',
          find: '  object_lock_retention_days = var.object_lock_retention_days != null ? var.object_lock_retention_days : local.shortest_retention_days',
          replace: '  object_lock_retention_days = var.object_lock_retention_days != null ? var.object_lock_retention_days : 30',
        },
      ],
      message: /default retention must be the shortest tier's/,
    },
    {
      check: 'kms-root-admin',
      what: 'the old administrators: the root only when no administrator is given',
      edits: [
        {
          file: 'kms.tf',
          find: '  kms_key_administrators = distinct(concat(["arn:${local.partition}:iam::${local.account}:root"], var.kms_key_administrator_arns))',
          replace:
            '  kms_key_administrators = length(var.kms_key_administrator_arns) > 0 ? var.kms_key_administrator_arns : ["arn:${local.partition}:iam::${local.account}:root"]',
        },
      ],
      message: /the account root is not a key administrator/,
    },
    {
      check: 'bucket-depends-on-key',
      what: 'no destroy ordering between bucket and key',
      edits: [{ file: 's3.tf', find: '  depends_on = [aws_kms_key.this]\n', replace: '' }],
      message: /must depend_on aws_kms_key\.this/,
    },
    {
      check: 'variables-nullable',
      what: 'a defaulted variable that accepts null',
      edits: [
        {
          file: 'variables.tf',
          find: '  type        = number\n  default     = 1024\n  nullable    = false\n',
          replace: '  type        = number\n  default     = 1024\n',
        },
      ],
      message: /variable memory_size has a default: set nullable = false/,
    },
    {
      check: 'iam-roles',
      what: 'a role name without the region (collides across regions)',
      edits: [
        {
          file: LAMBDA,
          find: '  name                  = "${local.role_name_prefix}-schedule"',
          replace: '  name                  = "${local.name}-scheduler"',
        },
      ],
      message: /role name must start with local\.role_name_prefix/,
    },
    {
      check: 'iam-roles',
      what: 'a role without the permissions boundary',
      edits: [{ file: 'operators.tf', find: '  permissions_boundary  = var.iam_permissions_boundary_arn\n', replace: '' }],
      message: /permissions_boundary must be var\.iam_permissions_boundary_arn/,
    },
    {
      check: 'alarms',
      what: 'the old window: exactly the 24 h schedule interval (false alarms when a run ends later)',
      edits: [
        {
          file: 'monitoring.tf',
          find: 'min(168, ceil(local.schedule_interval_hours + max(2, local.schedule_interval_hours / 8)))',
          replace: 'min(24, local.schedule_interval_hours)',
        },
      ],
      message: /missed-backup window for the default schedule is 24 h, expected 26-30 h/,
    },
    {
      check: 'alarms',
      what: 'a weekly schedule judged daily',
      edits: [{ file: 'monitoring.tf', find: '? 24 : 168', replace: '? 24 : 24' }],
      message: /window for cron\(0 3 \? \* MON \*\) is 27 h, expected 168-168 h/,
    },
    {
      check: 'lambda-runtime',
      what: 'the old artifacts default next to the module (../dist)',
      edits: [{ file: LAMBDA, find: '"${path.module}/artifacts"', replace: '"${path.module}/../dist"' }],
      message: /artifacts_dir must default to \$\{path\.module\}\/artifacts/,
    },
  ];

  for (const c of cases) {
    it(`${c.check}: ${c.what}`, async () => {
      expectMessage(await runCheck(c.check, await loadModule(copy(c.edits))), c.message);
    });
  }
});
