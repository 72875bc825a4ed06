// The measurements. Every comparison is interleaved inside one repetition (floor, then the tool, in an order
// that rotates each repetition), so a ratio is always taken between runs seconds apart under the same load.
import { rm } from 'node:fs/promises';
import type { DatasetInfo } from './dataset.ts';
import { dumpFileIn, type BackupOutcome, type Harness } from './harness.ts';
import type { TimedRun } from './measure.ts';
import { MB, MiB, median, rotate, spread } from './stats.ts';
import type { BackupGroup, BackupKind, BackupSample, CompressionRow, RestoreGroup, RestoreSample } from './types.ts';

const kib = (kb: number | undefined): number | null => (kb === undefined || !Number.isFinite(kb) ? null : (kb * 1024) / MiB);

export type Log = (line: string) => void;

/** A backup kind, optionally with upload settings other than the tool's defaults. */
export type Variant = BackupKind | { readonly kind: BackupKind; readonly partSizeMiB?: number; readonly queueSize?: number };

export type SeriesOptions = {
  readonly reps: number;
  /** Run in this order in the first repetition, rotated by one each repetition after. */
  readonly kinds: readonly Variant[];
  readonly cpus?: string;
  /** Keep the archive of the first file:// run (for restores); its path is returned. */
  readonly keepFile?: boolean;
};

function floorSample(ds: DatasetInfo, compression: string, rep: number, run: TimedRun, cpus: string | undefined): BackupSample {
  return {
    dataset: ds.database,
    compression,
    kind: 'floor',
    rep,
    cpus: cpus ?? null,
    partSizeMiB: null,
    queueSize: null,
    wallS: run.wallS,
    load1: run.load1,
    bytes: null,
    toolDurationS: null,
    beforeDumpS: null,
    dumpS: run.wallS,
    afterDumpS: null,
    nodeRssMiB: null,
    nodeHeapMiB: null,
    nodeBuffersMiB: null,
    nodeCpuS: null,
    pgDumpRssMiB: kib(run.maxRssKb),
    pgDumpCpuS: run.userS + run.sysS,
  };
}

/** The shell pipeline: its Node columns hold the pipeline's largest process RSS and its total CPU (pg_dump + aws). */
function pipelineSample(ds: DatasetInfo, compression: string, rep: number, run: TimedRun, cpus: string | undefined): BackupSample {
  return {
    ...floorSample(ds, compression, rep, run, cpus),
    kind: 'pipeline',
    dumpS: null,
    nodeRssMiB: kib(run.maxRssKb),
    nodeCpuS: run.userS + run.sysS,
    pgDumpRssMiB: null,
    pgDumpCpuS: null,
  };
}

function toolSample(
  ds: DatasetInfo,
  compression: string,
  v: Exclude<Variant, BackupKind>,
  rep: number,
  run: BackupOutcome,
  opts: SeriesOptions,
): BackupSample {
  const kind = v.kind;
  const dump = run.children['pg_dump'];
  return {
    dataset: ds.database,
    compression,
    kind,
    rep,
    cpus: opts.cpus ?? null,
    partSizeMiB: v.partSizeMiB ?? null,
    queueSize: v.queueSize ?? null,
    wallS: run.wallS,
    load1: run.load1,
    bytes: run.bytes,
    toolDurationS: run.durationS,
    beforeDumpS: dump ? dump.firstS : null,
    dumpS: dump ? dump.lastS - dump.firstS : null,
    afterDumpS: dump ? run.wallS - dump.lastS : null,
    nodeRssMiB: kib(run.node.maxRssKb),
    nodeHeapMiB: run.node.peak.heapUsed / MiB,
    nodeBuffersMiB: run.node.peak.arrayBuffers / MiB,
    nodeCpuS: run.node.userS + run.node.sysS,
    pgDumpRssMiB: kib(dump?.hwmKb),
    pgDumpCpuS: null,
  };
}

