// Races in the pipeline that the integration tests hit only sometimes, made deterministic with stand-ins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { streamToStore } from '../../../src/core/backup/stream-to-store.ts';
import { readStreamInto } from '../../../src/postgres/output-socket.ts';
import { StorageError, ToolProcessError } from '../../../src/core/errors.ts';
import type { ExitStatus, RunningTool } from '../../../src/core/ports/database-source.ts';
import type { BackupStore, UploadSink } from '../../../src/core/ports/store.ts';

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
    readOutput: (consume) => readStreamInto(stdout, consume),
    exited,
    kill(signal = 'SIGTERM') {
      stdout.destroy();
      finish({ code: null, signal, stderrTail: '' });
    },
  };
}

/** A store that, after a part failed for good, refuses the next write at once and rejects `done` later. */
function failingStore(delayMs: number, error: StorageError): BackupStore {
  return {
    url: 'mem://',
    prefix: '',
    openUpload(): UploadSink {
      let rejectDone!: (err: Error) => void;
      const done = new Promise<never>((_resolve, reject) => (rejectDone = reject));
      done.catch(() => undefined);
      let failed = false;
      return {
        write() {
          if (!failed) {
            failed = true;
            setTimeout(() => rejectDone(error), delayMs);
          }
          return Promise.reject(new Error('part 1 failed'));
        },
        end: () => undefined,
        abort: () => undefined,
        done,
        uploadedBytes: () => 0,
      };
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
  const aborts: Error[] = [];
  let ended = false;
  // A store whose upload only ends when it is aborted, like a hung final request.
  const store: BackupStore = {
    url: 'mem://',
    prefix: '',
    openUpload(): UploadSink {
      let rejectDone!: (err: Error) => void;
      const done = new Promise<never>((_resolve, reject) => (rejectDone = reject));
      done.catch(() => undefined);
      return {
        write: () => undefined,
        end: () => {
          ended = true;
        },
        abort(reason) {
          aborts.push(reason);
          rejectDone(new StorageError('request aborted'));
        },
        done,
        uploadedBytes: () => 0,
      };
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
    readOutput: (consume) => readStreamInto(stdout, consume),
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
  assert.ok(ended, 'the upload was ended before the cancellation');
  assert.equal(aborts.length, 1, 'the upload is aborted');
  assert.ok(err instanceof Error && err.name === 'AbortedError', `got ${String(err)}`);
});
