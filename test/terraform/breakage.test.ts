// Every offline check, shown to fail: copy the module to a temp dir, break one
// thing, and assert that the specific check reports exactly that.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { updatedReadme } from '../../scripts/terraform/docs.ts';
import { checkFormat } from './checks/format.ts';
import { checkParse, loadModule } from './checks/load.ts';
import type { Finding } from './checks/load.ts';
import { append, brokenCopy, removeCopy } from './checks/mutate.ts';
import type { Edit } from './checks/mutate.ts';
import { runCheck } from './checks/policy.ts';
import { checkReferences } from './checks/references.ts';
import { checkSchema, loadSchema } from './checks/schema.ts';

const aws5 = loadSchema('aws-5.json');
const aws6 = loadSchema('aws-6.json');
const random3 = loadSchema('random-3.json');

const copies: string[] = [];
after(() => copies.forEach(removeCopy));

function copy(edits: readonly Edit[]): string {
  const dir = brokenCopy(edits);
  copies.push(dir);
  return dir;
}

function expectFinding(findings: Finding[], check: string, message: RegExp): void {
  const hit = findings.find((f) => f.check === check && message.test(f.message));
  assert.ok(
    hit,
    `expected a "${check}" finding matching ${message}, got:\n${findings.map((f) => `${f.check}: ${f.message}`).join('\n') || '(none)'}`,
  );
}

async function schemaFindings(dir: string): Promise<{ v5: Finding[]; v6: Finding[] }> {
  const mod = await loadModule(dir);
  return { v5: checkSchema(mod, aws5, 'aws'), v6: checkSchema(mod, aws6, 'aws') };
}

async function refFindings(dir: string): Promise<Finding[]> {
  return checkReferences(await loadModule(dir), [aws5, aws6, random3]);
}

async function policyFindings(check: string, edits: readonly Edit[]): Promise<Finding[]> {
  return runCheck(check, await loadModule(copy(edits)));
}

const LAMBDA = 'lambda_rds_to_s3.tf';

describe('parse check fails on', () => {
  it('a missing closing brace', async () => {
    const dir = copy([
      {
        file: 's3.tf',
        find: '    object_ownership = "BucketOwnerEnforced"\n  }\n}',
        replace: '    object_ownership = "BucketOwnerEnforced"\n  }\n',
      },
    ]);
    const findings = await checkParse(dir);
    assert.equal(findings.length, 1);
    assert.match(findings[0]!.file!, /s3\.tf$/);
  });

  it('a syntax error in an example', async () => {
    const dir = copy([
      { file: 'examples/minimal/main.tf', find: 'db_instance_identifier = "app-db"', replace: 'db_instance_identifier = "app-db' },
    ]);
    const findings = await checkParse(join(dir, 'examples/minimal'));
    assert.equal(findings.length, 1);
  });
});

describe('format check fails on', () => {
  it('misaligned equals signs', async () => {
    const dir = copy([{ file: 's3.tf', find: '  bucket        = local.bucket_name', replace: '  bucket = local.bucket_name' }]);
    const findings = await checkFormat(dir);
    expectFinding(findings, 'fmt', /line 45/);
    assert.equal(findings[0]!.file, 's3.tf');
  });
});

