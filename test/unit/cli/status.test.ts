// `status` over a real file:// catalog (the same listing code as `list`), written with backdated ids: one test per
// exit condition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { backupKeys, newBackupId } from '../../../src/core/catalog/keys.ts';
import { MANIFEST_SCHEMA } from '../../../src/core/catalog/manifest.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Backup = {
  database: string;
  hoursAgo: number;
  bytes: number;
  verify?: { ok: boolean; verdict?: string; hoursAgo: number };
  noManifest?: boolean;
};

async function catalog(backups: readonly Backup[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'status-'));
  for (const b of backups) {
    const started = new Date(Date.now() - b.hoursAgo * HOUR);
    const keys = backupKeys('', 'database', b.database, newBackupId(started));
    await mkdir(path.dirname(path.join(dir, keys.data)), { recursive: true });
    await writeFile(path.join(dir, keys.data), Buffer.alloc(b.bytes));
    if (b.noManifest) continue;
    const manifest = {
      schema: MANIFEST_SCHEMA,
      kind: 'database',
      id: keys.id,
      database: b.database,
      tool: { name: 'rds-s3-backup', version: '0.1.0' },
      pgDump: { version: '18.1' },
      server: { version: '18.1', versionNum: 180001, host: null },
      startedAt: started.toISOString(),
      finishedAt: new Date(started.getTime() + 65_000).toISOString(),
      durationMs: 65_000,
      object: { key: keys.data, bytes: b.bytes, sha256: 'a'.repeat(64), versionId: null, contentType: 'application/octet-stream' },
      format: 'custom',
      compression: 'lz4:1',
      tier: 'daily',
      encryption: { kmsKeyId: null },
      toc: null,
      rowCounts: null,
    };
    await writeFile(path.join(dir, keys.manifest), JSON.stringify(manifest));
    if (b.verify) {
      const at = new Date(Date.now() - b.verify.hoursAgo * HOUR).toISOString();
      const record = {
        ok: b.verify.ok,
        ...(b.verify.verdict ? { verdict: b.verify.verdict } : {}),
        verifiedAt: at,
        mode: 'restore',
        summary: '',
        // A record counts only for the object it checked (list compares these with the manifest).
        backup: { id: manifest.id, sha256: manifest.object.sha256, bytes: manifest.object.bytes },
      };
      await writeFile(path.join(dir, keys.verify), JSON.stringify(record));
    }
  }
  return dir;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    stdout: { write: (t: string) => void out.push(t), isTTY: false },
    stderr: { write: (t: string) => void err.push(t), isTTY: false },
    env: {},
    signal: new AbortController().signal,
  });
  return { code, out: out.join(''), err: err.join('') };
}

function status(dir: string, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  return run(['status', '--from', `file://${dir}`, ...extra]);
}

const fresh: Backup[] = [
  { database: 'app', hoursAgo: 2, bytes: 1100, verify: { ok: true, hoursAgo: 1 } },
  { database: 'app', hoursAgo: 26, bytes: 1000 },
  { database: 'app', hoursAgo: 50, bytes: 1000 },
  { database: 'shop', hoursAgo: 5, bytes: 500, verify: { ok: true, verdict: 'verified', hoursAgo: 4 } },
];

test('fresh and verified: one line per database with age, size, trend and verify; exit 0', async () => {
  const dir = await catalog(fresh);
  try {
    const r = await status(dir);
    assert.equal(r.code, 0, r.out + r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /^app +2\.0h ago +1\.1 KiB +\+10\.0% vs 2 before +1m05s +verified ✓ 1\.0h ago +OK$/);
    assert.match(lines[2]!, /^shop +5\.0h ago +500 B +- +1m05s +verified ✓ 4\.0h ago +OK$/);
    const json = JSON.parse((await status(dir, '--json')).out) as {
      ok: boolean;
      databases: { database: string; trend: { changePercent: number } | null }[];
    };
    assert.equal(json.ok, true);
    assert.equal(Math.round(json.databases[0]!.trend!.changePercent), 10);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a backup older than --max-age: exit 1 naming the database and the age', async () => {
  const dir = await catalog([
    ...fresh.filter((b) => b.database !== 'shop'),
    { database: 'shop', hoursAgo: 30, bytes: 500, verify: { ok: true, hoursAgo: 29 } },
  ]);
  try {
    const r = await status(dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /shop .*FAIL: newest backup is 30\.0h old \(limit 26\.0h\)/);
    assert.match(r.err, /1 of 2 database\(s\) outside the limits/);
    assert.equal((await status(dir, '--max-age', '2d')).code, 0, 'within a looser limit');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a verify older than --max-verify-age, or none: exit 1; --max-verify-age off ignores it', async () => {
  const dir = await catalog([
    { database: 'app', hoursAgo: 2, bytes: 100 },
    { database: 'app', hoursAgo: 9 * 24, bytes: 100, verify: { ok: true, hoursAgo: 9 * 24 - 1 } },
    { database: 'shop', hoursAgo: 1, bytes: 100 },
  ]);
  try {
    const r = await status(dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /app .*FAIL: last successful verify is 9\.0d old \(limit 8\.0d\)/);
    assert.match(r.out, /shop .*never +FAIL: never verified successfully/);
    assert.equal((await status(dir, '--max-verify-age', '10d', '--database', 'app')).code, 0);
    assert.equal((await status(dir, '--max-verify-age', 'off')).code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the newest verify failed: exit 1 even though an older one passed and a newer backup exists', async () => {
  const dir = await catalog([
    { database: 'app', hoursAgo: 1, bytes: 100 },
    { database: 'app', hoursAgo: 20, bytes: 100, verify: { ok: false, verdict: 'failed', hoursAgo: 2 } },
    { database: 'app', hoursAgo: 44, bytes: 100, verify: { ok: true, hoursAgo: 40 } },
  ]);
  try {
    const r = await status(dir);
    assert.equal(r.code, 1);
    assert.match(r.out, /app .*FAILED ✗ 2\.0h ago +FAIL: newest verify FAILED/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no backups at all, or only an unfinished one: exit 1', async () => {
  const empty = await catalog([]);
  const unfinished = await catalog([{ database: 'app', hoursAgo: 1, bytes: 100, noManifest: true }]);
  try {
    const r = await status(empty);
    assert.equal(r.code, 1);
    assert.match(r.out, /no backups under file:\/\//);
    assert.match(r.err, /no backups under/);
    const u = await status(unfinished, '--max-verify-age', 'off');
    assert.equal(u.code, 1);
    assert.match(u.out, /app +none .*FAIL: no complete backup/);
  } finally {
    await rm(empty, { recursive: true, force: true });
    await rm(unfinished, { recursive: true, force: true });
  }
});

test('bad input: exit 2 (bad duration, missing --from, unknown flag); --help documents the exit codes', async () => {
  const dir = await catalog(fresh);
  try {
    const bad = await status(dir, '--max-age', 'yesterday');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--max-age.*must be a duration such as 26h/);
    assert.equal((await status(dir, '--max-verify-age', '-3d')).code, 2);
    assert.equal((await status(dir, '--since', '2026-01-01')).code, 2);
    const noFrom = await run(['status']);
    assert.equal(noFrom.code, 2);
    assert.match(noFrom.err, /--from.*is required/);
    const help = await run(['status', '--help']);
    assert.match(help.out, /Exit codes: 0 every database is within the limits, 1 .*--max-age.*, 2 invalid arguments/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(DAY, 86_400_000);
});
