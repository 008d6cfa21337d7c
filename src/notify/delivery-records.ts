// Owns what became of every notification: the Delivery a channel yields, and
// the record of it in `<repository>/.restorable/notifications.jsonl` (one JSON
// line per channel and event, kept by the state store). An alert that could not
// be sent must not be lost silently: `check`, the report and the dashboard read
// these records to say "the last failure alert did not reach anyone".
// Invariant: records carry redacted error texts only.

import { appendStateLines, readStateLines, statePath } from '../storage/state-store.ts';
import type { NotifyEventKind } from './events.ts';

/** What one channel did with one event. */
export interface Delivery {
  /** `email`, `webhook:slack:hooks.slack.com`, `healthchecks:hc-ping.com`: never a full URL. */
  channel: string;
  event: NotifyEventKind;
  ok: boolean;
  /** Why it failed, safe to show (redacted). */
  error?: string;
  durationMs: number;
}

export interface NotificationRecord extends Delivery {
  /** ISO time the event was sent. */
  when: string;
}

export function notificationRecordsPath(repositoryRoot: string): string {
  return statePath(repositoryRoot, 'notifications.jsonl');
}

/** Appends in one write, so concurrent writers (backup and check) do not interleave lines. */
export async function appendNotificationRecords(repositoryRoot: string, records: NotificationRecord[]): Promise<void> {
  await appendStateLines(repositoryRoot, 'notifications.jsonl', records);
}

/** All records, oldest first; a torn last line (crash mid-append) is skipped. */
export async function readNotificationRecords(repositoryRoot: string): Promise<NotificationRecord[]> {
  return readStateLines<NotificationRecord>(repositoryRoot, 'notifications.jsonl');
}
