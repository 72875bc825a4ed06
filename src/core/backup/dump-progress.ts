import { describeError } from '../errors.ts';
import type { ProgressProbe, ProgressSample } from '../ports/database-source.ts';

/** Percent done and ETA of one database's dump, in the database's own bytes (not the compressed output's). */
export type DumpEstimate = {
  readonly database: string;
  readonly percent: number;
  readonly doneBytes: number;
  readonly totalBytes: number;
  /** Database bytes per second since the dump started; null before anything was copied. */
  readonly bytesPerSecond: number | null;
  /** Time still needed at that rate; null while the rate is unknown. */
  readonly etaMs: number | null;
  readonly elapsedMs: number;
  readonly currentTable: string | null;
  readonly tablesDone: number;
  readonly tablesTotal: number;
  readonly method: ProgressSample['method'];
  /** At least STABLE_PERCENT done or STABLE_AFTER_MS elapsed: early readings swing with the first table. */
  readonly stable: boolean;
};

const STABLE_PERCENT = 5;
export const STABLE_AFTER_MS = 60_000;
/** One cheap catalog query per interval: far below anything a server notices (docs/benchmarks.md). */
export const DEFAULT_PROBE_INTERVAL_MS = 1000;

/** `rate`: database bytes per second to project with (default: the average since the start). */
export function estimate(database: string, s: ProgressSample, elapsedMs: number, rate: number | null = null): DumpEstimate {
  const percent = s.totalBytes > 0 ? Math.min(100, (s.doneBytes / s.totalBytes) * 100) : 0;
  rate ??= s.doneBytes > 0 && elapsedMs > 0 ? (s.doneBytes * 1000) / elapsedMs : null;
  const etaMs = rate ? Math.round(((s.totalBytes - s.doneBytes) * 1000) / rate) : null;
  return {
    database,
    percent,
    doneBytes: s.doneBytes,
    totalBytes: s.totalBytes,
    bytesPerSecond: rate,
    etaMs,
    elapsedMs,
    currentTable: s.currentTable,
    tablesDone: s.tablesDone,
    tablesTotal: s.tablesTotal,
    method: s.method,
    stable: rate !== null && (percent >= STABLE_PERCENT || elapsedMs >= STABLE_AFTER_MS),
  };
}

export type DumpWatch = { stop(): Promise<void> };

type Point = { readonly t: number; readonly done: number };

/**
 * The rate over the last third of the copy so far (at least two samples apart), from the first sample that saw
 * data moving: pg_dump's start (catalog reads, locks) is not copy time, and the rate swings table by table (wide
 * text and bytea rows vs narrow numeric ones), so the recent past predicts the rest better than the whole run.
 */
function recentRate(points: readonly Point[]): number | null {
  const first = points.findIndex((p) => p.done > 0);
  if (first < 0) return null;
  const copying = points.slice(Math.max(0, first - 1));
  const last = copying.at(-1)!;
  const since = last.t - (last.t - copying[0]!.t) / 3;
  const from = [...copying].reverse().find((p) => p.t <= since && p !== last) ?? copying[0]!;
  if (last.t <= from.t || last.done <= from.done) return null;
  return ((last.done - from.done) * 1000) / (last.t - from.t);
}

/**
 * Samples the probe on a timer, beside the pipeline and never in it. Any error ends the watch with `onUnknown`:
 * progress is then unknown and nothing else changes (the dump does not depend on this session at all).
 */
export function watchDump(
  probe: ProgressProbe,
  options: {
    readonly database: string;
    readonly startedAt: number;
    readonly intervalMs: number;
    readonly onEstimate: (e: DumpEstimate) => void;
    readonly onUnknown: (reason: string) => void;
  },
): DumpWatch {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const points: Point[] = [{ t: options.startedAt, done: 0 }];
  const tick = (): void => {
    inFlight = (async () => {
      try {
        const s = await probe.sample();
        if (stopped) return;
        const now = Date.now();
        points.push({ t: now, done: s.doneBytes });
        options.onEstimate(estimate(options.database, s, now - options.startedAt, recentRate(points)));
      } catch (err) {
        if (stopped) return;
        stopped = true;
        options.onUnknown(describeError(err));
        await probe.close();
        return;
      }
      if (!stopped) schedule();
    })();
  };
  const schedule = (): void => {
    timer = setTimeout(tick, options.intervalMs);
    // The watch must never keep a finished process alive.
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight.catch(() => undefined);
      await probe.close();
    },
  };
}
