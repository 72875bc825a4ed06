import { Readable } from 'node:stream';
import { AbortedError, BackupToolError, IntegrityError, StorageError, describeError } from '../errors.ts';
import type { RangedReads } from '../ports/store.ts';

export type ByteRange = { readonly start: number; readonly end: number };

/** Splits an object of `bytes` into ranges of `partSize` (inclusive ends; the last range is the rest). */
export function planRanges(bytes: number, partSize: number): ByteRange[] {
  if (!Number.isSafeInteger(partSize) || partSize <= 0) throw new RangeError(`part size must be a positive integer, not ${partSize}`);
  const ranges: ByteRange[] = [];
  for (let start = 0; start < bytes; start += partSize) ranges.push({ start, end: Math.min(start + partSize, bytes) - 1 });
  return ranges;
}

/** Below two parts there is nothing to overlap: such objects keep the single read. */
export function worthRanging(bytes: number, ranged: RangedReads | undefined): ranged is RangedReads {
  return ranged !== undefined && ranged.concurrency > 1 && bytes >= 2 * ranged.partSize;
}

/** Writes a chunk at its offset in the destination (a positional write: ranges arrive out of order). */
type WriteAt = (chunk: Buffer, position: number) => Promise<void>;

export type RangedDownloadOptions = {
  readonly key: string;
  /** The size the manifest promises; the first range must report the same object size. */
  readonly bytes: number;
  readonly signal?: AbortSignal | undefined;
  /** Called for every chunk as it arrives, before the chunk can be read from the stream. */
  readonly writeAt?: WriteAt | undefined;
};

type Part = ByteRange & { chunks: Buffer[]; received: number; done: boolean };

/**
 * The object's bytes, in order, fetched as concurrent ranges: the stream's consumer (the SHA-256, the length and
 * TOC checks of VerifyingReader) sees exactly the sequence one GET would give. Ranges after the first carry the
 * first one's ETag (If-Match), so every byte comes from the same object version. At most `concurrency` ranges are
 * requested or held ahead of the one being read, so memory stays within concurrency × partSize whatever the size.
 */
export function readRanges(ranged: RangedReads, o: RangedDownloadOptions): Readable {
  return new InOrderRanges(ranged, o);
}

class InOrderRanges extends Readable {
  readonly #ranged: RangedReads;
  readonly #o: RangedDownloadOptions;
  readonly #parts: Part[];
  /** Cancels every request in flight: on an error, on the caller's signal, when the consumer gives up. */
  readonly #cancel = new AbortController();
  readonly #bodies = new Set<Readable>();
  readonly #onAbort = (): void => {
    this.destroy(new AbortedError(`download of ${this.#o.key} cancelled`));
  };
  #etag: string | undefined;
  #begun = false;
  #started = 0;
  #reading = 0;
  #wanting = false;

  constructor(ranged: RangedReads, o: RangedDownloadOptions) {
    super();
    this.#ranged = ranged;
    this.#o = o;
    this.#parts = planRanges(o.bytes, ranged.partSize).map((r) => ({ ...r, chunks: [], received: 0, done: false }));
    o.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  // Requests start on the first read, not in the constructor: only then does the consumer listen for errors.
  override _read(): void {
    this.#wanting = true;
    if (!this.#begun) {
      this.#begun = true;
      if (this.#o.signal?.aborted) {
        this.#onAbort();
        return;
      }
      this.#start(0);
    }
    this.#pump();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#o.signal?.removeEventListener('abort', this.#onAbort);
    this.#cancel.abort();
    for (const b of this.#bodies) b.destroy();
    for (const p of this.#parts) p.chunks = [];
    callback(err);
  }

  /** Starts range `i`; the others wait for the first one's ETag. */
  #start(i: number): void {
    this.#started = i + 1;
    const p = this.#parts[i]!;
    this.#fetch(i, p).catch((err: unknown) => {
      if (!this.destroyed) this.destroy(this.#describe(err, p));
    });
  }

  #fill(): void {
    const window = this.#reading + this.#ranged.concurrency;
    while (this.#etag !== undefined && this.#started < this.#parts.length && this.#started < window) this.#start(this.#started);
  }

  async #fetch(i: number, p: Part): Promise<void> {
    const length = p.end - p.start + 1;
    const r = await this.#ranged.readRange(this.#o.key, p.start, p.end, { ifMatch: this.#etag, signal: this.#cancel.signal });
    if (this.destroyed) {
      r.body.destroy();
      return;
    }
    this.#bodies.add(r.body);
    try {
      if (i === 0) {
        if (r.objectBytes !== this.#o.bytes) {
          throw new IntegrityError(
            `${this.#o.key} is ${r.objectBytes} bytes, its manifest says ${this.#o.bytes}: refusing it; nothing was restored`,
            {
              hint: 'the object was replaced after the backup: pick another backup (rds-s3-backup list) and check who can write to the bucket',
            },
          );
        }
        this.#etag = r.etag;
        this.#fill();
      }
      for await (const c of r.body) {
        const buf = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
        if (p.received + buf.length > length) throw new Error(`more than the ${length} bytes asked for arrived`);
        await this.#o.writeAt?.(buf, p.start + p.received);
        if (this.destroyed) return;
        p.chunks.push(buf);
        p.received += buf.length;
        if (i === this.#reading) this.#pump();
      }
    } finally {
      this.#bodies.delete(r.body);
    }
    if (p.received !== length) throw new Error(`the range ended after ${p.received} of ${length} bytes`);
    p.done = true;
    if (i === this.#reading) this.#pump();
  }

  /** Hands on the current range's bytes while the consumer wants them; moves to the next range when one is done. */
  #pump(): void {
    while (this.#wanting && !this.destroyed) {
      const p = this.#parts[this.#reading];
      if (!p) {
        this.#wanting = false;
        this.push(null);
        return;
      }
      const c = p.chunks.shift();
      if (c) {
        this.#wanting = this.push(c);
        continue;
      }
      if (!p.done) return;
      this.#reading++;
      this.#fill();
    }
  }

  #describe(err: unknown, p: Part): Error {
    if (this.#o.signal?.aborted) return new AbortedError(`download of ${this.#o.key} cancelled`);
    if (err instanceof BackupToolError) return err;
    return new StorageError(
      `reading ${this.#o.key} failed in bytes ${p.start}-${p.end} (after ${p.received} of that range's ${p.end - p.start + 1} bytes): ${describeError(err)}`,
      {
        cause: err,
        hint: 'the connection to the store broke after the retries; nothing was restored: run the restore again (check the network path to S3 if it persists)',
      },
    );
  }
}
