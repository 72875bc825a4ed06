// Stand-in pg tools for fault tests: a directory with bin/pg_dump (a shell script) usable as --pgtools-dir.
// `--version` answers like pg_dump 18 so tool discovery accepts it; any other call runs `body`.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const FIXTURE_DUMP = path.resolve(import.meta.dirname, '../fixtures/pg18-small.dump');

export async function fakePgTools(dir: string, body: string): Promise<string> {
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  const file = path.join(dir, 'bin', 'pg_dump');
  await writeFile(file, `#!/bin/sh\ncase "$1" in --version) echo "pg_dump (PostgreSQL) 18.0"; exit 0;; esac\n${body}\n`);
  await chmod(file, 0o755);
  return dir;
}
