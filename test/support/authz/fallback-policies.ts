// TEMPORARY: renders the current module's policies from its own source until `npm run terraform:policies`
// writes terraform/rendered/*.json (then policies.ts reads those and this file goes). The templates are rendered
// the way templatefile() does; aws_iam_policy_document blocks are turned into JSON with the module's expressions
// substituted by the fixed deployment below; dynamic statements (empty for_each by default) are left out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { documentStatements, renderTemplate, type Statement } from '../../terraform/checks/iam.ts';
import { loadModule } from '../../terraform/checks/load.ts';
import { MODULE_ROOT } from '../../terraform/checks/mutate.ts';
import type { Deployment } from './actions.ts';
import type { PolicyDocument, RenderedPolicies } from './policies.ts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const NAME = 'prod-app-db-backup';

export const FALLBACK_DEPLOYMENT: Deployment = {
  partition: 'aws',
  account: ACCOUNT,
  region: REGION,
  bucket: `${NAME}-1a2b3c4d`,
  prefix: 'app-db',
  kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`,
  bucketKeyEnabled: true,
  secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app-db/backup-AbCdEf`,
  dbInstanceArn: `arn:aws:rds:${REGION}:${ACCOUNT}:db:app-db`,
  dbUserArn: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/rds_s3_backup`,
};
const WRITER_ROLE = `arn:aws:iam::${ACCOUNT}:role/${NAME}-function`;

function toJson(statements: readonly Statement[], values: Readonly<Record<string, string | readonly string[]>>): PolicyDocument {
  const sub = (s: string): string[] => {
    const whole = /^\$\{([^}]+)\}$/.exec(s);
    if (whole) {
      const v = values[whole[1]!];
      if (v === undefined) throw new Error(`fallback renderer: no value for ${s}`);
      return typeof v === 'string' ? [v] : [...v];
    }
    return [
      s.replace(/\$\{([^}]+)\}/g, (_m, e: string) => {
        const v = values[e];
        if (typeof v !== 'string') throw new Error(`fallback renderer: no string value for \${${e}}`);
        return v;
      }),
    ];
  };
  const subAll = (xs: readonly string[]): string[] => xs.flatMap(sub);
  return {
    Version: '2012-10-17',
    Statement: statements
      .filter((s) => !s.dynamic)
      .map((s) => {
        const condition: Record<string, Record<string, string[]>> = {};
        for (const c of s.conditions) {
          const byKey = condition[c.test] ?? {};
          byKey[c.variable] = subAll(c.values);
          condition[c.test] = byKey;
        }
        return {
          ...(s.sid ? { Sid: s.sid } : {}),
          Effect: s.effect === 'Deny' ? 'Deny' : 'Allow',
          ...(Object.keys(s.principals).length
            ? { Principal: Object.fromEntries(Object.entries(s.principals).map(([t, ids]) => [t, subAll(ids)])) }
            : {}),
          Action: subAll(s.actions),
          Resource: subAll(s.resources),
          ...(Object.keys(condition).length ? { Condition: condition } : {}),
        };
      }),
  };
}

export async function renderFallbackPolicies(): Promise<RenderedPolicies> {
  const d = FALLBACK_DEPLOYMENT;
  const bucketArn = `arn:aws:s3:::${d.bucket}`;
  const template = (file: string, vars: Record<string, string>): PolicyDocument =>
    JSON.parse(renderTemplate(readFileSync(path.join(MODULE_ROOT, 'templates', file), 'utf8'), vars)) as PolicyDocument;
  const mod = await loadModule(MODULE_ROOT);
  const doc = (name: string): Statement[] => {
    const block = mod.blocks.find((b) => b.address === `data.aws_iam_policy_document.${name}`);
    if (!block) throw new Error(`fallback renderer: data.aws_iam_policy_document.${name} not found`);
    return documentStatements(block);
  };
  const values = {
    'local.kms_key_administrators': [`arn:aws:iam::${ACCOUNT}:root`],
    'aws_iam_role.lambda.arn': WRITER_ROLE,
    'local.s3_service_endpoint': `s3.${REGION}.amazonaws.com`,
    'local.account': ACCOUNT,
    'local.region': REGION,
    'data.aws_partition.current.dns_suffix': 'amazonaws.com',
    'var.db_secret_arn': d.secretArn!,
    'local.db_user_arn': d.dbUserArn!,
  };
  return {
    source: 'fallback: current module source rendered by test/support/authz/fallback-policies.ts',
    deployment: d,
    writer: {
      arn: WRITER_ROLE,
      identity: [
        {
          name: 'backup-writer-s3-kms',
          policy: template('backup-writer-policy.json.tftpl', {
            bucket_arn: bucketArn,
            backup_prefix: d.prefix,
            kms_key_arn: d.kmsKeyArn,
            s3_service_endpoint: `s3.${REGION}.amazonaws.com`,
          }),
        },
        { name: 'read-db-secret', policy: toJson(doc('db_secret'), values) },
        { name: 'rds-iam-connect', policy: toJson(doc('rds_connect'), values) },
      ],
    },
    reader: null,
    verifyWriter: null,
    bucket: template('bucket-policy.json.tftpl', { bucket_arn: bucketArn, kms_key_arn: d.kmsKeyArn }),
    key: toJson(doc('kms_key'), values),
    vpce: null,
  };
}
