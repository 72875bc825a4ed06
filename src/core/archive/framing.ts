/**
 * Proves that a streamed pg_dump custom-format archive is complete, not just that its TOC is: every TOC entry
 * that has data must appear as a data block, every block must be properly terminated, and the stream must end
 * exactly at a block boundary. A dump cut short with exit code 0 (a wrapper that swallows pg_dump's status, a
 * tool that lies) otherwise passes the TOC check. Constant memory once the TOC is passed: payloads are skipped
 * by counting.
 *
 * Layout (pg_backup_archiver.c / pg_backup_custom.c, archive versions 1.12–1.16, written to a pipe):
 *   header, TOC (each entry ends with a data-offset flag: 1/2 = has data, 3 = no data, then the offset), then
 *   per data entry   BLK_DATA(1) dumpId {len bytes}* 0   or   BLK_BLOBS(3) dumpId {oid {len bytes}* 0}* 0.
 * Integers are a sign byte plus `intSize` little-endian bytes.
 */

const BLK_DATA = 1;
const BLK_BLOBS = 3;
const K_OFFSET_NO_DATA = 3;

export class ArchiveFramingError extends Error {}

class NeedMore extends Error {}

type Head = { readonly intSize: number; readonly dataIds: ReadonlySet<number>; readonly end: number };

/** Header and TOC, read only as far as needed: intSize, the entries that have data, and where data starts. */
function parseHead(buf: Buffer): Head | 'unchecked' {
  let pos = 0;
  let intSize = 4;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new NeedMore();
  };
  const byte = (): number => {
    need(1);
    return buf[pos++]!;
  };
  const int = (): number => {
    need(1 + intSize);
    const sign = buf[pos++]!;
    let v = 0;
    let shift = 1;
    for (let i = 0; i < intSize; i++) {
      v += buf[pos++]! * shift;
      shift *= 256;
    }
    return sign ? -v : v;
  };
  /** Skips a string; false for NULL (negative length). */
  const str = (): boolean => {
    const len = int();
    if (len < 0) return false;
    need(len);
    pos += len;
    return true;
  };
  need(5);
  if (buf.subarray(0, 5).toString('latin1') !== 'PGDMP') throw new ArchiveFramingError('stream does not start with the PGDMP signature');
  pos = 5;
  const vmaj = byte();
  const vmin = byte();
  byte();
  const version = vmaj * 100 + vmin;
  // Versions the TOC reader does not know either: it decides; nothing to check here.
  if (version < 112 || version > 116) return 'unchecked';
  intSize = byte();
  const offSize = byte();
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8)
    throw new ArchiveFramingError('implausible integer sizes in archive header');
  if (byte() !== 1) return 'unchecked'; // not the custom format
  if (version >= 115) byte();
  else int();
  for (let i = 0; i < 7; i++) int(); // creation time
  str(); // database name
  str(); // server version
  str(); // pg_dump version
  const count = int();
  if (count < 0 || count > 10_000_000) throw new ArchiveFramingError(`implausible TOC entry count ${count}`);
  const dataIds = new Set<number>();
  for (let i = 0; i < count; i++) {
    const dumpId = int();
    int(); // hadDumper
    str(); // tableoid
    str(); // oid
    str(); // tag
    str(); // desc
    int(); // section
    str(); // defn
    str(); // dropStmt
    str(); // copyStmt
    str(); // namespace
    str(); // tablespace
    if (version >= 114) str(); // tableam
    if (version >= 116) int(); // relkind
    str(); // owner
    str(); // withOids
    while (str()) {
      // dependencies, NULL-terminated
    }
    const flag = byte();
    need(offSize);
    pos += offSize;
    if (flag !== K_OFFSET_NO_DATA) dataIds.add(dumpId);
  }
  return { intSize, dataIds, end: pos };
}

type State = 'blockType' | 'dumpId' | 'chunkLen' | 'payload' | 'blobOid';

export class ArchiveFramingChecker {
  #head: Head | 'unchecked' | undefined;
  #prefix: Buffer[] = [];
  #prefixLength = 0;
  #nextAttempt = 4096;
  #state: State = 'blockType';
  #blockType = 0;
  /** Bytes of the integer being read (sign byte + intSize). */
  #intBuf: number[] = [];
  #skip = 0;
  #offset = 0;
  readonly #seen = new Set<number>();
  #error: ArchiveFramingError | undefined;
  readonly limit: number;

  constructor(limit = 256 * 1024 * 1024) {
    this.limit = limit;
  }

  get error(): ArchiveFramingError | undefined {
    return this.#error;
  }

