/**
 * Reads the header and table of contents of a pg_dump custom-format archive from the first bytes of the
 * stream, so the manifest can describe the dump (and a non-archive is caught) without a second read of the
 * object. Layout follows PostgreSQL's pg_backup_archiver.c (archive versions 1.12 to 1.16).
 */

export type TocEntry = {
  readonly dumpId: number;
  readonly desc: string;
  readonly namespace: string | null;
  readonly tag: string;
  readonly owner: string | null;
  readonly section: number;
  readonly hasData: boolean;
};

type ArchiveHeader = {
  readonly archiveVersion: string;
  readonly format: 'custom' | 'other';
  readonly compression: string;
  readonly databaseName: string | null;
  readonly serverVersion: string | null;
  readonly dumpVersion: string | null;
  readonly createdAt: string | null;
};

export type ArchiveToc = {
  readonly header: ArchiveHeader;
  readonly entries: readonly TocEntry[];
};

export type TocSummary = {
  readonly archiveVersion: string;
  readonly entries: number;
  /** Count of entries by type, e.g. { "TABLE": 12, "INDEX": 30, "TABLE DATA": 12 }. */
  readonly byType: Record<string, number>;
  /** Every table as schema.name, sorted. */
  readonly tables: string[];
  readonly schemas: string[];
};

class NeedMoreData extends Error {}
export class NotAnArchiveError extends Error {}
/** A newer pg_dump than this reader knows: the archive may be fine, only its TOC cannot be summarised. */
class UnsupportedArchiveVersionError extends Error {}

const MAGIC = 'PGDMP';
const MIN_VERSION = [1, 12] as const;
const MAX_VERSION = [1, 16] as const;
const COMPRESSION_NAMES = ['none', 'gzip', 'lz4', 'zstd'];

function vnum(major: number, minor: number): number {
  return major * 100 + minor;
}

class Reader {
  pos = 0;
  intSize = 4;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new NeedMoreData();
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  int(): number {
    const sign = this.byte();
    let value = 0;
    let shift = 1;
    for (let i = 0; i < this.intSize; i++) {
      value += this.byte() * shift;
      shift *= 256;
    }
    return sign ? -value : value;
  }
  str(): string | null {
    const len = this.int();
    if (len < 0) return null;
    if (len > 256 * 1024 * 1024) throw new NotAnArchiveError(`implausible string length ${len} in archive TOC`);
    return this.bytes(len).toString('utf8');
  }
}

