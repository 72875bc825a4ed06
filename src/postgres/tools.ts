import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ToolError, describeError } from '../core/errors.ts';
import type { Env } from '../core/env.ts';

const run = promisify(execFile);

export type PgTools = {
  /** Where they were found: explicit | bundle | layer | path. */
  readonly source: 'explicit' | 'bundle' | 'layer' | 'path';
  readonly dir: string | null;
  readonly pgDump: string;
  readonly pgDumpall: string;
  readonly pgRestore: string;
  readonly psql: string;
  readonly version: string;
  readonly major: number;
};

/** The Lambda layer mounts here. */
const LAYER_DIR = '/opt/pgtools';

/** Where `npm run pgtools` puts the bundle, relative to the package root (two levels above src/ or lib/). */
export function packageBundleDir(arch: string = process.arch): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  return path.join(root, '.cache', 'pgtools', `linux-${arch}`);
}

function fromDir(dir: string, source: PgTools['source']): Omit<PgTools, 'version' | 'major'> {
  const bin = path.join(dir, 'bin');
  return {
    source,
    dir,
    pgDump: path.join(bin, 'pg_dump'),
    pgDumpall: path.join(bin, 'pg_dumpall'),
    pgRestore: path.join(bin, 'pg_restore'),
    psql: path.join(bin, 'psql'),
  };
}

function onPath(name: string, envPath: string | undefined): string | undefined {
  for (const d of (envPath ?? '').split(path.delimiter)) {
    if (!d) continue;
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function parsePgVersion(text: string): { version: string; major: number } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /\b(\d+)\.(\d+)\b/.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  return { version: m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`, major };
}

async function probe(file: string): Promise<{ version: string; major: number }> {
  try {
    const { stdout } = await run(file, ['--version'], { env: {}, timeout: 15_000 });
    const v = parsePgVersion(stdout);
    if (!v) throw new Error(`unexpected output: ${stdout.trim()}`);
    return v;
  } catch (err) {
    throw new ToolError(`cannot run ${file}: ${describeError(err)}`, {
      cause: err,
      hint: 'rebuild the bundle with `npm run pgtools`, or point --pgtools-dir / RDS_S3_BACKUP_PGTOOLS_DIR at a directory with bin/pg_dump',
    });
  }
}

/** Order: explicit setting → the bundle (package cache, then the Lambda layer) → pg_dump on PATH. */
export async function locatePgTools(
  explicitDir: string | null,
  env: Env,
  places: { readonly bundleDir: string; readonly layerDir: string } = { bundleDir: packageBundleDir(), layerDir: LAYER_DIR },
): Promise<PgTools> {
  let found: Omit<PgTools, 'version' | 'major'> | undefined;
  if (explicitDir) {
    const t = fromDir(path.resolve(explicitDir), 'explicit');
    if (!existsSync(t.pgDump)) throw new ToolError(`no bin/pg_dump in ${t.dir} (from --pgtools-dir / RDS_S3_BACKUP_PGTOOLS_DIR)`);
    found = t;
  } else if (existsSync(path.join(places.bundleDir, 'bin', 'pg_dump'))) {
    found = fromDir(places.bundleDir, 'bundle');
  } else if (existsSync(path.join(places.layerDir, 'bin', 'pg_dump'))) {
    found = fromDir(places.layerDir, 'layer');
  } else {
    const p = onPath('pg_dump', env.PATH);
    if (!p) {
      throw new ToolError('pg_dump not found: no bundle, no Lambda layer, nothing on PATH', {
        hint: 'run `npm run pgtools` to build the bundled PostgreSQL 18 client, or set --pgtools-dir',
      });
    }
    const dir = path.dirname(p);
    found = {
      source: 'path',
      dir: null,
      pgDump: p,
      pgDumpall: path.join(dir, 'pg_dumpall'),
      pgRestore: path.join(dir, 'pg_restore'),
      psql: path.join(dir, 'psql'),
    };
  }
  const v = await probe(found.pgDump);
  return Object.freeze({ ...found, ...v });
}

/** pg_dump refuses newer servers; say so before starting instead of failing mid-run. */
export function assertClientCanDump(tools: PgTools, serverVersionNum: number, serverVersion: string): void {
  const serverMajor = Math.floor(serverVersionNum / 10000);
  if (tools.major < serverMajor) {
    throw new ToolError(
      `pg_dump ${tools.version} (${tools.pgDump}, from ${tools.source}) is older than the server (PostgreSQL ${serverVersion}) and cannot dump it`,
      {
        hint: 'use the bundled PostgreSQL 18 client (`npm run pgtools`) or --pgtools-dir with pg_dump ≥ the server version',
      },
    );
  }
}
