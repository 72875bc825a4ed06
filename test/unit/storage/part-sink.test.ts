import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UploadResult } from '../../../src/core/ports/store.ts';
import { type PartShipper, PartSink } from '../../../src/storage/part-sink.ts';
import { uploadAll } from '../../support/upload.ts';

type Log = string[];

/** A shipper that records what it was given; `hold` keeps a request pending until its signal aborts. */
function recorder(log: Log, opts: { partMs?: number; holdComplete?: boolean } = {}): PartShipper & { bytes: Buffer[] } {
  const bytes: Buffer[] = [];
  const wait = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      const cancel = (): void => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', cancel, { once: true });
    });
  return {
    bytes,
    async part(n, body, signal) {
      log.push(`part ${n} start`);
      // Copy now: the sink reuses the buffer once this settles.
      bytes[n - 1] = Buffer.from(body);
      await wait(opts.partMs ?? 2, signal);
      log.push(`part ${n} done`);
    },
    async complete(whole, signal): Promise<UploadResult> {
      log.push(whole ? `put ${whole.length}` : 'complete');
      if (whole) bytes[0] = Buffer.from(whole);
      if (opts.holdComplete) await wait(60_000, signal);
      return { versionId: 'v' };
    },
    async discard() {
      log.push('discard');
    },
  };
}

test('one chunk spanning many parts is copied in full, never more than queueSize parts in flight', async () => {
  const log: Log = [];
  const shipper = recorder(log, { partMs: 5 });
  const sink = new PartSink(shipper, { partSize: 100, queueSize: 2 });
  const data = Buffer.from(Array.from({ length: 1050 }, (_, i) => i % 251));
  const out = await uploadAll(sink, [data]);
  assert.equal(out.versionId, 'v');
  assert.deepEqual(Buffer.concat(shipper.bytes), data);
  let inFlight = 0;
  let max = 0;
  for (const line of log) {
    if (line.endsWith('start')) max = Math.max(max, ++inFlight);
    if (line.endsWith('done')) inFlight--;
  }
  assert.equal(max, 2);
  assert.equal(log.at(-1), 'complete');
  assert.equal(sink.uploadedBytes(), 1050);
});

test('abort() while the completion is in flight cancels it, discards the upload and rejects done with the reason', async () => {
  const log: Log = [];
  const sink = new PartSink(recorder(log, { holdComplete: true }), { partSize: 100, queueSize: 2 });
  assert.equal(await sink.write(Buffer.alloc(250, 1)), undefined);
  sink.end();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(log.at(-1), 'complete');
  const reason = new Error('SIGTERM');
  sink.abort(reason);
  await assert.rejects(sink.done, (err: unknown) => err === reason);
  assert.equal(log.at(-1), 'discard');
});

test('an abort that comes after the completion succeeded leaves the object: done resolves, nothing is discarded', async () => {
  const log: Log = [];
  const sink = new PartSink(recorder(log), { partSize: 100, queueSize: 2 });
  await sink.write(Buffer.alloc(50, 1));
  sink.end();
  const result = await sink.done;
  sink.abort(new Error('late'));
  assert.equal(result.versionId, 'v');
  assert.deepEqual(log, ['put 50']);
});

test('abort() while a write waits for room rejects that write and every later one', async () => {
  const log: Log = [];
  const sink = new PartSink(recorder(log, { partMs: 60_000 }), { partSize: 10, queueSize: 1 });
  const waiting = sink.write(Buffer.alloc(35, 1));
  assert.ok(waiting, 'the queue is full: the write must wait');
  sink.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  await assert.rejects(Promise.resolve(sink.write(Buffer.alloc(1))), /stop/);
  await assert.rejects(sink.done, /stop/);
  assert.equal(log.at(-1), 'discard');
});
