// The code under test is a private build of one git revision (HEAD by default) into .cache/bench/build/: src/ bundled
// into one file as the Lambda and the container bundle it. Other people rebuilding lib/ or editing src/ during a long run
// then cannot change what is measured halfway, and the results name the exact commit they measured.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { nodeBundleOptions } from '../scripts/package/esbuild-options.ts';

const exec = promisify(execFile);
export const REPO = fileURLToPath(new URL('../', import.meta.url));
export const BENCH_CACHE = path.join(REPO, '.cache', 'bench');

export type BuiltTool = {
  /** bin/rds-s3-backup.mjs of the private build (imports the bundled bin/cli.mjs). */
  readonly launcher: string;
  /** The build's own default --compress (src/core/config/compression.ts), so the bench measures what ships. */
  readonly defaultCompression: string;
  readonly revision: string;
  readonly commit: string;
  /** `git status --porcelain` of src/ when built from the working tree; empty for a commit. */
  readonly dirty: readonly string[];
};

async function git(args: readonly string[]): Promise<string> {
  return (await exec('git', [...args], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** revision: a git revision, or "worktree" for the working tree's src/ as it is now. */
export async function buildTool(revision: string): Promise<BuiltTool> {
  const root = path.join(BENCH_CACHE, 'build');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const commit = (await git(['rev-parse', 'HEAD'])).trim();
  let dirty: string[] = [];
  if (revision === 'worktree') {
    dirty = (await git(['status', '--porcelain', '--', 'src', 'package.json'])).split('\n').filter(Boolean);
    await exec('cp', ['-a', path.join(REPO, 'src'), path.join(root, 'src')]);
    await copyFile(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  } else {
    await exec('bash', ['-c', `git -C "$1" archive "$2" src package.json | tar -x -C "$3"`, 'bash', REPO, revision, root]);
  }
  await writeFile(
    path.join(root, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(REPO, 'tsconfig.json'),
      compilerOptions: { noEmit: false, rootDir: 'src', outDir: 'lib', declaration: false, sourceMap: false },
      include: ['src'],
    }),
  );
  try {
    await exec(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? '';
    throw new Error(`compiling src/ of ${revision} failed:\n${out.split('\n').slice(0, 30).join('\n')}`, { cause: err });
  }
  await mkdir(path.join(root, 'bin'), { recursive: true });
  // The CLI bundled with the options of the Lambda's index.mjs and the container's main.mjs: one file, loaded the
  // way the runners load theirs (lib/ above is only for DEFAULT_COMPRESSION below).
  const version = (JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  await build({
    ...nodeBundleOptions({ cli: path.join(root, 'src', 'cli', 'main.ts') }, path.join(root, 'bin'), version),
    sourcemap: false,
  });
  const launcher = path.join(root, 'bin', 'rds-s3-backup.mjs');
  await writeFile(launcher, "import { main } from './cli.mjs';\nprocess.exitCode = await main(process.argv.slice(2));\n");
  const resolved = revision === 'worktree' ? commit : (await git(['rev-parse', revision])).trim();
  // Revisions before the core/ folders were split keep it at lib/core/compression.js.
  const moved = path.join(root, 'lib', 'core', 'config', 'compression.js');
  const compressionFile = existsSync(moved) ? moved : path.join(root, 'lib', 'core', 'compression.js');
  const compression = (await import(pathToFileURL(compressionFile).href)) as {
    DEFAULT_COMPRESSION?: unknown;
  };
  if (typeof compression.DEFAULT_COMPRESSION !== 'string')
    throw new Error(`${revision}: src/core/config/compression.ts exports no DEFAULT_COMPRESSION`);
  return { launcher, defaultCompression: compression.DEFAULT_COMPRESSION, revision, commit: resolved, dirty };
}
