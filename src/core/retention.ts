// Owns the retention decision: given the complete sets of one destination and
// a policy, which sets to keep (each with the reasons why) and which to remove.
// The semantics are restic's `ApplyPolicy` count rules (last, daily, weekly,
// monthly, yearly), including restic >= 0.16's "oldest" rule (restic issue
// 3624), plus two safety rules of our own: the newest set is always kept, and
// an empty policy removes nothing. Pure: no I/O, no clock, no config reading.

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** IANA time zone in which days, weeks, months and years are counted. Default 'UTC'. */
  timezone?: string;
}

/** A complete set (one with a manifest); incomplete sets do not exist for retention. */
export interface RetentionCandidate {
  setId: string;
  createdAt: Date;
}

export interface KeptSet {
  setId: string;
  createdAt: Date;
  /** Why it is kept, in rule order: e.g. ["last #1", "daily #1", "weekly #1", "monthly #1", "oldest yearly"]. */
  reasons: string[];
}

/** Both lists newest first. */
export interface RetentionPlan<Candidate extends RetentionCandidate = RetentionCandidate> {
  keep: Array<Candidate & KeptSet>;
  remove: Candidate[];
}

export interface RetentionOptions {
  /**
   * Accepted so callers can pass their clock, and deliberately ignored: like
   * restic's count rules, what is kept depends only on the sets themselves.
   * A wrong clock (or a set dated in the future) must never make a prune
   * delete more.
   */
  now?: Date;
}

/** The rules in the order their reasons are listed. */
export const RETENTION_RULES = ['last', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type RetentionRule = (typeof RETENTION_RULES)[number];

export const EMPTY_POLICY_MESSAGE =
  'retention keeps nothing: set at least one of last, daily, weekly, monthly, yearly above 0';

/** Reason given to every set when the policy is empty (nothing is removed then). */
export const EMPTY_POLICY_REASON = 'empty policy keeps all';

/** Reason given to the newest set should no rule have kept it. */
export const NEWEST_REASON = 'newest';

/** The calendar periods a moment falls into, in one time zone. */
export interface RetentionPeriods {
  day: string; // 2021-01-01
  week: string; // 2020-W53 (ISO 8601 week-numbering year and week)
  month: string; // 2021-01
  year: string; // 2021
}

/**
 * A message for the operator when the policy is unusable, else undefined:
 * a policy that keeps nothing (every rule absent or 0), a count that is not a
 * whole number >= 0, or a time zone the runtime does not know.
 */
export function validateRetentionPolicy(policy: RetentionPolicy): string | undefined {
  for (const rule of RETENTION_RULES) {
    const count = policy[rule];
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) {
      return `retention.${rule} must be a whole number >= 0, got ${String(count)}`;
    }
  }
  if (policy.timezone !== undefined && !isKnownTimeZone(policy.timezone)) {
    return `retention.timezone "${policy.timezone}" is not a known IANA time zone (e.g. UTC, Europe/Berlin)`;
  }
  if (isEmptyPolicy(policy)) return EMPTY_POLICY_MESSAGE;
  return undefined;
}

/**
 * Decides which sets to keep and which to remove (restic's ApplyPolicy).
 *
 * Sets are sorted newest first (equal times: larger setId first). Each rule
 * walks that list on its own with a counter of N: a set whose period (for
 * `last`: every set) differs from the previous set's period is kept and
 * decrements the counter, until it reaches 0. When a rule still has count
 * left at the oldest set, that set is kept too ("oldest <rule>"), so a young
 * repository keeps its whole history. The kept sets are the union over rules.
 *
 * An empty policy keeps everything (restic's `forget` refuses to act without
 * a policy; `validateRetentionPolicy` reports it as a config error). A policy
 * with invalid counts or an unknown time zone throws rather than guessing.
 */
