// `npm run bench` — speed, memory, size and cost of rds-s3-backup against bare pg_dump, measured in one run.
//
//   npm run bench -- --quick          a small dataset, every phase, a few minutes; results in .cache/bench/results-quick
//   npm run bench                     ~1 GB and ~5 GB datasets; results in bench/results (committed)
//
// Options: --sizes 1000,5000 (dataset targets in MB) --reps N (--backup-reps N: default 5) --phases backup,compression,restore,sweep,vcpu,package
//          --revision HEAD|worktree|<rev> (what to build and measure; default HEAD) --out DIR
//          --wait-load X (before starting, wait until the 1-minute load average is below X; max 60 min)
//          --render DIR (only re-render DIR/summary.md and the charts from DIR/results.json)
//          --also-upload 16x4,... (extra S3 runs with --part-size-mb × --queue-size in the backup phase; '' for none)
//          --vcpu-compressions zstd:1,zstd:3 (settings measured on one vCPU, besides the default)
// Not part of `npm test`. Method and reading guide: docs/benchmarks.md.
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { RUNNER_NODE_OPTIONS } from '../src/runner/node-options.ts';
import { BENCH_CACHE, REPO, buildTool } from './build.ts';
import { compressionChart, memoryChart } from './chart.ts';
import { createDataset, planDataset, type DatasetInfo } from './dataset.ts';
import { AWS_CLI, Harness, PG_DUMP, SERVER_SETTINGS } from './harness.ts';
import { measurePackage } from './lambda-package.ts';
import { loadAverage } from './measure.ts';
import { backupSeries, compressionMatrix, groupBackups, type Log, type Variant } from './phases.ts';
import { summaryMarkdown } from './report.ts';
import { restorePhase } from './restore-phase.ts';
import { median } from './stats.ts';
import type { BackupSample, Results } from './types.ts';

const exec = promisify(execFile);

const PHASES = ['backup', 'compression', 'restore', 'sweep', 'vcpu', 'package'] as const;
type Phase = (typeof PHASES)[number];

export const COMPRESSIONS = ['none', 'lz4:1', 'zstd:1', 'zstd:3', 'zstd:9', 'gzip:1', 'gzip:6'] as const;

type Settings = {
  readonly mode: 'quick' | 'full';
  readonly sizesMb: readonly number[];
  readonly reps: number;
  /** The backup phase's repetitions: its ratios are the headline, so more of them against a shared machine's noise. */
  readonly backupReps: number;
  readonly restoreReps: number;
  readonly sweepParts: readonly number[];
  readonly sweepQueues: readonly number[];
  readonly sweepReps: number;
  readonly phases: ReadonlySet<Phase>;
  readonly revision: string;
  readonly out: string;
  readonly waitLoad: number | null;
  /** Other settings measured on one vCPU besides the default (floor and S3 only). */
  readonly vcpuCompressions: readonly string[];
  /** Extra S3 variants [part MiB, queue] in the backup phase (candidate defaults), at every size. */
  readonly alsoUpload: ReadonlyArray<readonly [number, number]>;
};