describe('schema check (both provider majors) fails on', () => {
  it('a misspelled argument', async () => {
    const { v5, v6 } = await schemaFindings(
      copy([{ file: LAMBDA, find: '  memory_size       = var.memory_size', replace: '  memory_sise       = var.memory_size' }]),
    );
    expectFinding(v5, 'schema', /unsupported argument or block "memory_sise" \(aws 5\./);
    expectFinding(v6, 'schema', /unsupported argument or block "memory_sise" \(aws 6\./);
  });

  it('a block written as an argument', async () => {
    const dir = copy([
      {
        file: LAMBDA,
        find: '  environment {\n    variables = local.function_environment\n  }',
        replace: '  environment = {\n    variables = local.function_environment\n  }',
      },
    ]);
    const { v5, v6 } = await schemaFindings(dir);
    expectFinding(v5, 'schema', /"environment" is a block/);
    expectFinding(v6, 'schema', /"environment" is a block/);
  });

  it('an argument of the legacy rule resource on the new one', async () => {
    const dir = copy([
      {
        file: 'network.tf',
        find: '  prefix_list_id    = data.aws_prefix_list.s3.id',
        replace: '  prefix_list_id    = data.aws_prefix_list.s3.id\n  type              = "egress"',
      },
    ]);
    const { v6 } = await schemaFindings(dir);
    expectFinding(v6, 'schema', /unsupported argument or block "type"/);
  });

  it('a missing required argument', async () => {
    const { v5, v6 } = await schemaFindings(copy([{ file: LAMBDA, find: '  function_name     = local.name\n', replace: '' }]));
    expectFinding(v5, 'schema', /missing required argument "function_name"/);
    expectFinding(v6, 'schema', /missing required argument "function_name"/);
  });

  it('a missing required block', async () => {
    const dir = copy([{ file: LAMBDA, find: '  flexible_time_window {\n    mode = "OFF"\n  }\n', replace: '' }]);
    const { v6 } = await schemaFindings(dir);
    expectFinding(v6, 'schema', /missing required block "flexible_time_window"/);
  });

  it('an argument only 6.x knows (the per-resource region): 5.x reports it', async () => {
    const dir = copy([
      {
        file: 'kms.tf',
        find: '  enable_key_rotation     = true',
        replace: '  enable_key_rotation     = true\n  region                  = "eu-west-1"',
      },
    ]);
    const { v5, v6 } = await schemaFindings(dir);
    expectFinding(v5, 'schema', /unsupported argument or block "region" \(aws 5\./);
    assert.deepEqual(v6, []);
  });

  it('a resource type that does not exist', async () => {
    const dir = copy([
      {
        file: 's3.tf',
        find: 'resource "aws_s3_bucket_public_access_block" "this"',
        replace: 'resource "aws_s3_bucket_public_access_blocks" "this"',
      },
    ]);
    const { v5 } = await schemaFindings(dir);
    expectFinding(v5, 'schema', /resource type aws_s3_bucket_public_access_blocks does not exist/);
  });

  it('a real resource type missing from the committed subset (regenerate the schema)', async () => {
    const dir = copy([
      append(
        's3.tf',
        '\nresource "aws_s3_bucket_logging" "this" {\n  bucket        = aws_s3_bucket.this.id\n  target_bucket = aws_s3_bucket.this.id\n  target_prefix = "logs/"\n}\n',
      ),
    ]);
    const { v6 } = await schemaFindings(dir);
    expectFinding(v6, 'schema', /aws_s3_bucket_logging is not in the committed schema subset/);
  });

  it('a repeated max-one block', async () => {
    const dir = copy([
      {
        file: LAMBDA,
        find: '  vpc_config {\n',
        replace:
          '  vpc_config {\n    subnet_ids         = local.subnet_ids\n    security_group_ids = [aws_security_group.lambda.id]\n  }\n\n  vpc_config {\n',
      },
    ]);
    const { v6 } = await schemaFindings(dir);
    expectFinding(v6, 'schema', /at most 1 "vpc_config" block/);
  });

  it('a read-only attribute set as an argument', async () => {
    const dir = copy([
      {
        file: LAMBDA,
        find: '  reserved_concurrent_executions = var.reserved_concurrent_executions\n',
        replace: '  reserved_concurrent_executions = var.reserved_concurrent_executions\n  invoke_arn                     = "x"\n',
      },
    ]);
    const { v5 } = await schemaFindings(dir);
    expectFinding(v5, 'schema', /"invoke_arn" is read-only/);
  });
});

describe('reference check fails on', () => {
  it('an undeclared variable', async () => {
    const findings = await refFindings(
      copy([{ file: LAMBDA, find: '  memory_size       = var.memory_size', replace: '  memory_size       = var.memory_sizes' }]),
    );
    expectFinding(findings, 'refs', /var\.memory_sizes: undeclared variable/);
    expectFinding(findings, 'refs', /variable "memory_size" is declared but never used/);
  });

  it('an undeclared local', async () => {
    const findings = await refFindings(
      copy([{ file: LAMBDA, find: '    resources = [local.db_user_arn]', replace: '    resources = [local.db_user_arns]' }]),
    );
    expectFinding(findings, 'refs', /local\.db_user_arns: undeclared local value/);
  });

  it('an undeclared resource', async () => {
    const findings = await refFindings(
      copy([
        {
          file: 'network.tf',
          find: '  vpc_id      = local.vpc_id\n\n  tags = merge(local.tags, { Name = "${local.name}-function" })',
          replace: '  vpc_id      = aws_vpc.this.id\n\n  tags = merge(local.tags, { Name = "${local.name}-function" })',
        },
      ]),
    );
    expectFinding(findings, 'refs', /aws_vpc\.this\.id: undeclared resource/);
  });

  it('an attribute the resource type does not have', async () => {
    const findings = await refFindings(
      copy([{ file: 'outputs.tf', find: '  value       = aws_s3_bucket.this.arn', replace: '  value       = aws_s3_bucket.this.arnn' }]),
    );
    expectFinding(findings, 'refs', /aws_s3_bucket has no attribute "arnn"/);
  });

  it('a data source attribute that does not exist', async () => {
    const findings = await refFindings(
      copy([
        {
          file: 'discovery.tf',
          find: 'data.aws_db_instance.this[0].address, null)',
          replace: 'data.aws_db_instance.this[0].hostname, null)',
        },
      ]),
    );
    expectFinding(findings, 'refs', /aws_db_instance has no attribute "hostname"/);
  });

  it('a counted resource used without an index', async () => {
    const findings = await refFindings(
      copy([
        { file: 'kms.tf', find: 'var.create_kms_key ? aws_kms_key.this[0].arn', replace: 'var.create_kms_key ? aws_kms_key.this.arn' },
      ]),
    );
    expectFinding(findings, 'refs', /aws_kms_key\.this has count: index it/);
  });

  it('count.index outside a counted block', async () => {
    const findings = await refFindings(
      copy([
        { file: LAMBDA, find: '  handler           = "index.handler"', replace: '  handler           = "index.handler${count.index}"' },
      ]),
    );
    expectFinding(findings, 'refs', /count\.index outside a block with count/);
  });

  it('a variable declared but never used', async () => {
    const findings = await refFindings(
      copy([
        append(
          'variables.tf',
          '\nvariable "unused_knob" {\n  description = "Nothing uses this."\n  type        = string\n  default     = null\n}\n',
        ),
      ]),
    );
    expectFinding(findings, 'refs', /variable "unused_knob" is declared but never used/);
  });

  it('a template variable templatefile() does not pass', async () => {
    const findings = await refFindings(
      copy([{ file: 's3.tf', find: '    s3_service_endpoint = local.s3_service_endpoint\n', replace: '' }]),
    );
    expectFinding(findings, 'refs', /uses \$\{s3_service_endpoint\} but templatefile\(\) does not pass "s3_service_endpoint"/);
  });

  it('a template the module does not have', async () => {
    const findings = await refFindings(
      copy([{ file: 's3.tf', find: 'templates/backup-writer-policy.json.tftpl', replace: 'templates/backup_writer_policy.json.tftpl' }]),
    );
    expectFinding(findings, 'refs', /template .*backup_writer_policy\.json\.tftpl does not exist/);
  });

  it('a validation that refers to another variable (Terraform < 1.9)', async () => {
    const findings = await refFindings(
      copy([
        {
          file: 'variables.tf',
          find: '    condition     = var.memory_size >= 256',
          replace: '    condition     = var.timeout > 0 && var.memory_size >= 256',
        },
      ]),
    );
    expectFinding(findings, 'refs', /a validation of var\.memory_size may only refer to that variable/);
  });

  it('an example using a module output that does not exist', async () => {
    const dir = copy([{ file: 'examples/minimal/main.tf', find: 'module.backups.bucket_name', replace: 'module.backups.bucket' }]);
    const findings = await refFindings(join(dir, 'examples/minimal'));
    expectFinding(findings, 'refs', /module backups has no output "bucket"/);
  });

  it('an example passing an argument the module does not declare', async () => {
    const dir = copy([
      {
        file: 'examples/minimal/main.tf',
        find: '  db_instance_identifier = "app-db"',
        replace: '  db_instance_identifier = "app-db"\n  memory_sise            = 512',
      },
    ]);
    const findings = await refFindings(join(dir, 'examples/minimal'));
    expectFinding(findings, 'refs', /has no variable "memory_sise"/);
  });

  it('an example that omits a required module variable', async () => {
    const dir = copy([{ file: 'examples/minimal/main.tf', find: '  environment            = var.environment\n', replace: '' }]);
    const findings = await refFindings(join(dir, 'examples/minimal'));
    expectFinding(findings, 'refs', /required variable "environment" of module/);
  });
});

describe('docs check fails on', () => {
  it('a variable added without regenerating the README tables', async () => {
    const dir = copy([
      append(
        'variables.tf',
        '\nvariable "new_knob" {\n  description = "A new knob nobody documented."\n  type        = string\n  default     = null\n}\n',
      ),
    ]);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const regenerated = await updatedReadme(dir, readme);
    assert.notEqual(regenerated, readme);
    assert.match(regenerated, /\| new_knob \| A new knob nobody documented\. \|/);
  });
});

describe('policy checks fail on', () => {
  const cases: { check: string; what: string; edits: Edit[]; message: RegExp }[] = [
    {
      check: 'bucket-public-access-block',
      what: 'restrict_public_buckets = false',
      edits: [{ file: 's3.tf', find: '  restrict_public_buckets = true', replace: '  restrict_public_buckets = false' }],
      message: /restrict_public_buckets must be literally true/,
    },
    {
      check: 'bucket-public-access-block',
      what: 'block_public_policy from a variable',
      edits: [{ file: 's3.tf', find: '  block_public_policy     = true', replace: '  block_public_policy     = var.schedule_enabled' }],
      message: /block_public_policy must be literally true/,
    },
    {
      check: 'bucket-ownership',
      what: 'BucketOwnerPreferred (ACLs enabled)',
      edits: [
        { file: 's3.tf', find: '    object_ownership = "BucketOwnerEnforced"', replace: '    object_ownership = "BucketOwnerPreferred"' },
      ],
      message: /object_ownership must be BucketOwnerEnforced/,
    },
    {
      check: 'bucket-force-destroy',
      what: 'force_destroy = true',
      edits: [{ file: 's3.tf', find: '  force_destroy = false', replace: '  force_destroy = true' }],
      message: /force_destroy must be literally false/,
    },
    {
      check: 'bucket-versioning',
      what: 'versioning suspended',
      edits: [{ file: 's3.tf', find: '    status = "Enabled"\n  }\n}', replace: '    status = "Suspended"\n  }\n}' }],
      message: /versioning status must be Enabled/,
    },
    {
      check: 'bucket-sse-kms',
      what: 'SSE-S3 instead of SSE-KMS',
      edits: [{ file: 's3.tf', find: '      sse_algorithm     = "aws:kms"', replace: '      sse_algorithm     = "AES256"' }],
      message: /default encryption must be aws:kms/,
    },
    {
      check: 'bucket-sse-kms',
      what: 'no bucket key',
      edits: [{ file: 's3.tf', find: '    bucket_key_enabled = true', replace: '    bucket_key_enabled = false' }],
      message: /bucket_key_enabled must be true/,
    },
    {
      check: 'bucket-policy-tls',
      what: 'the TLS deny inverted',
      edits: [
        {
          file: 's3.tf',
          find: '      variable = "aws:SecureTransport"\n      values   = ["false"]',
          replace: '      variable = "aws:SecureTransport"\n      values   = ["true"]',
        },
      ],
      message: /no Deny of s3:\* for everyone when aws:SecureTransport is false/,
    },
    {
      check: 'bucket-policy-tls',
      what: 'the TLS deny not covering objects',
      edits: [
        {
          file: 's3.tf',
          find: '    sid       = "DenyInsecureTransport"\n    effect    = "Deny"\n    actions   = ["s3:*"]\n    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]',
          replace:
            '    sid       = "DenyInsecureTransport"\n    effect    = "Deny"\n    actions   = ["s3:*"]\n    resources = [aws_s3_bucket.this.arn]',
        },
      ],
      message: /TLS-only deny does not cover \$\{aws_s3_bucket\.this\.arn\}\/\*/,
    },
    {
      check: 'bucket-policy-kms',
      what: 'no deny of other KMS keys',
      edits: [
        {
          file: 's3.tf',
          find: '      test     = "StringNotEquals"\n      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"',
          replace: '      test     = "StringNotEquals"\n      variable = "s3:x-amz-server-side-encryption-context"',
        },
      ],
      message: /does not deny puts that name a KMS key other than the module's/,
    },
    {
      check: 'bucket-policy-kms',
      what: 'an encryption deny written with ...IfExists (denies every multipart part)',
      edits: [
        {
          file: 's3.tf',
          find: '      test     = "StringNotEquals"\n      variable = "s3:x-amz-server-side-encryption"\n',
          replace: '      test     = "StringNotEqualsIfExists"\n      variable = "s3:x-amz-server-side-encryption"\n',
        },
      ],
      message: /tests an encryption header with \.\.\.IfExists/,
    },
    {
      check: 'bucket-lifecycle',
      what: 'tier rules filtering on the wrong tag key',
      edits: [{ file: 's3.tf', find: '            (local.tier_tag) = rule.key', replace: '            "tier" = rule.key' }],
      message: /no dynamic rule expires objects by their "backup-tier" tag/,
    },
    {
      check: 'bucket-lifecycle',
      what: 'no abort of incomplete multipart uploads',
      edits: [
        {
          file: 's3.tf',
          find: '    abort_incomplete_multipart_upload {\n      days_after_initiation = var.abort_incomplete_multipart_upload_days\n    }\n',
          replace: '',
        },
      ],
      message: /no enabled rule aborts incomplete multipart uploads/,
    },
    {
      check: 'iam-function-actions',
      what: 's3:GetObject added to the S3 template',
      edits: [
        {
          file: 'templates/backup-writer-policy.json.tftpl',
          find: '"Action": ["s3:PutObject", "s3:AbortMultipartUpload",',
          replace: '"Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",',
        },
      ],
      message: /forbidden action s3:GetObject/,
    },
    {
      check: 'iam-function-actions',
      what: 'a wildcard action',
      edits: [
        { file: LAMBDA, find: '    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]', replace: '    actions   = ["logs:*"]' },
      ],
      message: /wildcard action logs:\*/,
    },
    {
      check: 'iam-function-actions',
      what: 's3:DeleteObject in a policy document',
      edits: [
        { file: LAMBDA, find: '    actions   = ["rds-db:connect"]', replace: '    actions   = ["rds-db:connect", "s3:DeleteObject"]' },
      ],
      message: /forbidden action s3:DeleteObject/,
    },
    {
      check: 'iam-function-actions',
      what: 'a managed policy attached to the role',
      edits: [
        append(
          LAMBDA,
          '\nresource "aws_iam_role_policy_attachment" "extra" {\n  role       = aws_iam_role.lambda.name\n  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"\n}\n',
        ),
      ],
      message: /attaches more policies to aws_iam_role\.lambda/,
    },
    {
      check: 'iam-function-actions',
      what: 'a documented action removed (ec2:DescribeSubnets)',
      edits: [
        { file: LAMBDA, find: '["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]', replace: '["ec2:DescribeNetworkInterfaces"]' },
      ],
      message: /documented action ec2:DescribeSubnets is not granted/,
    },
    {
      check: 'iam-s3-kms-scope',
      what: 'kms:Decrypt removed from the S3/KMS template (multipart SSE-KMS uploads need it)',
      edits: [
        {
          file: 'templates/backup-writer-policy.json.tftpl',
          find: '["kms:GenerateDataKey", "kms:Decrypt"]',
          replace: '["kms:GenerateDataKey"]',
        },
      ],
      message: /S3\/KMS template must grant exactly .* missing kms:Decrypt/,
    },
    {
      check: 'iam-function-resources',
      what: 'logs on Resource *',
      edits: [
        { file: LAMBDA, find: '    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]', replace: '    resources = ["*"]' },
      ],
      message: /resource \* is not scoped \(actions logs:CreateLogStream/,
    },
    {
      check: 'iam-function-resources',
      what: 'ENI writes on any account',
      edits: [
        {
          file: LAMBDA,
          find: '    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"]',
          replace: '    resources = ["arn:${local.partition}:ec2:*:*:network-interface/*"]',
        },
      ],
      message: /is not scoped \(actions ec2:DeleteNetworkInterface/,
    },
    {
      check: 'iam-s3-kms-scope',
      what: 'object writes on the whole bucket',
      edits: [
        {
          file: 'templates/backup-writer-policy.json.tftpl',
          find: '"Resource": "${bucket_arn}/${backup_prefix}/*"',
          replace: '"Resource": "${bucket_arn}/*"',
        },
      ],
      message: /s3:PutObject must be on \$\{aws_s3_bucket\.this\.arn\}\/\$\{local\.backup_prefix\}\/\* only/,
    },
    {
      check: 'iam-s3-kms-scope',
      what: 'listing without the prefix condition',
      edits: [
        {
          file: 'templates/backup-writer-policy.json.tftpl',
          find: '"Condition": { "StringLike": { "s3:prefix": "${backup_prefix}/*" } }',
          replace: '"Condition": { "StringLike": { "s3:prefix": "*" } }',
        },
      ],
      message: /s3:ListBucket must carry condition StringLike s3:prefix/,
    },
    {
      check: 'kms-key',
      what: 'rotation off',
      edits: [{ file: 'kms.tf', find: '  enable_key_rotation     = true', replace: '  enable_key_rotation     = false' }],
      message: /enable_key_rotation must be true/,
    },
    {
      check: 'kms-key',
      what: 'a key policy statement letting the role use the key outside S3',
      edits: [
        {
          file: 'kms.tf',
          find: '    condition {\n      test     = "StringEquals"\n      variable = "kms:ViaService"\n      values   = [local.s3_service_endpoint]\n    }\n\n    condition {\n      test     = "StringEquals"\n      variable = "kms:CallerAccount"',
          replace: '    condition {\n      test     = "StringEquals"\n      variable = "kms:CallerAccount"',
        },
      ],
      message: /BackupWriterViaS3 lets principals use the key outside S3/,
    },
    {
      check: 'sg-egress',
      what: 'an allow-all egress rule',
      edits: [
        append(
          'network.tf',
          '\nresource "aws_vpc_security_group_egress_rule" "all" {\n  security_group_id = aws_security_group.lambda.id\n  ip_protocol       = "-1"\n  cidr_ipv4         = "0.0.0.0/0"\n}\n',
        ),
      ],
      message: /unexpected egress rule: -1 undefined-undefined cidr_ipv4=0\.0\.0\.0\/0/,
    },
    {
      check: 'sg-egress',
      what: "an inline egress block on the function's group",
      edits: [
        {
          file: 'network.tf',
          find: '  description = "RDS backup function: egress to the database, S3 and Secrets Manager only"',
          replace:
            '  description = "RDS backup function: egress to the database, S3 and Secrets Manager only"\n\n  egress {\n    from_port   = 0\n    to_port     = 0\n    protocol    = "-1"\n    cidr_blocks = ["0.0.0.0/0"]\n  }',
        },
      ],
      message: /must not have inline egress blocks/,
    },
    {
      check: 'sg-egress',
      what: 'S3 egress on every port',
      edits: [
        {
          file: 'network.tf',
          find: '  description       = "HTTPS to S3 (gateway endpoint or NAT)"\n  ip_protocol       = "tcp"\n  from_port         = 443',
          replace: '  description       = "HTTPS to S3 (gateway endpoint or NAT)"\n  ip_protocol       = "tcp"\n  from_port         = 0',
        },
      ],
      message: /unexpected egress rule: tcp 0-443 prefix_list_id/,
    },
    {
      check: 'sg-egress',
      what: 'Secrets Manager egress outside secret mode',
      edits: [
        {
          file: 'network.tf',
          find: '  count = local.secret_mode ? length(var.secretsmanager_egress_cidr_blocks) : 0',
          replace: '  count = length(var.secretsmanager_egress_cidr_blocks)',
        },
      ],
      message: /must exist in secret mode only/,
    },
    {
      check: 'sg-db-ingress',
      what: 'DB ingress on every port',
      edits: [
        {
          file: 'network.tf',
          find: '  description                  = "PostgreSQL from the RDS backup function"\n  ip_protocol                  = "tcp"\n  from_port                    = local.db_port',
          replace:
            '  description                  = "PostgreSQL from the RDS backup function"\n  ip_protocol                  = "tcp"\n  from_port                    = 0',
        },
      ],
      message: /DB ingress must be tcp on the DB port only/,
    },
    {
      check: 'log-retention',
      what: 'no retention (logs kept forever)',
      edits: [{ file: LAMBDA, find: '  retention_in_days = var.log_retention_days\n', replace: '' }],
      message: /retention_in_days must be set/,
    },
    {
      check: 'schedule-permission',
      what: 'the scheduler role allowed to invoke any function',
      edits: [{ file: LAMBDA, find: '    resources = [aws_lambda_function.this.arn]', replace: '    resources = ["*"]' }],
      message: /scheduler role may invoke only aws_lambda_function\.this/,
    },
    {
      check: 'schedule-permission',
      what: 'the scheduler trust not limited to the schedule group',
      edits: [
        {
          file: LAMBDA,
          find: '    condition {\n      test     = "ArnEquals"\n      variable = "aws:SourceArn"\n      values   = [local.schedule_group_arn]\n    }\n',
          replace: '',
        },
      ],
      message: /limited \(aws:SourceArn\) to this module's own schedule group/,
    },
    {
      check: 'schedule-permission',
      what: 'a resource-based invoke permission without a source',
      edits: [
        append(
          LAMBDA,
          '\nresource "aws_lambda_permission" "anyone" {\n  action        = "lambda:InvokeFunction"\n  function_name = aws_lambda_function.this.function_name\n  principal     = "events.amazonaws.com"\n}\n',
        ),
      ],
      message: /aws_lambda_permission without source_arn/,
    },
    {
      check: 'lambda-concurrency',
      what: 'a hard-coded reservation (fails in accounts with fewer than 101 executions)',
      edits: [
        {
          file: LAMBDA,
          find: '  reserved_concurrent_executions = var.reserved_concurrent_executions',
          replace: '  reserved_concurrent_executions = 1',
        },
      ],
      message: /must be var\.reserved_concurrent_executions/,
    },
    {
      check: 'lambda-concurrency',
      what: 'reserved by default',
      edits: [
        {
          file: 'variables.tf',
          find: '  type        = number\n  default     = null\n\n  validation {\n    condition     = var.reserved_concurrent_executions == null',
          replace:
            '  type        = number\n  default     = 1\n\n  validation {\n    condition     = var.reserved_concurrent_executions == null',
        },
      ],
      message: /must default to null/,
    },
    {
      check: 'lambda-runtime',
      what: 'another runtime',
      edits: [{ file: LAMBDA, find: '  runtime           = "nodejs24.x"', replace: '  runtime           = "nodejs22.x"' }],
      message: /runtime must be nodejs24\.x/,
    },
    {
      check: 'lambda-runtime',
      what: 'the layer not chosen by architecture',
      edits: [
        {
          file: LAMBDA,
          find: '"${local.artifacts_dir}/pgtools-layer-${var.architecture}.zip"',
          replace: '"${local.artifacts_dir}/pgtools-layer-x86_64.zip"',
        },
      ],
      message: /the layer must be pgtools-layer-<architecture>\.zip/,
    },
    {
      check: 'env-no-secrets',
      what: 'a password in the environment',
      edits: [
        {
          file: LAMBDA,
          find: '    PGUSER                       = var.db_username\n',
          replace: '    PGUSER                       = var.db_username\n    PGPASSWORD                   = var.db_username\n',
        },
      ],
      message: /unexpected environment variable PGPASSWORD|PGPASSWORD looks like a secret/,
    },
    {
      check: 'env-no-secrets',
      what: 'a contract variable missing',
      edits: [{ file: LAMBDA, find: '    RDS_S3_BACKUP_DB_REGION      = local.region\n', replace: '' }],
      message: /missing environment variable RDS_S3_BACKUP_DB_REGION/,
    },
    {
      check: 'alarms',
      what: 'missed-backup alarm not breaching on missing data',
      edits: [{ file: 'monitoring.tf', find: '  treat_missing_data  = "breaching"', replace: '  treat_missing_data  = "notBreaching"' }],
      message: /must treat missing data as breaching/,
    },
    {
      check: 'alarms',
      what: 'missed-backup alarm on the wrong dimension',
      edits: [
        {
          file: 'monitoring.tf',
          find: '  metric_name         = "BackupSucceeded"\n  dimensions          = { service = aws_lambda_function.this.function_name }',
          replace:
            '  metric_name         = "BackupSucceeded"\n  dimensions          = { FunctionName = aws_lambda_function.this.function_name }',
        },
      ],
      message: /single dimension service = function name/,
    },
    {
      check: 'variables-documented',
      what: 'a variable without description',
      edits: [
        {
          file: 'variables.tf',
          find: '  description = "Function memory in MB (CPU scales with it; pg_dump compression is CPU bound)."\n',
          replace: '',
        },
      ],
      message: /variable memory_size needs a description/,
    },
  ];

  for (const c of cases) {
    it(`${c.check}: ${c.what}`, async () => {
      expectFinding(await policyFindings(c.check, c.edits), c.check, c.message);
    });
  }
});