export function applyRetention<Candidate extends RetentionCandidate>(
  sets: readonly Candidate[],
  policy: RetentionPolicy,
  _options: RetentionOptions = {},
): RetentionPlan<Candidate> {
  const problem = validateRetentionPolicy(policy);
  if (problem !== undefined && problem !== EMPTY_POLICY_MESSAGE) throw new RangeError(problem);
  assertUsableSets(sets);

  const newestFirst = [...sets].sort(newestFirstOrder);
  if (isEmptyPolicy(policy)) {
    return { keep: newestFirst.map((set) => ({ ...set, reasons: [EMPTY_POLICY_REASON] })), remove: [] };
  }

  const periodsOf = periodCalculator(policy.timezone ?? 'UTC');
  const periods = newestFirst.map((set) => periodsOf(set.createdAt));
  const reasons: string[][] = newestFirst.map(() => []);

  for (const rule of RETENTION_RULES) {
    const count = policy[rule] ?? 0;
    if (count === 0) continue;
    // `last` puts every set in a period of its own, so each one counts.
    const periodAt = (index: number): string | number =>
      rule === 'last' ? index : periods[index]![periodKeyOf[rule]];
    let remaining = count;
    let previousPeriod: string | number | undefined;
    for (let index = 0; index < newestFirst.length && remaining > 0; index++) {
      const period = periodAt(index);
      const isOldest = index === newestFirst.length - 1;
      if (period !== previousPeriod) {
        previousPeriod = period;
        remaining--;
        reasons[index]!.push(`${rule} #${count - remaining}`);
      } else if (isOldest) {
        // restic >= 0.16: count left at the end keeps the oldest set as well.
        remaining--;
        reasons[index]!.push(`oldest ${rule}`);
      }
    }
  }

  // Cannot trigger with the rules above (any rule with a count keeps the
  // newest set), but this invariant must survive future rule changes.
  if (newestFirst.length > 0 && reasons[0]!.length === 0) reasons[0]!.push(NEWEST_REASON);

  const plan: RetentionPlan<Candidate> = { keep: [], remove: [] };
  newestFirst.forEach((set, index) => {
    const why = reasons[index]!;
    if (why.length > 0) plan.keep.push({ ...set, reasons: why });
    else plan.remove.push(set);
  });
  return plan;
}

/** The day, ISO week, month and year of `moment` in `timeZone` (default UTC). */
export function retentionPeriodsOf(moment: Date, timeZone = 'UTC'): RetentionPeriods {
  return periodCalculator(timeZone)(moment);
}

const periodKeyOf: Record<Exclude<RetentionRule, 'last'>, keyof RetentionPeriods> = {
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
  yearly: 'year',
};

function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return RETENTION_RULES.every((rule) => (policy[rule] ?? 0) === 0);
}

function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function assertUsableSets(sets: readonly RetentionCandidate[]): void {
  const seen = new Set<string>();
  for (const set of sets) {
    // A set without a usable date cannot be placed in any period; guessing
    // could delete the wrong set, so refuse the whole plan.
    if (!(set.createdAt instanceof Date) || Number.isNaN(set.createdAt.getTime())) {
      throw new RangeError(`set ${set.setId} has no valid creation time`);
    }
    // Two entries with one id would make "remove <id>" ambiguous.
    if (seen.has(set.setId)) throw new RangeError(`set ${set.setId} is listed twice`);
    seen.add(set.setId);
  }
}

/** Newest first; equal times by setId descending, so the order never depends on input order. */
function newestFirstOrder(a: RetentionCandidate, b: RetentionCandidate): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0;
}

interface LocalDate {
  year: number;
  month: number; // 1-12
  day: number;
}

function periodCalculator(timeZone: string): (moment: Date) => RetentionPeriods {
  const localDateOf = localDateReader(timeZone);
  return (moment) => {
    const date = localDateOf(moment);
    const { isoYear, isoWeek } = isoWeekOf(date);
    return {
      day: `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`,
      week: `${pad(isoYear, 4)}-W${pad(isoWeek, 2)}`,
      month: `${pad(date.year, 4)}-${pad(date.month, 2)}`,
      year: pad(date.year, 4),
    };
  };
}

function localDateReader(timeZone: string): (moment: Date) => LocalDate {
  // Intl knows every zone's offsets and daylight-saving rules; formatting to
  // parts gives the local calendar date without any offset arithmetic here.
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    calendar: 'gregory',
    numberingSystem: 'latn',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  });
  return (moment) => {
    const parts = format.formatToParts(moment);
    const part = (type: Intl.DateTimeFormatPartTypes): number =>
      Number(parts.find((candidate) => candidate.type === type)?.value);
    return { year: part('year'), month: part('month'), day: part('day') };
  };
}

/** ISO 8601 week: weeks start on Monday; week 1 is the week with the year's first Thursday. */
function isoWeekOf({ year, month, day }: LocalDate): { isoYear: number; isoWeek: number } {
  const date = Date.UTC(year, month - 1, day);
  const daysSinceMonday = (new Date(date).getUTCDay() + 6) % 7;
  // The Thursday of this week decides which year the week belongs to.
  const thursday = new Date(date + (3 - daysSinceMonday) * DAY_MS);
  const isoYear = thursday.getUTCFullYear();
  const isoWeek = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * DAY_MS)) + 1;
  return { isoYear, isoWeek };
}

const DAY_MS = 24 * 60 * 60 * 1000;

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
