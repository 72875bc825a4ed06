// Deliberately broken copies of the module, for proving each check fails.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const MODULE_ROOT = resolve(import.meta.dirname, '../../../terraform');

export interface Edit {
  /** path relative to the module root, e.g. "s3.tf" or "examples/minimal/main.tf" */
  file: string;
  /** exact text that must occur exactly once; null appends `replace` to the file */
  find: string | null;
  replace: string;
}

/** Copies the module (with examples) to a temp dir and applies the edits. */
export function brokenCopy(edits: readonly Edit[], src: string = MODULE_ROOT): string {
  const dir = mkdtempSync(join(tmpdir(), 'tf-broken-'));
  cpSync(src, dir, { recursive: true, filter: (p) => !p.includes(`${'/'}.terraform`) });
  try {
    applyEdits(dir, edits);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return dir;
}

function applyEdits(dir: string, edits: readonly Edit[]): void {
  for (const e of edits) {
    const path = join(dir, e.file);
    const text = readFileSync(path, 'utf8');
    if (e.find === null) {
      writeFileSync(path, `${text}${e.replace}`);
      continue;
    }
    const find = e.find;
    const count = text.split(find).length - 1;
    if (count !== 1) throw new Error(`edit target must occur exactly once in ${e.file}, found ${count}: ${JSON.stringify(find)}`);
    writeFileSync(
      path,
      text.replace(find, () => e.replace),
    );
  }
}

/** Appends text to a file of the copy. */
export function append(file: string, text: string): Edit {
  return { file, find: null, replace: text };
}

export function removeCopy(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
