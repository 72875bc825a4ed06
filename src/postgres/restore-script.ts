import { Transform, type TransformCallback } from 'node:stream';

/**
 * pg_restore ≥ 17 writes `SET transaction_timeout = 0;` into every script header (it cannot know the target
 * server). PostgreSQL < 17 rejects the unknown setting, which inside one transaction aborts the whole restore.
 * This filter removes exactly that statement, and only where pg_restore puts it: the line right after
 * `SET idle_in_transaction_session_timeout = 0;`, outside COPY data. Everything else passes through unchanged;
 * COPY data (nearly all of the bytes) is scanned only for its end marker.
 */
const TX_TIMEOUT_LINE = 'SET transaction_timeout = 0;';
const PRECEDING_LINE = 'SET idle_in_transaction_session_timeout = 0;';
const COPY_END = Buffer.from('\n\\.\n', 'latin1');
const NL = 0x0a;

export class TransactionTimeoutFilter extends Transform {
  /** How many statements were removed. */
  removed = 0;
  #inCopy = false;
  /** Incomplete SQL line carried to the next chunk. */
  #partial: Buffer = Buffer.alloc(0);
  /** Last bytes passed through in COPY mode, to find an end marker split across chunks. */
  #copyTail: Buffer = Buffer.alloc(0);
  #previousLine = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.#process(chunk);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.#partial.length > 0) this.#line(this.#partial, false);
    this.#partial = Buffer.alloc(0);
    cb();
  }

  #process(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#inCopy) {
        // An end marker that started in the previous chunk, then one inside this chunk (no copy of the data).
        let end = -1;
        if (this.#copyTail.length > 0) {
          const seam = Buffer.concat([this.#copyTail, chunk.subarray(pos, pos + COPY_END.length - 1)]);
          const i = seam.indexOf(COPY_END);
          if (i !== -1) end = pos + i + COPY_END.length - this.#copyTail.length;
        }
        if (end === -1) {
          const i = chunk.indexOf(COPY_END, pos);
          if (i !== -1) end = i + COPY_END.length;
        }
        if (end === -1) {
          const rest = chunk.subarray(pos);
          this.push(rest);
          const joined = rest.length >= COPY_END.length - 1 ? rest : Buffer.concat([this.#copyTail, rest]);
          this.#copyTail = Buffer.from(joined.subarray(Math.max(0, joined.length - (COPY_END.length - 1))));
          return;
        }
        this.push(chunk.subarray(pos, end));
        pos = end;
        this.#inCopy = false;
        this.#copyTail = Buffer.alloc(0);
        this.#previousLine = '\\.';
        continue;
      }
      const nl = chunk.indexOf(NL, pos);
      if (nl === -1) {
        this.#partial = Buffer.concat([this.#partial, chunk.subarray(pos)]);
        return;
      }
      const line = this.#partial.length > 0 ? Buffer.concat([this.#partial, chunk.subarray(pos, nl)]) : chunk.subarray(pos, nl);
      this.#partial = Buffer.alloc(0);
      pos = nl + 1;
      this.#line(line, true);
    }
  }

  #line(line: Buffer, newline: boolean): void {
    // Only short lines can be statements we care about; long ones (function bodies, LO data) pass untouched.
    const text = line.length <= 256 ? line.toString('utf8') : null;
    if (text === TX_TIMEOUT_LINE && this.#previousLine === PRECEDING_LINE) {
      this.removed++;
      this.push(Buffer.from(`-- ${TX_TIMEOUT_LINE} (removed by rds-s3-backup: the target server is older than PostgreSQL 17)\n`));
      this.#previousLine = TX_TIMEOUT_LINE;
      return;
    }
    this.push(newline ? Buffer.concat([line, Buffer.from('\n')]) : line);
    if (text !== null && text.length > 0) this.#previousLine = text;
    else if (text === null) this.#previousLine = '';
    if (text?.startsWith('COPY ') && text.endsWith(' FROM stdin;')) {
      this.#inCopy = true;
      // The COPY line's own newline lets an empty COPY's end marker ("\.") match the pattern.
      this.#copyTail = Buffer.from('\n');
    }
  }
}

/**
 * Holds back the last `holdBytes` of the restore script until `release()`. With pg_restore --single-transaction
 * the script's only COMMIT is its last statement (followed by a short trailer), so while the tail is held back
 * psql cannot commit, whatever else happens. `release()` refuses when the held-back tail has no COMMIT line:
 * then the invariant this gate relies on did not hold.
 */
export class CommitGate extends Transform {
  readonly holdBytes: number;
  readonly expectCommit: boolean;
  #queue: Buffer[] = [];
  #queued = 0;
  #flushCallback: TransformCallback | undefined;
  #released = false;
  #ended: () => void = () => undefined;
  /** Resolves when the script ended (pg_restore closed its output) and the gate waits for release(). */
  readonly inputEnded: Promise<void>;

  constructor(options: { holdBytes?: number; expectCommit: boolean }) {
    super();
    this.holdBytes = options.holdBytes ?? 64 * 1024;
    this.expectCommit = options.expectCommit;
    this.inputEnded = new Promise((resolve) => {
      this.#ended = resolve;
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    while (this.#queue.length > 0 && this.#queued - this.#queue[0]!.length >= this.holdBytes) {
      const first = this.#queue.shift()!;
      this.#queued -= first.length;
      this.push(first);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.#flushCallback = cb;
    this.#ended();
    if (this.#released) this.#release();
  }

  /** Let the held-back tail (and the end of the script) through. */
  release(): void {
    this.#released = true;
    if (this.#flushCallback) this.#release();
  }

  #release(): void {
    const cb = this.#flushCallback!;
    this.#flushCallback = undefined;
    const tail = Buffer.concat(this.#queue);
    this.#queue = [];
    if (this.expectCommit && !/(^|\n)COMMIT;\n/.test(tail.toString('latin1'))) {
      cb(new Error('the restore script does not end with the COMMIT of its single transaction; refusing to let it finish'));
      return;
    }
    cb(null, tail);
  }
}
