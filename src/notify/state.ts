// Owns the rule that keeps `check` alerts useful instead of noisy: announce a
// change of state (OK -> WARNING -> CRITICAL, and back to OK as a recovery),
// repeat a state that is not OK no more often than `repeat_after`, and say
// nothing while all is well. Its memory is `notify-state.json` in the state
// store (the state last announced, when, and since when it holds).
// Invariants: a state counts as announced only when a channel took it (or no
// channel wants it): when every channel failed, the next `check` tries again
// instead of staying silent. An absent or unreadable memory means "alert",
// never "silence".

import { readStateJson, statePath, writeStateJson } from '../storage/state-store.ts';
import type { CheckState, CheckStateHasChanged, IsoTime } from './events.ts';
import type { Delivery } from './delivery-records.ts';

export interface NotifiedCheckState {
  state: CheckState;
  /** When it was last announced. */
  notifiedAt: IsoTime;
  /** When the state was first announced (kept across repeats). */
  since: IsoTime;
}

export interface NotifyState {
  version: 1;
  check?: NotifiedCheckState;
  /** The local day (report timezone) on which the weekly report was last sent, e.g. `2026-11-29`. */
  reportSentOn?: string;
}

export type CheckNotifyDecision =
  | { notify: false }
  /** changed: to another state that is not OK; recovered: back to OK; repeat: same state, repeat_after passed. */
  | { notify: true; reason: 'changed' | 'recovered' | 'repeat' };

/** Pure: whether `current` should be announced, given what was announced last. */
export function shouldNotifyCheckState(
  previous: NotifiedCheckState | undefined,
  current: CheckState,
  now: Date,
  repeatAfterMs: number,
): CheckNotifyDecision {
  const lastState = previous?.state ?? 'OK';
  if (current !== lastState) return { notify: true, reason: current === 'OK' ? 'recovered' : 'changed' };
  if (current === 'OK' || previous === undefined) return { notify: false };
  const sinceLastNotice = now.getTime() - new Date(previous.notifiedAt).getTime();
  // An unreadable time counts as "long ago": better one alert too many than none.
  if (Number.isNaN(sinceLastNotice) || sinceLastNotice >= repeatAfterMs) return { notify: true, reason: 'repeat' };
  return { notify: false };
}

export function notifyStatePath(repositoryRoot: string): string {
  return statePath(repositoryRoot, 'notify-state.json');
}

/** The remembered state; an absent or unreadable file is an empty memory (which errs towards alerting). */
export async function readNotifyState(repositoryRoot: string): Promise<NotifyState> {
  const value = await readStateJson(repositoryRoot, 'notify-state.json');
  if (typeof value !== 'object' || value === null) return { version: 1 };
  const { check, reportSentOn } = value as Partial<NotifyState>;
  const valid = typeof check === 'object' && check !== null && ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'].includes(check.state) && typeof check.notifiedAt === 'string';
  return {
    version: 1,
    ...(valid ? { check: { ...check, since: check.since ?? check.notifiedAt } } : {}),
    ...(typeof reportSentOn === 'string' && reportSentOn ? { reportSentOn } : {}),
  };
}

export async function writeNotifyState(repositoryRoot: string, state: NotifyState): Promise<void> {
  await writeStateJson(repositoryRoot, 'notify-state.json', state);
}

/**
 * What `check` found as a whole, as the notifier needs it (not one monitor
 * check's result, which is checks/check.ts's CheckResult).
 */
export interface MonitorVerdict {
  state: CheckState;
  /** The first line of `check`'s output. */
  summary: string;
  /** One line per monitor check that is not OK. */
  problems: string[];
}

export interface CheckStateAlert {
  decision: CheckNotifyDecision;
  deliveries: Delivery[];
  /** The event sent, when one was. */
  event?: CheckStateHasChanged;
  /** False when every channel failed (the next check retries) or the memory could not be written. */
  remembered: boolean;
}

export interface CheckStateAlertContext {
  repositoryRoot: string;
  job: string;
  host: string;
  now: Date;
  repeatAfterMs: number;
  send: (event: CheckStateHasChanged) => Promise<Delivery[]>;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** Decide, send, remember. Never throws: a broken memory file means "alert", never "silence". */
export async function alertOnCheckState(result: MonitorVerdict, context: CheckStateAlertContext): Promise<CheckStateAlert> {
  const memory = await readNotifyState(context.repositoryRoot);
  const decision = shouldNotifyCheckState(memory.check, result.state, context.now, context.repeatAfterMs);
  if (!decision.notify) return { decision, deliveries: [], remembered: true };

  const nowIso = context.now.toISOString();
  const since = decision.reason === 'repeat' && memory.check ? memory.check.since : nowIso;
  const event: CheckStateHasChanged = {
    kind: 'check_state_changed',
    job: context.job,
    host: context.host,
    at: nowIso,
    from: memory.check?.state ?? 'OK',
    to: result.state,
    summary: result.summary,
    problems: result.problems,
    repeated: decision.reason === 'repeat',
    since,
  };
  const deliveries = await context.send(event);
  const taken = deliveries.length === 0 || deliveries.some((delivery) => delivery.ok);
  if (!taken) {
    context.log('warn', `no channel took the ${result.state} alert; the next check will try again`, { state: result.state });
    return { decision, deliveries, event, remembered: false };
  }
  try {
    await writeNotifyState(context.repositoryRoot, { ...memory, check: { state: result.state, notifiedAt: nowIso, since } });
    return { decision, deliveries, event, remembered: true };
  } catch (error) {
    context.log('warn', `could not remember the announced check state: ${(error as Error).message}`, { path: notifyStatePath(context.repositoryRoot) });
    return { decision, deliveries, event, remembered: false };
  }
}
