// How good the server-side progress estimate is, and what its second session costs.
//
//   node bench/progress-accuracy.ts [--mb 1024] [--runs 2]
//
// Builds the benchmark's dataset (bench/dataset.ts) at the given size on a throwaway PostgreSQL 18, then backs it
// up into a temporary directory `runs` times with the progress probe and `runs` times without it, alternating.
// With the probe it records every estimate; the ETA read at the first estimate at or past 50% is compared with
// the time the dump then really took. Prints one JSON document (for docs/benchmarks.md).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { DumpEstimate } from '../src/core/backup/dump-progress.ts';
import { runBackup } from '../src/core/backup/run-backup.ts';
import type { DatabaseSource, ProgressProbe } from '../src/core/ports/database-source.ts';
import { resolveConnection } from '../src/postgres/credentials.ts';
import { PgSource } from '../src/postgres/source.ts';
import { locatePgTools } from '../src/postgres/tools.ts';
import { FileStore } from '../src/storage/file.ts';
import { parseBackupConfig } from '../src/core/config/backup-config.ts';
import { collectRaw } from '../src/core/config/raw.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { createDataset, planDataset } from './dataset.ts';
import { SERVER_SETTINGS } from './harness.ts';

type Run = {
  readonly probe: boolean;
  readonly seconds: number;
  readonly estimates: number;
  /** Time spent inside the probe's queries (client side), and how many samples. */
  readonly probeMs: number;
  readonly atHalf: {
    readonly percent: number;
    readonly elapsedS: number;
    readonly etaS: number;
    readonly actualRemainingS: number;
    readonly errorPercent: number;
  } | null;
};

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, runs: { type: 'string', default: '2' } } });
const mb = Number(values.mb);
const runs = Number(values.runs);

const pg = await startPostgres({ major: 18, settings: SERVER_SETTINGS });
const out: Run[] = [];
try {
  const t0 = Date.now();
  const info = await createDataset(pg, planDataset('bench', mb), mb);
  await pg.query('analyze', 'bench');
  const generateS = (Date.now() - t0) / 1000;
  const env = { ...pg.env('bench') };
  const tools = await locatePgTools(null, env);
  // The connection exactly as the CLI would resolve it from PG* variables.
  const config = parseBackupConfig(collectRaw('backup', { to: 'file:///unused', databases: 'bench' }, { ...env, PGSSLMODE: 'disable' }));
  const conn = await resolveConnection(config.connection, config.auth, { env });
  for (let i = 0; i < runs * 2; i++) {
    const withProbe = i % 2 === 0;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'progress-bench-'));
    const real = new PgSource(conn, tools);
    let probeMs = 0;
    let samples = 0;
    // Without the probe: the same source with progressProbe hidden, so everything else is identical.
    const source: DatabaseSource = {
      serverInfo: () => real.serverInfo(),
      dumpToolVersion: () => real.dumpToolVersion(),
      listDatabases: () => real.listDatabases(),
      databaseSize: (d) => real.databaseSize(d),
      exportSnapshot: (d, l) => real.exportSnapshot(d, l),
      startDump: (r) => real.startDump(r),
      startGlobalsDump: () => real.startGlobalsDump(),
      close: () => real.close(),
      ...(withProbe
        ? {
            progressProbe: (d: string): ProgressProbe => {
              const p = real.progressProbe(d);
              return {
                sample: async () => {
                  const t = performance.now();
                  try {
                    return await p.sample();
                  } finally {
                    probeMs += performance.now() - t;
                    samples++;
                  }
                },
                close: () => p.close(),
              };
            },
          }
        : {}),
    };
    const estimates: { at: number; e: DumpEstimate }[] = [];
    let doneAt = 0;
    const started = Date.now();
    try {
      const report = await runBackup(
        {
          databases: ['bench'],
          globals: false,
          compression: config.compression,
          rowCounts: false,
          lockWaitTimeout: config.lockWaitTimeout,
          partSizeMinBytes: 16 << 20,
          queueSize: 4,
          kmsKeyId: null,
        },
        {
          source,
          store: new FileStore(dir),
          onEvent: (e) => {
            if (e.type === 'estimate' && e.estimate) estimates.push({ at: Date.now(), e: e.estimate });
            if (e.type === 'done') doneAt = Date.now();
          },
        },
      );
      if (!report.ok) throw new Error(JSON.stringify(report.results));
    } finally {
      await source.close();
      await rm(dir, { recursive: true, force: true });
    }
    const half = estimates.find((x) => x.e.percent >= 50);
    const atHalf =
      half && half.e.etaMs !== null
        ? {
            percent: Math.round(half.e.percent * 10) / 10,
            elapsedS: half.e.elapsedMs / 1000,
            etaS: half.e.etaMs / 1000,
            actualRemainingS: (doneAt - half.at) / 1000,
            errorPercent: Math.round(((half.e.etaMs - (doneAt - half.at)) / (doneAt - half.at)) * 1000) / 10,
          }
        : null;
    out.push({ probe: withProbe, seconds: (doneAt - started) / 1000, estimates: samples, probeMs: Math.round(probeMs), atHalf });
    process.stderr.write(`${JSON.stringify(out.at(-1))}\n`);
  }
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  process.stdout.write(
    `${JSON.stringify(
      {
        databaseBytes: info.databaseBytes,
        generateS,
        loadAverage: os.loadavg(),
        cpus: os.cpus().length,
        runs: out,
        meanSecondsWithProbe: mean(out.filter((r) => r.probe).map((r) => r.seconds)),
        meanSecondsWithoutProbe: mean(out.filter((r) => !r.probe).map((r) => r.seconds)),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await pg.stop();
}