/** Floor and tool runs of one dataset and compression, interleaved per repetition. */
export async function backupSeries(
  h: Harness,
  ds: DatasetInfo,
  compression: string,
  opts: SeriesOptions,
  log: Log,
): Promise<{ samples: BackupSample[]; keptFile: string | null; keptDir: string | null }> {
  const samples: BackupSample[] = [];
  let keptFile: string | null = null;
  let keptDir: string | null = null;
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const variant of rotate(opts.kinds, rep)) {
      const v = typeof variant === 'string' ? { kind: variant } : variant;
      const kind = v.kind;
      const extra = [
        ...(v.partSizeMiB !== undefined ? ['--part-size-mb', String(v.partSizeMiB)] : []),
        ...(v.queueSize !== undefined ? ['--queue-size', String(v.queueSize)] : []),
      ];
      let sample: BackupSample;
      if (kind === 'floor') {
        sample = floorSample(ds, compression, rep, await h.floor(ds.database, compression, opts.cpus), opts.cpus);
      } else if (kind === 'file') {
        const target = await h.fileTarget();
        const run = await h.backup(ds.database, compression, target.url, extra, opts.cpus);
        sample = toolSample(ds, compression, v, rep, run, opts);
        if (opts.keepFile && keptFile === null) {
          keptFile = dumpFileIn(target.dir, run.key);
          keptDir = target.dir;
        } else await rm(target.dir, { recursive: true, force: true });
      } else if (kind === 'pipeline') {
        const target = await h.s3Target();
        sample = pipelineSample(
          ds,
          compression,
          rep,
          await h.pipeline(ds.database, compression, `${target.url}/pipeline.dump`, opts.cpus),
          opts.cpus,
        );
        await h.moto.reset();
      } else {
        const target = await h.s3Target();
        const run = await h.backup(ds.database, compression, target.url, extra, opts.cpus);
        sample = toolSample(ds, compression, v, rep, run, opts);
        await h.moto.reset();
      }
      samples.push(sample);
      log(describeSample(sample));
    }
  }
  return { samples, keptFile, keptDir };
}

function describeSample(s: BackupSample): string {
  const parts = [
    `${s.dataset} ${s.compression} ${s.kind}${s.cpus ? ` cpus=${s.cpus}` : ''}${s.partSizeMiB ? ` part=${s.partSizeMiB}MiB` : ''}${s.queueSize ? ` queue=${s.queueSize}` : ''} rep ${s.rep + 1}:`,
    `${s.wallS.toFixed(2)} s`,
  ];
  if (s.bytes !== null) parts.push(`${(s.bytes / MB).toFixed(1)} MB`);
  if (s.nodeRssMiB !== null) parts.push(`node ${s.nodeRssMiB.toFixed(0)} MiB`);
  if (s.pgDumpRssMiB !== null) parts.push(`pg_dump ${s.pgDumpRssMiB.toFixed(0)} MiB`);
  parts.push(`load ${s.load1.toFixed(2)}`);
  return parts.join(' ');
}

function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

type GroupKey = Pick<BackupSample, 'dataset' | 'compression' | 'kind' | 'cpus' | 'partSizeMiB' | 'queueSize'>;

function keyOf(s: GroupKey): string {
  return JSON.stringify([s.dataset, s.compression, s.kind, s.cpus, s.partSizeMiB, s.queueSize]);
}

