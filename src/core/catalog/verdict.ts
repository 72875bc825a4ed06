/**
 * The three outcomes of a verification. "could-not-verify" is about the verifying server, not the backup: it lacked
 * something the archive needs (a compression method, an extension, an ICU collation, a tablespace), so nothing was
 * proven either way and the backup must not be shown as bad.
 */
const VERDICTS = ['verified', 'failed', 'could-not-verify'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The fields a verdict is read from; records written before verdicts existed only have `ok`. */
export type VerdictFields = { readonly ok: boolean; readonly verdict?: unknown };

export function isVerdict(v: unknown): v is Verdict {
  return typeof v === 'string' && (VERDICTS as readonly string[]).includes(v);
}

/** A record's verdict: its own field when it has a known one, else (old records) ok ⇒ verified, otherwise failed. */
export function verdictOf(record: VerdictFields): Verdict {
  if (isVerdict(record.verdict)) return record.verdict;
  return record.ok ? 'verified' : 'failed';
}

/** How people read a verdict (list, verify's own output). */
export const VERDICT_TEXT = {
  verified: 'verified ✓',
  failed: 'verify FAILED ✗',
  'could-not-verify': 'could not verify ?',
} as const satisfies Record<Verdict, string>;
