import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact, registerSecret } from '../../../src/core/redact.ts';
import { Secret } from '../../../src/core/secret.ts';
import { inspect } from 'node:util';

test('registered secrets are scrubbed, also URL-encoded', () => {
  registerSecret('p@ss w0rd!');
  assert.equal(redact('FATAL: p@ss w0rd! rejected'), 'FATAL: [REDACTED] rejected');
  assert.ok(!redact('x=p%40ss%20w0rd!').includes('w0rd'));
});

test('password-looking fragments are scrubbed even when unregistered', () => {
  assert.ok(!redact("host=x password='abc def' user=y").includes('abc def'));
  assert.ok(!redact('postgres://u:hunter22@h/db').includes('hunter22'));
  assert.ok(!redact('https://h/?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA/x').includes('deadbeef'));
});

test('Secret never prints its value', () => {
  const s = new Secret('another-secret-value');
  assert.ok(!`${s}`.includes('another'));
  assert.ok(!JSON.stringify({ s }).includes('another'));
  assert.ok(!inspect({ s }).includes('another'));
  assert.equal(s.reveal(), 'another-secret-value');
});
