// Owns what became of every notification: the Delivery a channel yields, and
// the record of it in `<repository>/.restorable/notifications.jsonl` (one JSON
// line per channel and event, 0600). An alert that could not be sent must not be
// lost silently (reliability research F4): `check`, the report and the dashboard
// read these records to say "the last failure alert did not reach anyone".
// Records carry redacted error texts only.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_DIR } from '../storage/local-repository.ts';
import { appendJsonLines, readJsonLines } from '../storage/json-lines-file.ts';
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
  return join(repositoryRoot, STATE_DIR, 'notifications.jsonl');
}

/** Appends in one write, so concurrent writers (backup and check) do not interleave lines. */
export async function appendNotificationRecords(repositoryRoot: string, records: NotificationRecord[]): Promise<void> {
  if (records.length === 0) return;
  await ensureStateDir(repositoryRoot);
  await appendJsonLines(notificationRecordsPath(repositoryRoot), records);
}

/** All records, oldest first; a torn last line (crash mid-append) is skipped. */
export async function readNotificationRecords(repositoryRoot: string): Promise<NotificationRecord[]> {
  return readJsonLines<NotificationRecord>(notificationRecordsPath(repositoryRoot));
}

/**
 * Creates `.restorable` (0700) inside an existing repository, but never the
 * repository itself: an unmounted backup disk must stay visibly missing.
 */
export async function ensureStateDir(repositoryRoot: string): Promise<void> {
  try {
    await mkdir(join(repositoryRoot, STATE_DIR), { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
