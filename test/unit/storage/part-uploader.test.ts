import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartSink } from '../../../src/storage/part-sink.ts';
import { multipartShipper } from '../../../src/storage/part-uploader.ts';
import { uploadAll } from '../../support/upload.ts';

type Call = { name: string; input: Record<string, unknown> };

function fakeS3(failPart?: number): { send: (c: unknown) => Promise<unknown>; calls: Call[]; maxInFlight: () => number } {
  const calls: Call[] = [];
  let inFlight = 0;
  let max = 0;
  const send = async (c: unknown): Promise<unknown> => {
    const cmd = c as { constructor: { name: string }; input: Record<string, unknown> };
    const name = cmd.constructor.name.replace(/Command$/, '');
    const body = cmd.input['Body'] as Buffer | undefined;
    // Copy: the uploader reuses its part buffers once a part is done.
    calls.push({ name, input: { ...cmd.input, ...(body ? { Body: Buffer.from(body) } : {}) } });
    if (name === 'CreateMultipartUpload') return { UploadId: 'u1' };
    if (name === 'UploadPart') {
      inFlight += 1;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      if (cmd.input['PartNumber'] === failPart) throw Object.assign(new Error('SlowDown'), { name: 'SlowDown' });
      return { ETag: `"e${String(cmd.input['PartNumber'])}"`, ChecksumCRC32: 'AAAAAA==' };
    }
    return { VersionId: 'v1' };
  };
  return { send, calls, maxInFlight: () => max };
}

const PARAMS = { Bucket: 'b', Key: 'k', IfNoneMatch: '*', Tagging: 'tier=daily' };

function s3Sink(send: (c: unknown) => Promise<unknown>, partSize: number, queueSize: number): PartSink {
  return new PartSink(multipartShipper({ send: (c) => send(c), params: PARAMS, partSize }), { partSize, queueSize });
}

function chunks(total: number, size: number): Buffer {
  return Buffer.from(Array.from({ length: total }, (_, i) => (i * 7 + Math.floor(i / size)) & 0xff));
}

test('parts are the body, in order, at most queueSize in flight; Complete carries If-None-Match and the CRC32s', async () => {
  const data = chunks(10 * 1000 + 123, 997);
  const s3 = fakeS3();
  // Odd chunk sizes so parts straddle chunks.
  const body = Array.from({ length: Math.ceil(data.length / 997) }, (_, i) => data.subarray(i * 997, (i + 1) * 997));
  const out = await uploadAll(s3Sink(s3.send, 1000, 2), body);
  assert.equal(out.versionId, 'v1');
  const parts = s3.calls.filter((c) => c.name === 'UploadPart');
  assert.equal(parts.length, 11);
  assert.deepEqual(Buffer.concat(parts.map((p) => p.input['Body'] as Buffer)), data);
  assert.ok(s3.maxInFlight() <= 2);
  const create = s3.calls.find((c) => c.name === 'CreateMultipartUpload')!;
  assert.equal(create.input['Tagging'], 'tier=daily');
  const complete = s3.calls.at(-1)!;
  assert.equal(complete.name, 'CompleteMultipartUpload');
  assert.equal(complete.input['IfNoneMatch'], '*');
  const listed = (complete.input['MultipartUpload'] as { Parts: Array<{ PartNumber: number; ChecksumCRC32?: string }> }).Parts;
  assert.deepEqual(
    listed.map((p) => p.PartNumber),
    Array.from({ length: 11 }, (_, i) => i + 1),
  );
  assert.ok(listed.every((p) => p.ChecksumCRC32 === 'AAAAAA=='));
});

test('a body of exactly one part (or less, or nothing) is one PutObject with If-None-Match', async () => {
  for (const size of [1000, 10, 0]) {
    const s3 = fakeS3();
    await uploadAll(s3Sink(s3.send, 1000, 2), size ? [chunks(size, 1)] : []);
    assert.deepEqual(
      s3.calls.map((c) => c.name),
      ['PutObject'],
    );
    assert.equal((s3.calls[0]!.input['Body'] as Buffer).length, size);
    assert.equal(s3.calls[0]!.input['IfNoneMatch'], '*');
  }
});

test('a failing part aborts the upload, refuses further writes at once and rejects with the part error', async () => {
  const s3 = fakeS3(2);
  const sink = s3Sink(s3.send, 1000, 2);
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    try {
      await sink.write(chunks(500, 1));
    } catch {
      refused = true;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.ok(refused, 'a write is refused, so the producer stops');
  await assert.rejects(sink.done, /SlowDown/);
  assert.equal(s3.calls.at(-1)!.name, 'AbortMultipartUpload');
  assert.ok(!s3.calls.some((c) => c.name === 'CompleteMultipartUpload'));
});

test('memory stays flat: part buffers are reused (queueSize + 1 of them), not allocated per part', async () => {
  const s3 = fakeS3();
  const seen = new Set<ArrayBufferLike>();
  const send = async (c: unknown): Promise<unknown> => {
    const body = (c as { input: { Body?: Buffer } }).input.Body;
    if (body?.length) seen.add(body.buffer);
    return s3.send(c);
  };
  const data = chunks(50 * 1000, 100);
  await uploadAll(s3Sink(send, 1000, 2), [data]);
  assert.ok(seen.size <= 3, `${seen.size} distinct part buffers for 50 parts`);
});

test('an abort while CreateMultipartUpload is in flight waits for its UploadId and aborts the upload it opened', async () => {
  const calls: string[] = [];
  let releaseCreate!: () => void;
  const createGate = new Promise<void>((r) => (releaseCreate = r));
  const send = async (c: unknown, signal: AbortSignal | undefined): Promise<unknown> => {
    const name = (c as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
    calls.push(`${name}${signal ? ' (cancellable)' : ''}`);
    // Like S3: the create lands whatever the client does meanwhile.
    if (name === 'CreateMultipartUpload') return createGate.then(() => ({ UploadId: 'u1' }));
    if (name === 'UploadPart') throw new Error('not reached: the part starts after the abort');
    return {};
  };
  const sink = new PartSink(multipartShipper({ send, params: PARAMS, partSize: 10 }), { partSize: 10, queueSize: 2 });
  assert.equal(sink.write(Buffer.alloc(25, 1)), undefined);
  await new Promise((r) => setTimeout(r, 10));
  sink.abort(new Error('pg_dump failed'));
  await new Promise((r) => setTimeout(r, 10));
  releaseCreate();
  await assert.rejects(sink.done, /pg_dump failed/);
  assert.deepEqual(calls, ['CreateMultipartUpload', 'AbortMultipartUpload']);
});
