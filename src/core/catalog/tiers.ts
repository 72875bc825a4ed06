import type { BackupStore } from '../ports/store.ts';
import { parseKey } from './keys.ts';

/**
 * Grandfather-father-son retention without delete permission: each backup is tagged with a tier at write
 * time, and bucket lifecycle rules expire each tier after its own age. The tier is the highest period in
 * which this is the first complete backup of the database (UTC calendar; ISO weeks start on Monday).
 */
export const Tier = {
  yearly: 'yearly',
  monthly: 'monthly',
  weekly: 'weekly',
  daily: 'daily',
} as const;
export type Tier = (typeof Tier)[keyof typeof Tier];

export const TIER_TAG = 'backup-tier';

/** Monday 00:00 UTC of the ISO week containing `d`. */
export function isoWeekStart(d: Date): number {
  const day = (d.getUTCDay() + 6) % 7;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day);
}

/**
 * `existing` are the start times of complete backups of the same database (any order, may include `now`'s
 * own period). Backups stamped after `now` (clock skew between runners) still count for their period.
 */
export function computeTier(now: Date, existing: readonly Date[]): Tier {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const w = isoWeekStart(now);
  const sameYear = existing.filter((d) => d.getUTCFullYear() === y);
  if (sameYear.length === 0) return Tier.yearly;
  const sameMonth = sameYear.filter((d) => d.getUTCMonth() === m);
  if (sameMonth.length === 0) return Tier.monthly;
  if (!existing.some((d) => isoWeekStart(d) === w)) return Tier.weekly;
  return Tier.daily;
}

/** The only listing tier computation needs: this year's keys of one database folder. */
export function tierListingPrefix(folder: string, now: Date): string {
  return `${folder}${now.getUTCFullYear()}`;
}

/** When the backups of `folder` that count for the tier of a backup at `at` were made (their manifests). */
export async function existingBackupTimes(store: BackupStore, folder: string, at: Date): Promise<Date[]> {
  const times: Date[] = [];
  for await (const o of store.list(tierListingPrefix(folder, at))) {
    const k = parseKey(store.prefix, o.key);
    if (k && k.role === 'manifest') times.push(k.stamp);
  }
  return times;
}
