import { parseArgs } from 'node:util';
import { ConfigError } from '../core/errors.ts';
import { optionsFor, type Command } from '../core/config/options.ts';
import type { RawValues } from '../core/config/raw.ts';

export type ParsedArgs = { readonly values: RawValues; readonly help: boolean };

/** argv → raw values keyed like the option table. Secrets have no flag, so they cannot arrive on argv. */
export function parseCommandArgs(command: Command, argv: readonly string[]): ParsedArgs {
  const specs = optionsFor(command).filter((o) => o.flag !== null);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const o of specs) {
    options[o.flag!] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true, allowNegative: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new ConfigError([{ field: 'arguments', message: `${msg} (see rds-s3-backup ${command} --help)` }]);
  }
  // No command takes a positional argument: a stray word is most likely a value whose flag was forgotten
  // (`backup --to s3://b/p app`), and ignoring it would back up the wrong database.
  if (parsed.positionals.length > 0) {
    const words = parsed.positionals.map((p) => JSON.stringify(p)).join(', ');
    throw new ConfigError([
      {
        field: 'arguments',
        message: `unexpected argument ${words}: ${command} takes only --options (a value needs its flag, e.g. --databases app; see rds-s3-backup ${command} --help)`,
      },
    ]);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const o of specs) {
    const v = parsed.values[o.flag!];
    if (v !== undefined) values[o.key] = Array.isArray(v) ? String(v.at(-1)) : (v as string | boolean);
  }
  return { values, help: parsed.values.help === true };
}
