// Names in the repository: UTC, sortable, never reused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactPath, dateOfSetId, manifestPath, nextFreeSetId, setIdFor } from '../../src/core/naming.ts';

test('set ids are UTC timestamps in the seed format and round-trip', () => {
  const date = new Date('2026-01-31T03:00:00.999Z');
  assert.equal(setIdFor(date), '2026-01-31_03-00-00');
  assert.equal(dateOfSetId('2026-01-31_03-00-00').toISOString(), '2026-01-31T03:00:00.000Z');
  assert.equal(artifactPath('db', '2026-01-31_03-00-00', 'sql.gz'), 'db/db_backup_2026-01-31_03-00-00.sql.gz');
  assert.equal(manifestPath('2026-01-31_03-00-00'), 'manifests/2026-01-31_03-00-00.json');
});

test('a taken second moves to the next free one', async () => {
  const now = new Date('2026-01-31T03:00:00.500Z');
  const taken = new Set(['2026-01-31_03-00-00', '2026-01-31_03-00-01']);
  assert.equal(await nextFreeSetId(now, () => true), '2026-01-31_03-00-00');
  assert.equal(await nextFreeSetId(now, (setId) => !taken.has(setId)), '2026-01-31_03-00-02');
});
