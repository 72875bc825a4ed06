// Parallel ranged reads put back in order: range planning, in-order assembly whatever order the ranges finish in,
// positional writes, the memory bound (never more than `concurrency` ranges ahead), the ETag pin, and failures
// (a changed object, a broken or short range, a cancelled download) that must stop every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, IntegrityError, ObjectChangedError, StorageError } from '../../../../src/core/errors.ts';
import type { RangedReads, RangeRead } from '../../../../src/core/ports/store.ts';
import { planRanges, readRanges, worthRanging } from '../../../../src/core/restore/ranged-download.ts';

type Call = { start: number; end: number; ifMatch: string | undefined; signal: AbortSignal | undefined };

type FakeOptions = {
  partSize: number;
  concurrency: number;
  /** ms before the response of the range starting at `start` */
  delay?: (start: number) => number;
  /** The object's ETag when the n-th request (0-based) arrives. */
  etag?: (n: number) => string;
  /** Replaces the body of the range starting at `start`. */
  body?: (start: number, bytes: Buffer) => Readable | undefined;
  objectBytes?: number;
  /** Bytes per body chunk (default 7: many chunks per range). */
  piece?: number;
};

type Fake = RangedReads & { calls: Call[]; bodies: Readable[]; inFlight: () => number; maxInFlight: () => number };

