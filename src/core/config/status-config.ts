import { finish, Issues, str, unknownKeys } from './coerce.ts';
import { type OutputSettings, output, target } from './connection.ts';
import { checkDatabaseName } from './database-name.ts';
import type { RawValues } from './raw.ts';
import type { TargetUrl } from './target-url.ts';

export type StatusConfig = {
  readonly command: 'status';
  readonly target: TargetUrl;
  readonly database: string | null;
  readonly maxAgeMs: number;
  /** null: verify age is not checked (--max-verify-age off). */
  readonly maxVerifyAgeMs: number | null;
  readonly output: OutputSettings;
};

const UNIT_MS = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** "26h", "8d", "1d12h", "90m", "45s" → milliseconds; undefined when it is not such a duration. */
function parseAge(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (!/^(\d+(\.\d+)?(s|min|m|h|d|w))+$/.test(s)) return undefined;
  let ms = 0;
  for (const [, n, unit] of s.matchAll(/(\d+(?:\.\d+)?)(min|s|m|h|d|w)/g)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return ms > 0 ? ms : undefined;
}

function age(raw: RawValues, key: 'maxAge' | 'maxVerifyAge', dflt: string, issues: Issues, allowOff: boolean): number | null {
  const v = str(raw, key) || dflt;
  if (allowOff && ['off', 'none', 'never'].includes(v.toLowerCase())) return null;
  const ms = parseAge(v);
  if (ms === undefined) issues.add(key, `must be a duration such as 26h, 8d, 1d12h or 90m${allowOff ? ', or off' : ''}`);
  return ms ?? 0;
}

export function parseStatusConfig(raw: RawValues): StatusConfig {
  const issues = new Issues();
  unknownKeys('status', raw, issues);
  const t = target(raw, 'from', issues);
  const database = str(raw, 'database') || null;
  if (database) {
    const bad = checkDatabaseName(database);
    if (bad) issues.add('database', bad);
  }
  const cfg: StatusConfig = {
    command: 'status',
    target: t ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    maxAgeMs: age(raw, 'maxAge', '26h', issues, false) ?? 0,
    maxVerifyAgeMs: age(raw, 'maxVerifyAge', '8d', issues, true),
    output: output(raw, issues),
  };
  return finish(issues, cfg);
}
