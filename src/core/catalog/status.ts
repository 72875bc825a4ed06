import type { CatalogEntry } from './listing.ts';
import { type Verdict, verdictOf } from './verdict.ts';

type StatusLimits = { readonly maxAgeMs: number; readonly maxVerifyAgeMs: number | null };

export type DatabaseStatus = {
  readonly database: string;
  /** The newest complete backup; null: none (only incomplete or invalid ones). */
  readonly newest: {
    readonly id: string;
    readonly startedAt: string;
    readonly ageMs: number;
    readonly bytes: number;
    readonly durationMs: number;
  } | null;
  /** Newest size against the median of up to TREND_WINDOW complete backups before it; null with no history. */
  readonly trend: { readonly previous: number; readonly medianBytes: number; readonly changePercent: number } | null;
  /** The newest verification of any of its backups. */
  readonly verify: { readonly verdict: Verdict; readonly verifiedAt: string; readonly ageMs: number; readonly backupId: string } | null;
  /** Age of the newest verification whose verdict is `verified`: what --max-verify-age is checked against. */
  readonly verifiedAgeMs: number | null;
  /** Why this database fails the check; empty when it passes. */
  readonly problems: readonly string[];
};

const TREND_WINDOW = 5;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function hours(ms: number): string {
  return ms >= 172_800_000 ? `${(ms / 86_400_000).toFixed(1)}d` : `${(ms / 3_600_000).toFixed(1)}h`;
}

/** One status per database found in the catalog (databases only: the globals object has no verify). */
export function databaseStatuses(entries: readonly CatalogEntry[], now: Date, limits: StatusLimits): DatabaseStatus[] {
  const byDb = new Map<string, CatalogEntry[]>();
  for (const e of entries) {
    if (e.kind !== 'database' || e.database === null) continue;
    byDb.set(e.database, [...(byDb.get(e.database) ?? []), e]);
  }
  const out: DatabaseStatus[] = [];
  for (const [database, list] of [...byDb.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const complete = list
      .filter((e) => e.status === 'complete' && e.manifest)
      .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
    const head = complete[0];
    const newest = head?.manifest
      ? {
          id: head.id,
          startedAt: head.startedAt.toISOString(),
          ageMs: now.getTime() - head.startedAt.getTime(),
          bytes: head.manifest.object.bytes,
          durationMs: head.manifest.durationMs,
        }
      : null;
    const prev = complete.slice(1, 1 + TREND_WINDOW).map((e) => e.manifest!.object.bytes);
    const trend =
      newest && prev.length > 0
        ? (() => {
            const m = median(prev);
            return { previous: prev.length, medianBytes: m, changePercent: m > 0 ? ((newest.bytes - m) / m) * 100 : 0 };
          })()
        : null;
    const verifications = list
      .flatMap((e) => (e.verification ? [{ e, v: e.verification, at: Date.parse(e.verification.verifiedAt) }] : []))
      .filter((x) => !Number.isNaN(x.at))
      .sort((a, b) => b.at - a.at);
    const latest = verifications[0];
    const verify = latest
      ? { verdict: verdictOf(latest.v), verifiedAt: latest.v.verifiedAt, ageMs: now.getTime() - latest.at, backupId: latest.e.id }
      : null;
    const lastGood = verifications.find((x) => verdictOf(x.v) === 'verified');
    const verifiedAgeMs = lastGood ? now.getTime() - lastGood.at : null;

    const problems: string[] = [];
    if (!newest) problems.push('no complete backup');
    else if (newest.ageMs > limits.maxAgeMs) problems.push(`newest backup is ${hours(newest.ageMs)} old (limit ${hours(limits.maxAgeMs)})`);
    if (verify?.verdict === 'failed') problems.push(`newest verify FAILED (${verify.backupId})`);
    if (limits.maxVerifyAgeMs !== null) {
      if (verifiedAgeMs === null) problems.push('never verified successfully');
      else if (verifiedAgeMs > limits.maxVerifyAgeMs)
        problems.push(`last successful verify is ${hours(verifiedAgeMs)} old (limit ${hours(limits.maxVerifyAgeMs)})`);
    }
    out.push({ database, newest, trend, verify, verifiedAgeMs, problems });
  }
  return out;
}
