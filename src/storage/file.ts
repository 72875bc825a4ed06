import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError, describeError } from '../core/errors.ts';
import type { BackupStore, IncompleteUpload, ObjectInfo, UploadHandle, UploadOptions, UploadResult } from '../core/ports/store.ts';

const PARTIAL = '.partial-';

/**
 * Same layout and manifests as S3, on a local filesystem. Objects are written to a temporary name and
 * renamed into place when complete, so a reader never sees a half-written object under its final key.
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

  upload(key: string, body: Readable, _options: UploadOptions): UploadHandle {
    let written = 0;
    const done = (async (): Promise<UploadResult> => {
      const final = this.#path(key);
      const temp = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
      try {
        await fs.mkdir(path.dirname(final), { recursive: true });
        const out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
        body.on('data', (c: Buffer) => {
          written += c.length;
        });
        await pipeline(body, out);
        const fh = await fs.open(temp, 'r');
        await fh.sync().finally(() => fh.close());
        await fs.rename(temp, final);
        return { versionId: null };
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw new StorageError(`writing ${final} failed: ${describeError(err)}`, { cause: err });
      }
    })();
    return { done, uploadedBytes: () => written };
  }

  async putSmall(key: string, body: string): Promise<UploadResult> {
    const final = this.#path(key);
    const temp = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
    try {
      await fs.mkdir(path.dirname(final), { recursive: true });
      await fs.writeFile(temp, body, { flag: 'wx', mode: 0o600, flush: true });
      await fs.rename(temp, final);
      return { versionId: null };
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw new StorageError(`writing ${final} failed: ${describeError(err)}`, { cause: err });
    }
  }

  async tag(): Promise<void> {
    // No tags on a filesystem; lifecycle by tier is an S3 feature.
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

  async read(key: string): Promise<Readable> {
    const p = this.#path(key);
    try {
      await fs.access(p);
    } catch (err) {
      throw new StorageError(`${p} does not exist`, { cause: err });
    }
    return createReadStream(p);
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
