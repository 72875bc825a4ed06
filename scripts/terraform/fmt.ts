// Formats every .tf file of the module and its examples in place with HashiCorp's
// formatter (what `terraform fmt -recursive` would do). `--check` only reports.
// Usage: node scripts/terraform/fmt.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatText } from '../../test/terraform/checks/format.ts';
import { listTfFiles, moduleDirs } from '../../test/terraform/checks/load.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');
let unformatted = 0;
for (const dir of moduleDirs(join(repoRoot, 'terraform'))) {
  for (const path of listTfFiles(dir)) {
    const text = readFileSync(path, 'utf8');
    const formatted = await formatText(text);
    if (formatted === text) continue;
    unformatted++;
    console.log(relative(repoRoot, path));
    if (!check) writeFileSync(path, formatted);
  }
}
if (check && unformatted > 0) process.exitCode = 1;
