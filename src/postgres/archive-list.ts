import { ToolProcessError } from '../core/errors.ts';
import type { ArchiveFilters } from '../core/ports/database-target.ts';
import { spawnPipedTool } from './restore-process.ts';
import { filterArgs, statusFailed } from './restore-tools.ts';
import type { PgTools } from './tools.ts';

/** pg_restore -l over the archive's first bytes (its TOC), with the restore's filters: "what would be restored". */
export async function listArchive(
  tools: PgTools,
  head: Buffer,
  filters: ArchiveFilters,
  options: { create?: boolean } = {},
): Promise<string[]> {
  const restore = spawnPipedTool(
    'pg_restore',
    tools.pgRestore,
    ['--format=custom', '--list', ...(options.create ? ['--create'] : []), ...filterArgs(filters)],
    { LC_ALL: 'C.UTF-8', PATH: '/usr/bin:/bin' },
    { stdin: true, stdout: true },
  );
  restore.stdin!.end(head);
  const chunks: Buffer[] = [];
  restore.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const status = await restore.exited;
  if (statusFailed(status)) throw new ToolProcessError('pg_restore', status, { detail: 'listing the archive' });
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}
