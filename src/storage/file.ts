import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ObjectExistsError, StorageError, describeError } from '../core/errors.ts';
import { PartSink } from './part-sink.ts';
import type { BackupStore, IncompleteUpload, ObjectInfo, PutMode, UploadOptions, UploadResult, UploadSink } from '../core/ports/store.ts';

const PARTIAL = '.partial-';
/**
 * A backup is written to its file in blocks of this size, two buffers in turn (one filling, one being written):
 * a few large writes instead of one per pipe read, and 2 MiB of memory whatever the database size.
 */
const FILE_WRITE_SIZE = 1024 * 1024;
/**
 * Every this many bytes the data written so far is flushed to disk in the background, while the dump goes on: the
 * fsync that makes the backup durable then only has the tail left to write (100-120 ms for a 235 MB archive here
 * when all of it waited for the end).
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/** fh.write may write less than asked (a full disk, a signal): loop until every byte is down or it fails. */
async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten === 0) throw new Error(`wrote 0 bytes at offset ${position + done}`);
    done += bytesWritten;
  }
}

/**
 * Moves the complete temp file to its final name without ever replacing an existing file (the S3 store's
 * If-None-Match: *): link() fails with EEXIST when the name is taken, and the name appears complete or not at all.
 * Filesystems without hard links get an exclusive copy instead.
 */
