import { parseConnInfo } from '../core/config/conninfo.ts';
import type { RawValues } from '../core/config/raw.ts';
import type { Output } from './progress.ts';

/** The options that take a conninfo string or URL, which may carry a password. */
const CONNINFO_OPTIONS = [
  { key: 'dbname', flag: '--dbname' },
  { key: 'target', flag: '--target' },
] as const;

// Unparseable strings are judged by their shape: the configuration error comes later, the warning must not be lost.
const PASSWORD_SHAPE = /^postgres(?:ql)?:\/\/[^@/?#]*:[^@/?#]*@|(?:^|\s)password\s*=/i;

/** The flags whose value holds a password (the value itself is never returned or printed). */
export function flagsWithPassword(values: RawValues): string[] {
  const flags: string[] = [];
  for (const { key, flag } of CONNINFO_OPTIONS) {
    const value = values[key];
    if (typeof value !== 'string') continue;
    const info = parseConnInfo(value);
    if (typeof info === 'string' ? PASSWORD_SHAPE.test(value) : info.password !== undefined) flags.push(flag);
  }
  return flags;
}

/**
 * The password never reaches a child's argv (it goes to the child's environment), but it is on this process's own
 * command line: every user of the machine can read it with `ps` or /proc/<pid>/cmdline while the command runs.
 */
export function warnAboutArgvPasswords(values: RawValues, stderr: Output): void {
  for (const flag of flagsWithPassword(values)) {
    stderr.write(
      `warning: ${flag} contains a password, which every user of this machine can read (ps, /proc) while rds-s3-backup runs; use PGPASSWORD, a passfile (PGPASSFILE or ~/.pgpass) or --auth secret|iam instead\n`,
    );
  }
}
