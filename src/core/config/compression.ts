/** pg_dump's own --compress spec, validated here so a typo fails before anything runs. */
export type Compression = {
  readonly algorithm: 'none' | 'gzip' | 'lz4' | 'zstd';
  readonly level: number | null;
};

const LEVELS = { gzip: [1, 9], lz4: [1, 12], zstd: [1, 22] } as const;

/** Chosen by measurement; see docs/compression.md. */
export const DEFAULT_COMPRESSION = 'zstd:1';

export function parseCompression(spec: string): Compression | string {
  const s = spec.trim().toLowerCase();
  if (s === 'none' || s === '0') return { algorithm: 'none', level: null };
  const m = /^(gzip|lz4|zstd)(?::(?:level=)?(\d{1,2}))?$/.exec(s);
  if (!m) return `"${spec}" is not a compression spec; use none, gzip:N, lz4:N or zstd:N`;
  const algorithm = m[1] as keyof typeof LEVELS;
  const level = m[2] === undefined ? null : Number(m[2]);
  const [lo, hi] = LEVELS[algorithm];
  if (level !== null && (level < lo || level > hi)) return `${algorithm} level must be between ${lo} and ${hi}`;
  return { algorithm, level };
}

export function formatCompression(c: Compression): string {
  return c.level === null ? c.algorithm : `${c.algorithm}:${c.level}`;
}
