import type { BackupSelector } from '../restore/select-backup.ts';
import { bool, finish, int, Issues, str, unknownKeys } from './coerce.ts';
import { type OutputSettings, output, target } from './connection.ts';
import { type RestoreTargetSettings, restoreTarget, selectedDatabase, selector } from './restore-config.ts';
import type { RawValues } from './raw.ts';
import type { TargetUrl } from './target-url.ts';

export type VerifyConfig = {
  readonly command: 'verify';
  readonly source: TargetUrl;
  readonly database: string | null;
  readonly selector: BackupSelector;
  /** A user-provided scratch server; null: a throwaway embedded server. */
  readonly target: RestoreTargetSettings | null;
  readonly integrityOnly: boolean;
  /** Concurrent ranged GETs for --integrity-only's read of an S3 object (1: one GET). */
  readonly downloadStreams: number;
  readonly record: boolean;
  readonly pgtoolsDir: string | null;
  readonly output: OutputSettings;
};

export function parseVerifyConfig(raw: RawValues): VerifyConfig {
  const issues = new Issues();
  unknownKeys('verify', raw, issues);
  const source = target(raw, 'from', issues);
  const sel = selector(raw, issues);
  const database = selectedDatabase(raw, issues);
  if (!database && sel.by !== 'key') issues.add('database', 'is required (or a --key that names the backup)');
  const cfg: VerifyConfig = {
    command: 'verify',
    source: source ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    selector: sel,
    target: restoreTarget(raw, issues),
    integrityOnly: bool(raw, 'integrityOnly', issues, false),
    downloadStreams: int(raw, 'downloadStreams', issues, 4, 1, 16),
    record: bool(raw, 'record', issues, true),
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    output: output(raw, issues),
  };
  return finish(issues, cfg);
}
