import type { DatasetInfo } from './dataset.ts';
import type { Spread } from './stats.ts';

/** `pipeline`: the reference users write by hand, `pg_dump -Fc | aws s3 cp - s3://…` (Debian's AWS CLI). */
export type BackupKind = 'floor' | 'file' | 's3' | 'pipeline';

/** One measured backup (or floor pg_dump) run. Memory in MiB, time in seconds, sizes in bytes. */
export type BackupSample = {
  readonly dataset: string;
  readonly compression: string;
  readonly kind: BackupKind;
  readonly rep: number;
  /** CPUs the dump side (pg_dump, and Node for the tool) was pinned to; null = unpinned. */
  readonly cpus: string | null;
  readonly partSizeMiB: number | null;
  readonly queueSize: number | null;
  readonly wallS: number;
  readonly load1: number;
  /** Archive size (tool runs; the floor writes to /dev/null). */
  readonly bytes: number | null;
  /** The database's own duration in the tool's report (wall minus process start, connect and planning). */
  readonly toolDurationS: number | null;
  /** Tool runs: seconds from spawn until pg_dump was first seen, pg_dump's lifetime, and from its exit to the tool's exit (±50 ms polls). */
  readonly beforeDumpS: number | null;
  readonly dumpS: number | null;
  readonly afterDumpS: number | null;
  readonly nodeRssMiB: number | null;
  readonly nodeHeapMiB: number | null;
  readonly nodeBuffersMiB: number | null;
  readonly nodeCpuS: number | null;
  readonly pgDumpRssMiB: number | null;
  /** pg_dump's user+system CPU (floor only: GNU time). */
  readonly pgDumpCpuS: number | null;
};

export type BackupGroup = {
  readonly dataset: string;
  readonly compression: string;
  readonly kind: BackupKind;
  readonly cpus: string | null;
  readonly partSizeMiB: number | null;
  readonly queueSize: number | null;
  readonly wallS: Spread;
  /** Per repetition: this run's wall ÷ the floor's wall in the same repetition. */
  readonly ratioToFloor: Spread | null;
  /** Database size (pg_database_size) ÷ median wall, MB/s. */
  readonly databaseMBps: number;
  /** Archive bytes ÷ median wall, MB/s. */
  readonly archiveMBps: number | null;
  readonly bytes: number | null;
  readonly nodeRssMiB: Spread | null;
  readonly pgDumpRssMiB: Spread | null;
  /** Medians of BackupSample's breakdown (tool runs only). */
  readonly beforeDumpS: number | null;
  readonly dumpS: number | null;
  readonly afterDumpS: number | null;
  readonly nodeCpuS: number | null;
};

export type RestoreSample = {
  readonly dataset: string;
  readonly compression: string;
  readonly kind: 'pg_restore-file' | 'tool-s3' | 'tool-file';
  readonly jobs: number;
  readonly rep: number;
  readonly wallS: number;
  readonly load1: number;
  readonly nodeRssMiB: number | null;
  readonly pgRestoreRssMiB: number | null;
  /** Tool runs: seconds from the tool's start until pg_restore appeared (with --jobs: download and verification). */
  readonly beforeRestoreS: number | null;
};

export type RestoreGroup = {
  readonly dataset: string;
  readonly compression: string;
  readonly kind: RestoreSample['kind'];
  readonly jobs: number;
  readonly wallS: Spread;
  readonly ratioToPgRestore: Spread | null;
  readonly nodeRssMiB: Spread | null;
  readonly beforeRestoreS: number | null;
};

export type CompressionRow = {
  readonly compression: string;
  readonly bytes: number;
  /** Archive bytes ÷ database size. */
  readonly ratioToDatabase: number;
  readonly floorS: Spread;
  readonly toolFileS: Spread;
  readonly toolRatio: Spread | null;
  readonly restoreS: Spread | null;
  readonly pgDumpCpuS: number;
};

export type PackageInfo = {
  readonly available: boolean;
  readonly note: string;
  readonly artifacts: ReadonlyArray<{ readonly file: string; readonly bytes: number; readonly unpackedBytes: number | null }>;
  /** Median time to import the bundled handler module in a fresh Node process (module load + top level). */
  readonly coldInitMs: Spread | null;
  readonly coldInitRssMiB: Spread | null;
};

type Environment = {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly mode: 'quick' | 'full';
  readonly host: {
    readonly cpuModel: string;
    readonly cpus: number;
    readonly memGiB: number;
    readonly kernel: string;
    readonly os: string;
  };
  readonly node: string;
  /** V8 options the tool ran with (the runners' RUNNER_NODE_OPTIONS); absent in results from before they existed. */
  readonly nodeOptions?: string;
  readonly pgDump: string;
  readonly server: string;
  readonly tool: { readonly revision: string; readonly commit: string; readonly dirty: readonly string[] };
  readonly load: {
    readonly before: readonly number[];
    readonly after: readonly number[];
    readonly maxLoad1DuringRuns: number;
    readonly medianLoad1DuringRuns: number;
  };
  readonly serverSettings: Readonly<Record<string, string>>;
  readonly notes: readonly string[];
};

export type Results = {
  readonly schema: 'rds-s3-backup/bench@1';
  readonly environment: Environment;
  readonly defaultCompression: string;
  readonly datasets: readonly DatasetInfo[];
  readonly backup: { readonly groups: readonly BackupGroup[]; readonly samples: readonly BackupSample[] };
  readonly compression: {
    readonly dataset: string | null;
    readonly rows: readonly CompressionRow[];
    readonly samples: readonly BackupSample[];
    readonly restoreSamples: readonly RestoreSample[];
  };
  readonly restore: {
    readonly available: boolean;
    readonly note: string;
    readonly groups: readonly RestoreGroup[];
    readonly samples: readonly RestoreSample[];
  };
  readonly sweep: { readonly groups: readonly BackupGroup[]; readonly samples: readonly BackupSample[] };
  readonly oneVcpu: { readonly note: string; readonly groups: readonly BackupGroup[]; readonly samples: readonly BackupSample[] };
  readonly lambdaPackage: PackageInfo;
};
