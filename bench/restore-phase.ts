// Restore: `rds-s3-backup restore` from the S3 server vs bare pg_restore from a local file of the same archive,
// with one job and with --jobs 2, interleaved per repetition.
import { rm } from 'node:fs/promises';
import type { DatasetInfo } from './dataset.ts';
import { PGTOOLS, type Harness } from './harness.ts';
import { assertOk } from './measure.ts';
import { groupRestores, kib, type Log } from './phases.ts';
import { rotate } from './stats.ts';
import type { RestoreSample, Results } from './types.ts';

const JOBS = [1, 2] as const;

export async function restorePhase(h: Harness, ds: DatasetInfo, compression: string, reps: number, log: Log): Promise<Results['restore']> {
  const haveRestore = await h.hasCommand('restore');
  log(`restore on ${ds.database} (${compression}): pg_restore from a local file${haveRestore ? ' vs rds-s3-backup restore from S3' : ' only: this build has no restore command'}`);

  // One archive, stored in both places: the same bytes for both sides.
  const fileTarget = await h.fileTarget();
  const local = await h.backup(ds.database, compression, fileTarget.url);
  const file = `${fileTarget.dir}/${local.key}`;
  const samples: RestoreSample[] = [];
  try {
    let s3Url: string | null = null;
    if (haveRestore) {
      const s3 = await h.s3Target();
      await h.backup(ds.database, compression, s3.url);
      s3Url = s3.url;
    }
    for (let rep = 0; rep < reps; rep++) {
      for (const jobs of JOBS) {
        const kinds: RestoreSample['kind'][] = haveRestore ? rotate(['pg_restore-file', 'tool-s3'], rep) : ['pg_restore-file'];
        for (const kind of kinds) {
          let sample: RestoreSample;
          if (kind === 'pg_restore-file') {
            const run = await h.pgRestore(file, jobs);
            sample = { dataset: ds.database, compression, kind, jobs, rep, wallS: run.wallS, load1: run.load1, nodeRssMiB: null, pgRestoreRssMiB: kib(run.maxRssKb) };
          } else {
            const target = `restored_${rep}_${jobs}`;
            const args = ['restore', '--from', s3Url!, '--database', ds.database, '--target-database', target, '--pgtools-dir', PGTOOLS, '--json', '--quiet', ...(jobs > 1 ? ['--jobs', String(jobs)] : [])];
            try {
              const run = await h.cli(args);
              assertOk(`rds-s3-backup restore ${ds.database}`, run);
              sample = { dataset: ds.database, compression, kind, jobs, rep, wallS: run.wallS, load1: run.load1, nodeRssMiB: kib(run.node.maxRssKb), pgRestoreRssMiB: kib(run.children['pg_restore']) };
            } finally {
              await h.dropDatabase(target);
            }
          }
          samples.push(sample);
          log(`${ds.database} restore ${kind} jobs=${jobs} rep ${rep + 1}: ${sample.wallS.toFixed(2)} s load ${sample.load1.toFixed(2)}`);
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
      ? 'rds-s3-backup restore reads the archive from the S3 server (moto on the same machine) and restores into a new database; pg_restore reads a local file.'
      : `the measured build (${h.tool.commit.slice(0, 12)}) has no restore command; only the pg_restore baseline was measured.`,
    groups: groupRestores(samples),
    samples,
  };
}