function parse(buf: Buffer): ArchiveToc {
  const r = new Reader(buf);
  const magic = r.bytes(5).toString('latin1');
  if (magic !== MAGIC) throw new NotAnArchiveError('stream does not start with the PGDMP signature of a pg_dump archive');
  const vmaj = r.byte();
  const vmin = r.byte();
  const vrev = r.byte();
  const version = vnum(vmaj, vmin);
  if (version < vnum(...MIN_VERSION)) throw new NotAnArchiveError(`archive version ${vmaj}.${vmin}.${vrev} is older than pg_dump 12`);
  if (version > vnum(...MAX_VERSION))
    throw new UnsupportedArchiveVersionError(`archive version ${vmaj}.${vmin}.${vrev} is newer than this tool reads`);
  r.intSize = r.byte();
  const offSize = r.byte();
  if (r.intSize < 1 || r.intSize > 8 || offSize < 1 || offSize > 8)
    throw new NotAnArchiveError('implausible integer sizes in archive header');
  const fmt = r.byte();
  let compression: string;
  if (version >= vnum(1, 15)) {
    const alg = r.byte();
    compression = COMPRESSION_NAMES[alg] ?? `unknown(${alg})`;
  } else {
    const level = r.int();
    compression = level === 0 ? 'none' : `gzip:${level}`;
  }
  const tm = [r.int(), r.int(), r.int(), r.int(), r.int(), r.int(), r.int()];
  const [sec, min, hour, mday, mon, year] = tm as [number, number, number, number, number, number];
  const createdAt = `${1900 + year}-${String(mon + 1).padStart(2, '0')}-${String(mday).padStart(2, '0')} ${String(hour).padStart(2, '0')}:${String(min).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  const header: ArchiveHeader = {
    archiveVersion: `${vmaj}.${vmin}.${vrev}`,
    format: fmt === 1 ? 'custom' : 'other',
    compression,
    databaseName: r.str(),
    serverVersion: r.str(),
    dumpVersion: r.str(),
    createdAt,
  };
  const count = r.int();
  if (count < 0 || count > 10_000_000) throw new NotAnArchiveError(`implausible TOC entry count ${count}`);
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = r.int();
    const hadDumper = r.int();
    r.str(); // tableoid
    r.str(); // oid
    const tag = r.str() ?? '';
    const desc = r.str() ?? '';
    const section = r.int();
    r.str(); // defn
    r.str(); // dropStmt
    r.str(); // copyStmt
    const namespace = r.str();
    r.str(); // tablespace
    if (version >= vnum(1, 14)) r.str(); // tableam
    if (version >= vnum(1, 16)) r.int(); // relkind
    const owner = r.str();
    r.str(); // withOids, always "false"
    while (r.str() !== null) {
      // dependency ids, NULL-terminated
    }
    if (fmt === 1) {
      // custom format: data offset flag + offset bytes
      r.byte();
      r.bytes(offSize);
    }
    entries.push({ dumpId, desc, namespace, tag, owner, section, hasData: hadDumper !== 0 });
  }
  return { header, entries };
}

export function summarizeToc(toc: ArchiveToc): TocSummary {
  const byType: Record<string, number> = {};
  const tables: string[] = [];
  const schemas = new Set<string>();
  for (const e of toc.entries) {
    byType[e.desc] = (byType[e.desc] ?? 0) + 1;
    if (e.desc === 'TABLE') tables.push(`${e.namespace ?? ''}.${e.tag}`);
    if (e.desc === 'SCHEMA') schemas.add(e.tag);
    if (e.namespace) schemas.add(e.namespace);
  }
  return {
    archiveVersion: toc.header.archiveVersion,
    entries: toc.entries.length,
    byType: Object.fromEntries(Object.entries(byType).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    tables: tables.sort(),
    schemas: [...schemas].sort(),
  };
}

/** Feed the archive's first chunks; keeps a copy only until the TOC is complete (bounded by `limit`). */
export class TocReader {
  #chunks: Buffer[] = [];
  #length = 0;
  #nextAttempt = 4096;
  #result: ArchiveToc | null | undefined;
  #error: Error | undefined;
  readonly limit: number;

  constructor(limit = 256 * 1024 * 1024) {
    this.limit = limit;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get done(): boolean {
    return this.#result !== undefined || this.#error !== undefined;
  }

  /** `chunk` may be reused by the caller after this returns: what is kept (the TOC's bytes) is copied. */
  feed(chunk: Buffer): void {
    if (this.done) return;
    this.#chunks.push(Buffer.from(chunk));
    this.#length += chunk.length;
    // Early check of the signature so a non-archive fails on its first bytes.
    if (this.#length >= 5 && this.#length - chunk.length < 5) {
      const head = Buffer.concat(this.#chunks).subarray(0, 5).toString('latin1');
      if (head !== MAGIC) {
        this.#fail(new NotAnArchiveError('stream does not start with the PGDMP signature of a pg_dump archive'));
        return;
      }
    }
    if (this.#length >= this.#nextAttempt) this.#attempt(false);
  }

  /** Call at end of stream. Returns the TOC (null for a newer archive version) or throws why it could not be read. */
  finish(): ArchiveToc | null {
    if (!this.done) this.#attempt(true);
    if (this.#error) throw this.#error;
    return this.#result ?? null;
  }

  #attempt(final: boolean): void {
    const buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [buf];
    try {
      this.#result = parse(buf);
      this.#chunks = [];
    } catch (err) {
      if (err instanceof UnsupportedArchiveVersionError) {
        this.#result = null;
        this.#chunks = [];
        return;
      }
      if (err instanceof NeedMoreData) {
        if (final) this.#fail(new NotAnArchiveError(`archive ends inside its table of contents (${this.#length} bytes)`));
        else if (this.#length > this.limit)
          this.#fail(new NotAnArchiveError(`archive table of contents is larger than ${this.limit} bytes`));
        // Re-parse only after the buffer doubled: linear total work for large TOCs.
        else this.#nextAttempt = this.#length * 2;
        return;
      }
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #fail(err: Error): void {
    this.#error = err;
    this.#chunks = [];
  }
}

/** Whole-buffer convenience for tests and small inputs. */
export function readToc(buf: Buffer): ArchiveToc | null {
  const r = new TocReader();
  r.feed(buf);
  return r.finish();
}
