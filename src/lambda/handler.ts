// The Lambda entry point (bundled to index.mjs, handler "index.handler"). The environment is parsed once per
// cold start; an invalid one makes every invocation fail with the list of bad variables.
import { createHandler, type BackupHandler } from './backup-handler.ts';

export type { BackupSummary, LambdaContext } from './backup-handler.ts';

export const handler: BackupHandler = createHandler();
