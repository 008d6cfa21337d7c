// Tests retention per source, `within` and pins (src/core/retention.ts): each
// source's own timeline keeps its sets, so `backup --only` runs never push
// the newest full set out; 60 simulated nights with --only runs mixed in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRetention, type RetentionCandidate, type RetentionPlan, type RetentionPolicy } from '../../src/core/retention.ts';

const SEED: RetentionPolicy = { daily: 14, weekly: 4, monthly: 3 };
const ALL = ['db', 'files', 'config'];

function set(iso: string, sources: string[] = ALL, pin?: string): RetentionCandidate {
  const id = `${iso.slice(0, 10)}_${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}`;
  return { setId: id, createdAt: new Date(iso), sources, ...(pin !== undefined ? { pin } : {}) };
}

/** The kept sets as `prune --dry-run` shows them: id and reasons. */
function kept(plan: RetentionPlan): Array<[string, string[]]> {
  return plan.keep.map((entry) => [entry.setId, entry.reasons]);
}

/** 60 nights from 2026-01-01 03:00 UTC; every 3rd day a `--only config` run at 10:00, every 7th an `--only db` run at 15:00. */
function sixtyNights(): RetentionCandidate[] {
  const sets: RetentionCandidate[] = [];
  for (let day = 0; day < 60; day++) {
    const date = new Date(Date.UTC(2026, 0, 1 + day)).toISOString().slice(0, 10);
    sets.push(set(`${date}T03:00:00Z`));
    if (day % 3 === 0) sets.push(set(`${date}T10:00:00Z`, ['config']));
    if (day % 7 === 0) sets.push(set(`${date}T15:00:00Z`, ['db']));
  }
  return sets;
}

test('an --only config set does not push the newest full set out (the issue)', () => {
  const sets = [set('2026-03-01T03:00:00Z'), set('2026-03-02T03:00:00Z'), set('2026-03-02T10:00:00Z', ['config'])];
  const plan = applyRetention(sets, { daily: 1 });
  // Before: one timeline, daily 1 kept only the 10:00 config set and removed the night's full set.
  assert.deepEqual(
    kept(plan),
    [
      ['2026-03-02_10-00-00', ['daily #1']],
      ['2026-03-02_03-00-00', ['daily #1 (db, files)']],
    ],
  );
  assert.deepEqual(plan.remove.map((removed) => removed.setId), ['2026-03-01_03-00-00']);
});

test('60 nights with --only runs mixed in: every source keeps exactly what its own timeline keeps', () => {
  const sets = sixtyNights();
  const plan = applyRetention(sets, SEED);
  const keptIds = new Set(plan.keep.map((entry) => entry.setId));
  for (const source of ALL) {
    const timeline = sets.filter((candidate) => candidate.sources!.includes(source)).map(({ setId, createdAt }) => ({ setId, createdAt }));
    const own = applyRetention(timeline, SEED);
    // What a source's timeline keeps stays; nothing a set is removed for is kept by any timeline.
    for (const entry of own.keep) assert.ok(keptIds.has(entry.setId), `${source}: ${entry.setId} (${entry.reasons.join(', ')}) is kept`);
    // Its newest artifact is never lost to another source's runs, nor its 14 newest days.
    const ownDays = new Set(own.keep.filter((entry) => entry.reasons.some((reason) => reason.startsWith('daily'))).map((entry) => entry.setId.slice(0, 10)));
    assert.equal(ownDays.size, 14, `${source} keeps 14 days`);
  }
  // A set is removed only when no timeline it is on keeps it.
  for (const removed of plan.remove) {
    for (const source of removed.sources!) {
      const timeline = sets.filter((candidate) => candidate.sources!.includes(source)).map(({ setId, createdAt }) => ({ setId, createdAt }));
      assert.ok(!applyRetention(timeline, SEED).keep.some((entry) => entry.setId === removed.setId), `${removed.setId} is kept by ${source}`);
    }
  }
  // The newest full set (Mar 1, 03:00) is kept although --only runs came after it on the same day.
  assert.ok(keptIds.has('2026-03-01_03-00-00'));
  const fullSets = plan.keep.filter((entry) => entry.sources!.length === 3).map((entry) => entry.setId);
  assert.equal(fullSets[0], '2026-03-01_03-00-00');
  // The full sets of the 14 newest days are all kept for files (the only source no --only run touches).
  for (let day = 0; day < 14; day++) {
    const date = new Date(Date.UTC(2026, 2, 1 - day)).toISOString().slice(0, 10);
    assert.ok(keptIds.has(`${date}_03-00-00`), `full set of ${date}`);
  }
  // Reasons name their sources when the sources of a set disagree, and are plain when they agree.
  const reasonsOf = (setId: string) => plan.keep.find((entry) => entry.setId === setId)?.reasons;
  assert.deepEqual(reasonsOf('2026-03-01_03-00-00'), ['daily #1', 'weekly #1', 'monthly #1']);
  assert.deepEqual(reasonsOf('2026-02-27_10-00-00'), ['daily #3']);
  assert.deepEqual(reasonsOf('2026-02-27_03-00-00'), ['daily #3 (db, files)']);
  assert.deepEqual(reasonsOf('2026-02-26_03-00-00'), ['daily #4 (config, files)']);
  assert.deepEqual(reasonsOf('2026-01-31_03-00-00'), ['monthly #3 (db, files)']);
  assert.equal(plan.keep.length, 25);
  // Adding the --only sets never removes a set that a single timeline of full sets would keep.
  const fullOnly = applyRetention(sets.filter((candidate) => candidate.sources!.length === 3), SEED);
  for (const entry of fullOnly.keep) assert.ok(keptIds.has(entry.setId), `full-set plan keeps ${entry.setId}`);
});

