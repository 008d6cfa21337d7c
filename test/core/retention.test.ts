// Tests the retention decision (src/core/retention.ts): restic's own golden
// fixtures for the count rules, our calendar edge cases (month ends, ISO week
// 53, leap day, time zones), and the safety rules (newest kept, empty policy
// keeps all, the clock and input order change nothing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EMPTY_POLICY_MESSAGE,
  EMPTY_POLICY_REASON,
  applyRetention,
  retentionPeriodsOf,
  validateRetentionPolicy,
  type RetentionCandidate,
  type RetentionPlan,
  type RetentionPolicy,
} from '../../src/core/retention.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'restic-policy');

// ---------------------------------------------------------------------------
// helpers

/** A set created at an ISO instant; its id is the instant unless given. */
function set(createdAt: string, setId = createdAt): RetentionCandidate {
  return { setId, createdAt: new Date(createdAt) };
}

/** One set per day at 03:00 UTC, from `first` to `last` inclusive (YYYY-MM-DD). */
function dailySets(first: string, last: string): RetentionCandidate[] {
  const sets: RetentionCandidate[] = [];
  for (let day = new Date(`${first}T03:00:00Z`); day <= new Date(`${last}T03:00:00Z`); day = new Date(day.getTime() + 86_400_000)) {
    sets.push(set(day.toISOString(), seedId(day)));
  }
  return sets;
}

