// Property-based tests of the Lambda's inputs: the invocation event (any JSON anyone allowed to invoke can send)
// and the function environment. Never an exception other than ConfigError, never a secret value echoed, and an
// error always names the offending fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { applySelection, parseEvent } from '../../../src/lambda/event.ts';
import { parseLambdaConfig } from '../../../src/runner/config.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { OPTIONS, type OptionSpec } from '../../../src/core/config/options.ts';

const RUNS = Number(process.env.FC_RUNS ?? 400);
const SECRET = 'Lambda-Event-S3cret-9f8e7d';

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(SECRET),
  fc.constantFrom('postgres://u:x@evil/db', 'host=evil', 'all', '..', '\u0000', 'x'.repeat(100), ['a', SECRET], { password: SECRET }),
);

const selectionLike = fc.dictionary(
  fc.oneof(
    fc.constantFrom('databases', 'globals', 'password', 'bucket', 'host', 'database', 'PGPASSWORD', '__proto__', 'constructor', 'toString'),
    fc.string({ maxLength: 60 }),
  ),
  fc.oneof(
    hostileValue,
    fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 70 }), fc.constant(SECRET)), { maxLength: 4 }),
    fc.boolean(),
  ),
  { maxKeys: 5 },
);

const eventArb = fc.oneof(
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
  selectionLike,
  fc.record(
    {
      version: fc.oneof(fc.constant('0'), hostileValue),
      id: fc.oneof(fc.uuid(), hostileValue),
      'detail-type': fc.oneof(fc.constant('Scheduled Event'), hostileValue),
      source: fc.oneof(fc.constant('aws.scheduler'), hostileValue),
      time: fc.oneof(fc.constant('2026-11-24T03:00:00Z'), hostileValue),
      resources: fc.oneof(fc.array(fc.string(), { maxLength: 2 }), hostileValue),
      detail: fc.oneof(selectionLike, hostileValue),
      extra: hostileValue,
    },
    { requiredKeys: ['detail-type'] },
  ),
);

function assertSafeConfigError(err: unknown, echoAllowed = false): asserts err is ConfigError {
  assert.ok(err instanceof ConfigError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  assert.ok(err.issues.length > 0);
  for (const i of err.issues) {
    assert.ok(i.field.length > 0 && i.field.length < 120, `field label ${JSON.stringify(i.field)}`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
    assert.doesNotMatch(i.field, /[\u0000-\u001f\u007f]/, 'control characters reach the log unescaped');
  }
  if (!echoAllowed) assert.ok(!err.message.includes(SECRET), `a value was echoed: ${err.message}`);
}

test('property: any event is either a valid invocation or a ConfigError naming its fields; values are never echoed', () => {
  fc.assert(
    fc.property(eventArb, (event) => {
      let parsed;
      try {
        parsed = parseEvent(event);
      } catch (err) {
        assertSafeConfigError(err);
        for (const i of err.issues) assert.match(i.field, /^event/);
        return;
      }
      const names = parsed.selection.databases;
      if (names)
        for (const n of names) assert.ok(typeof n === 'string' && n.length > 0 && !/:\/\/|=|@/.test(n), `accepted ${JSON.stringify(n)}`);
      assert.ok(parsed.selection.globals === null || typeof parsed.selection.globals === 'boolean');
    }),
    { numRuns: RUNS },
  );
});

test('property: a selection can only narrow what the environment configures', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-lambda-prop-'));
  const ca = path.join(dir, 'ca.pem');
  await writeFile(ca, 'not used');
  try {
    const cfg = parseLambdaConfig({
      RDS_S3_BACKUP_TO: 's3://bucket-ok/p',
      PGHOST: 'db.example',
      PGUSER: 'backup',
      PGSSLROOTCERT: ca,
      RDS_S3_BACKUP_DATABASES: 'app,crm',
    });
    fc.assert(
      fc.property(selectionLike, (event) => {
        let sel;
        try {
          sel = parseEvent(event).selection;
        } catch (err) {
          assertSafeConfigError(err);
          return;
        }
        try {
          const narrowed = applySelection(cfg.backup, sel);
          assert.equal(narrowed.target, cfg.backup.target);
          assert.equal(narrowed.connection, cfg.backup.connection);
          for (const d of narrowed.databases === 'all' ? [] : narrowed.databases) assert.ok(['app', 'crm'].includes(d), d);
          assert.equal(narrowed.globals, false);
        } catch (err) {
          // Requested database names are echoed on purpose ("x is not among the configured databases"): they are
          // what the caller sent in the field for names, not credentials.
          const requested = (event as { databases?: unknown }).databases;
          assertSafeConfigError(err, Array.isArray(requested) && requested.includes(SECRET));
        }
      }),
      { numRuns: RUNS },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('property: any function environment yields a config or a ConfigError naming variables, never echoing a password', () => {
  const envNames = [
    ...new Set((OPTIONS as readonly OptionSpec[]).map((o) => o.env).filter((e): e is string => e !== null)),
    'RDS_S3_BACKUP_DB_INSTANCE_ID',
    'RDS_S3_BACKUP_ABORT_MARGIN_SECONDS',
  ];
  const envValue = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom(
      's3://bucket-ok/p',
      'file:///tmp/x',
      'iam',
      'secret',
      'password',
      'verify-full',
      'require',
      'arn:aws:rds:eu-west-1:123456789012:db:app-db',
      'db-1',
      '--x',
      '30',
      '4',
      '601',
      'all',
    ),
  );
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...envNames), envValue, { maxKeys: 10 }),
      fc.constantFrom('PGPASSWORD', 'PGPASSFILE', null),
      (vars, secretVar) => {
        // The secret goes where a password would (refused for the Lambda: it must not be echoed while refusing it).
        const env = secretVar ? { ...vars, [secretVar]: SECRET } : vars;
        try {
          const c = parseLambdaConfig(env);
          assert.ok(Object.isFrozen(c));
          assert.equal(c.backup.target.kind, 's3');
          assert.notEqual(c.backup.auth.mode, 'password');
          assert.ok(!JSON.stringify(c).includes(SECRET));
        } catch (err) {
          assertSafeConfigError(err);
          for (const i of err.issues) assert.match(i.field, /^[A-Z][A-Z0-9_]*$/, `field ${i.field} is not a variable name`);
        }
      },
    ),
    { numRuns: RUNS },
  );
});
