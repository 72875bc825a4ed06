// psql gets archive content only in restricted mode: the globals script and the pg_restore script guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UnsafeContentError } from '../../../src/core/errors.ts';
import { assertRestricted, newRestrictKey, RestrictGuard, restrictedGlobalsScript } from '../../../src/postgres/psql-restrict.ts';

const DUMPALL = [
  '--',
  '-- PostgreSQL database cluster dump',
  '--',
  '',
  '\\restrict abcDEF123',
  '',
  'SET default_transaction_read_only = off;',
  'CREATE ROLE app;',
  '',
  '\\unrestrict abcDEF123',
  '',
].join('\n');

test('keys are fresh, alphanumeric and long', () => {
  const keys = new Set(Array.from({ length: 100 }, newRestrictKey));
  assert.equal(keys.size, 100);
  for (const k of keys) assert.match(k, /^[A-Za-z0-9]{30}$/);
});

test("globals: our \\restrict comes first, pg_dumpall's own restrict lines are commented out, SQL unchanged", () => {
  const out = restrictedGlobalsScript(Buffer.from(DUMPALL), 'OURKEY', 'g').toString();
  const lines = out.split('\n');
  assert.equal(lines[0], '\\restrict OURKEY');
  assert.equal(lines.filter((l) => l.startsWith('\\')).length, 1);
  assert.ok(lines.includes('CREATE ROLE app;'));
});

test('globals with a meta-command anywhere a line starts are refused whole, naming the line', () => {
  for (const evil of ['\\! touch /tmp/pwned', '  \\o |sh', '\t\\copy x to /etc/passwd', '\\unrestrict abc;\\! id', '\\connect other']) {
    const sql = DUMPALL.replace('CREATE ROLE app;', `CREATE ROLE app;\n${evil}`);
    assert.throws(
      () => restrictedGlobalsScript(Buffer.from(sql), 'K', 'globals backup X'),
      (e: Error) =>
        e instanceof UnsafeContentError && /globals backup X contains psql meta-commands/.test(e.message) && /line 9:/.test(e.message),
    );
  }
});

test('the error shows control characters from the object escaped', () => {
  assert.throws(
    () => restrictedGlobalsScript(Buffer.from('\\! echo \x1b]0;owned\x07'), 'K', 'g'),
    (e: Error) => !e.message.includes('\x1b') && e.message.includes('\\u001b'),
  );
});

async function through(key: string, chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks.map((c) => Buffer.from(c))),
    new RestrictGuard(key),
    new Writable({
      write: (c: Buffer, _e, cb) => {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out).toString();
}

test('the script guard passes a script whose first statement is our \\restrict, however it is chunked', async () => {
  const script =
    '--\n-- PostgreSQL database dump\n--\n\n\\restrict K1\n\nSET x = 1;\nCOPY t FROM stdin;\n\\! not a command: COPY data\n\\.\n\\unrestrict K1\n';
  for (const size of [1, 3, 7, 1000]) {
    const chunks: string[] = [];
    for (let i = 0; i < script.length; i += size) chunks.push(script.slice(i, i + size));
    assert.equal(await through('K1', chunks), script);
  }
});

test('the script guard refuses a script without our \\restrict first (old pg_restore, other key, statement first)', async () => {
  for (const script of ['SET x = 1;\n\\restrict K1\n', '\\restrict OTHER\nSET x = 1;\n', '-- header\n\\! id\n', '']) {
    if (script === '') {
      assert.equal(await through('K1', []), '');
      continue;
    }
    await assert.rejects(through('K1', [script]), UnsafeContentError);
  }
  assert.throws(() => assertRestricted('CREATE DATABASE x;\n', 'K'), UnsafeContentError);
  assert.doesNotThrow(() => assertRestricted('--\n\\restrict K\nCREATE DATABASE x;\n', 'K'));
});