function fakeRanged(data: Buffer, o: FakeOptions): Fake {
  const calls: Call[] = [];
  const bodies: Readable[] = [];
  let inFlight = 0;
  let max = 0;
  return {
    partSize: o.partSize,
    concurrency: o.concurrency,
    calls,
    bodies,
    inFlight: () => inFlight,
    maxInFlight: () => max,
    async readRange(_key, start, end, opts): Promise<RangeRead> {
      const n = calls.length;
      calls.push({ start, end, ifMatch: opts.ifMatch, signal: opts.signal });
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        await sleep(o.delay?.(start) ?? 0, undefined, { signal: opts.signal });
      } catch (err) {
        inFlight--;
        throw err;
      }
      const etag = o.etag?.(n) ?? '"v1"';
      if (opts.ifMatch !== undefined && opts.ifMatch !== etag) {
        inFlight--;
        throw new ObjectChangedError(`k (bytes ${start}-${end}) changed`);
      }
      const bytes = data.subarray(start, end + 1);
      const pieces: Buffer[] = [];
      const piece = o.piece ?? 7;
      for (let i = 0; i < bytes.length; i += piece) pieces.push(bytes.subarray(i, i + piece));
      const body = o.body?.(start, bytes) ?? Readable.from(pieces);
      body.once('close', () => inFlight--);
      bodies.push(body);
      return { body, etag, objectBytes: o.objectBytes ?? data.length };
    },
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('planRanges: fixed-size ranges with inclusive ends, the last one the rest', () => {
  assert.deepEqual(planRanges(10, 4), [
    { start: 0, end: 3 },
    { start: 4, end: 7 },
    { start: 8, end: 9 },
  ]);
  assert.deepEqual(planRanges(8, 4), [
    { start: 0, end: 3 },
    { start: 4, end: 7 },
  ]);
  assert.deepEqual(planRanges(3, 4), [{ start: 0, end: 2 }]);
  assert.deepEqual(planRanges(0, 4), []);
  assert.throws(() => planRanges(10, 0), RangeError);
});

test('worthRanging: only stores that offer ranges, only objects of two parts or more, only with concurrency', () => {
  const r = fakeRanged(Buffer.alloc(0), { partSize: 100, concurrency: 4 });
  assert.equal(worthRanging(199, r), false);
  assert.equal(worthRanging(200, r), true);
  assert.equal(worthRanging(10_000, undefined), false);
  assert.equal(worthRanging(10_000, { ...r, concurrency: 1 }), false);
});

test('ranges finishing in reverse order come out in order, each written at its offset; later ranges carry the ETag', async () => {
  const data = randomBytes(1000);
  // Earlier ranges answer later: the assembly must wait for them, not pass on what came first.
  const ranged = fakeRanged(data, { partSize: 100, concurrency: 4, delay: (start) => (1000 - start) / 20 });
  const file = Buffer.alloc(data.length);
  const writes: number[] = [];
  const out = await collect(
    readRanges(ranged, {
      key: 'k',
      bytes: data.length,
      writeAt: async (c, at) => {
        writes.push(at);
        c.copy(file, at);
      },
    }),
  );
  assert.ok(out.equals(data), 'the bytes in order');
  assert.ok(file.equals(data), 'the positional writes rebuild the object');
  assert.deepEqual(
    ranged.calls.map((c) => c.start),
    [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
  );
  assert.equal(ranged.calls[0]!.ifMatch, undefined, 'the first range learns the ETag');
  assert.ok(
    ranged.calls.slice(1).every((c) => c.ifMatch === '"v1"'),
    'every other range is pinned to it',
  );
  assert.ok(ranged.maxInFlight() > 1, `ranges overlapped (max ${ranged.maxInFlight()} in flight)`);
  assert.ok(ranged.maxInFlight() <= 4, `never more than 4 in flight (max ${ranged.maxInFlight()})`);
  assert.ok(
    writes.some((at, i) => i > 0 && at < writes[i - 1]!),
    'writes happened out of order (as the ranges arrived), not after reordering',
  );
});

test('memory stays bounded: a consumer that stops reading stops the download after `concurrency` ranges', async () => {
  // Ranges larger than the stream's own buffer (64 KiB), which is filled ahead of the consumer as with any stream.
  const data = randomBytes(2 * 1024 * 1024);
  const ranged = fakeRanged(data, { partSize: 128 * 1024, concurrency: 3, piece: 4096 });
  const stream = readRanges(ranged, { key: 'k', bytes: data.length });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  await sleep(50);
  // The iterator took one buffer's worth and the stream refilled its own: part 0 may be passed, not more.
  const bound = 3 + 1;
  assert.ok(ranged.calls.length <= bound, `only the window of ranges was requested (${ranged.calls.length} of 16)`);
  await sleep(50);
  assert.ok(ranged.calls.length <= bound, `still only the window (${ranged.calls.length} of 16)`);
  stream.destroy();
});

test('the object replaced between ranges ⇒ ObjectChangedError, every other request cancelled', async () => {
  const data = randomBytes(1000);
  // The third request sees a new ETag; a slow first range keeps the others in flight meanwhile.
  const ranged = fakeRanged(data, {
    partSize: 100,
    concurrency: 4,
    etag: (n) => (n >= 2 ? '"v2"' : '"v1"'),
    delay: (start) => (start === 100 ? 200 : 0),
  });
  await assert.rejects(collect(readRanges(ranged, { key: 'k', bytes: data.length })), ObjectChangedError);
  assert.ok(
    ranged.calls.every((c) => c.signal?.aborted),
    'every request was cancelled',
  );
});

test('a range whose body breaks ⇒ StorageError naming the object and the range; the others are cancelled', async () => {
  const data = randomBytes(1000);
  const ranged = fakeRanged(data, {
    partSize: 100,
    concurrency: 4,
    body: (start, bytes) =>
      start === 200
        ? new Readable({
            read() {
              this.push(bytes.subarray(0, 30));
              this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
            },
          })
        : undefined,
    delay: (start) => (start === 300 ? 10_000 : 0),
  });
  await assert.rejects(collect(readRanges(ranged, { key: 'k', bytes: data.length })), (e: Error) => {
    assert.ok(e instanceof StorageError, String(e));
    assert.match(e.message, /reading k failed in bytes 200-299 \(after 30 of that range's 100 bytes\): read ECONNRESET/);
    return true;
  });
  assert.ok(ranged.calls.find((c) => c.start === 300)?.signal?.aborted, 'the pending range was cancelled');
});

test('a range shorter than asked ⇒ StorageError, never a silently shorter object', async () => {
  const data = randomBytes(1000);
  const ranged = fakeRanged(data, {
    partSize: 100,
    concurrency: 2,
    body: (start, b) => (start === 500 ? Readable.from([b.subarray(0, 99)]) : undefined),
  });
  await assert.rejects(collect(readRanges(ranged, { key: 'k', bytes: data.length })), /bytes 500-599 .*ended after 99 of 100 bytes/);
});

test('an object whose size differs from the manifest ⇒ IntegrityError on the first range', async () => {
  const data = randomBytes(1000);
  const ranged = fakeRanged(data, { partSize: 100, concurrency: 4, objectBytes: 1001 });
  await assert.rejects(collect(readRanges(ranged, { key: 'k', bytes: data.length })), IntegrityError);
  assert.equal(ranged.calls.length, 1, 'no other range was asked for');
});

test('the caller aborting ⇒ AbortedError at once, every request in flight cancelled, every body destroyed', async () => {
  const data = randomBytes(1000);
  const ranged = fakeRanged(data, { partSize: 100, concurrency: 4, delay: (start) => (start === 0 ? 0 : 60_000) });
  const ac = new AbortController();
  const stream = readRanges(ranged, { key: 'k', bytes: data.length, signal: ac.signal });
  const done = collect(stream);
  while (ranged.calls.length < 4) await sleep(5);
  const t0 = Date.now();
  ac.abort();
  await assert.rejects(done, AbortedError);
  assert.ok(Date.now() - t0 < 1000, 'promptly');
  assert.ok(ranged.calls.every((c) => c.signal?.aborted));
  assert.ok(ranged.bodies.every((b) => b.destroyed));
});