function parseArgs(argv: readonly string[]): Settings {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (name === 'quick') flags.set('quick', 'true');
    else if (inline !== undefined) flags.set(name, inline);
    else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    }
  }
  // `npm run bench --quick` (without `--`) reaches us only as npm_config_quick.
  const quick = flags.has('quick') || process.env['npm_config_quick'] === 'true';
  const list = (name: string, fallback: readonly number[]): number[] =>
    flags.has(name) ? flags.get(name)!.split(',').map(Number) : [...fallback];
  const phases = flags.has('phases') ? flags.get('phases')!.split(',') : [...PHASES];
  for (const p of phases)
    if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}; phases: ${PHASES.join(', ')}`);
  return {
    mode: quick ? 'quick' : 'full',
    sizesMb: list('sizes', quick ? [60] : [1000, 5000]),
    reps: Number(flags.get('reps') ?? 3),
    backupReps: Number(flags.get('backup-reps') ?? flags.get('reps') ?? (quick ? 3 : 5)),
    restoreReps: Number(flags.get('restore-reps') ?? (quick ? 1 : 3)),
    sweepParts: list('sweep-parts', quick ? [8, 16] : [5, 8, 16]),
    sweepQueues: list('sweep-queues', quick ? [2, 4] : [1, 2, 4]),
    sweepReps: Number(flags.get('sweep-reps') ?? (quick ? 1 : 3)),
    phases: new Set(phases as Phase[]),
    revision: flags.get('revision') ?? 'HEAD',
    out: path.resolve(flags.get('out') ?? (quick ? path.join(BENCH_CACHE, 'results-quick') : path.join(REPO, 'bench', 'results'))),
    waitLoad: flags.has('wait-load') ? Number(flags.get('wait-load')) : null,
    vcpuCompressions: (flags.get('vcpu-compressions') ?? 'zstd:1,zstd:3').split(',').filter(Boolean),
    alsoUpload: (flags.get('also-upload') ?? '16x4')
      .split(',')
      .filter(Boolean)
      .map((pq) => pq.split('x').map(Number) as [number, number]),
  };
}

function sizeLabel(mb: number): string {
  return mb >= 1000 ? `${mb / 1000} GB` : `${mb} MB`;
}

async function ensureDeps(log: Log): Promise<void> {
  log('setting up: PostgreSQL 18 client bundle, moto, OS user postgres (scripts/setup-test-deps.sh)');
  await exec('bash', [path.join(REPO, 'scripts', 'setup-test-deps.sh')], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  if (!existsSync('/usr/bin/time')) {
    log("installing Debian's `time` package (GNU time measures pg_dump's and pg_restore's peak RSS)");
    await exec('apt-get', ['install', '-y', '--no-install-recommends', 'time'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (!existsSync('/usr/bin/taskset')) throw new Error('taskset (util-linux) is missing');
  if (!existsSync(AWS_CLI)) {
    log("installing Debian's `awscli` (the shell pipeline reference row: pg_dump | aws s3 cp -)");
    await exec('apt-get', ['install', '-y', '--no-install-recommends', 'awscli'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 16 * 1024 * 1024,
    });
  }
}

async function waitForQuiet(limit: number, log: Log): Promise<void> {
  const deadline = Date.now() + 60 * 60_000;
  while (loadAverage() >= limit && Date.now() < deadline) {
    log(`load average ${loadAverage().toFixed(2)} ≥ ${limit}: waiting for a quieter machine`);
    await new Promise((r) => setTimeout(r, 60_000));
  }
}

function hostInfo(): Results['environment']['host'] {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    os: /^PRETTY_NAME="?([^"\n]*)/m.exec(osRelease)?.[1] ?? 'unknown',
  };
}

function render(dir: string, results: Results): void {
  if (results.compression.rows.length) writeFileSync(path.join(dir, 'compression.svg'), compressionChart(results));
  if (results.backup.groups.length) writeFileSync(path.join(dir, 'backup.svg'), memoryChart(results));
  writeFileSync(path.join(dir, 'summary.md'), summaryMarkdown(results));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--render') {
    // Re-renders summary.md and the charts of an earlier run from its results.json (no measuring).
    const dir = path.resolve(argv[1] ?? path.join(REPO, 'bench', 'results'));
    render(dir, JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as Results);
    process.stderr.write(`rendered ${dir}/{summary.md,compression.svg,backup.svg}\n`);
    return;
  }
  const settings = parseArgs(argv);
  mkdirSync(settings.out, { recursive: true });
  const logFile = path.join(settings.out, 'bench.log');
  writeFileSync(logFile, '');
  const t0 = Date.now();
  const log: Log = (line) => {
    const text = `[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}`;
    process.stderr.write(`${text}\n`);
    appendFileSync(logFile, `${text}\n`);
  };
  const startedAt = new Date().toISOString();
  log(
    `rds-s3-backup bench (${settings.mode}): sizes ${settings.sizesMb.map(sizeLabel).join(', ')}, ${settings.reps} repetitions, phases ${[...settings.phases].join(', ')}`,
  );
  await ensureDeps(log);
  if (settings.waitLoad !== null) await waitForQuiet(settings.waitLoad, log);
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

  log(`building ${settings.revision} into .cache/bench/build`);
  const tool = await buildTool(settings.revision);
  const h = await Harness.start(tool);
  // What ships: the measured build's own default.
  const DEFAULT_COMPRESSION = tool.defaultCompression;
  const notes: string[] = [];
  try {
    const pgDumpVersion = (await exec(PG_DUMP, ['--version'])).stdout.trim();
    log(
      `PostgreSQL ${h.pg.serverVersion} on port ${h.pg.port}, moto on ${h.moto.endpoint}, ${pgDumpVersion}, tool ${tool.commit.slice(0, 12)}${tool.dirty.length ? ' (dirty)' : ''}`,
    );

    const datasets: DatasetInfo[] = [];
    for (const mb of settings.sizesMb) {
      const plan = planDataset(`bench_${mb}mb`, mb);
      log(`generating ${plan.database}: pgbench scale ${plan.oltpScale} + ${plan.mixedRows} mixed rows (target ${sizeLabel(mb)})`);
      const ds = await createDataset(h.pg, plan, mb);
      datasets.push(ds);
      log(`${ds.database}: ${(ds.databaseBytes / 1e9).toFixed(2)} GB in ${ds.generateSeconds.toFixed(0)} s, sample md5 ${ds.sampleMd5}`);
      // Warm-up, discarded: the page cache then holds the database for floor and tool alike.
      await h.floor(ds.database, DEFAULT_COMPRESSION);
    }
    const first = datasets[0]!;

    const backupSamples: BackupSample[] = [];
    if (settings.phases.has('backup')) {
      for (const ds of datasets) {
        log(`backup: floor vs file:// vs s3:// at ${DEFAULT_COMPRESSION} on ${ds.database}`);
        const kinds: Variant[] = [
          'floor',
          'file',
          's3',
          'pipeline',
          ...settings.alsoUpload.map(([partSizeMiB, queueSize]) => ({ kind: 's3' as const, partSizeMiB, queueSize })),
        ];
        const r = await backupSeries(h, ds, DEFAULT_COMPRESSION, { reps: settings.backupReps, kinds }, log);
        backupSamples.push(...r.samples);
      }
    }

    let compression: Results['compression'] = { dataset: null, rows: [], samples: [], restoreSamples: [] };
    if (settings.phases.has('compression')) {
      log(`compression matrix on ${first.database}: ${COMPRESSIONS.join(', ')}`);
      const r = await compressionMatrix(h, first, COMPRESSIONS, settings.reps, settings.restoreReps, log);
      compression = { dataset: first.database, ...r };
    }

    let restore: Results['restore'] = { available: false, note: 'phase not run', groups: [], samples: [] };
    if (settings.phases.has('restore')) restore = await restorePhase(h, first, DEFAULT_COMPRESSION, settings.reps, log);

    const sweepSamples: BackupSample[] = [];
    if (settings.phases.has('sweep')) {
      log(`upload sweep on ${first.database}: part size ${settings.sweepParts.join('/')} MiB × queue ${settings.sweepQueues.join('/')}`);
      for (let rep = 0; rep < settings.sweepReps; rep++) {
        for (const partSizeMiB of settings.sweepParts) {
          for (const queueSize of settings.sweepQueues) {
            const s3: Variant = { kind: 's3', partSizeMiB, queueSize };
            const r = await backupSeries(h, first, DEFAULT_COMPRESSION, { reps: 1, kinds: rep % 2 ? [s3, 'floor'] : ['floor', s3] }, log);
            // Each configuration is paired with the floor run next to it: a unique repetition id per pair.
            sweepSamples.push(...r.samples.map((s) => ({ ...s, rep: rep * 1000 + partSizeMiB * 10 + queueSize })));
          }
        }
      }
    }

    const vcpuSamples: BackupSample[] = [];
    const vcpuNote =
      'One vCPU emulated with CPU affinity: pg_dump and the tool\'s Node process pinned to CPU 1, the PostgreSQL server and moto (the "remote" side) to CPU 0. ' +
      `Lambda gives one full vCPU at 1,769 MB of memory; this approximates the dump side of such a function. The default (${DEFAULT_COMPRESSION}) with every upload variant; ${settings.vcpuCompressions.filter((x) => x !== DEFAULT_COMPRESSION).join(', ') || 'no other setting'}: floor and S3 only.`;
    if (settings.phases.has('vcpu')) {
      log(`one-vCPU emulation on ${first.database}`);
      const all = `0-${os.cpus().length - 1}`;
      const motoPid = h.motoPid();
      await h.pin(h.postmasterPid(), '0');
      if (motoPid !== undefined) await h.pin(motoPid, '0');
      try {
        const kinds: Variant[] = [
          'floor',
          'file',
          's3',
          'pipeline',
          ...settings.alsoUpload.map(([partSizeMiB, queueSize]) => ({ kind: 's3' as const, partSizeMiB, queueSize })),
        ];
        for (const c of [DEFAULT_COMPRESSION, ...settings.vcpuCompressions.filter((x) => x !== DEFAULT_COMPRESSION)]) {
          const r = await backupSeries(
            h,
            first,
            c,
            { reps: settings.reps, kinds: c === DEFAULT_COMPRESSION ? kinds : ['floor', 's3'], cpus: '1' },
            log,
          );
          vcpuSamples.push(...r.samples);
        }
      } finally {
        await h.pin(h.postmasterPid(), all);
        if (motoPid !== undefined) await h.pin(motoPid, all);
      }
      if (motoPid === undefined) notes.push('one-vCPU phase: moto could not be pinned (pid not found); it shared both CPUs.');
    }

    let lambdaPackage: Results['lambdaPackage'] = {
      available: false,
      note: 'phase not run',
      artifacts: [],
      coldInitMs: null,
      coldInitRssMiB: null,
    };
    if (settings.phases.has('package')) lambdaPackage = await measurePackage(settings.mode === 'quick' ? 5 : 15, log);

    const allLoads = [...backupSamples, ...compression.samples, ...sweepSamples, ...vcpuSamples].map((s) => s.load1);
    const results: Results = {
      schema: 'rds-s3-backup/bench@1',
      environment: {
        startedAt,
        finishedAt: new Date().toISOString(),
        mode: settings.mode,
        host: hostInfo(),
        node: process.version,
        nodeOptions: RUNNER_NODE_OPTIONS,
        pgDump: pgDumpVersion,
        server: h.pg.version,
        tool: { revision: tool.revision, commit: tool.commit, dirty: tool.dirty },
        load: {
          before: loadBefore,
          after: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
          maxLoad1DuringRuns: allLoads.length ? Math.max(...allLoads) : NaN,
          medianLoad1DuringRuns: median(allLoads),
        },
        serverSettings: { ...SERVER_SETTINGS, fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
        notes,
      },
      defaultCompression: DEFAULT_COMPRESSION,
      datasets,
      backup: { groups: groupBackups(backupSamples, datasets), samples: backupSamples },
      compression,
      restore,
      sweep: { groups: groupBackups(sweepSamples, datasets), samples: sweepSamples },
      oneVcpu: { note: vcpuNote, groups: groupBackups(vcpuSamples, datasets), samples: vcpuSamples },
      lambdaPackage,
    };
    writeFileSync(path.join(settings.out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    render(settings.out, results);
    log(
      `done in ${((Date.now() - t0) / 60_000).toFixed(1)} min: ${path.relative(REPO, settings.out) || settings.out}/{results.json,summary.md,compression.svg,backup.svg}`,
    );
  } finally {
    await h.stop();
  }
}

await main();