/** The seed's set id format, `2026-01-31_03-00-00`. */
function seedId(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)}_${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}`;
}

/** The plan as a user reads `prune --dry-run`: kept ids with reasons, removed ids. */
function summary(plan: RetentionPlan): { keep: Array<[string, string[]]>; remove: string[] } {
  return {
    keep: plan.keep.map((kept) => [kept.setId, kept.reasons]),
    remove: plan.remove.map((removed) => removed.setId),
  };
}

function keptIds(plan: RetentionPlan): string[] {
  return plan.keep.map((kept) => kept.setId);
}

// ---------------------------------------------------------------------------
// 1. golden tests from restic's fixtures

interface ResticInput {
  sets: Array<{ setId: string; createdAt: string }>;
}
interface ResticFixture {
  source: { path: string; commit: string };
  policy: RetentionPolicy;
  expectedKeep: Array<{ setId: string; reasons: string[] }>;
}

const resticInput = JSON.parse(readFileSync(join(FIXTURES, 'snapshots.json'), 'utf8')) as ResticInput;
const resticSets = resticInput.sets.map((entry) => set(entry.createdAt, entry.setId));
const fixtureFiles = readdirSync(FIXTURES)
  .filter((name) => name.startsWith('policy_keep_snapshots_'))
  .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));

test('the restic fixtures are all there (a missing file must not pass silently)', () => {
  assert.equal(resticSets.length, 103);
  assert.deepEqual(
    fixtureFiles.map((name) => Number(name.match(/\d+/)![0])),
    [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
  );
});

for (const file of fixtureFiles) {
  const fixture = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as ResticFixture;
  test(`restic golden ${fixture.source.path} @ ${fixture.source.commit.slice(0, 8)}: ${JSON.stringify(fixture.policy)}`, () => {
    const plan = applyRetention(resticSets, fixture.policy);

    assert.deepEqual(
      plan.keep.map((kept) => ({ setId: kept.setId, reasons: kept.reasons })),
      fixture.expectedKeep.map((expected) => ({ setId: expected.setId, reasons: expected.reasons })),
    );
    // Everything not kept is removed, newest first, and nothing is lost or doubled.
    const keptSet = new Set(keptIds(plan));
    const expectedRemove = [...resticSets]
      .filter((candidate) => !keptSet.has(candidate.setId))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.setId < b.setId ? 1 : -1))
      .map((candidate) => candidate.setId);
    assert.deepEqual(plan.remove.map((removed) => removed.setId), expectedRemove);
    assert.equal(plan.keep.length + plan.remove.length, resticSets.length);
    // restic's own bound: never more kept than the counts add up to.
    const countSum = (['last', 'daily', 'weekly', 'monthly', 'yearly'] as const).reduce(
      (sum, rule) => sum + (fixture.policy[rule] ?? 0),
      0,
    );
    if (countSum > 0) assert.ok(plan.keep.length <= countSum, `${plan.keep.length} kept > ${countSum}`);
  });
}

// ---------------------------------------------------------------------------
// 2. our own cases

test('periods: ISO week-numbering year around 2020-W53, month and year in the zone', () => {
  const weekOf = (iso: string) => retentionPeriodsOf(new Date(iso)).week;
  assert.equal(weekOf('2020-12-27T12:00:00Z'), '2020-W52'); // Sunday
  assert.equal(weekOf('2020-12-28T12:00:00Z'), '2020-W53'); // Monday starts W53
  assert.equal(weekOf('2020-12-31T12:00:00Z'), '2020-W53');
  assert.equal(weekOf('2021-01-01T12:00:00Z'), '2020-W53');
  assert.equal(weekOf('2021-01-03T23:59:59Z'), '2020-W53');
  assert.equal(weekOf('2021-01-04T00:00:00Z'), '2021-W01');
  assert.equal(weekOf('2019-12-30T00:00:00Z'), '2020-W01'); // a week that starts in the previous year
  assert.deepEqual(retentionPeriodsOf(new Date('2024-02-29T10:00:00Z')), {
    day: '2024-02-29',
    week: '2024-W09',
    month: '2024-02',
    year: '2024',
  });
  assert.deepEqual(retentionPeriodsOf(new Date('2025-12-31T23:30:00Z'), 'Europe/Berlin'), {
    day: '2026-01-01',
    week: '2026-W01',
    month: '2026-01',
    year: '2026',
  });
});

test('ISO week 53: 2020-12-28 .. 2021-01-03 is one week, 2021-01-04 starts the next', () => {
  const sets = [
    set('2020-12-21T03:00:00Z'), // Monday, 2020-W52
    set('2020-12-27T03:00:00Z'), // Sunday, 2020-W52
    set('2020-12-28T03:00:00Z'), // Monday, 2020-W53
    set('2020-12-31T03:00:00Z'),
    set('2021-01-01T03:00:00Z'),
    set('2021-01-03T03:00:00Z'), // Sunday, last day of 2020-W53
    set('2021-01-04T03:00:00Z'), // Monday, 2021-W01
  ];
  assert.deepEqual(summary(applyRetention(sets, { weekly: 10 })), {
    keep: [
      ['2021-01-04T03:00:00Z', ['weekly #1']],
      ['2021-01-03T03:00:00Z', ['weekly #2']],
      ['2020-12-27T03:00:00Z', ['weekly #3']],
      ['2020-12-21T03:00:00Z', ['oldest weekly']],
    ],
    // A calendar-year week (2021-W00 for Jan 1) would wrongly keep one of these.
    remove: ['2021-01-01T03:00:00Z', '2020-12-31T03:00:00Z', '2020-12-28T03:00:00Z'],
  });
});

test('month end: Jan 31 and Feb 1 are different months and different days', () => {
  const sets = [set('2026-01-30T03:00:00Z'), set('2026-01-31T03:00:00Z'), set('2026-02-01T03:00:00Z'), set('2026-02-02T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(sets, { monthly: 2 })), {
    keep: [
      ['2026-02-02T03:00:00Z', ['monthly #1']],
      ['2026-01-31T03:00:00Z', ['monthly #2']],
    ],
    remove: ['2026-02-01T03:00:00Z', '2026-01-30T03:00:00Z'],
  });
  assert.deepEqual(keptIds(applyRetention(sets, { daily: 3 })), [
    '2026-02-02T03:00:00Z',
    '2026-02-01T03:00:00Z',
    '2026-01-31T03:00:00Z',
  ]);
});

test('the same day of the month in another month, and the same month in another year, are other periods', () => {
  const sets = [set('2025-01-15T03:00:00Z'), set('2026-01-15T03:00:00Z'), set('2026-02-15T03:00:00Z')];
  assert.deepEqual(keptIds(applyRetention(sets, { daily: 3 })), [
    '2026-02-15T03:00:00Z',
    '2026-01-15T03:00:00Z',
    '2025-01-15T03:00:00Z',
  ]);
  // January 2025 follows January 2026 directly: a month key without the year would call it "oldest".
  assert.deepEqual(summary(applyRetention(sets, { monthly: 3 })).keep, [
    ['2026-02-15T03:00:00Z', ['monthly #1']],
    ['2026-01-15T03:00:00Z', ['monthly #2']],
    ['2025-01-15T03:00:00Z', ['monthly #3']],
  ]);
  assert.deepEqual(summary(applyRetention(sets, { yearly: 1 })), {
    keep: [['2026-02-15T03:00:00Z', ['yearly #1']]],
    remove: ['2026-01-15T03:00:00Z', '2025-01-15T03:00:00Z'],
  });
});

test('leap day: 2024-02-29 is a day of its own and belongs to February', () => {
  const sets = [set('2024-02-28T03:00:00Z'), set('2024-02-29T03:00:00Z'), set('2024-03-01T03:00:00Z')];
  assert.deepEqual(keptIds(applyRetention(sets, { daily: 2 })), ['2024-03-01T03:00:00Z', '2024-02-29T03:00:00Z']);
  assert.deepEqual(summary(applyRetention(sets, { monthly: 2 })), {
    keep: [
      ['2024-03-01T03:00:00Z', ['monthly #1']],
      ['2024-02-29T03:00:00Z', ['monthly #2']],
    ],
    remove: ['2024-02-28T03:00:00Z'],
  });
});

test('gaps: daily N keeps the N newest days that have a set, not N calendar days', () => {
  const sets = [set('2026-01-01T03:00:00Z'), set('2026-01-05T03:00:00Z'), set('2026-01-20T03:00:00Z'), set('2026-02-10T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(sets, { daily: 3 })), {
    keep: [
      ['2026-02-10T03:00:00Z', ['daily #1']],
      ['2026-01-20T03:00:00Z', ['daily #2']],
      ['2026-01-05T03:00:00Z', ['daily #3']],
    ],
    remove: ['2026-01-01T03:00:00Z'],
  });
});

test('several sets per day: the newest of each day is the daily one', () => {
  const sets = [
    set('2026-01-09T03:00:00Z'),
    set('2026-01-09T21:00:00Z'),
    set('2026-01-10T03:00:00Z'),
    set('2026-01-10T12:00:00Z'),
    set('2026-01-10T18:00:00Z'),
    set('2026-01-08T03:00:00Z'),
  ];
  assert.deepEqual(summary(applyRetention(sets, { daily: 2 })), {
    keep: [
      ['2026-01-10T18:00:00Z', ['daily #1']],
      ['2026-01-09T21:00:00Z', ['daily #2']],
    ],
    remove: ['2026-01-10T12:00:00Z', '2026-01-10T03:00:00Z', '2026-01-09T03:00:00Z', '2026-01-08T03:00:00Z'],
  });
  // `last` counts sets, not days.
  assert.deepEqual(keptIds(applyRetention(sets, { last: 2 })), ['2026-01-10T18:00:00Z', '2026-01-10T12:00:00Z']);
});

test("the seed's policy (14 daily, 4 weekly, 3 monthly) over 120 days of nightly sets keeps exactly 17", () => {
  const sets = dailySets('2025-10-04', '2026-01-31'); // 28 + 30 + 31 + 31 days
  assert.equal(sets.length, 120);
  const plan = applyRetention(sets, { daily: 14, weekly: 4, monthly: 3 });
  const dailies = Array.from({ length: 14 }, (_, index) => `2026-01-${String(31 - index).padStart(2, '0')}_03-00-00`);
  assert.deepEqual(keptIds(plan), [...dailies, '2026-01-11_03-00-00', '2025-12-31_03-00-00', '2025-11-30_03-00-00']);
  const reasonsOf = new Map(plan.keep.map((kept) => [kept.setId, kept.reasons]));
  assert.deepEqual(reasonsOf.get('2026-01-31_03-00-00'), ['daily #1', 'weekly #1', 'monthly #1']); // Saturday of 2026-W05
  assert.deepEqual(reasonsOf.get('2026-01-25_03-00-00'), ['daily #7', 'weekly #2']); // Sunday ending 2026-W04
  assert.deepEqual(reasonsOf.get('2026-01-18_03-00-00'), ['daily #14', 'weekly #3']);
  assert.deepEqual(reasonsOf.get('2026-01-19_03-00-00'), ['daily #13']);
  assert.deepEqual(reasonsOf.get('2026-01-11_03-00-00'), ['weekly #4']);
  assert.deepEqual(reasonsOf.get('2025-12-31_03-00-00'), ['monthly #2']);
  assert.deepEqual(reasonsOf.get('2025-11-30_03-00-00'), ['monthly #3']);
  assert.equal(plan.remove.length, 103);
  assert.equal(plan.remove[0]!.setId, '2026-01-17_03-00-00'); // the day after the 14 dailies
  assert.equal(plan.remove.at(-1)!.setId, '2025-10-04_03-00-00');
});

test('a young repository keeps its whole history: the oldest set is kept while daily has count left', () => {
  // Two runs on the first day (a manual try, then the fixed config), then the first nightly.
  const sets = [set('2026-01-01T09:00:00Z'), set('2026-01-01T14:00:00Z'), set('2026-01-02T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(sets, { daily: 14 })), {
    keep: [
      ['2026-01-02T03:00:00Z', ['daily #1']],
      ['2026-01-01T14:00:00Z', ['daily #2']],
      ['2026-01-01T09:00:00Z', ['oldest daily']],
    ],
    remove: [],
  });
  // Three sets on three days are simply three dailies (restic names the reason after the rule then).
  const threeDays = [set('2026-01-01T03:00:00Z'), set('2026-01-02T03:00:00Z'), set('2026-01-03T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(threeDays, { daily: 14 })).keep.at(-1), ['2026-01-01T03:00:00Z', ['daily #3']]);
});

test('the oldest rule needs count left: a used-up rule does not keep the oldest set', () => {
  const sets = [set('2026-01-01T09:00:00Z'), set('2026-01-01T14:00:00Z'), set('2026-01-02T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(sets, { daily: 2 })).remove, ['2026-01-01T09:00:00Z']);
  // Each rule keeps the oldest on its own account; reasons are listed in rule order.
  assert.deepEqual(summary(applyRetention(sets, { daily: 3, monthly: 5, yearly: 2 })).keep, [
    ['2026-01-02T03:00:00Z', ['daily #1', 'monthly #1', 'yearly #1']],
    ['2026-01-01T14:00:00Z', ['daily #2']],
    ['2026-01-01T09:00:00Z', ['oldest daily', 'oldest monthly', 'oldest yearly']],
  ]);
});

test('time zone: a set at 23:30 UTC counts for the next day in Europe/Berlin', () => {
  const sets = [set('2026-01-14T10:00:00Z'), set('2026-01-14T23:30:00Z'), set('2026-01-15T10:00:00Z')];
  // In UTC, 23:30 is the newest set of January 14.
  assert.deepEqual(keptIds(applyRetention(sets, { daily: 2 })), ['2026-01-15T10:00:00Z', '2026-01-14T23:30:00Z']);
  // In Berlin (UTC+1) it is 00:30 on January 15, the same day as the newest set.
  assert.deepEqual(summary(applyRetention(sets, { daily: 2, timezone: 'Europe/Berlin' })), {
    keep: [
      ['2026-01-15T10:00:00Z', ['daily #1']],
      ['2026-01-14T10:00:00Z', ['daily #2']],
    ],
    remove: ['2026-01-14T23:30:00Z'],
  });
});

test('time zone: weeks and months switch at local midnight, including summer time and west of UTC', () => {
  // Sunday 2026-07-05 22:30 UTC is Monday 00:30 in Berlin (UTC+2 in summer): a new ISO week there.
  const aroundWeekEnd = [set('2026-06-29T12:00:00Z'), set('2026-07-05T12:00:00Z'), set('2026-07-05T22:30:00Z')];
  assert.deepEqual(summary(applyRetention(aroundWeekEnd, { weekly: 2 })), {
    keep: [
      ['2026-07-05T22:30:00Z', ['weekly #1']],
      ['2026-06-29T12:00:00Z', ['oldest weekly']], // all three are 2026-W27 in UTC
    ],
    remove: ['2026-07-05T12:00:00Z'],
  });
  assert.deepEqual(summary(applyRetention(aroundWeekEnd, { weekly: 2, timezone: 'Europe/Berlin' })), {
    keep: [
      ['2026-07-05T22:30:00Z', ['weekly #1']], // 2026-W28 in Berlin
      ['2026-07-05T12:00:00Z', ['weekly #2']],
    ],
    remove: ['2026-06-29T12:00:00Z'],
  });
  // 2026-01-31 03:00 UTC and 2026-02-01 03:00 UTC are both still January in New York (UTC-5).
  const aroundMonthEnd = [set('2026-01-31T03:00:00Z'), set('2026-01-31T12:00:00Z'), set('2026-02-01T03:00:00Z')];
  assert.deepEqual(summary(applyRetention(aroundMonthEnd, { monthly: 2 })), {
    keep: [
      ['2026-02-01T03:00:00Z', ['monthly #1']],
      ['2026-01-31T12:00:00Z', ['monthly #2']],
    ],
    remove: ['2026-01-31T03:00:00Z'],
  });
  assert.deepEqual(summary(applyRetention(aroundMonthEnd, { monthly: 2, timezone: 'America/New_York' })), {
    keep: [
      ['2026-02-01T03:00:00Z', ['monthly #1']],
      ['2026-01-31T03:00:00Z', ['oldest monthly']],
    ],
    remove: ['2026-01-31T12:00:00Z'],
  });
});

// ---------------------------------------------------------------------------
// 3. safety

test('the newest set is always kept, by every rule on its own', () => {
  const sets = dailySets('2025-01-01', '2025-12-31');
  for (const policy of [{ last: 1 }, { daily: 1 }, { weekly: 1 }, { monthly: 1 }, { yearly: 1 }, { last: 0, yearly: 1 }]) {
    const plan = applyRetention(sets, policy);
    assert.equal(plan.keep[0]?.setId, '2025-12-31_03-00-00', JSON.stringify(policy));
    assert.ok(!plan.remove.some((removed) => removed.setId === '2025-12-31_03-00-00'));
  }
  // Also when it is dated in the future and the only one of its year.
  const withFuture = [...sets, set('2099-06-01T00:00:00Z', 'from-the-future')];
  assert.deepEqual(keptIds(applyRetention(withFuture, { monthly: 1 }, { now: new Date('2026-01-01T00:00:00Z') })), ['from-the-future']);
});

test('an empty policy keeps everything and is reported as a config error', () => {
  const sets = dailySets('2026-01-01', '2026-01-10');
  for (const policy of [{}, { timezone: 'Europe/Berlin' }, { last: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0 }]) {
    const plan = applyRetention(sets, policy);
    assert.equal(plan.remove.length, 0, JSON.stringify(policy));
    assert.deepEqual(keptIds(plan), [...sets].reverse().map((candidate) => candidate.setId));
    assert.ok(plan.keep.every((kept) => kept.reasons.join() === EMPTY_POLICY_REASON));
    assert.equal(validateRetentionPolicy(policy), EMPTY_POLICY_MESSAGE);
  }
  assert.equal(
    EMPTY_POLICY_MESSAGE,
    'retention keeps nothing: set at least one of last, daily, weekly, monthly, yearly above 0',
  );
  assert.equal(validateRetentionPolicy({ daily: 14, weekly: 4, monthly: 3 }), undefined);
  assert.equal(validateRetentionPolicy({ yearly: 1, timezone: 'America/New_York' }), undefined);
});

test('invalid policies are named and refused, never guessed', () => {
  const sets = dailySets('2026-01-01', '2026-01-03');
  for (const [policy, message] of [
    [{ daily: -1 }, 'retention.daily must be a whole number >= 0, got -1'],
    [{ weekly: 1.5 }, 'retention.weekly must be a whole number >= 0, got 1.5'],
    [{ last: Number.NaN }, 'retention.last must be a whole number >= 0, got NaN'],
    [{ daily: 7, timezone: 'Mars/Olympus_Mons' }, 'retention.timezone "Mars/Olympus_Mons" is not a known IANA time zone (e.g. UTC, Europe/Berlin)'],
  ] as Array<[RetentionPolicy, string]>) {
    assert.equal(validateRetentionPolicy(policy), message);
    assert.throws(() => applyRetention(sets, policy), { name: 'RangeError', message });
  }
});

test('sets it cannot place are refused: an invalid date, an id listed twice', () => {
  assert.throws(() => applyRetention([set('2026-01-01T03:00:00Z', 'a'), { setId: 'b', createdAt: new Date('nonsense') }], { daily: 1 }), {
    message: 'set b has no valid creation time',
  });
  assert.throws(() => applyRetention([set('2026-01-01T03:00:00Z', 'a'), set('2026-01-02T03:00:00Z', 'a')], { daily: 1 }), {
    message: 'set a is listed twice',
  });
  assert.deepEqual(applyRetention([], { daily: 7 }), { keep: [], remove: [] });
});

test('the clock does not change the plan: now far ahead, far behind, or sets in the future', () => {
  const sets = [...dailySets('2025-10-04', '2026-01-31'), set('2026-03-01T00:00:00Z', '2026-03-01_00-00-00')];
  const policy = { daily: 14, weekly: 4, monthly: 3 };
  const withoutClock = applyRetention(sets, policy);
  assert.ok(withoutClock.remove.length > 0); // the comparison below compares real removals
  for (const now of [new Date('2100-01-01T00:00:00Z'), new Date('1970-01-02T00:00:00Z'), new Date('2026-02-01T00:00:00Z')]) {
    assert.deepEqual(applyRetention(sets, policy, { now }), withoutClock, now.toISOString());
  }
  // Relative to a `now` of 2026-01-01, a month of sets lies in the future; they still count by their own dates.
  const plan = applyRetention(sets, policy, { now: new Date('2026-01-01T00:00:00Z') });
  assert.equal(plan.keep[0]!.setId, '2026-03-01_00-00-00');
  assert.deepEqual(plan.keep[0]!.reasons, ['daily #1', 'weekly #1', 'monthly #1']);
});

test('input order does not matter, and equal times are ordered by set id', () => {
  const sets = [...dailySets('2025-12-01', '2026-01-31'), set('2026-01-31T03:00:00Z', '2026-01-31_03-00-00-b')];
  const policy = { last: 3, daily: 10, weekly: 3, monthly: 2, yearly: 2 };
  const reference = applyRetention(sets, policy);
  const shuffles = [
    [...sets].reverse(),
    [...sets.slice(31), ...sets.slice(0, 31)],
    sets.filter((_, index) => index % 2 === 0).concat(sets.filter((_, index) => index % 2 === 1)),
  ];
  for (const shuffled of shuffles) assert.deepEqual(applyRetention(shuffled, policy), reference);
  // Two sets of one second: the larger id sorts as the newer and is the daily one.
  assert.deepEqual(reference.keep.slice(0, 2).map((kept) => [kept.setId, kept.reasons]), [
    ['2026-01-31_03-00-00-b', ['last #1', 'daily #1', 'weekly #1', 'monthly #1', 'yearly #1']],
    ['2026-01-31_03-00-00', ['last #2']],
  ]);
  // The caller's objects come back (with reasons added), not lookalikes without their fields.
  const rich = sets.map((candidate) => ({ ...candidate, manifestPath: `manifests/${candidate.setId}.json` }));
  const richPlan = applyRetention(rich, policy);
  assert.equal(richPlan.remove[0]!.manifestPath, `manifests/${richPlan.remove[0]!.setId}.json`);
  assert.equal(richPlan.keep[0]!.manifestPath, 'manifests/2026-01-31_03-00-00-b.json');
});

test('the plan does not modify its input', () => {
  const sets = dailySets('2026-01-01', '2026-01-20');
  const before = JSON.stringify(sets);
  applyRetention(sets, { daily: 3 });
  assert.equal(JSON.stringify(sets), before);
});
