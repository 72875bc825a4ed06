// A tool's stdout through spawnTool: a socket read into one reused buffer. Real processes, no stand-ins.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openSocketOutput } from '../../../src/postgres/output-socket.ts';
import { spawnTool } from '../../../src/postgres/spawn-tool.ts';

const ENV = { PATH: '/usr/bin:/bin' };
// 24 MiB of a repeating, position-dependent pattern, written by a real process in odd-sized writes.
const SCRIPT = `i=0; while [ $i -lt 96 ]; do printf 'block %05d ' $i; head -c 262131 /dev/zero | tr '\\0' "$(printf \\\\$(( (i % 7) + 101 )))"; i=$((i+1)); done`;

/** The same script's output read the ordinary way, in one piece. */
function expected(): string {
  return createHash('sha256')
    .update(execFileSync('/bin/sh', ['-c', SCRIPT], { env: ENV, maxBuffer: 64 * 1024 * 1024 }))
    .digest('hex');
}

test('every chunk is a view of the same reused buffer, and the bytes arrive whole and in order', async () => {
  const proc = await spawnTool('pg_dump', '/bin/sh', ['-c', SCRIPT], ENV);
  const hash = createHash('sha256');
  const buffers = new Set<ArrayBufferLike>();
  let reads = 0;
  await proc.readOutput((chunk) => {
    buffers.add(chunk.buffer);
    reads += 1;
    hash.update(chunk);
    return undefined;
  });
  assert.equal((await proc.exited).code, 0);
  assert.equal(hash.digest('hex'), expected());
  assert.equal(buffers.size, 1, `${buffers.size} distinct buffers for ${reads} reads`);
});

test('a consumer that returns a promise holds the reading back, and the chunk is untouched until it settles', async () => {
  const proc = await spawnTool('pg_dump', '/bin/sh', ['-c', SCRIPT], ENV);
  const hash = createHash('sha256');
  let slow = 0;
  await proc.readOutput((chunk) => {
    const before = createHash('sha256').update(chunk).digest('hex');
    if (slow++ % 3 !== 0) {
      hash.update(chunk);
      return undefined;
    }
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        // Had the socket kept reading, the next read would have overwritten this view by now.
        assert.equal(createHash('sha256').update(chunk).digest('hex'), before);
        hash.update(chunk);
        resolve();
      }, 5),
    );
  });
  assert.equal((await proc.exited).code, 0);
  assert.equal(hash.digest('hex'), expected());
});

test('a consumer that throws stops the reading and closes the output: the tool fails on its next write', async () => {
  // `yes` writes forever; it only ends when its stdout is closed.
  const proc = await spawnTool('pg_dump', '/usr/bin/yes', [], ENV);
  let seen = 0;
  const stop = new Error('enough');
  await assert.rejects(
    proc.readOutput((chunk) => {
      seen += chunk.length;
      if (seen > 1024 * 1024) throw stop;
      return undefined;
    }),
    (err: unknown) => err === stop,
  );
  const status = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
  assert.notEqual(status, 'still running', 'the tool noticed its closed output');
});

test('the socket exists only while it is set up: its private directory is gone before the tool runs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-out-sock-'));
  try {
    const output = await openSocketOutput(dir);
    assert.deepEqual(await readdir(dir), []);
    output.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a writable temp directory the output falls back to a pipe (slower, but the backup runs)', async () => {
  await assert.rejects(openSocketOutput('/nonexistent-dir-for-rsb'));
  // os.tmpdir() is where spawnTool makes its socket.
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = '/nonexistent-dir-for-rsb';
  let proc: Awaited<ReturnType<typeof spawnTool>>;
  try {
    proc = await spawnTool('pg_dump', '/bin/sh', ['-c', 'printf hello'], ENV);
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
  const parts: string[] = [];
  await proc.readOutput((chunk) => {
    parts.push(chunk.toString());
    return undefined;
  });
  assert.equal(parts.join(''), 'hello');
});

test('output written before anyone reads (pg_dump starts before the upload opens) is all there when reading starts', async () => {
  const proc = await spawnTool('pg_dump', '/bin/sh', ['-c', 'printf "early bytes"'], ENV);
  // The tool has exited and closed its end before a consumer is attached.
  assert.equal((await proc.exited).code, 0);
  await new Promise((r) => setTimeout(r, 50));
  const parts: string[] = [];
  await proc.readOutput((chunk) => {
    parts.push(chunk.toString());
    return undefined;
  });
  assert.equal(parts.join(''), 'early bytes');
  await assert.rejects(
    proc.readOutput(() => undefined),
    /already called/,
  );
});
