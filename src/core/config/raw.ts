import { type Command, optionsFor } from './options.ts';
import type { Env } from '../env.ts';

type RawValue = string | boolean;
/** Keys whose value came from the environment rather than a flag (libpq ranks them below a conninfo's components). */
export const FROM_ENV: unique symbol = Symbol('fromEnvironment');
export type RawValues = Readonly<Record<string, RawValue | undefined>> & { readonly [FROM_ENV]?: ReadonlySet<string> };

/** Merge sources: flags win over the environment; the environment only feeds options that name a variable. */
export function collectRaw(command: Command, flags: RawValues, env: Env): RawValues {
  const out: Record<string, RawValue | undefined> = {};
  const fromEnv = new Set<string>();
  for (const o of optionsFor(command)) {
    const fromFlag = flags[o.key];
    if (fromFlag !== undefined) out[o.key] = fromFlag;
    else if (o.env && env[o.env] !== undefined && env[o.env] !== '') {
      out[o.key] = env[o.env];
      fromEnv.add(o.key);
    }
  }
  // `list`/`restore`/`verify` read where backup wrote unless told otherwise.
  if (command !== 'backup' && out.from === undefined && env.RDS_S3_BACKUP_TO) out.from = env.RDS_S3_BACKUP_TO;
  return Object.assign(out, { [FROM_ENV]: fromEnv });
}