test('full sets only: the plan and its plain reasons are what one timeline gives', () => {
  const sets = sixtyNights().filter((candidate) => candidate.sources!.length === 3);
  const bare = sets.map(({ setId, createdAt }) => ({ setId, createdAt }));
  const perSource = applyRetention(sets, SEED);
  const oneTimeline = applyRetention(bare, SEED);
  assert.deepEqual(kept(perSource), kept(oneTimeline));
});

test('a candidate without sources is on every timeline (make_space plans the set a run is about to make)', () => {
  const sets = [set('2026-03-01T03:00:00Z'), set('2026-03-02T03:00:00Z', ['config']), { setId: '2026-03-03_03-00-00', createdAt: new Date('2026-03-03T03:00:00Z') }];
  const plan = applyRetention(sets, { last: 1 });
  assert.deepEqual(plan.keep.map((entry) => entry.setId), ['2026-03-03_03-00-00']);
});

test('within keeps every set at most that long before the newest set, not before the clock', () => {
  const sets = [set('2026-03-01T03:00:00Z'), set('2026-03-01T18:00:00Z'), set('2026-03-02T03:00:00Z'), set('2026-03-02T09:00:00Z'), set('2026-03-03T03:00:00Z')];
  const plan = applyRetention(sets, { daily: 1, within_ms: 48 * 3600_000, within: '48h' });
  assert.deepEqual(
    kept(plan),
    [
      ['2026-03-03_03-00-00', ['daily #1', 'within 48h']],
      ['2026-03-02_09-00-00', ['within 48h']],
      ['2026-03-02_03-00-00', ['within 48h']],
      ['2026-03-01_18-00-00', ['within 48h']],
      ['2026-03-01_03-00-00', ['within 48h']],
    ],
  );
  const later = applyRetention(sets, { daily: 1, within_ms: 24 * 3600_000, within: '24h' }, { now: new Date('2030-01-01T00:00:00Z') });
  // Inclusive, as restic's: Mar 2 03:00 is exactly 24h before the newest set.
  assert.deepEqual(later.remove.map((entry) => entry.setId), ['2026-03-01_18-00-00', '2026-03-01_03-00-00']);
  // `within` alone is a policy: it keeps the newest set and the ones near it.
  const alone = applyRetention(sets, { within_ms: 12 * 3600_000, within: '12h' });
  assert.deepEqual(alone.keep.map((entry) => entry.setId), ['2026-03-03_03-00-00']);
});

test('a pinned set is kept whatever the rules say, with its note as the reason', () => {
  const sets = [set('2026-01-05T03:00:00Z', ALL, 'before 2.4 deploy'), set('2026-03-01T03:00:00Z'), set('2026-03-02T03:00:00Z')];
  const plan = applyRetention(sets, { last: 1 });
  assert.deepEqual(
    kept(plan),
    [
      ['2026-03-02_03-00-00', ['last #1']],
      ['2026-01-05_03-00-00', ['pinned: before 2.4 deploy']],
    ],
  );
  assert.deepEqual(plan.remove.map((entry) => entry.setId), ['2026-03-01_03-00-00']);
});