  /** `chunk` may be reused by the caller after this returns: what is kept (the bytes up to the TOC's end) is copied. */
  feed(chunk: Buffer): void {
    if (this.#error || this.#head === 'unchecked') return;
    if (this.#head === undefined) {
      this.#prefix.push(Buffer.from(chunk));
      this.#prefixLength += chunk.length;
      if (this.#prefixLength < this.#nextAttempt) return;
      this.#tryHead(false);
      return;
    }
    this.#walk(chunk, 0);
  }

  /** Call at end of stream; throws ArchiveFramingError when the archive is incomplete. */
  finish(): void {
    if (this.#head === undefined && !this.#error) this.#tryHead(true);
    if (this.#error) throw this.#error;
    if (this.#head === 'unchecked' || this.#head === undefined) return;
    if (this.#state !== 'blockType' || this.#intBuf.length > 0) {
      throw new ArchiveFramingError(`archive is truncated: it ends inside a data block (at byte ${this.#offset})`);
    }
    const missing = [...this.#head.dataIds].filter((id) => !this.#seen.has(id));
    if (missing.length > 0) {
      throw new ArchiveFramingError(
        `archive is truncated: ${missing.length} of ${this.#head.dataIds.size} data block(s) listed in its TOC are missing (dump ids ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`,
      );
    }
  }

  #tryHead(final: boolean): void {
    const buf = Buffer.concat(this.#prefix);
    this.#prefix = [buf];
    try {
      const head = parseHead(buf);
      this.#head = head;
      this.#prefix = [];
      if (head !== 'unchecked') {
        this.#offset = head.end;
        this.#walk(buf, head.end);
      }
    } catch (err) {
      if (err instanceof NeedMore) {
        if (final) this.#fail(new ArchiveFramingError(`archive ends inside its table of contents (${buf.length} bytes)`));
        else if (buf.length > this.limit)
          this.#fail(new ArchiveFramingError(`archive table of contents is larger than ${this.limit} bytes`));
        else this.#nextAttempt = buf.length * 2;
        return;
      }
      this.#fail(err instanceof ArchiveFramingError ? err : new ArchiveFramingError(String(err)));
    }
  }

  #fail(err: ArchiveFramingError): void {
    this.#error = err;
    this.#prefix = [];
  }

  #walk(buf: Buffer, start: number): void {
    const head = this.#head as Head;
    let i = start;
    while (i < buf.length && !this.#error) {
      if (this.#state === 'payload') {
        const n = Math.min(this.#skip, buf.length - i);
        this.#skip -= n;
        i += n;
        this.#offset += n;
        if (this.#skip === 0) this.#state = 'chunkLen';
        continue;
      }
      if (this.#state === 'blockType') {
        const t = buf[i++]!;
        this.#offset++;
        if (t !== BLK_DATA && t !== BLK_BLOBS) {
          this.#fail(new ArchiveFramingError(`archive is damaged: unknown data block type ${t} at byte ${this.#offset - 1}`));
          return;
        }
        this.#blockType = t;
        this.#state = 'dumpId';
        continue;
      }
      // Integer states: sign byte + intSize bytes, read in place unless split across chunks.
      let value: number;
      const width = 1 + head.intSize;
      if (this.#intBuf.length === 0 && i + width <= buf.length) {
        value = 0;
        let shift = 1;
        for (let k = 1; k < width; k++) {
          value += buf[i + k]! * shift;
          shift *= 256;
        }
        if (buf[i]) value = -value;
        i += width;
        this.#offset += width;
      } else {
        this.#intBuf.push(buf[i++]!);
        this.#offset++;
        if (this.#intBuf.length < width) continue;
        value = this.#takeInt();
      }
      switch (this.#state) {
        case 'dumpId':
          if (!head.dataIds.has(value)) {
            this.#fail(
              new ArchiveFramingError(`archive is damaged: data block for dump id ${value}, which its TOC does not list as having data`),
            );
            return;
          }
          this.#seen.add(value);
          this.#state = this.#blockType === BLK_BLOBS ? 'blobOid' : 'chunkLen';
          break;
        case 'blobOid':
          this.#state = value === 0 ? 'blockType' : 'chunkLen';
          break;
        case 'chunkLen':
          if (value < 0) {
            this.#fail(new ArchiveFramingError(`archive is damaged: negative chunk length at byte ${this.#offset}`));
            return;
          }
          if (value === 0) this.#state = this.#blockType === BLK_BLOBS ? 'blobOid' : 'blockType';
          else {
            this.#skip = value;
            this.#state = 'payload';
          }
          break;
      }
    }
  }

  #takeInt(): number {
    const [sign, ...bytes] = this.#intBuf;
    this.#intBuf = [];
    let v = 0;
    let shift = 1;
    for (const b of bytes) {
      v += b * shift;
      shift *= 256;
    }
    return sign ? -v : v;
  }
}
