import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderOptionsMarkdown } from '../../../src/cli/options-doc.ts';
import { commandHelp } from '../../../src/cli/help.ts';
import { OPTIONS } from '../../../src/core/options.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README option tables are generated from the option table (run `node scripts/gen-docs.ts` after changing options)', () => {
  assert.ok(readme.includes(renderOptionsMarkdown()), 'README.md is stale: run `npx node scripts/gen-docs.ts`');
});

test('--help documents every flag and environment variable of its command', () => {
  for (const command of ['backup', 'list'] as const) {
    const help = commandHelp(command);
    for (const o of OPTIONS.filter((x) => (x.commands as readonly string[]).includes(command))) {
      if (o.flag) assert.ok(help.includes(`--${o.flag}`), `${command} --help lacks --${o.flag}`);
      if (o.env) assert.ok(help.includes(o.env), `${command} --help lacks ${o.env}`);
    }
  }
});

test('secrets have no flag', () => {
  for (const o of OPTIONS) if ('secret' in o && o.secret) assert.equal(o.flag, null, o.key);
});
