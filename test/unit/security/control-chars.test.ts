// Bucket content reaches the terminal only with its control characters made visible: a database name decoded
// from a key (percent-encoding allows any byte), a verify record's summary, an error quoting either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { escapedOutput, main } from '../../../src/cli/main.ts';
import { backupKeys } from '../../../src/core/catalog/keys.ts';
import { serializeManifest } from '../../../src/core/catalog/manifest.ts';
import { escapeControl } from '../../../src/core/escape.ts';
import { testManifest } from '../../support/fixture-store.ts';

/** A verify record as `verify` writes it (verify-record.ts keeps its serializer private). */
function serializeVerifyRecord(r: object): string {
  return `${JSON.stringify({ schema: 'rds-s3-backup/verify@1', ...r, tool: { name: 'rds-s3-backup', version: '0.1.0' } }, null, 2)}\n`;
}

// OSC 0 (window title), OSC 8 (a link), CSI (cursor up, erase line), a C1 CSI, BEL.
const EVIL = '\x1b]0;owned\x07\x1b[1A\x1b[2K\x9b31m';
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the purpose
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test('escapeControl keeps newline and tab, shows the rest', () => {
  assert.equal(escapeControl(`a\tb\nc${EVIL}`), 'a\tb\nc\\u001b]0;owned\\u0007\\u001b[1A\\u001b[2K\\u009b31m');
  let out = '';
  const o = escapedOutput({
    write: (t) => {
      out += t;
    },
    isTTY: true,
  });
  o.write('\r\x1b[2K'); // the live line's own clear sequence passes
  o.write(`x${EVIL}\n`);
  assert.equal(out, '\r\x1b[2Kx\\u001b]0;owned\\u0007\\u001b[1A\\u001b[2K\\u009b31m\n');
});

// Before: list wrote the decoded name and the record's summary raw.
test('list shows a database name and a verify record with control characters escaped', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-ctrl-'));
  try {
    const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));
    const id = '20261124T030000Z-0000000a';
    const db = `app${EVIL}`;
    const k = backupKeys('', 'database', db, id);
    const m = testManifest({
      key: k.data,
      body: archive,
      id,
      database: db,
      server: { version: `18.4${EVIL}`, versionNum: 180004, host: null },
      contentType: 'x',
    });
    const record = serializeVerifyRecord({
      ok: true,
      verifiedAt: '2026-11-24T04:00:00.000Z',
      mode: 'restore',
      summary: EVIL,
      backup: { id, database: db, key: k.data, sha256: m.object.sha256, bytes: m.object.bytes },
      server: null,
      checks: { sha256: true, toc: null, restore: true, tables: 1, rowCounts: null },
      mismatches: [],
      durationMs: 1,
    });
    await mkdir(path.dirname(path.join(root, k.data)), { recursive: true });
    await writeFile(path.join(root, k.data), archive);
    await writeFile(path.join(root, k.manifest), serializeManifest(m));
    await writeFile(path.join(root, k.verify), record);
    for (const json of [false, true]) {
      let out = '';
      let err = '';
      const code = await main(['list', '--from', `file://${root}`, ...(json ? ['--json'] : [])], {
        stdout: {
          write: (t) => {
            out += t;
          },
          isTTY: true,
        },
        stderr: {
          write: (t) => {
            err += t;
          },
          isTTY: true,
        },
        env: {},
      });
      assert.equal(code, 0, err);
      assert.ok(!RAW.test(out), `raw control characters in ${json ? 'JSON' : 'table'} output: ${JSON.stringify(out)}`);
      assert.match(out, /app\\u001b\]0;owned/);
      if (json)
        assert.equal((JSON.parse(out) as { backups: { database: string }[] }).backups[0]!.database, db, 'JSON still means the same string');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
