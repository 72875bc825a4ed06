import { date, finish, Issues, str, unknownKeys } from './coerce.ts';
import { type OutputSettings, output, target } from './connection.ts';
import { checkDatabaseName } from './database-name.ts';
import type { RawValues } from './raw.ts';
import type { TargetUrl } from './target-url.ts';

export type ListConfig = {
  readonly command: 'list';
  readonly target: TargetUrl;
  readonly database: string | null;
  readonly since: Date | null;
  readonly until: Date | null;
  readonly output: OutputSettings;
};

export function parseListConfig(raw: RawValues): ListConfig {
  const issues = new Issues();
  unknownKeys('list', raw, issues);
  const t = target(raw, 'from', issues);
  const database = str(raw, 'database') || null;
  if (database) {
    const bad = checkDatabaseName(database);
    if (bad) issues.add('database', bad);
  }
  const cfg: ListConfig = {
    command: 'list',
    target: t ?? { kind: 'file', root: '/', prefix: '', url: '' },
    database,
    since: date(raw, 'since', issues),
    until: date(raw, 'until', issues),
    output: output(raw, issues),
  };
  return finish(issues, cfg);
}
