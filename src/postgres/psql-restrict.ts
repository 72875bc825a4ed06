import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UnsafeContentError } from '../core/errors.ts';
import { escapeControl } from '../core/escape.ts';

/**
 * psql runs backslash meta-commands (`\!` runs a shell command, `\o |cmd` pipes, `\copy` reads and writes local
 * files) as the operator's OS user. Anything fed to psql from the bucket must not be able to reach them:
 * psql first gets `\restrict <key>` with a key drawn here, after which it refuses every meta-command but
 * `\unrestrict <that key>` (PostgreSQL 17.6/16.10/15.14/14.19/13.22, CVE-2025-8714). The archive cannot know the key.
 */
export function newRestrictKey(): string {
  // Alphanumeric only: psql takes the key as one word, and pg_restore --restrict-key accepts only these.
  return randomBytes(24)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 30)
    .padEnd(30, 'k');
}

/** pg_dumpall's own `\restrict KEY` / `\unrestrict KEY` lines: the only meta-commands a globals object may hold. */
const DUMP_RESTRICT_LINE = /^\\(un)?restrict [A-Za-z0-9]{1,64}\r?$/;
/** A meta-command anywhere a line starts (after optional blanks). psql also accepts one mid-line: \restrict covers those. */
const META_LINE = /^[ \t\f\v\r]*\\/;

/**
 * The globals object (pg_dumpall --globals-only, plain SQL) as psql gets it: our `\restrict` first, the dump's own
 * `\restrict`/`\unrestrict` lines commented out, and any other line that starts a meta-command refused before
 * a single statement runs (defence in depth: under `\restrict` psql would refuse it too, one statement later).
 */
export function restrictedGlobalsScript(sql: Buffer, key: string, what: string): Buffer {
  const text = sql.toString('utf8');
  const lines = text.split('\n');
  const refused: string[] = [];
  const out: string[] = [`\\restrict ${key}`];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (DUMP_RESTRICT_LINE.test(line))
      out.push("-- pg_dumpall's own restrict line, replaced by rds-s3-backup's (no backslash kept, not even in a comment)");
    else if (META_LINE.test(line)) {
      refused.push(`line ${i + 1}: ${escapeControl(line.length > 80 ? `${line.slice(0, 80)}…` : line)}`);
    } else out.push(line);
  }
  if (refused.length > 0) {
    throw new UnsafeContentError(
      `${what} contains psql meta-commands (a backslash starting a line), which run as the operator's OS user; nothing was applied:\n${refused
        .slice(0, 5)
        .map((r) => `    ${r}`)
        .join('\n')}${refused.length > 5 ? `\n    and ${refused.length - 5} more` : ''}`,
      {
        hint: 'a globals object written by pg_dumpall holds only SQL and its own \\restrict lines: this one was altered; restore the database with --no-owner --no-acl, or another globals backup',
      },
    );
  }
  return Buffer.from(out.join('\n'));
}

/**
 * Passes a pg_restore script through only if its first statement line is `\restrict <key>` with the key we gave
 * pg_restore (--restrict-key): then psql is in restricted mode before any archive content reaches it.
 */
export class RestrictGuard extends Transform {
  readonly #expected: string;
  #checked = false;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;

  constructor(key: string) {
    super();
    this.#expected = `\\restrict ${key}`;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#checked) {
      cb(null, chunk);
      return;
    }
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    const head = Buffer.concat(this.#buffered);
    const verdict = this.#check(head, false);
    if (verdict === 'wait') {
      // pg_restore's header is a few comment lines: a first statement further away than this is not its script.
      if (this.#bufferedBytes > 64 * 1024) cb(this.#refuse());
      else cb();
      return;
    }
    if (verdict === 'bad') {
      cb(this.#refuse());
      return;
    }
    this.#checked = true;
    this.#buffered = [];
    cb(null, head);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#checked) {
      cb();
      return;
    }
    const head = Buffer.concat(this.#buffered);
    if (head.length === 0) {
      cb();
      return;
    }
    if (this.#check(head, true) === 'ok') cb(null, head);
    else cb(this.#refuse());
  }

  #check(head: Buffer, final: boolean): 'ok' | 'bad' | 'wait' {
    return restrictVerdict(head.toString('utf8'), this.#expected, final);
  }

  #refuse(): UnsafeContentError {
    return notRestricted();
  }
}

function notRestricted(): UnsafeContentError {
  return new UnsafeContentError(
    'the restore script does not start with the \\restrict line rds-s3-backup asked pg_restore for; refusing to pass it to psql',
    {
      hint: 'use pg_restore from PostgreSQL 18 (the bundle) or ≥ 17.6, 16.10, 15.14, 14.19, 13.22',
    },
  );
}

/** Whether a script's first statement line (after blank and comment lines) is exactly `expected`. */
function restrictVerdict(text: string, expected: string, final: boolean): 'ok' | 'bad' | 'wait' {
  let pos = 0;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl === -1 && !final) return 'wait';
    const line = (nl === -1 ? text.slice(pos) : text.slice(pos, nl)).replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('--')) {
      if (nl === -1) return 'bad';
      pos = nl + 1;
      continue;
    }
    return line === expected ? 'ok' : 'bad';
  }
}

/** For a whole script in memory (the --create statements): throws unless it starts with `\restrict <key>`. */
export function assertRestricted(script: string, key: string): void {
  if (restrictVerdict(script, `\\restrict ${key}`, true) !== 'ok') throw notRestricted();
}
