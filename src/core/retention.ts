// Owns the retention decision: given the complete sets of one destination and
// a policy, which sets to keep (each with the reasons why) and which to remove.
// The semantics are restic's `ApplyPolicy` count rules (last, daily, weekly,
// monthly, yearly), including restic >= 0.16's "oldest" rule (restic issue
// 3624) and `--keep-within`, plus safety rules of our own: the newest set is
// always kept, a pinned set is kept, and an empty policy removes nothing.
// Pure: no I/O, no clock, no config reading.
//
// Per source: like restic groups snapshots by host and paths, the count rules
// run on each source's own timeline (the sets holding an artifact of it), so
// a `backup --only config` set never pushes the newest database or files
// artifact out. A set is removed only when no timeline it is on keeps it.

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** IANA time zone in which days, weeks, months and years are counted. Default 'UTC'. */
  timezone?: string;
  /**
   * Keeps every set created at most this long before the newest set (restic
   * `--keep-within`): measured from the newest set, not the clock, so a wrong
   * clock cannot make it keep less. Absent or 0: off.
   */
  within_ms?: number;
  /** `within` as written (`48h`), for the reason shown. */
  within?: string;
}

/** A complete set (one with a manifest); incomplete sets do not exist for retention. */
export interface RetentionCandidate {
  setId: string;
  createdAt: Date;
  /**
   * The sources the set holds an artifact of: it is on each one's timeline.
   * Absent: on every timeline (a set of all sources, e.g. the one a run is
   * about to make).
   */
  sources?: readonly string[];
  /** The operator's note when the set is pinned (`backup --keep NOTE`): kept whatever the rules say. */
  pin?: string;
}

export interface KeptSet {
  setId: string;
  createdAt: Date;
  /**
   * Why it is kept: the pin, then the count rules in rule order (e.g. "daily #1",
   * "oldest yearly"; with "(db, files)" appended when not every source of the
   * set has that reason), then "within 48h".
   */
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

/** The reason a pinned set is kept. */
export function pinReason(note: string): string {
  return `pinned: ${note}`;
}

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
  if (policy.within_ms !== undefined && !(Number.isFinite(policy.within_ms) && policy.within_ms >= 0)) {
    return `retention.within must be a duration >= 0, got ${String(policy.within ?? policy.within_ms)}`;
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
 * Sets are sorted newest first (equal times: larger setId first). Each source
 * has its own timeline: the sets that hold an artifact of it (a candidate
 * without `sources` is on every timeline). On each timeline, each rule walks
 * the list on its own with a counter of N: a set whose period (for `last`:
 * every set) differs from the previous set's period is kept and decrements
 * the counter, until it reaches 0. When a rule still has count left at the
 * oldest set, that set is kept too ("oldest <rule>"), so a young repository
 * keeps its whole history. `within` keeps every set at most that long older
 * than the newest set; a pin keeps its set. The kept sets are the union.
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
  const countReasons = timelineReasons(newestFirst, periods, policy);
  const newestTime = newestFirst[0]?.createdAt.getTime() ?? 0;
  const within = policy.within_ms ?? 0;
  const reasons = newestFirst.map((set, index) => [
    ...(set.pin !== undefined ? [pinReason(set.pin)] : []),
    ...countReasons[index]!,
    ...(within > 0 && newestTime - set.createdAt.getTime() <= within ? [`within ${policy.within ?? `${within} ms`}`] : []),
  ]);

  // Cannot trigger with the rules above (any rule with a count keeps the
  // newest set of each timeline), but this invariant must survive future rule changes.
  if (newestFirst.length > 0 && reasons[0]!.length === 0) reasons[0]!.push(NEWEST_REASON);

  const plan: RetentionPlan<Candidate> = { keep: [], remove: [] };
  newestFirst.forEach((set, index) => {
    const why = reasons[index]!;
    if (why.length > 0) plan.keep.push({ ...set, reasons: why });
    else plan.remove.push(set);
  });
  return plan;
}

/**
 * The count rules' reasons of each set (index into `newestFirst`), over every
 * source's timeline. When every timeline a set is on gives it the same
 * reasons, they are listed plainly; otherwise each names its sources:
 * "daily #1 (config)", "daily #2 (db, files)".
 */
function timelineReasons(newestFirst: readonly RetentionCandidate[], periods: readonly RetentionPeriods[], policy: RetentionPolicy): string[][] {
  const names = [...new Set(newestFirst.flatMap((set) => set.sources ?? []))].sort();
  const timelines = names.length > 0 ? names : [''];
  const onTimeline = (set: RetentionCandidate, name: string) => name === '' || set.sources === undefined || set.sources.includes(name);
  // perSource[index]: source -> its reasons for that set.
  const perSource = newestFirst.map(() => new Map<string, string[]>());
  for (const name of timelines) {
    const members = newestFirst.flatMap((set, index) => (onTimeline(set, name) ? [index] : []));
    const reasons = countRuleReasons(members.map((index) => periods[index]!), policy);
    members.forEach((index, position) => perSource[index]!.set(name, reasons[position]!));
  }
  return perSource.map((bySource) => {
    const lists = [...bySource.values()];
    if (lists.every((list) => list.join('\n') === lists[0]!.join('\n'))) return lists[0] ?? [];
    const sourcesOf = new Map<string, string[]>();
    for (const [name, list] of bySource) for (const reason of list) sourcesOf.set(reason, [...(sourcesOf.get(reason) ?? []), name]);
    return [...sourcesOf].sort(([a], [b]) => ruleRank(a) - ruleRank(b)).map(([reason, sources]) => `${reason} (${sources.join(', ')})`);
  });
}

/** One timeline (its sets' periods, newest first): each set's reasons under the count rules, in rule order. */
function countRuleReasons(periods: readonly RetentionPeriods[], policy: RetentionPolicy): string[][] {
  const reasons: string[][] = periods.map(() => []);
  for (const rule of RETENTION_RULES) {
    const count = policy[rule] ?? 0;
    if (count === 0) continue;
    // `last` puts every set in a period of its own, so each one counts.
    const periodAt = (index: number): string | number => (rule === 'last' ? index : periods[index]![periodKeyOf[rule]]);
    let remaining = count;
    let previousPeriod: string | number | undefined;
    for (let index = 0; index < periods.length && remaining > 0; index++) {
      const period = periodAt(index);
      const isOldest = index === periods.length - 1;
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
  return reasons;
}

/** Where a reason's rule stands in RETENTION_RULES ("oldest daily" ranks as daily). */
function ruleRank(reason: string): number {
  return RETENTION_RULES.findIndex((rule) => reason.startsWith(rule) || reason.startsWith(`oldest ${rule}`));
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
  return RETENTION_RULES.every((rule) => (policy[rule] ?? 0) === 0) && (policy.within_ms ?? 0) === 0;
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
