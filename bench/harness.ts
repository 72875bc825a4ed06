// The bench's world: one PostgreSQL 18 server, one moto S3 server, the private build of the tool, and the
// bundled pg tools. Every measured command goes through here, so the floor and the tool get the same database,
// the same pg_dump binary and the same arguments.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startMoto, type MotoServer } from '../test/support/moto.ts';
import { startPostgres, type PgServer } from '../test/support/postgres.ts';
import { BENCH_CACHE, REPO, type BuiltTool } from './build.ts';
import { assertOk, runTimed, runTool, type TimedRun, type ToolRun } from './measure.ts';

const exec = promisify(execFile);

const PGTOOLS = path.join(REPO, '.cache', 'pgtools', `linux-${process.arch}`);
export const PG_DUMP = path.join(PGTOOLS, 'bin', 'pg_dump');
/** Debian's `awscli` package (bench/run.ts installs it): the shell pipeline reference row. */
export const AWS_CLI = '/usr/bin/aws';
const PG_RESTORE = path.join(PGTOOLS, 'bin', 'pg_restore');
/** The tool's own default (src/core/config/options.ts); the floor gets it too so both do identical work. */
const LOCK_WAIT_TIMEOUT = '2min';

// Throughput settings for a throwaway server; the same for floor and tool. fsync/synchronous_commit/
// full_page_writes are already off in the test harness (so restores measure CPU, not this VM's disk flushes).
// wal_level stays at its default (replica), as on RDS: a restore writes WAL there too.
export const SERVER_SETTINGS: Record<string, string> = {
  shared_buffers: '1GB',
  maintenance_work_mem: '512MB',
  work_mem: '64MB',
  max_wal_size: '16GB',
  checkpoint_timeout: '30min',
};

export type BackupOutcome = ToolRun & { readonly bytes: number; readonly durationS: number; readonly key: string };

export class Harness {
  readonly pg: PgServer;
  readonly moto: MotoServer;
  readonly tool: BuiltTool;
  readonly home: string;
  readonly storeRoot: string;

  private constructor(pg: PgServer, moto: MotoServer, tool: BuiltTool, home: string, storeRoot: string) {
    this.pg = pg;
    this.moto = moto;
    this.tool = tool;
    this.home = home;
    this.storeRoot = storeRoot;
  }

  static async start(tool: BuiltTool): Promise<Harness> {
    const home = path.join(BENCH_CACHE, 'home');
    const storeRoot = path.join(BENCH_CACHE, 'store');
    await rm(storeRoot, { recursive: true, force: true });
    await mkdir(home, { recursive: true });
    await mkdir(storeRoot, { recursive: true });
    const [pg, moto] = await Promise.all([startPostgres({ major: 18, settings: SERVER_SETTINGS }), startMoto()]);
    return new Harness(pg, moto, tool, home, storeRoot);
  }

  async stop(): Promise<void> {
    await Promise.all([this.pg.stop(), this.moto.stop()]);
    await rm(this.storeRoot, { recursive: true, force: true });
  }

  /** libpq variables only, like the tool gives its pg_dump; an empty HOME so no ~/.pgpass or ~/.aws leaks in. */
  pgEnv(): Record<string, string> {
    return { PATH: '/usr/bin:/bin', HOME: this.home, LANG: 'C.UTF-8', ...this.pg.env('postgres') };
  }

  toolEnv(): Record<string, string> {
    return { ...this.pgEnv(), ...this.moto.env() };
  }

