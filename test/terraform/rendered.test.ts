// terraform/rendered/*.json are what `npm run terraform:policies` renders from the
// module's own source for the complete example; they must be current, and the
// evaluator that renders them must compute what Terraform computes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODULE_DIR, RENDERED_DIR, renderAll } from '../../scripts/terraform/policies.ts';
import { evaluate, EvaluationError, quoteTemplate } from './checks/evaluate.ts';
import type { Scope, Value } from './checks/evaluate.ts';
import { jsonStatements } from './checks/iam.ts';
import { evaluateInModule, RENDERED_POLICIES } from './checks/render.ts';

const rendered = await renderAll();

describe('terraform/rendered', () => {
  it('is current (npm run terraform:policies)', () => {
    const committed = readdirSync(RENDERED_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    assert.deepEqual(committed, [...rendered.keys()].sort(), 'the set of rendered files');
    for (const [name, text] of rendered)
      assert.equal(
        readFileSync(join(RENDERED_DIR, name), 'utf8'),
        text,
        `terraform/rendered/${name} is stale: run npm run terraform:policies`,
      );
  });

  it('has the files other suites load, each a valid policy', () => {
    for (const f of [
      'writer-identity.json',
      'bucket-policy.json',
      'key-policy.json',
      'vpce-policy.json',
      'reader-identity.json',
      'verify-writer-identity.json',
    ]) {
      assert.ok(rendered.has(f), f);
      assert.ok(jsonStatements(rendered.get(f)!, f).length > 0, f);
    }
    assert.equal(RENDERED_POLICIES.length + 1, rendered.size);
  });

  it('holds concrete values only: no unrendered expression or template is left', () => {
    for (const [name, text] of rendered) assert.doesNotMatch(text, /\$\{|%\{/, name);
  });

  it('context.json names what the policies were rendered with', () => {
    const ctx = JSON.parse(rendered.get('context.json')!) as Record<string, unknown> & { roles: Record<string, string> };
    assert.equal(ctx['backup_prefix'], 'postgres/app-db'); // examples/complete: backup_prefix
    assert.match(String(ctx['bucket_arn']), /^arn:aws:s3:::rds-s3-backup-sandbox-app-[0-9a-f]{8}$/);
    assert.match(ctx.roles['writer']!, /^arn:aws:iam::111122223333:role\/backups\/rds-s3-backup-sandbox-app-eu-west-1-writer$/);
    assert.deepEqual(ctx['backup_writer_role_arns'], [ctx.roles['writer']]);
  });

  it("the writer's on-failure permission matches the example's SQS destination", () => {
    const writer = jsonStatements(rendered.get('writer-identity.json')!, 'w');
    const send = writer.find((s) => s.sid === 'SendFailedInvocations');
    assert.deepEqual(send?.actions, ['sqs:SendMessage']);
    assert.match(send!.resources[0]!, /^arn:aws:sqs:eu-west-1:111122223333:/);
  });
});

function scope(values: Record<string, Value>): Scope {
  return {
    moduleDir: MODULE_DIR,
    lookup: async (segs) => (segs[0] === 'var' && segs[1]! in values ? { value: values[segs[1]!]!, used: 2 } : undefined),
    templatefile: () => '',
  };
}

describe('expression evaluator (the subset the module uses)', () => {
  const cases: [string, Record<string, Value>, Value][] = [
    ['"arn:${var.p}:s3:::${var.b}/*"', { p: 'aws', b: 'x' }, 'arn:aws:s3:::x/*'],
    ['var.a != null ? var.a : "d"', { a: null }, 'd'],
    ['concat(["a"], [for s in var.l : "x-${s}"], [])', { l: ['1', '2'] }, ['a', 'x-1', 'x-2']],
    ['{ for k, v in var.m : k => v if v != null }', { m: { a: 1, b: null } }, { a: 1 }],
    ['min(concat([for v in var.l : v], [36500])...)', { l: [14, 63] }, 14],
    [
      'lookup({ sqs = "sqs:SendMessage", sns = "sns:Publish" }, split(":", var.a)[2], "none")',
      { a: 'arn:aws:sns:eu-west-1:1:t' },
      'sns:Publish',
    ],
    ['try(regex("^rate\\\\((\\\\d+) (hours?)\\\\)$", var.s), [null, null])', { s: 'rate(6 hours)' }, ['6', 'hours']],
    ['try(regex("^rate\\\\((\\\\d+)\\\\)$", var.s), "fallback")', { s: 'cron(0 3 * * ? *)' }, 'fallback'],
    ['distinct(concat(["r"], var.l))', { l: ['r', 'a'] }, ['r', 'a']],
    ['jsonencode({ b = 1, a = [var.x] })', { x: 'y' }, '{"a":["y"],"b":1}'],
    ['ceil(24 + max(2, 24 / 8))', {}, 27],
    ['trimsuffix(substr("abc-", 0, 4), "-")', {}, 'abc'],
  ];
  for (const [expr, values, expected] of cases) {
    it(expr, async () => {
      assert.deepEqual(await evaluate(expr, scope(values)), expected);
    });
  }

  it('refuses what it does not implement instead of guessing', async () => {
    await assert.rejects(evaluate('cidrhost(var.c, 1)', scope({ c: '10.0.0.0/16' })), EvaluationError);
    await assert.rejects(evaluate('var.undeclared', scope({})), EvaluationError);
  });

  it('quotes literal parts of templates as HCL does', () => {
    assert.equal(quoteTemplate('a "b" ${join(",", var.x)} \\'), '"a \\"b\\" ${join(",", var.x)} \\\\"');
  });

  it("evaluates the module's own locals: the default missed-backup window is 27 h", async () => {
    assert.equal(
      await evaluateInModule(MODULE_DIR, { environment: 'prod', db_instance_identifier: 'app-db' }, 'local.missed_backup_alarm_hours'),
      27,
    );
  });
});
