// Owns how every event reads: one subject line and one plain-text body per
// event (and the HTML of the weekly report), in one place, so a mail, a Slack
// line and an ntfy push say the same thing. Subjects start with the severity in
// capitals (CRITICAL, WARNING, RECOVERED, OK) so a mail filter or a phone
// notification shows what matters without opening anything. Pure: no I/O.

import { formatBytes } from '../core/units.ts';
import { severityOf, type ErrorFacts, type NotifyEvent, type Severity } from './events.ts';

export interface RenderedMessage {
  subject: string;
  text: string;
  /** Only the weekly report has an HTML part. */
  html?: string;
  severity: Severity;
}

const SUBJECT_PREFIX = '[restorable]';
/** A stderr tail can be long; an alert shows its end, the run log has all of it. */
const MAX_DETAIL_LINES = 20;
const MAX_LIST_LINES = 30;

export function renderEvent(event: NotifyEvent): RenderedMessage {
  const severity = severityOf(event);
  const who = `${event.job} on ${event.host}`;
  switch (event.kind) {
    case 'backup_started':
      return {
        severity,
        subject: `${SUBJECT_PREFIX} backup of ${who} started`,
        text: `The backup of ${who} started at ${formatTime(event.at)}.\n`,
      };

    case 'backup_failed': {
      const streak =
        event.consecutiveFailures > 1
          ? `It has failed ${event.consecutiveFailures} times in a row, since ${formatTime(event.failingSince)}.`
          : 'The previous backup run did not fail.';
      return {
        severity,
        subject: `${SUBJECT_PREFIX} CRITICAL: backup of ${who} failed (${event.error.code})`,
        text: body(
          `The backup of ${who} FAILED at ${formatTime(event.at)}.\nNothing new was published; earlier backup sets are untouched.`,
          errorBlock(event.error),
          streak,
          event.runLogPath ? `Run log: ${event.runLogPath} (in the repository)` : undefined,
        ),
      };
    }

    case 'backup_recovered':
      return {
        severity,
        subject: `${SUBJECT_PREFIX} RECOVERED: backup of ${who} works again (set ${event.setId})`,
        text: body(
          `The backup of ${who} succeeded again at ${formatTime(event.at)} and published set ${event.setId}.`,
          `It had been failing for ${formatElapsed(event.failedForMs)} (${plural(event.failedRuns, 'failed run')} since ${formatTime(event.failingSince)}).`,
        ),
      };

    case 'backup_succeeded': {
      const outcome = event.status === 'ok' ? 'succeeded' : `completed with ${plural(event.warnings.length, 'warning')}`;
      return {
        severity,
        subject: `${SUBJECT_PREFIX} ${event.status === 'ok' ? 'OK' : 'WARNING'}: backup of ${who} ${outcome} (set ${event.setId}, ${formatBytes(event.totalSizeBytes)})`,
        text: body(
          `The backup of ${who} ${outcome} at ${formatTime(event.at)}.`,
          labelled([
            ['Set', event.setId],
            ['Size', formatBytes(event.totalSizeBytes)],
            ['Duration', formatElapsed(event.durationMs)],
          ]),
          event.sources.map((source) => `  ${source.source}: ${formatBytes(source.sizeBytes)} (${formatBytes(source.rawSizeBytes)} before compression)`).join('\n'),
          event.warnings.length > 0 ? `Warnings:\n${indentedList(event.warnings, MAX_LIST_LINES)}` : undefined,
        ),
      };
    }

    case 'check_state_changed': {
      const summary = withoutStatePrefix(event.summary);
      const change = `${event.from} -> ${event.to}`;
      const subject = event.repeated
        ? `${SUBJECT_PREFIX} still ${event.to}: ${who} since ${formatTime(event.since)}: ${summary}`
        : event.to === 'OK'
          ? `${SUBJECT_PREFIX} RECOVERED: ${who} is OK again (${change})`
          : `${SUBJECT_PREFIX} ${event.to}: ${who} (${change}): ${summary}`;
      const opening = event.repeated
        ? `The backups of ${who} have been ${event.to} since ${formatTime(event.since)}.`
        : event.to === 'OK'
          ? `The backups of ${who} are OK again (${change}) as of ${formatTime(event.at)}.`
          : `The backups of ${who} changed from ${event.from} to ${event.to} at ${formatTime(event.at)}.`;
      return {
        severity,
        subject,
        text: body(
          opening,
          event.summary,
          event.problems.length > 0 ? `Checks that are not OK:\n${indentedList(event.problems, MAX_LIST_LINES)}` : undefined,
          event.to === 'OK' ? undefined : 'Run `restorable check` on the host for the current state.',
        ),
      };
    }

    case 'drill_failed':
      return {
        severity,
        subject: `${SUBJECT_PREFIX} CRITICAL: restore drill of ${who} failed (set ${event.setId})`,
        text: body(
          `The restore drill of set ${event.setId} (${who}) FAILED at ${formatTime(event.at)}: this set may not restore as it was backed up.`,
          event.differences.length > 0 ? `What differed:\n${indentedList(event.differences, MAX_LIST_LINES)}` : undefined,
          event.error ? errorBlock(event.error) : undefined,
        ),
      };

    case 'report':
      // Built elsewhere in full; sent as it is.
      return { severity, subject: event.subject, text: event.text, html: event.html };
  }
}

function errorBlock(error: ErrorFacts): string {
  const where = [
    error.where.job ? `job ${error.where.job}` : undefined,
    error.where.source ? `source ${error.where.source}` : undefined,
    error.where.destination ? `destination ${error.where.destination}` : undefined,
    error.where.path ? `path ${error.where.path}` : undefined,
  ].filter((part): part is string => part !== undefined);
  return joinBlocks(
    labelled([
      ['What failed', error.message],
      ['Where', where.length > 0 ? where.join(', ') : undefined],
      ['Error code', error.code],
      ['What to do', error.remedy],
    ]),
    error.details.length > 0 ? `Details:\n${indentedList(error.details.slice(-MAX_DETAIL_LINES), MAX_DETAIL_LINES)}` : undefined,
  );
}

/** `Label:   value` lines with the values aligned; absent values are left out. */
function labelled(rows: Array<[string, string | undefined]>): string {
  const present = rows.filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '');
  const width = Math.max(0, ...present.map(([label]) => label.length)) + 2;
  return present.map(([label, value]) => `${(label + ':').padEnd(width)}${value}`).join('\n');
}

function indentedList(lines: string[], max: number): string {
  const shown = lines.slice(0, max).map((line) => `  ${line}`);
  if (lines.length > max) shown.push(`  ... and ${lines.length - max} more`);
  return shown.join('\n');
}

function joinBlocks(...blocks: Array<string | undefined>): string {
  return blocks.filter((block) => block !== undefined && block !== '').join('\n\n');
}

/** A message body: blocks separated by a blank line, ending with a newline. */
function body(...blocks: Array<string | undefined>): string {
  return joinBlocks(...blocks) + '\n';
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function withoutStatePrefix(summary: string): string {
  return summary.replace(/^(OK|WARNING|CRITICAL|UNKNOWN)\b[\s:–-]*/, '') || summary;
}

/** `2026-01-31 03:00:12 UTC`: unambiguous wherever the reader is. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `45 s`, `12 min`, `5 h 12 min`, `3 days 4 h`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return `${days} days ${hours % 24} h`;
}
