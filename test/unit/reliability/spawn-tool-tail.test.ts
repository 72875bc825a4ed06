// The stderr tail is what users read when pg_dump fails: the error line must survive pg_dump's very long lines
// (it echoes LOCK TABLE with every table of the database), and a secret must never be cut in half by the clipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnTool } from '../../../src/postgres/spawn-tool.ts';
import { registerSecret } from '../../../src/core/redact.ts';

async function tailOf(script: string): Promise<string> {
  const proc = await spawnTool('pg_dump', '/bin/sh', ['-c', script], { PATH: '/usr/bin:/bin' });
  await proc.readOutput(() => undefined);
  return (await proc.exited).stderrTail;
}

test('the error survives a 200 kB line after it (pg_dump: detail: Query was: LOCK TABLE ...)', async () => {
  const tail = await tailOf(
    `echo 'pg_dump: error: query failed: ERROR:  out of shared memory' >&2; echo "pg_dump: detail: Query was: LOCK TABLE public.t$(seq -s ', public.t' 0 12000) IN ACCESS SHARE MODE" >&2; exit 1`,
  );
  assert.match(tail, /out of shared memory/);
  assert.match(tail, /Query was: LOCK TABLE public\.t0, public\.t1,/);
  assert.match(tail, /… \(\d+ more characters\)/);
  assert.ok(tail.length < 2000, `tail is ${tail.length} characters`);
});

test('only the last 20 lines are kept', async () => {
  const tail = await tailOf('for i in $(seq 1 100); do echo "line $i" >&2; done; exit 1');
  const lines = tail.split('\n');
  assert.equal(lines.length, 20);
  assert.equal(lines.at(-1), 'line 100');
});

test('a secret straddling the clipping point is redacted, not cut in half', async () => {
  const secret = 'Straddle-Secret-0123456789-abcdefghij';
  registerSecret(secret);
  const tail = await tailOf(`printf '%0390d${secret}%05000d\\n' 0 0 >&2; exit 1`);
  assert.ok(!tail.includes(secret.slice(0, 8)), tail.slice(0, 500));
  assert.match(tail, /\[REDACTED\]/);
});
