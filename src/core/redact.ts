/**
 * Process-wide registry of secret values. Credentials register themselves when obtained so that any text
 * leaving the process (errors, logs, stderr tails, manifests) can be scrubbed without knowing where it came from.
 */
const secrets = new Set<string>();

export const REDACTED = '[REDACTED]';

export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact innocent text everywhere; libpq passwords that short are rejected upstream anyway.
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
    // The same value often appears URL-encoded (connection URLs, query strings of IAM tokens).
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join(REDACTED);
  }
  return out
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${REDACTED}`)
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, `$1${REDACTED}@`)
    .replace(/(X-Amz-Signature=|X-Amz-Credential=|X-Amz-Security-Token=)[^&\s]+/g, `$1${REDACTED}`);
}
