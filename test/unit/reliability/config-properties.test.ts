// Property-based tests of the configuration boundary (src/core/config/, one parser per command): whatever arrives from flags and the
// environment, parsing yields a frozen config or a ConfigError naming the bad fields — never another exception,
// and never the password in the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBackupConfig } from '../../../src/core/config/backup-config.ts';
import { parseListConfig } from '../../../src/core/config/list-config.ts';
import { collectRaw, type RawValues } from '../../../src/core/config/raw.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { OPTIONS, optionLabel, optionsFor, type OptionSpec } from '../../../src/core/config/options.ts';

const RUNS = Number(process.env.FC_RUNS ?? 400);

/** Strings that tend to break parsers: separators, quotes, escapes, percent signs, control and odd unicode. */
const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\n',
    '..',
    '../..',
    '/',
    '//',
    '%',
    '%zz',
    '%E0%A4%A',
    '\\',
    "'",
    '"',
    '=',
    'all',
    'ALL',
    'none',
    '0',
    '-1',
    '1e9',
    '99999999999999999999',
    'true',
    'yes',
    's3://',
    's3://a',
    's3://bucket/../x',
    's3://bucket/a//b',
    'file://',
    'file://rel',
    'file:///tmp/../etc',
    'file:///tmp/%2e%2e/x',
    'file:///%00',
    'postgres://',
    'postgres://%zz@h/db',
    'postgres://u:%E0%A4%A@h/db',
    'postgresql://h:99999/db',
    'postgres://h/db?sslmode=bogus',
    'postgres://h/%ZZ',
    "host='unterminated",
    'host=a port=b',
    'password=',
    "dbname='a\\'b'",
    'zstd:99',
    'lz4:0',
    'gzip',
    '2min',
    '1 h',
    '999999999h',
    'verify-full',
    'iam',
    'secret',
    'a,b,,c',
    ',',
    '😀'.repeat(30),
    'x'.repeat(600),
    'é'.repeat(300),
  ),
  fc.stringMatching(/^s3:\/\/[a-z0-9.-]{1,70}(\/[^\s]{0,60})?$/),
  fc.stringMatching(/^file:\/\/\/[^\0]{0,60}$/),
  fc.stringMatching(/^postgres(ql)?:\/\/[^\s]{0,60}$/),
);

const SECRET = fc.stringMatching(/^[A-Za-z0-9!#%&*+,.:;<>?@^_~-]{10,30}$/).map((s) => `Pw-${s}`);

function rawFor(command: 'backup' | 'list'): fc.Arbitrary<Record<string, string | boolean | undefined>> {
  const specs = optionsFor(command);
  const entries: Record<string, fc.Arbitrary<string | boolean | undefined>> = {};
  for (const o of specs) {
    entries[o.key] = fc.option(o.type === 'boolean' ? fc.oneof(fc.boolean(), hostileString) : fc.oneof(hostileString, fc.boolean()), {
      nil: undefined,
      freq: 2,
    });
  }
  return fc.record(entries, { requiredKeys: [] }) as fc.Arbitrary<Record<string, string | boolean | undefined>>;
}

const LABELS = new Set((OPTIONS as readonly OptionSpec[]).map((o) => optionLabel(o)));

function checkOutcome(parse: () => unknown, secret: string | null, rawKeys: readonly string[]): void {
  let result: unknown;
  try {
    result = parse();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    assert.ok(err.issues.length > 0, 'a ConfigError names at least one field');
    for (const i of err.issues) {
      assert.ok(LABELS.has(i.field) || rawKeys.includes(i.field), `unexpected field label ${i.field}`);
      assert.ok(i.message.length > 0);
    }
    if (secret) {
      assert.ok(!err.message.includes(secret), `secret echoed: ${err.message}`);
      assert.ok(!JSON.stringify(err.issues).includes(secret));
    }
    return;
  }
  assert.ok(Object.isFrozen(result), 'a config is frozen');
  if (secret) assert.ok(!JSON.stringify(result).includes(secret), 'serialising the config reveals the password');
}

test('property: backup config from random/hostile flags never throws anything but ConfigError', () => {
  fc.assert(
    fc.property(rawFor('backup'), (raw) => checkOutcome(() => parseBackupConfig(raw), null, Object.keys(raw))),
    { numRuns: RUNS },
  );
});

test('property: list config from random/hostile flags never throws anything but ConfigError', () => {
  fc.assert(
    fc.property(rawFor('list'), (raw) => checkOutcome(() => parseListConfig(raw), null, Object.keys(raw))),
    { numRuns: RUNS },
  );
});

test('property: unknown keys are named as such, never crash', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 20 }), hostileString, { maxKeys: 5 }), (extra) => {
      const known = new Set(optionsFor('backup').map((o) => o.key));
      const raw: RawValues = { to: 's3://bucket-ok/p', ...extra };
      try {
        parseBackupConfig(raw);
        assert.ok(
          Object.keys(extra).every((k) => known.has(k) || extra[k] === undefined),
          'an unknown key was accepted',
        );
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
      }
    }),
    { numRuns: RUNS },
  );
});

