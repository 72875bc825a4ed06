// Restore: `rds-s3-backup restore` from the S3 server and from file:// vs bare pg_restore from a local file of the
// same archive, with one job (all three in one transaction) and with --jobs 2, interleaved per repetition.
import { rm } from 'node:fs/promises';
import type { DatasetInfo } from './dataset.ts';
import type { Harness } from './harness.ts';
import { groupRestores, kib, type Log } from './phases.ts';
import { rotate } from './stats.ts';
import type { RestoreSample, Results } from './types.ts';

const JOBS = [1, 2] as const;

export async function restorePhase(h: Harness, ds: DatasetInfo, compression: string, reps: number, log: Log): Promise<Results['restore']> {
  const haveRestore = await h.hasCommand('restore');
  log(
    `restore on ${ds.database} (${compression}): pg_restore from a local file${haveRestore ? ' vs rds-s3-backup restore from S3 and from file://' : ' only: this build has no restore command'}`,
  );

  // One backup of each kind; the local file for pg_restore is the file:// object itself.
  const fileTarget = await h.fileTarget();
  const local = await h.backup(ds.database, compression, fileTarget.url);
  const file = `${fileTarget.dir}/${local.key}`;
  const samples: RestoreSample[] = [];
  try {
    const s3 = haveRestore ? await h.s3Target() : null;
    if (s3) await h.backup(ds.database, compression, s3.url);
    for (let rep = 0; rep < reps; rep++) {
      for (const jobs of JOBS) {
        const kinds: RestoreSample['kind'][] = haveRestore ? rotate(['pg_restore-file', 'tool-file', 'tool-s3'], rep) : ['pg_restore-file'];
        for (const kind of kinds) {
          let sample: RestoreSample;
          if (kind === 'pg_restore-file') {
            const run = await h.pgRestore(file, jobs);
            sample = {
              dataset: ds.database,
              compression,
              kind,
              jobs,
              rep,
              wallS: run.wallS,
              load1: run.load1,
              nodeRssMiB: null,
              pgRestoreRssMiB: kib(run.maxRssKb),
              beforeRestoreS: null,
            };
          } else {
            const run = await h.toolRestore(kind === 'tool-s3' ? s3!.url : fileTarget.url, ds.database, jobs);
            sample = {
              dataset: ds.database,
              compression,
              kind,
              jobs,
              rep,
              wallS: run.wallS,
              load1: run.load1,
              nodeRssMiB: kib(run.node.maxRssKb),
              pgRestoreRssMiB: kib(run.children['pg_restore']?.hwmKb),
              beforeRestoreS: run.children['pg_restore']?.firstS ?? null,
            };
          }
          samples.push(sample);
          log(
            `${ds.database} restore ${kind} jobs=${jobs} rep ${rep + 1}: ${sample.wallS.toFixed(2)} s${sample.nodeRssMiB !== null ? ` node ${sample.nodeRssMiB.toFixed(0)} MiB` : ''} load ${sample.load1.toFixed(2)}`,
          );
        }
      }
    }
  } finally {
    await rm(fileTarget.dir, { recursive: true, force: true });
    await h.moto.reset();
  }
  return {
    available: haveRestore,
    note: haveRestore
      ? 'Each run restores the same archive into a new, empty database. One job: pg_restore --single-transaction from the local file vs `rds-s3-backup restore` (streams the object through SHA-256 into pg_restore, one transaction that commits only after the object proved intact). Two jobs: pg_restore -j 2 from the local file vs `rds-s3-backup restore --jobs 2` (downloads and verifies the object into a temporary file first, then pg_restore -j 2). S3 is moto on the same machine, competing for the same 2 CPUs.'
      : `the measured build (${h.tool.commit.slice(0, 12)}) has no restore command; only the pg_restore baseline was measured.`,
    groups: groupRestores(samples),
    samples,
  };
}
