// Renders every policy the module creates, for the complete example's inputs, into
// terraform/rendered/<name>.json (+ context.json), from the module's own source
// (test/terraform/checks/render.ts). test/terraform/rendered.test.ts fails when the
// committed files are stale. `--check` only reports.
// Usage: node scripts/terraform/policies.ts [--check]
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPolicies } from '../../test/terraform/checks/render.ts';

export const MODULE_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'terraform');
export const RENDERED_DIR = join(MODULE_DIR, 'rendered');

export async function renderAll(): Promise<Map<string, string>> {
  return renderPolicies({ moduleDir: MODULE_DIR, exampleDir: join(MODULE_DIR, 'examples', 'complete') });
}

async function main(): Promise<void> {
  const files = await renderAll();
  const check = process.argv.includes('--check');
  mkdirSync(RENDERED_DIR, { recursive: true });
  const stale: string[] = [];
  for (const name of readdirSync(RENDERED_DIR)) {
    if (name.endsWith('.json') && !files.has(name)) {
      stale.push(name);
      if (!check) rmSync(join(RENDERED_DIR, name));
    }
  }
  for (const [name, text] of files) {
    let current = '';
    try {
      current = readFileSync(join(RENDERED_DIR, name), 'utf8');
    } catch {
      // new file
    }
    if (current === text) continue;
    stale.push(name);
    if (!check) writeFileSync(join(RENDERED_DIR, name), text);
  }
  for (const s of stale) console.log(`terraform/rendered/${s}`);
  if (check && stale.length > 0) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
