import path from 'node:path';
import { normalizePrefix } from '../catalog/keys.ts';

export type TargetUrl =
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly url: string }
  | { readonly kind: 'file'; readonly root: string; readonly prefix: string; readonly url: string };

const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Validates a prefix: path segments only, no traversal, no control characters. */
function checkPrefix(prefix: string): string | undefined {
  // Bytes, not characters: S3 keys are at most 1024 UTF-8 bytes, and the database folder and file name need ~230.
  if (Buffer.byteLength(prefix, 'utf8') > 512) return 'prefix is longer than 512 bytes (UTF-8)';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
  if (/[\u0000-\u001f\u007f\\]/.test(prefix)) return 'prefix contains control characters or a backslash';
  const segments = normalizePrefix(prefix)
    .split('/')
    .filter((s) => s.length > 0);
  if (segments.some((s) => s === '.' || s === '..')) return 'prefix must not contain "." or ".." segments';
  if (/\/\//.test(normalizePrefix(prefix))) return 'prefix must not contain empty segments ("//")';
  return undefined;
}

export function parseTargetUrl(input: string): TargetUrl | string {
  const s = input.trim();
  if (s.startsWith('s3://')) {
    const rest = s.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = normalizePrefix(slash === -1 ? '' : rest.slice(slash + 1));
    if (!BUCKET.test(bucket)) return `"${bucket}" is not a valid S3 bucket name`;
    const bad = checkPrefix(prefix);
    if (bad) return bad;
    return { kind: 's3', bucket, prefix, url: `s3://${bucket}${prefix ? '/' + prefix : ''}` };
  }
  if (s.startsWith('file://')) {
    if (!s.startsWith('file:///')) return 'file URLs must be absolute: file:///absolute/path';
    let p: string;
    try {
      // Not WHATWG URL parsing: it would resolve ".." before we could refuse it.
      p = decodeURIComponent(s.slice('file://'.length));
    } catch {
      return 'not a valid file:// URL (bad percent-encoding)';
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
    if (/[\u0000-\u001f\u007f]/.test(p)) return 'path contains control characters';
    if (p.split('/').some((seg) => seg === '..')) return 'path must not contain ".." segments';
    const root = path.resolve(p);
    return { kind: 'file', root, prefix: '', url: `file://${root}` };
  }
  return 'must start with s3:// or file://';
}
