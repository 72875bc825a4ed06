import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { streamToStore } from '../../../../src/core/backup/stream-to-store.ts';
import { readStreamInto } from '../../../../src/postgres/output-socket.ts';
import { AbortedError, ArchiveFormatError, ToolProcessError } from '../../../../src/core/errors.ts';
import type { ExitStatus, RunningTool } from '../../../../src/core/ports/database-source.ts';
import { FileStore } from '../../../../src/storage/file.ts';

const archive = readFileSync(new URL('../../../fixtures/pg18-small.dump', import.meta.url));
const opts = { contentType: 'x', metadata: {}, tags: {}, partSize: 5 * 1024 * 1024, queueSize: 1, expectArchive: true, signal: undefined };

/** A process stand-in: writes `chunks`, then exits with `status`; kill() ends it with a signal. */
function fakeTool(
  chunks: Buffer[],
  status: Omit<ExitStatus, 'stderrTail'> & { stderrTail?: string },
  holdOpen = false,
): RunningTool & { killed: string[] } {
  const stdout = new PassThrough();
  let resolveExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (resolveExit = r));
  const killed: string[] = [];
  setImmediate(() => {
    for (const c of chunks) stdout.write(c);
    if (!holdOpen) {
      stdout.end();
      resolveExit({ stderrTail: '', ...status });
    }
  });
  return {
    tool: 'pg_dump',
    pid: 1,
    readOutput: (consume) => readStreamInto(stdout, consume),
    exited,
    killed,
    kill(sig = 'SIGTERM') {
      killed.push(sig);
      stdout.end();
      resolveExit({ code: null, signal: sig, stderrTail: '' });
    },
  };
}

async function withStore(fn: (store: FileStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-store-'));
  try {
    await fn(new FileStore(dir), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

test('success: the object is exactly the stream and the hash matches', async () => {
  await withStore(async (store, dir) => {
    const r = await streamToStore(
      fakeTool([archive.subarray(0, 100), archive.subarray(100)], { code: 0, signal: null }),
      store,
      'db/x.dump',
      opts,
    );
    assert.equal(r.bytes, archive.length);
    assert.equal(r.sha256, createHash('sha256').update(archive).digest('hex'));
    assert.deepEqual(await readFile(path.join(dir, 'db/x.dump')), archive);
    assert.deepEqual(r.toc?.header.databaseName, 'fixture');
  });
});

test('non-zero exit after output: error carries code and stderr, nothing stored', async () => {
  await withStore(async (store, dir) => {
    await assert.rejects(
      streamToStore(fakeTool([archive], { code: 1, signal: null, stderrTail: 'pg_dump: error: query failed' }), store, 'db/x.dump', opts),
      (err: unknown) => err instanceof ToolProcessError && err.exitStatus === 1 && /query failed/.test(err.message),
    );
    assert.deepEqual(await files(dir), []);
  });
});

test('killed by a signal: error names the signal, nothing stored', async () => {
  await withStore(async (store, dir) => {
    await assert.rejects(
      streamToStore(fakeTool([archive.subarray(0, 500)], { code: null, signal: 'SIGKILL' }), store, 'db/x.dump', opts),
      (err: unknown) => err instanceof ToolProcessError && err.signal === 'SIGKILL' && /killed by SIGKILL/.test(err.message),
    );
    assert.deepEqual(await files(dir), []);
  });
});

test('exit 0 with a non-archive or nothing: refused', async () => {
  await withStore(async (store, dir) => {
    await assert.rejects(
      streamToStore(fakeTool([Buffer.from('hello world, not a dump')], { code: 0, signal: null }), store, 'db/a.dump', opts),
      ArchiveFormatError,
    );
    await assert.rejects(streamToStore(fakeTool([], { code: 0, signal: null }), store, 'db/b.dump', opts), ArchiveFormatError);
    await assert.rejects(
      streamToStore(fakeTool([archive.subarray(0, 200)], { code: 0, signal: null }), store, 'db/c.dump', opts),
      ArchiveFormatError,
    );
    assert.deepEqual(await files(dir), []);
  });
});

test('cancellation kills the tool and stores nothing', async () => {
  await withStore(async (store, dir) => {
    const ac = new AbortController();
    const tool = fakeTool([archive.subarray(0, 1000)], { code: 0, signal: null }, true);
    setTimeout(() => ac.abort(new AbortedError('time budget exhausted')), 50);
    await assert.rejects(streamToStore(tool, store, 'db/x.dump', { ...opts, signal: ac.signal }), /time budget exhausted/);
    assert.deepEqual(tool.killed, ['SIGTERM']);
    assert.deepEqual(await files(dir), []);
  });
});
