import { type Command, optionsFor } from './options.ts';
import type { Env } from '../env.ts';

type RawValue = string | boolean;
export type RawValues = Readonly<Record<string, RawValue | undefined>>;

/** Merge sources: flags win over the environment; the environment only feeds options that name a variable. */
export function collectRaw(command: Command, flags: RawValues, env: Env): RawValues {
  const out: Record<string, RawValue | undefined> = {};
  for (const o of optionsFor(command)) {
    const fromFlag = flags[o.key];
    if (fromFlag !== undefined) out[o.key] = fromFlag;
    else if (o.env && env[o.env] !== undefined && env[o.env] !== '') out[o.key] = env[o.env];
  }
  // `list`/`restore`/`verify` read where backup wrote unless told otherwise.
  if (command !== 'backup' && out.from === undefined && env.RDS_S3_BACKUP_TO) out.from = env.RDS_S3_BACKUP_TO;
  return out;
}