  /** The floor: bare pg_dump, same binary and arguments as the tool's, stdout to /dev/null. */
  async floor(database: string, compression: string, cpus?: string): Promise<TimedRun> {
    const run = await runTimed([PG_DUMP, ...this.#dumpArgs(database, compression)], { env: this.pgEnv(), stdout: 'devnull', cpus });
    assertOk(`pg_dump ${database}`, run);
    return run;
  }

  /**
   * The reference users write by hand: `pg_dump -Fc … | aws s3 cp - s3://…`, same pg_dump binary and arguments as
   * the floor, Debian's AWS CLI against the same moto. GNU time reports the whole pipeline's CPU and its largest
   * process's RSS. (It stores a truncated dump as a success when pg_dump dies; pipefail only fixes the exit code.)
   */
  async pipeline(database: string, compression: string, url: string, cpus?: string): Promise<TimedRun> {
    const script =
      'set -o pipefail; dump=$1; aws=$2; endpoint=$3; url=$4; shift 4; "$dump" "$@" | "$aws" --endpoint-url "$endpoint" s3 cp - "$url"';
    const argv = ['bash', '-c', script, 'pipeline', PG_DUMP, AWS_CLI, this.moto.endpoint, url, ...this.#dumpArgs(database, compression)];
    const run = await runTimed(argv, { env: this.toolEnv(), cpus });
    assertOk(`pg_dump ${database} | aws s3 cp - ${url}`, run);
    return run;
  }

  #dumpArgs(database: string, compression: string): string[] {
    return [
      '--format=custom',
      `--compress=${compression}`,
      '--no-password',
      `--dbname=dbname=${database}`,
      `--lock-wait-timeout=${LOCK_WAIT_TIMEOUT}`,
    ];
  }

  /** `rds-s3-backup backup` of one database to `target` (file:// or s3://). */
  async backup(
    database: string,
    compression: string,
    target: string,
    extra: readonly string[] = [],
    cpus?: string,
  ): Promise<BackupOutcome> {
    const args = [
      'backup',
      '--to',
      target,
      '--databases',
      database,
      '--compress',
      compression,
      '--pgtools-dir',
      PGTOOLS,
      '--json',
      '--quiet',
      ...extra,
    ];
    const run = await runTool(this.tool.launcher, args, { env: this.toolEnv(), cpus });
    assertOk(`rds-s3-backup backup ${database} → ${target}`, run);
    const report = JSON.parse(run.stdout) as { results: Array<{ ok: boolean; bytes: number; durationMs: number; key: string }> };
    const result = report.results[0];
    if (!result?.ok) throw new Error(`backup reported failure: ${run.stdout}`);
    return { ...run, bytes: result.bytes, durationS: result.durationMs / 1000, key: result.key };
  }

  /** A fresh file:// target directory. */
  async fileTarget(): Promise<{ url: string; dir: string }> {
    const dir = path.join(this.storeRoot, `file-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return { url: `file://${dir}`, dir };
  }

  /** A fresh bucket on a wiped moto (it keeps objects in memory, ≈3× their size, so nothing is kept between runs). */
  async s3Target(): Promise<{ url: string; bucket: string }> {
    await this.moto.reset();
    const bucket = await this.moto.createBucket(`bench-${randomBytes(4).toString('hex')}`);
    return { url: `s3://${bucket}/bench`, bucket };
  }

  async freshDatabase(prefix: string): Promise<string> {
    const name = `${prefix}_${randomBytes(3).toString('hex')}`;
    await this.pg.query(`create database ${name}`);
    return name;
  }

  async dropDatabase(name: string): Promise<void> {
    await this.pg.query(`drop database if exists ${name} with (force)`);
  }

  /**
   * Bare pg_restore of a local archive into a new, empty database (dropped afterwards). One job runs as one
   * transaction, as `rds-s3-backup restore` does by default; with jobs > 1 pg_restore cannot, and neither can the tool.
   */
  async pgRestore(file: string, jobs: number): Promise<TimedRun> {
    const target = await this.freshDatabase('restore');
    try {
      const mode = jobs > 1 ? [`--jobs=${jobs}`] : ['--single-transaction'];
      const args = ['--no-password', '--exit-on-error', `--dbname=dbname=${target}`, ...mode, file];
      const run = await runTimed([PG_RESTORE, ...args], { env: this.pgEnv() });
      assertOk(`pg_restore ${file}`, run);
      return run;
    } finally {
      await this.dropDatabase(target);
    }
  }

  /** `rds-s3-backup restore --latest` of `database` from `from` into a new, empty database (dropped afterwards). */
  async toolRestore(from: string, database: string, jobs: number): Promise<ToolRun> {
    const target = await this.freshDatabase('restore');
    try {
      const args = [
        'restore',
        '--from',
        from,
        '--database',
        database,
        '--latest',
        '--target',
        `host=127.0.0.1 dbname=${target}`,
        '--pgtools-dir',
        PGTOOLS,
        '--json',
        '--quiet',
      ];
      // One GET: moto copies the whole object for every ranged GET (docs/restore.md), which would measure moto.
      if (jobs > 1) args.push('--jobs', String(jobs), '--temp-dir', this.storeRoot, '--download-streams', '1');
      const run = await runTool(this.tool.launcher, args, { env: this.toolEnv() });
      assertOk(`rds-s3-backup restore ${database} from ${from}`, run);
      return run;
    } finally {
      await this.dropDatabase(target);
    }
  }

  /** Runs the tool's CLI with any arguments (restore, verify, ...). */
  async cli(args: readonly string[], cpus?: string): Promise<ToolRun> {
    return runTool(this.tool.launcher, args, { env: this.toolEnv(), cpus });
  }

  /** Whether the built CLI knows `command` (restore/verify are being built by someone else right now). */
  async hasCommand(command: string): Promise<boolean> {
    const run = await runTool(this.tool.launcher, [command, '--help'], { env: this.toolEnv() });
    return run.code === 0;
  }

  postmasterPid(): number {
    return Number(readFileSync(path.join(this.pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  motoPid(): number | undefined {
    const needle = `-p\0${this.moto.port}`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmdline.includes('moto-server.py') && cmdline.includes(needle)) return Number(entry);
      } catch {
        // Exited while we looked.
      }
    }
    return undefined;
  }

  /** CPU affinity of every thread of a process (new PostgreSQL backends inherit the postmaster's). */
  async pin(pid: number, cpus: string): Promise<void> {
    await exec('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
  }
}

export function dumpFileIn(dir: string, key: string): string {
  const file = path.join(dir, key);
  if (!existsSync(file)) throw new Error(`${file} missing after a file:// backup`);
  return file;
}
