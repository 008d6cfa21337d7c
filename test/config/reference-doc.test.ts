// The configuration reference is generated from the schema and must not drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configurationReference } from '../../src/config/reference-doc.ts';

test('docs/configuration.md is what the schema generates (run `npm run docs` after a schema change)', () => {
  const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(committed, configurationReference());
  assert.match(committed, /`retention.make_space`/);
});
