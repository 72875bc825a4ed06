// The download step before `restore --jobs`: one GET versus parallel ranged GETs (8 MiB × 4), each hashed in order
// and written to a temporary file (not part of the test suite).
//   npx node bench/ranged-download-bench.ts            # SIZE_MIB=256 REPS=3
// Prints wall time per variant (the memory bound is proven by test/unit/core/restore/ranged-download.test.ts). Sources:
//   moto        — the real SDK against moto. moto reads (and copies) the whole object for every ranged GET, under a
//                 lock, so ranges cost O(object) each there: this row shows moto's limit, not S3's.
//   memory      — the object from memory, no network: the cost of the in-order assembly + positional writes.
//   throttled   — memory, each connection limited to THROTTLE_MIB_S (default 40 MiB/s, a simulated per-connection
//                 S3 throughput): what overlapping ranges buy when one connection, not the disk, is the limit.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RangedReads } from '../src/core/ports/store.ts';
import { readRanges } from '../src/core/restore/ranged-download.ts';
import { createS3Client, S3Store } from '../src/storage/s3.ts';
import { startMoto } from '../test/support/moto.ts';

const SIZE = Number(process.env.SIZE_MIB ?? 256) * 1024 * 1024;
const REPS = Number(process.env.REPS ?? 3);
const THROTTLE = Number(process.env.THROTTLE_MIB_S ?? 40) * 1024 * 1024;

/** `bytes` in 64 KiB chunks, at most `perSecond` bytes per second (Infinity: as fast as it is read). */
function paced(bytes: Buffer, perSecond: number): Readable {
  return Readable.from(
    (async function* () {
      const t0 = performance.now();
      for (let i = 0; i < bytes.length; i += 65536) {
        const due = (i / perSecond) * 1000 - (performance.now() - t0);
        if (due > 1) await sleep(due);
        yield bytes.subarray(i, i + 65536);
      }
    })(),
  );
}

function memoryRanges(data: Buffer, perSecond: number): RangedReads {
  return {
    partSize: 8 * 1024 * 1024,
    concurrency: 4,
    readRange: async (_key, start, end) => ({
      body: paced(data.subarray(start, end + 1), perSecond),
      etag: '"e"',
      objectBytes: data.length,
    }),
  };
}

async function rangedToFile(ranged: RangedReads, key: string, file: string): Promise<string> {
  const fh = await open(file, 'w', 0o600);
  try {
    return await hashToFile(
      readRanges(ranged, { key, bytes: SIZE, writeAt: async (c, at) => void (await fh.write(c, 0, c.length, at)) }),
      null,
    );
  } finally {
    await fh.close();
  }
}

/** Hashes `source` in order; writes it to `file` sequentially unless the ranges already wrote it (null). */
async function hashToFile(source: Readable, file: string | null): Promise<string> {
  const fh = file === null ? null : await open(file, 'w', 0o600);
  const hash = createHash('sha256');
  try {
    for await (const c of source) {
      hash.update(c as Buffer);
      await fh?.write(c as Buffer);
    }
  } finally {
    await fh?.close();
  }
  return hash.digest('hex');
}

async function measure(label: string, run: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  const sha = await run();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(24)} ${s.toFixed(2)} s  ${(SIZE / 1024 / 1024 / s).toFixed(0)} MiB/s  sha256 ${sha.slice(0, 12)}`);
}

const moto = await startMoto();
const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-ranged-bench-'));
try {
  const bucket = await moto.createBucket(undefined, { versioned: false });
  const key = 'bench/object.dump';
  await moto.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomBytes(SIZE) }));
  Object.assign(process.env, moto.env());
  const store = new S3Store({ bucket, prefix: 'bench', kmsKeyId: null, client: createS3Client(moto.env()) });
  console.log(
    `object ${SIZE / 1024 / 1024} MiB, ${REPS} repetitions, ranges ${store.rangedReads.partSize / 1024 / 1024} MiB × ${store.rangedReads.concurrency}`,
  );
  const data = randomBytes(SIZE);
  const file = path.join(dir, 'copy');
  for (let rep = 0; rep < REPS; rep++) {
    await measure('moto: single GET', async () => hashToFile(await store.read(key), file));
    await measure('moto: ranged GETs', () => rangedToFile(store.rangedReads, key, file));
    await measure('memory: one stream', () => hashToFile(paced(data, Infinity), file));
    await measure('memory: ranges', () => rangedToFile(memoryRanges(data, Infinity), key, file));
    await measure('throttled: one stream', () => hashToFile(paced(data, THROTTLE), file));
    await measure('throttled: ranges', () => rangedToFile(memoryRanges(data, THROTTLE), key, file));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await moto.stop();
}
