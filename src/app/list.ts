import { type CatalogEntry, listCatalog, listIncompleteUploads } from '../core/catalog/listing.ts';
import type { ListConfig } from '../core/config/list-config.ts';
import type { Env } from '../core/env.ts';
import type { IncompleteUpload } from '../core/ports/store.ts';
import { openStore } from '../storage/open-store.ts';

export type ListReport = {
  /** The store's URL as the user should read it. */
  readonly url: string;
  readonly entries: readonly CatalogEntry[];
  /** undefined: the store cannot list unfinished uploads (file://). */
  readonly uploads: readonly IncompleteUpload[] | undefined;
};

/** Wires the store around core/catalog/listing.ts: the backups in the catalog and the unfinished uploads. */
export async function executeList(config: ListConfig, options: { readonly env: Env }): Promise<ListReport> {
  const store = openStore(config.target, { env: options.env });
  const entries = await listCatalog(store, { database: config.database, since: config.since, until: config.until });
  const uploads = await listIncompleteUploads(store);
  return { url: store.url, entries, uploads };
}
