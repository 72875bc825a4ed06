import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupConfig } from '../../../../src/core/config/backup-config.ts';
import { parseRestoreConfig } from '../../../../src/core/config/restore-config.ts';
import { parseVerifyConfig } from '../../../../src/core/config/verify-config.ts';
import { collectRaw } from '../../../../src/core/config/raw.ts';
import type { ConnectionSettings } from '../../../../src/core/config/connection.ts';
import { ConfigError } from '../../../../src/core/errors.ts';

/** One connection parameter: its flag key, conninfo key, PG* variable, three distinct values, and its default. */
type Param = {
  readonly name: 'host' | 'port' | 'user' | 'database' | 'sslmode';
  readonly flagKey: string;
  readonly ciKey: string;
  readonly envVar: string;
  readonly values: { readonly flag: string; readonly ci: string; readonly env: string };
  readonly dflt: string | number | null;
  readonly read: (c: ConnectionSettings) => string | number | null;
};

const PARAMS: readonly Param[] = [
  {
    name: 'host',
    flagKey: 'host',
    ciKey: 'host',
    envVar: 'PGHOST',
    values: { flag: 'flag.example', ci: 'conninfo.example', env: 'env.example' },
    dflt: null,
    read: (c) => c.host,
  },
  {
    name: 'port',
    flagKey: 'port',
    ciKey: 'port',
    envVar: 'PGPORT',
    values: { flag: '1111', ci: '2222', env: '3333' },
    dflt: 5432,
    read: (c) => c.port,
  },
  {
    name: 'user',
    flagKey: 'user',
    ciKey: 'user',
    envVar: 'PGUSER',
    values: { flag: 'flaguser', ci: 'ciuser', env: 'envuser' },
    dflt: null,
    read: (c) => c.user,
  },
  {
    name: 'database',
    flagKey: 'connectDatabase',
    ciKey: 'dbname',
    envVar: 'PGDATABASE',
    values: { flag: 'flagdb', ci: 'cidb', env: 'envdb' },
    dflt: 'postgres',
    read: (c) => c.database,
  },
  {
    name: 'sslmode',
    flagKey: 'sslmode',
    ciKey: 'sslmode',
    envVar: 'PGSSLMODE',
    values: { flag: 'require', ci: 'disable', env: 'allow' },
    dflt: 'prefer',
    read: (c) => c.sslmode,
  },
];

const COMBOS = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ flag: Boolean(n & 4), ci: Boolean(n & 2), env: Boolean(n & 1) }));

function expected(p: Param, combo: { flag: boolean; ci: boolean; env: boolean }): string | number | null {
  const v = combo.flag ? p.values.flag : combo.ci ? p.values.ci : combo.env ? p.values.env : null;
  if (v === null) return p.dflt;
  return p.name === 'port' ? Number(v) : v;
}

function label(p: Param, combo: { flag: boolean; ci: boolean; env: boolean }): string {
  return `${p.name}: flag ${combo.flag ? 'set' : '-'}, conninfo ${combo.ci ? 'set' : '-'}, env ${combo.env ? 'set' : '-'}`;
}

test('backup --dbname: flag, then conninfo component, then PG* variable, then default (libpq order)', () => {
  for (const p of PARAMS) {
    for (const combo of COMBOS) {
      const flags: Record<string, string> = { to: 'file:///tmp/x' };
      const env: Record<string, string> = {};
      // A host is always in the conninfo for the other parameters, so the conninfo is never empty.
      const ci: string[] = [];
      if (combo.flag) flags[p.flagKey] = p.values.flag;
      if (combo.ci) ci.push(`${p.ciKey}=${p.values.ci}`);
      if (combo.env) env[p.envVar] = p.values.env;
      if (ci.length > 0) flags.dbname = ci.join(' ');
      const c = parseBackupConfig(collectRaw('backup', flags, env));
      assert.equal(p.read(c.connection), expected(p, combo), label(p, combo));
    }
  }
});

test('restore/verify --target: flag, then conninfo component, then PG* variable, then default', () => {
  for (const p of PARAMS.filter((x) => x.name !== 'database' && x.name !== 'host')) {
    for (const combo of COMBOS) {
      const flags: Record<string, string> = { from: 'file:///tmp/x', latest: 'true', database: 'app' };
      const env: Record<string, string> = {};
      const ci = ['host=target.example', 'dbname=restored'];
      if (combo.flag) flags[p.flagKey] = p.values.flag;
      if (combo.ci) ci.push(`${p.ciKey}=${p.values.ci}`);
      if (combo.env) env[p.envVar] = p.values.env;
      flags.target = ci.join(' ');
      for (const command of ['restore', 'verify'] as const) {
        const raw = collectRaw(command, flags, env);
        const t = command === 'restore' ? parseRestoreConfig(raw).target : parseVerifyConfig(raw).target;
        assert.ok(t);
        // With nothing set, a target off this machine gets the safe default (core/config/tls-defaults.ts).
        const want = p.name === 'sslmode' && !combo.flag && !combo.ci && !combo.env ? 'verify-full' : expected(p, combo);
        assert.equal(p.read(t.connection), want, `${command} ${label(p, combo)}`);
        assert.equal(t.database, 'restored');
        assert.equal(t.connection.host, 'target.example', 'PGHOST never replaces the target host');
      }
    }
  }
});

test('restore/verify --target host: the flag or the conninfo; PGHOST alone is refused', () => {
  const base = { from: 'file:///tmp/x', latest: 'true', database: 'app' };
  const env = { PGHOST: 'production.example', PGPORT: '5433' };
  const viaUrl = parseRestoreConfig(collectRaw('restore', { ...base, target: 'postgresql://u@scratch.example:6000/db' }, env));
  assert.equal(viaUrl.target?.connection.host, 'scratch.example');
  assert.equal(viaUrl.target?.connection.port, 6000);
  const viaFlag = parseRestoreConfig(collectRaw('restore', { ...base, target: 'dbname=db', host: 'flag.example' }, env));
  assert.equal(viaFlag.target?.connection.host, 'flag.example');
  assert.equal(viaFlag.target?.connection.port, 5433, 'the port may still come from PGPORT, as in libpq');
  for (const command of ['restore', 'verify'] as const) {
    for (const target of ['dbname=db', 'postgresql:///db', 'user=app']) {
      assert.throws(
        () => {
          const raw = collectRaw(command, { ...base, target }, env);
          if (command === 'restore') parseRestoreConfig(raw);
          else parseVerifyConfig(raw);
        },
        (err: unknown) =>
          err instanceof ConfigError && err.issues.some((i) => i.field.includes('--target') && /names no host/.test(i.message)),
        `${command} --target ${target}`,
      );
    }
  }
});
