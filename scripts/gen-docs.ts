// Regenerates the generated parts of README.md (see scripts/readme-lib.ts).
// `node scripts/gen-docs.ts` writes; `node scripts/gen-docs.ts --check` exits 1 when README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, renderReadme } from './readme-lib.ts';

const readme = path.join(ROOT, 'README.md');
const text = readFileSync(readme, 'utf8');
const next = renderReadme(text);
if (process.argv.includes('--check')) {
  if (next !== text) {
    console.error('README.md is stale: run `npm run docs`');
    process.exit(1);
  }
} else if (next !== text) {
  writeFileSync(readme, next);
}
