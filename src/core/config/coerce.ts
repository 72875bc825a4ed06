import { ConfigError, type ConfigIssue } from '../errors.ts';
import { Secret } from '../secret.ts';
import { type Command, OPTIONS, type OptionSpec, optionLabel, optionsFor } from './options.ts';
import type { RawValues } from './raw.ts';

/** The problems found while parsing one command's values; reported all at once, labelled as the user wrote them. */
export class Issues {
  readonly list: ConfigIssue[] = [];
  add(key: string, message: string): void {
    const spec = (OPTIONS as readonly OptionSpec[]).find((o) => o.key === key);
    this.list.push({ field: spec ? optionLabel(spec) : key, message });
  }
}

export function str(raw: RawValues, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v.trim() : String(v);
}

export function bool(raw: RawValues, key: string, issues: Issues, dflt: boolean): boolean {
  const v = raw[key];
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  issues.add(key, 'must be true or false');
  return dflt;
}

export function int(raw: RawValues, key: string, issues: Issues, dflt: number, min: number, max: number): number {
  const s = str(raw, key);
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s)) {
    issues.add(key, `must be a whole number between ${min} and ${max}`);
    return dflt;
  }
  const n = Number(s);
  if (n < min || n > max) {
    issues.add(key, `must be between ${min} and ${max}`);
    return dflt;
  }
  return n;
}

export function date(raw: RawValues, key: string, issues: Issues): Date | null {
  const s = str(raw, key);
  if (!s) return null;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) {
    issues.add(key, 'must be an ISO 8601 time such as 2026-11-24 or 2026-11-24T03:00:00Z');
    return null;
  }
  return d;
}

export function nameList(raw: RawValues, key: string): string[] {
  const v = str(raw, key);
  if (!v) return [];
  return [
    ...new Set(
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  ];
}

export function unknownKeys(command: Command, raw: RawValues, issues: Issues): void {
  const known = new Set(optionsFor(command).map((o) => o.key));
  for (const k of Object.keys(raw)) if (raw[k] !== undefined && !known.has(k)) issues.add(k, `is not an option of ${command}`);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret) && !(o instanceof Date)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Throws every issue found, or returns the finished config frozen all the way down. */
export function finish<T>(issues: Issues, cfg: T): T {
  if (issues.list.length > 0) throw new ConfigError(issues.list);
  return deepFreeze(cfg);
}
