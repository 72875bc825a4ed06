// The code under test is a private build of one git revision (HEAD by default), compiled the way `npm run build`
// compiles src/ → lib/, into .cache/bench/build/. Other people rebuilding lib/ or editing src/ during a long run
// then cannot change what is measured halfway, and the results name the exact commit they measured.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const REPO = fileURLToPath(new URL('../', import.meta.url));
export const BENCH_CACHE = path.join(REPO, '.cache', 'bench');

export type BuiltTool = {
  /** bin/rds-s3-backup.js of the private build. */
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
  const launcher = path.join(root, 'bin', 'rds-s3-backup.js');
  await writeFile(launcher, "import { main } from '../lib/cli/main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n");
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
