// Generates the requirements/resources/inputs/outputs tables of terraform/README.md
// from the module's .tf files (what terraform-docs would produce; no binary here).
// The tables live between the BEGIN_TF_DOCS / END_TF_DOCS markers; the rest of the
// README is hand-written.
// Usage: node scripts/terraform/docs.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBody, loadModule, pureExpression } from '../../test/terraform/checks/load.ts';
import type { HclBody, HclValue, TfModule } from '../../test/terraform/checks/load.ts';

export const BEGIN = '<!-- BEGIN_TF_DOCS -->';
export const END = '<!-- END_TF_DOCS -->';

function cell(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}

function code(text: string): string {
  return text.includes('`') ? `<code>${text.replace(/</g, '&lt;')}</code>` : `\`${text}\``;
}

/** HCL-ish rendering of a parsed default value. */
function hcl(v: HclValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return pureExpression(v) ?? JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(hcl).join(', ')}]`;
  const entries = Object.entries(v);
  return entries.length === 0
    ? '{}'
    : `{ ${entries.map(([k, x]) => `${/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k)} = ${hcl(x)}`).join(', ')} }`;
}

function typeOf(body: HclBody): string {
  const t = body['type'];
  if (typeof t !== 'string') return 'any';
  const lines = (pureExpression(t) ?? t)
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l.length > 0);
  // Newline-separated object attributes become comma-separated on one line.
  return lines.reduce((acc, l) => (acc === '' ? l : /[{(]$/.test(acc) || /^[})]/.test(l) ? `${acc} ${l}` : `${acc}, ${l}`), '');
}

function requirements(mod: TfModule): string[] {
  const rows = ['| Name | Version |', '|------|---------|'];
  for (const t of mod.terraform) {
    if (typeof t['required_version'] === 'string') rows.push(`| terraform | ${code(t['required_version'])} |`);
    for (const rp of Array.isArray(t['required_providers']) ? t['required_providers'] : []) {
      if (!isBody(rp)) continue;
      for (const [name, spec] of Object.entries(rp)) {
        const version = isBody(spec) && typeof spec['version'] === 'string' ? spec['version'] : '';
        const source = isBody(spec) && typeof spec['source'] === 'string' ? spec['source'] : name;
        rows.push(`| ${name} (${source}) | ${code(version)} |`);
      }
    }
  }
  return rows;
}

export async function renderDocs(moduleDir: string): Promise<string> {
  const mod = await loadModule(moduleDir);
  const out: string[] = [
    BEGIN,
    '## Requirements',
    '',
    ...requirements(mod),
    '',
    '## Resources',
    '',
    '| Name | Type | File |',
    '|------|------|------|',
  ];
  const byAddress = [...mod.resources.values(), ...mod.dataSources.values()].sort((a, b) =>
    a.address < b.address ? -1 : a.address > b.address ? 1 : 0,
  );
  for (const r of byAddress) out.push(`| ${r.address} | ${r.kind === 'data' ? 'data source' : 'resource'} | ${r.file} |`);
  out.push('', '## Inputs', '', '| Name | Description | Type | Default | Required |', '|------|-------------|------|---------|:--------:|');
  for (const v of [...mod.variables.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const required = !('default' in v.body);
    const def = required ? 'n/a' : code(cell(hcl(v.body['default'] as HclValue)));
    out.push(
      `| ${v.name} | ${cell(String(v.body['description'] ?? ''))} | ${code(cell(typeOf(v.body)))} | ${def} | ${required ? 'yes' : 'no'} |`,
    );
  }
  out.push('', '## Outputs', '', '| Name | Description |', '|------|-------------|');
  for (const o of [...mod.outputs.values()].sort((a, b) => a.name.localeCompare(b.name)))
    out.push(`| ${o.name} | ${cell(String(o.body['description'] ?? ''))} |`);
  out.push(END);
  return out.join('\n');
}

/** The README with its generated section replaced. */
export async function updatedReadme(moduleDir: string, readme: string): Promise<string> {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README must contain ${BEGIN} ... ${END}`);
  return `${readme.slice(0, start)}${await renderDocs(moduleDir)}${readme.slice(end + END.length)}`;
}

async function main(): Promise<void> {
  const moduleDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'terraform');
  const path = join(moduleDir, 'README.md');
  const current = readFileSync(path, 'utf8');
  const next = await updatedReadme(moduleDir, current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('terraform/README.md is out of date: run node scripts/terraform/docs.ts');
      process.exitCode = 1;
    }
    return;
  }
  if (next !== current) writeFileSync(path, next);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
