// Owns the dead-man's-switch pings (healthchecks.io, Uptime Kuma push and
// alike): `<url>/start` when a backup starts, `<url>` when it succeeded,
// `<url>/fail` with the error when it failed. The external service alerts when a
// ping is late or never comes, which covers what no local alert can: the host is
// down, cron never ran the job, or mail from this host is lost.

import type { NotifyConfig } from '../config/schema.ts';
import type { NotifyEvent } from './events.ts';
import type { RenderedMessage } from './render.ts';
import { httpTarget, postWithDeadline, type HttpTarget } from './http-post.ts';

export type HealthchecksConfig = NonNullable<NotifyConfig['healthchecks']>;

/** healthchecks.io keeps the first 100 kB of a ping body; a short one reads better in its log. */
const PING_BODY_CHARS = 2000;

export interface HealthchecksPing {
  /** '' (success), 'start' or 'fail', appended to the configured URL's path. */
  path: '' | 'start' | 'fail';
  body: string;
}

/** Which ping an event makes, if any. */
export function healthchecksPingFor(event: NotifyEvent, message: RenderedMessage): HealthchecksPing | undefined {
  switch (event.kind) {
    case 'backup_started':
      return { path: 'start', body: '' };
    case 'backup_succeeded':
      return { path: '', body: message.subject };
    case 'backup_failed': {
      const lines = [
        event.error.message,
        `code ${event.error.code}${event.error.where.source ? `, source ${event.error.where.source}` : ''}`,
        event.error.remedy ? `what to do: ${event.error.remedy}` : undefined,
      ].filter((line): line is string => line !== undefined);
      return { path: 'fail', body: lines.join('\n').slice(0, PING_BODY_CHARS) };
    }
    default:
      return undefined;
  }
}

/** `https://hc-ping.com/<uuid>` + `start` -> `https://hc-ping.com/<uuid>/start`, keeping any query (`?create=1`). */
export function pingTarget(configured: string, path: HealthchecksPing['path']): HttpTarget {
  const target = httpTarget(configured);
  if (path) target.url.pathname = `${target.url.pathname.replace(/\/+$/, '')}/${path}`;
  return target;
}

export async function sendHealthchecksPing(config: HealthchecksConfig, ping: HealthchecksPing): Promise<void> {
  await postWithDeadline(pingTarget(config.url, ping.path), {
    body: ping.body,
    contentType: 'text/plain; charset=utf-8',
    timeoutMs: config.timeout_ms,
  });
}