test('property: the environment path (collectRaw) with random variables never crashes and never echoes PGPASSWORD', () => {
  const envNames = [...new Set((OPTIONS as readonly OptionSpec[]).map((o) => o.env).filter((e): e is string => e !== null))];
  fc.assert(
    fc.property(
      SECRET,
      fc.dictionary(fc.constantFrom(...envNames, 'RDS_S3_BACKUP_TO', 'OTHER'), hostileString, { maxKeys: 12 }),
      (secret, env) => {
        const full = { ...env, PGPASSWORD: secret };
        for (const command of ['backup', 'list'] as const) {
          const raw = collectRaw(command, {}, full);
          checkOutcome(() => (command === 'backup' ? parseBackupConfig(raw) : parseListConfig(raw)), secret, Object.keys(raw));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('property: a password inside --dbname (URL or key=value) is never echoed, whatever else is wrong', () => {
  fc.assert(
    fc.property(SECRET, rawFor('backup'), fc.boolean(), (secret, raw, asUrl) => {
      const dbname = asUrl
        ? `postgres://u:${encodeURIComponent(secret)}@db.example:5432/app`
        : `host=db.example user=u password='${secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' dbname=app`;
      const withPw: Record<string, string | boolean | undefined> = { ...raw, dbname, password: undefined };
      checkOutcome(() => parseBackupConfig(withPw), secret, Object.keys(withPw));
    }),
    { numRuns: RUNS },
  );
});

test('property: an accepted lock wait timeout is one the server accepts (≤ 2147483647 ms)', () => {
  fc.assert(
    fc.property(fc.nat({ max: 3_000_000_000 }), fc.constantFrom('', 'ms', 's', 'min', 'h'), (n, unit) => {
      const factor = { '': 1, ms: 1, s: 1000, min: 60_000, h: 3_600_000 }[unit]!;
      try {
        const c = parseBackupConfig({ to: 's3://bucket-ok/p', lockWaitTimeout: `${n}${unit}` });
        assert.ok(n === 0 || n * factor <= 2_147_483_647, `${n}${unit} accepted`);
        if (n !== 0) assert.equal(c.lockWaitTimeout, `${n}${unit}`);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        assert.ok(n * factor > 2_147_483_647, `${n}${unit} refused`);
      }
    }),
    { numRuns: RUNS },
  );
});

test('every invalid field of a valid base config is named by its flag / variable', () => {
  const base: RawValues = { to: 's3://bucket-ok/prefix' };
  const bad: Record<string, string> = {
    to: 'ftp://x',
    port: '70000',
    connectTimeout: 'soon',
    sslmode: 'maybe',
    auth: 'kerberos',
    compress: 'brotli',
    lockWaitTimeout: '999999999h',
    partSizeMb: '1',
    queueSize: '0',
    databases: ',,',
    globals: 'perhaps',
    rowCounts: 'perhaps',
    connectDatabase: 'a\u0001b',
  };
  const specs = optionsFor('backup');
  for (const [key, value] of Object.entries(bad)) {
    const spec = specs.find((o) => o.key === key)!;
    try {
      parseBackupConfig({ ...base, [key]: value });
      assert.fail(`${key}=${JSON.stringify(value)} was accepted`);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(
        err.issues.some((i) => i.field === optionLabel(spec)),
        `${key}: issues ${JSON.stringify(err.issues)}`,
      );
    }
  }
});