/** Groups samples by configuration; ratios pair each tool run with the floor run of the same repetition. */
export function groupBackups(samples: readonly BackupSample[], datasets: readonly DatasetInfo[]): BackupGroup[] {
  const groups = new Map<string, BackupSample[]>();
  for (const s of samples) {
    const k = keyOf(s);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  const out: BackupGroup[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const floors = samples.filter(
      (s) => s.kind === 'floor' && s.dataset === first.dataset && s.compression === first.compression && s.cpus === first.cpus,
    );
    const ratios =
      first.kind === 'floor'
        ? null
        : list.flatMap((s) => {
            const floor = floors.find((f) => f.rep === s.rep);
            return floor ? [s.wallS / floor.wallS] : [];
          });
    const wall = spread(list.map((s) => s.wallS));
    const dbBytes = datasets.find((d) => d.database === first.dataset)?.databaseBytes ?? NaN;
    const bytes = first.kind === 'floor' ? null : median(list.map((s) => s.bytes ?? NaN));
    const nodeRss = list.map((s) => s.nodeRssMiB).filter((v): v is number => v !== null);
    const dumpRss = list.map((s) => s.pgDumpRssMiB).filter((v): v is number => v !== null);
    out.push({
      dataset: first.dataset,
      compression: first.compression,
      kind: first.kind,
      cpus: first.cpus,
      partSizeMiB: first.partSizeMiB,
      queueSize: first.queueSize,
      wallS: wall,
      ratioToFloor: ratios?.length ? spread(ratios) : null,
      databaseMBps: dbBytes / MB / wall.median,
      archiveMBps: bytes === null ? null : bytes / MB / wall.median,
      bytes,
      nodeRssMiB: nodeRss.length ? spread(nodeRss) : null,
      pgDumpRssMiB: dumpRss.length ? spread(dumpRss) : null,
      beforeDumpS: medianOrNull(list.map((s) => s.beforeDumpS)),
      dumpS: medianOrNull(list.map((s) => s.dumpS)),
      afterDumpS: medianOrNull(list.map((s) => s.afterDumpS)),
      nodeCpuS: medianOrNull(list.map((s) => s.nodeCpuS)),
    });
  }
  return out;
}

/** Compression matrix: floor and file:// tool runs per setting, then pg_restore of each archive. */
export async function compressionMatrix(
  h: Harness,
  ds: DatasetInfo,
  compressions: readonly string[],
  reps: number,
  restoreReps: number,
  log: Log,
): Promise<{ rows: CompressionRow[]; samples: BackupSample[]; restoreSamples: RestoreSample[] }> {
  const samples: BackupSample[] = [];
  const files = new Map<string, string>();
  const dirs: string[] = [];
  // Repetitions outermost, so slow drifts in machine load spread over every setting alike.
  for (let rep = 0; rep < reps; rep++) {
    for (const c of compressions) {
      const r = await backupSeries(h, ds, c, { reps: 1, kinds: rotate<Variant>(['floor', 'file'], rep), keepFile: !files.has(c) }, log);
      samples.push(...r.samples.map((s) => ({ ...s, rep })));
      if (r.keptFile) files.set(c, r.keptFile);
      if (r.keptDir) dirs.push(r.keptDir);
    }
  }
  const restoreSamples: RestoreSample[] = [];
  for (let rep = 0; rep < restoreReps; rep++) {
    for (const c of compressions) {
      const file = files.get(c)!;
      const run = await h.pgRestore(file, 1);
      const sample: RestoreSample = {
        dataset: ds.database,
        compression: c,
        kind: 'pg_restore-file',
        jobs: 1,
        rep,
        wallS: run.wallS,
        load1: run.load1,
        nodeRssMiB: null,
        pgRestoreRssMiB: kib(run.maxRssKb),
        beforeRestoreS: null,
      };
      restoreSamples.push(sample);
      log(`${ds.database} ${c} pg_restore rep ${rep + 1}: ${run.wallS.toFixed(2)} s load ${run.load1.toFixed(2)}`);
    }
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  const groups = groupBackups(samples, [ds]);
  const rows = compressions.map((c): CompressionRow => {
    const floor = groups.find((g) => g.compression === c && g.kind === 'floor')!;
    const file = groups.find((g) => g.compression === c && g.kind === 'file')!;
    const restores = restoreSamples.filter((s) => s.compression === c).map((s) => s.wallS);
    return {
      compression: c,
      bytes: file.bytes ?? NaN,
      ratioToDatabase: (file.bytes ?? NaN) / ds.databaseBytes,
      floorS: floor.wallS,
      toolFileS: file.wallS,
      toolRatio: file.ratioToFloor,
      restoreS: restores.length ? spread(restores) : null,
      pgDumpCpuS: median(samples.filter((s) => s.compression === c && s.kind === 'floor').map((s) => s.pgDumpCpuS ?? NaN)),
    };
  });
  return { rows, samples, restoreSamples };
}

export function groupRestores(samples: readonly RestoreSample[]): RestoreGroup[] {
  const keys = [...new Set(samples.map((s) => JSON.stringify([s.dataset, s.compression, s.kind, s.jobs])))];
  return keys.map((k) => {
    const list = samples.filter((s) => JSON.stringify([s.dataset, s.compression, s.kind, s.jobs]) === k);
    const first = list[0]!;
    const base = samples.filter(
      (s) => s.kind === 'pg_restore-file' && s.dataset === first.dataset && s.compression === first.compression && s.jobs === first.jobs,
    );
    const ratios =
      first.kind === 'pg_restore-file'
        ? null
        : list.flatMap((s) => {
            const b = base.find((x) => x.rep === s.rep);
            return b ? [s.wallS / b.wallS] : [];
          });
    const rss = list.map((s) => s.nodeRssMiB).filter((v): v is number => v !== null);
    return {
      dataset: first.dataset,
      compression: first.compression,
      kind: first.kind,
      jobs: first.jobs,
      wallS: spread(list.map((s) => s.wallS)),
      ratioToPgRestore: ratios?.length ? spread(ratios) : null,
      nodeRssMiB: rss.length ? spread(rss) : null,
      beforeRestoreS: medianOrNull(list.map((s) => s.beforeRestoreS)),
    };
  });
}

export { kib };
