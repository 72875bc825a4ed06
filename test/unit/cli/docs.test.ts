import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderReadme } from '../../../scripts/readme-lib.ts';
import { commandHelp } from '../../../src/cli/help.ts';
import { OPTIONS } from '../../../src/core/config/options.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README option tables and included docs are current (run `npm run docs` after changing options or docs/)', () => {
  assert.equal(readme, renderReadme(readme), 'README.md is stale: run `npm run docs`');
});

test('--help documents every flag and environment variable of its command', () => {
  for (const command of ['backup', 'list', 'restore', 'verify'] as const) {
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
