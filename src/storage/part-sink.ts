import type { UploadResult, UploadSink } from '../core/ports/store.ts';

/** What a store does with the parts a PartSink cuts: S3's multipart upload (part-uploader.ts), a file (file.ts). */
export type PartShipper = {
  /** Stores `body` as part `number` (from 1). `body`'s memory is reused once the promise settled. */
  part(number: number, body: Buffer, signal: AbortSignal): Promise<void>;
  /**
   * Every part is stored: make the object. `whole` is the entire body when it fit in one part and no part was
   * shipped (S3 then makes one PutObject), null otherwise.
   */
  complete(whole: Buffer | null, signal: AbortSignal): Promise<UploadResult>;
  /** Removes every trace of the upload; called once, after every request settled. Never rejects. */
  discard(): Promise<void>;
};

export type PartSinkOptions = {
  readonly partSize: number;
  /** Parts in flight at most; one more buffer is being filled meanwhile. */
  readonly queueSize: number;
};

type Waiter = { resolve: (value?: unknown) => void; reject: (err: Error) => void };

/**
 * Cuts the written bytes into parts. Each chunk is copied once into one of `queueSize + 1` buffers that are reused
 * for the whole upload, so memory stays at (queue size + 1) × part size whatever the size of the database, and a full
 * buffer is shipped only once more bytes prove it is not the last (a body of one part is one request). With
 * `queueSize` parts in flight, `write` returns a promise: the caller stops reading, so pg_dump is held back rather
 * than buffered. The first failure — a part, the completion, or the caller's `abort` — cancels what is in flight,
 * waits for it, discards the upload, and then rejects `done` with that failure.
 */
export class PartSink implements UploadSink {
  readonly done: Promise<UploadResult>;
  readonly #shipper: PartShipper;
  readonly #size: number;
  readonly #queue: number;
  readonly #free: Buffer[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #cancel = new AbortController();
  #waiters: Waiter[] = [];
  #current: Buffer | undefined;
  #filled = 0;
  #shipped = 0;
  #acked = 0;
  #failure: Error | undefined;
  #closed = false;
  #completing = false;
  #settle!: { resolve: (r: UploadResult) => void; reject: (err: Error) => void };

  constructor(shipper: PartShipper, options: PartSinkOptions) {
    if (!(options.partSize > 0) || !(options.queueSize >= 1)) throw new RangeError('part size and queue size must be positive');
    this.#shipper = shipper;
    this.#size = options.partSize;
    this.#queue = options.queueSize;
    this.done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // A failure may come before anyone awaits `done` (a part fails while the caller is still writing); the caller
    // learns of it from the refused write and then from `done`, so it is not an unhandled rejection.
    this.done.catch(() => undefined);
  }

  readonly uploadedBytes = (): number => this.#acked;

  write(chunk: Buffer): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) throw new Error('write after end');
    return this.#copy(chunk, 0);
  }

  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#finish();
  }

  abort(reason: Error): void {
    this.#fail(reason);
  }

  /** This sink as a store hands it out: `done` replaced by one that rejects with the store's own errors. */
  withDone(done: Promise<UploadResult>): UploadSink {
    return {
      write: (chunk) => this.write(chunk),
      end: () => this.end(),
      abort: (reason) => this.abort(reason),
      done,
      uploadedBytes: this.uploadedBytes,
    };
  }

  #copy(chunk: Buffer, start: number): Promise<void> | undefined {
    let offset = start;
    while (offset < chunk.length) {
      if (this.#filled === this.#size) {
        if (this.#inFlight.size >= this.#queue) return this.#room().then(() => this.#copy(chunk, offset));
        this.#ship();
      }
      this.#current ??= this.#take();
      const n = chunk.copy(this.#current, this.#filled, offset, Math.min(chunk.length, offset + this.#size - this.#filled));
      this.#filled += n;
      offset += n;
    }
    return undefined;
  }

  // Not from Node's shared pool: these live for the whole upload.
  #take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  #ship(): void {
    const buf = this.#current as Buffer;
    const length = this.#filled;
    this.#shipped += 1;
    this.#current = this.#take();
    this.#filled = 0;
    const p = this.#shipper.part(this.#shipped, buf.subarray(0, length), this.#cancel.signal).then(
      () => {
        this.#acked += length;
        this.#free.push(buf);
      },
      (err: unknown) => this.#fail(asError(err)),
    );
    this.#inFlight.add(p);
    void p.finally(() => {
      this.#inFlight.delete(p);
      this.#waiters.shift()?.resolve();
    });
  }

  /** Resolves when fewer than `queueSize` parts are in flight; rejects when the upload failed. */
  #room(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#inFlight.size < this.#queue) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject })).then(() => this.#room());
  }

  async #finish(): Promise<void> {
    let whole: Buffer | null = null;
    try {
      if (this.#shipped === 0) {
        whole = (this.#current ?? Buffer.alloc(0)).subarray(0, this.#filled);
      } else {
        if (this.#filled > 0) {
          await this.#room();
          this.#ship();
        }
        while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
      }
      if (this.#failure) return;
    } catch (err) {
      this.#fail(asError(err));
      return;
    }
    this.#completing = true;
    try {
      const result = await this.#shipper.complete(whole, this.#cancel.signal);
      // Completed, even if an abort arrived meanwhile: the object exists, and saying otherwise would orphan it.
      if (whole) this.#acked = whole.length;
      this.#settle.resolve(result);
    } catch (err) {
      this.#failure ??= asError(err);
      this.#cancel.abort(this.#failure);
      void this.#cleanUp(this.#failure);
    }
  }

  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#cancel.abort(err);
    for (const w of this.#waiters.splice(0)) w.reject(err);
    // While the completion is in flight, #finish cleans up once it settled: it may still succeed.
    if (!this.#completing) void this.#cleanUp(err);
  }

  async #cleanUp(err: Error): Promise<void> {
    this.#closed = true;
    // A request cut off client-side may still land; discard only after every one settled.
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    await this.#shipper.discard();
    this.#settle.reject(err);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
