import { listCatalog } from '../core/catalog/listing.ts';
import { type DatabaseStatus, databaseStatuses } from '../core/catalog/status.ts';
import type { StatusConfig } from '../core/config/status-config.ts';
import type { Env } from '../core/env.ts';
import { openStore } from '../storage/open-store.ts';

export type StatusReport = {
  readonly url: string;
  readonly checkedAt: string;
  readonly ok: boolean;
  readonly databases: readonly DatabaseStatus[];
};

/** The catalog listing (the same code as `list`) reduced to one status per database. */
export async function executeStatus(
  config: StatusConfig,
  options: { readonly env: Env; readonly now?: () => Date },
): Promise<StatusReport> {
  const store = openStore(config.target, { env: options.env });
  const now = options.now ?? (() => new Date());
  const entries = await listCatalog(store, { database: config.database, kind: 'database' });
  const at = now();
  const databases = databaseStatuses(entries, at, { maxAgeMs: config.maxAgeMs, maxVerifyAgeMs: config.maxVerifyAgeMs });
  return {
    url: store.url,
    checkedAt: at.toISOString(),
    // No backups at all is the worst state there is, not an empty success.
    ok: databases.length > 0 && databases.every((d) => d.problems.length === 0),
    databases,
  };
}