async function publishNew(temp: string, final: string): Promise<void> {
  try {
    await fs.link(temp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new ObjectExistsError(`${final} already exists, and backups are never overwritten`, {
        cause: err,
        hint: 'nothing was replaced and no manifest was written; something else created this file first: check what else writes into this directory, then run the backup again',
      });
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    try {
      await fs.copyFile(temp, final, fs.constants.COPYFILE_EXCL);
    } catch (copyErr) {
      if ((copyErr as NodeJS.ErrnoException).code === 'EEXIST')
        throw new ObjectExistsError(`${final} already exists, and backups are never overwritten`, { cause: copyErr });
      throw copyErr;
    }
  }
  await fs.rm(temp, { force: true });
}

/**
 * Same layout and manifests as S3, on a local filesystem. Objects are written to a temporary name and
 * linked into place when complete, so a reader never sees a half-written object under its final key, and an
 * existing file is never replaced (only a verify record, mode `replace`, is renamed over its predecessor).
 * Tags and metadata have no equivalent here; the manifest carries everything restore needs.
 */
export class FileStore implements BackupStore {
  readonly url: string;
  readonly prefix = '';
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = `file://${this.root}`;
  }

  #path(key: string): string {
    // A key names a file strictly below the root (the root itself would put the temp file beside it), and NUL
    // would make fs throw a TypeError instead of a StorageError.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
    if (/\u0000/.test(key)) throw new StorageError(`key ${JSON.stringify(key)} contains a NUL character`);
    const p = path.resolve(this.root, key);
    if (!p.startsWith(this.root + path.sep)) throw new StorageError(`key ${JSON.stringify(key)} escapes ${this.root}`);
    return p;
  }

  /** The root as the kernel sees it (the root itself may be a symlink: the operator chose it). */
  #realRoot: Promise<string> | undefined;

  /**
   * The directory holding `file`, checked component by component below the root: a symlink (or anything but a
   * directory) there is refused, so nobody who can write the store can redirect reads or writes out of it.
   * With create, missing directories are made one at a time (mkdir -p would follow a planted link).
   */
  async #safeDir(file: string, create: boolean): Promise<string> {
    const dir = path.dirname(file);
    const rel = path.relative(this.root, dir);
    // The root is the operator's choice (it may itself be, or lie below, a symlink): made as a whole.
    if (create) await fs.mkdir(this.root, { recursive: true });
    let cur = this.root;
    for (const part of rel === '' ? [] : rel.split(path.sep)) {
      cur = path.join(cur, part);
      let st;
      try {
        st = await fs.lstat(cur);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
        await fs.mkdir(cur).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        st = await fs.lstat(cur);
      }
      if (st.isSymbolicLink()) throw new StorageError(`${cur} is a symbolic link; refusing to follow it out of ${this.root}`);
      if (!st.isDirectory()) throw new StorageError(`${cur} is not a directory`);
    }
    // And once more as the kernel resolves it now: catches a component swapped for a link after the walk.
    this.#realRoot ??= fs.realpath(this.root);
    const expected = path.join(await this.#realRoot, rel);
    const real = await fs.realpath(dir);
    if (real !== expected) throw new StorageError(`${dir} resolves to ${real}, outside ${this.root}; refusing`);
    return dir;
  }

  // The upload's part size and queue are S3's; a file is written in FILE_WRITE_SIZE blocks, one write in flight.
  openUpload(key: string, _options: UploadOptions): UploadSink {
    // Opened with the first bytes; a bad key (one escaping the root) fails there, through `done`, like any other error.
    let opened: Promise<{ fh: FileHandle; final: string; temp: string }> | undefined;
    const open = async (): Promise<{ fh: FileHandle; final: string; temp: string }> => {
      opened ??= (async () => {
        const final = this.#path(key);
        const temp = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
        await this.#safeDir(final, true);
        // O_EXCL|O_CREAT never follows a link at the temp name; link() at the end never replaces the final name.
        return { fh: await fs.open(temp, 'wx', 0o600), final, temp };
      })();
      return opened;
    };
    // One background flush at a time; its failure (EIO, ENOSPC) fails the upload when it completes.
    let syncing: Promise<void> | undefined;
    let syncError: { error: unknown } | undefined;
    let unsynced = 0;
    const flushInBackground = (fh: FileHandle): void => {
      if (syncing || unsynced < SYNC_EVERY_BYTES) return;
      unsynced = 0;
      syncing = fh.datasync().then(
        () => {
          syncing = undefined;
        },
        (error: unknown) => {
          syncing = undefined;
          syncError ??= { error };
        },
      );
    };
    const close = async (): Promise<string | undefined> => {
      await syncing;
      const file = opened ? await opened.catch(() => undefined) : undefined;
      await file?.fh.close().catch(() => undefined);
      return file?.temp;
    };
    const sink = new PartSink(
      {
        async part(number, body) {
          if (syncError) throw syncError.error;
          const { fh } = await open();
          await writeAll(fh, body, (number - 1) * FILE_WRITE_SIZE);
          unsynced += body.length;
          flushInBackground(fh);
        },
        async complete(whole) {
          const { fh, final, temp } = await open();
          if (whole) await writeAll(fh, whole, 0);
          await syncing;
          if (syncError) throw syncError.error;
          await fh.sync();
          await close();
          await publishNew(temp, final);
          return { versionId: null };
        },
        async discard() {
          const temp = await close();
          if (temp) await fs.rm(temp, { force: true }).catch(() => undefined);
        },
      },
      { partSize: FILE_WRITE_SIZE, queueSize: 1 },
    );
    const done = sink.done.catch((err: unknown) => {
      if (err instanceof ObjectExistsError || err instanceof StorageError) throw err;
      throw new StorageError(`writing ${path.join(this.root, key)} failed: ${describeError(err)}`, { cause: err });
    });
    return sink.withDone(done);
  }

  async putSmall(
    key: string,
    body: string,
    options: Partial<Omit<UploadOptions, 'partSize' | 'queueSize'>> & { readonly mode?: PutMode } = {},
  ): Promise<UploadResult> {
    const final = this.#path(key);
    const temp = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
    try {
      await this.#safeDir(final, true);
      await fs.writeFile(temp, body, { flag: 'wx', mode: 0o600, flush: true });
      if (options.mode === 'replace') await fs.rename(temp, final);
      else await publishNew(temp, final);
      return { versionId: null };
    } catch (err) {
      await fs.rm(temp, { force: true });
      if (err instanceof ObjectExistsError) throw err;
      throw new StorageError(`writing ${final} failed: ${describeError(err)}`, { cause: err });
    }
  }

  async *#walk(dir: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StorageError(`listing ${dir} failed: ${describeError(err)}`, { cause: err });
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) yield* this.#walk(p);
      else if (e.isFile()) yield p;
    }
  }

  async *#keys(prefix: string): AsyncIterable<{ key: string; file: string }> {
    const slash = prefix.lastIndexOf('/');
    const dir = slash <= 0 ? this.root : this.#path(prefix.slice(0, slash));
    if (dir !== this.root) {
      try {
        await this.#safeDir(path.join(dir, 'x'), false);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
    for await (const file of this.#walk(dir)) {
      const key = path.relative(this.root, file).split(path.sep).join('/');
      if (key.startsWith(prefix)) yield { key, file };
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const { key, file } of this.#keys(prefix)) {
      if (key.includes(PARTIAL)) continue;
      const st = await fs.stat(file);
      yield { key, size: st.size, lastModified: st.mtime };
    }
  }

  // No rangedReads here: a local disk is not latency-bound, so concurrent ranges would gain nothing (and cost seeks),
  // and one open descriptor reads one version of the file even if it is replaced meanwhile (the old inode stays),
  // which separate opens per range would have to re-check.
  async read(key: string): Promise<Readable> {
    const p = this.#path(key);
    let fh;
    try {
      await this.#safeDir(p, false);
      // O_NOFOLLOW: a link planted at the object's own name is refused too (ELOOP).
      fh = await fs.open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new StorageError(`${p} is a symbolic link; refusing to follow it`, { cause: err });
      throw new StorageError(code === 'ENOENT' ? `${p} does not exist` : `reading ${p} failed: ${describeError(err)}`, { cause: err });
    }
    return fh.createReadStream();
  }

  async listIncomplete(prefix: string): Promise<readonly IncompleteUpload[]> {
    const out: IncompleteUpload[] = [];
    for await (const { key, file } of this.#keys(prefix)) {
      const i = key.indexOf(PARTIAL);
      if (i === -1) continue;
      const st = await fs.stat(file);
      out.push({ key: key.slice(0, i), uploadId: key.slice(i + PARTIAL.length), initiated: st.mtime });
    }
    return out;
  }
}
