// Races in the pipeline that the integration tests hit only sometimes, made deterministic with stand-ins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { streamToStore } from '../../../src/core/backup/stream-to-store.ts';
import { StorageError, ToolProcessError } from '../../../src/core/errors.ts';
import type { ExitStatus, RunningTool } from '../../../src/core/ports/database-source.ts';
import type { BackupStore, UploadHandle } from '../../../src/core/ports/store.ts';

const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));
const opts = { contentType: 'x', metadata: {}, tags: {}, partSize: 5 * 1024 * 1024, queueSize: 1, expectArchive: true, signal: undefined };

/** Like pg_dump writing to a pipe: keeps writing; when its stdout is destroyed it dies with "could not write". */
function pipeWriter(): RunningTool {
  const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
  let resolveExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => (resolveExit = r));
  let done = false;
  const finish = (s: ExitStatus): void => {
    if (done) return;
    done = true;
    resolveExit(s);
  };
  stdout.on('close', () =>
    finish({ code: 1, signal: null, stderrTail: 'pg_dump: error: could not write to output file: Connection reset by peer' }),
  );
  stdout.write(archive.subarray(0, 2000));
  const filler = Buffer.alloc(64 * 1024, 1);
  const pump = (): void => {
    while (!done && !stdout.destroyed && stdout.write(filler));
    if (!done && !stdout.destroyed) stdout.once('drain', pump);
  };
  setImmediate(pump);
  return {
    tool: 'pg_dump',
    pid: undefined,
    stdout,
    exited,
    kill(signal = 'SIGTERM') {
      stdout.destroy();
      finish({ code: null, signal, stderrTail: '' });
    },
  };
}

/** A store that, like lib-storage after a part failed for good, destroys the body at once and rejects later. */
function failingStore(delayMs: number, error: StorageError): BackupStore & { bodies: Readable[] } {
  const bodies: Readable[] = [];
  return {
    url: 'mem://',
    prefix: '',
    bodies,
    upload(_key, body): UploadHandle {
      bodies.push(body);
      const done = new Promise<never>((_resolve, reject) => {
        body.once('data', () => {
          body.destroy();
          setTimeout(() => reject(error), delayMs);
        });
      });
      done.catch(() => undefined);
      return { done, uploadedBytes: () => 0 };
    },
    putSmall: async () => ({ versionId: null }),
    list: async function* () {},
    read: async () => new PassThrough(),
    listIncomplete: async () => [],
  };
}

test('a part upload failing for good is the reported cause, not the broken pipe pg_dump dies of', async () => {
  const cause = new StorageError('S3 upload of s3://b/k failed: ServiceUnavailable', { hint: 'S3 kept answering with a server error' });
  // The store's rejection arrives well after pg_dump has exited because of the destroyed pipe.
  const err = await streamToStore(pipeWriter(), failingStore(300, cause), 'k', opts).then(
    () => assert.fail('must fail'),
    (e: unknown) => e,
  );
  assert.ok(!(err instanceof ToolProcessError), `blamed pg_dump: ${String(err)}`);
  assert.equal(err, cause, 'the store error itself, hint included');
});

test('the store error keeps its hint through the pipeline (no re-wrapping)', async () => {
  const cause = new StorageError('S3 upload of s3://b/k failed: AccessDenied', { hint: 'check the IAM policy' });
  const err = (await streamToStore(pipeWriter(), failingStore(0, cause), 'k', opts).catch((e: unknown) => e)) as StorageError;
  assert.equal(err.hint, 'check the IAM policy');
});

test('a cancellation after pg_dump finished (last parts / CompleteMultipartUpload in flight) still cancels the upload', async () => {
  const signals: (AbortSignal | undefined)[] = [];
  // A store whose upload only ends when cancelled through the signal it was given, like a hung final request.
  const store: BackupStore = {
    url: 'mem://',
    prefix: '',
    upload(_key, body, options): UploadHandle {
      const signal = (options as { signal?: AbortSignal }).signal;
      signals.push(signal);
      body.resume();
      const done = new Promise<never>((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new StorageError('request aborted')), { once: true });
      });
      done.catch(() => undefined);
      return { done, uploadedBytes: () => 0 };
    },
    putSmall: async () => ({ versionId: null }),
    list: async function* () {},
    read: async () => new PassThrough(),
    listIncomplete: async () => [],
  };
  const stdout = new PassThrough();
  const tool: RunningTool = {
    tool: 'pg_dump',
    pid: undefined,
    stdout,
    exited: Promise.resolve({ code: 0, signal: null, stderrTail: '' }),
    kill: () => undefined,
  };
  stdout.end(archive);
  const controller = new AbortController();
  const pending = streamToStore(tool, store, 'k', { ...opts, signal: controller.signal });
  await new Promise((r) => setTimeout(r, 50));
  controller.abort(new Error('SIGTERM'));
  const err = await Promise.race([
    pending.then(
      () => 'resolved',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still waiting'), 2000)),
  ]);
  assert.ok(signals[0], 'the store is given the cancellation signal');
  assert.ok(err instanceof Error && err.name === 'AbortedError', `got ${String(err)}`);
});
