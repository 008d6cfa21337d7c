// Owns sending one event to every channel that wants it (mail, webhooks,
// healthchecks pings), in parallel, and what happens when a channel fails:
// never an exception, never a hang past the channel's deadline, always a log
// line and a record in notifications.jsonl. A notification is a side effect of
// a backup or a check and must never change its outcome. Everything that leaves
// this module (messages, bodies, log lines, records) is redacted first.

import { hostname } from 'node:os';
import type { NotifyConfig, NotifyEventName } from '../config/schema.ts';
import type { Clock } from '../core/ports.ts';
import type { NotifyEvent, NotifyEventKind } from './events.ts';
import { renderEvent, type RenderedMessage } from './render.ts';
import { createRedactor, type Redactor } from './redact.ts';
import { readSmtpPassword, sendMail } from './mail.ts';
import { postWebhook } from './webhook.ts';
import { healthchecksPingFor, sendHealthchecksPing } from './healthchecks.ts';
import { httpTarget } from './http-post.ts';
import { appendNotificationRecords, type Delivery, type NotificationRecord } from './delivery-records.ts';
import { alertOnCheckState, type MonitorVerdict, type CheckStateAlert } from './state.ts';

export type NotifyLogLevel = 'info' | 'warn' | 'error';
export type NotifyLog = (level: NotifyLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface NotifierOptions {
  /** Relative password_file and ca_file paths are resolved against it. */
  configDir: string;
  /** Where notifications.jsonl and notify-state.json live (`.restorable/`). */
  repositoryRoot: string;
  job: string;
  clock: Clock;
  log: NotifyLog;
  /** Values to keep out of every message, e.g. the database passwords the sources use. */
  secrets?: string[];
  /** Default: os.hostname(). */
  host?: string;
  /** Where password_env is looked up. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface Notifier {
  /** Sends to every channel that wants this event. Resolves (never rejects) within the channels' deadlines. */
  send(event: NotifyEvent): Promise<Delivery[]>;
  /** For `check`: announces the state if the repeat rule says so, and remembers it. Never rejects. */
  notifyCheckState(result: MonitorVerdict): Promise<CheckStateAlert>;
  /** Names of the configured channels, as they appear in deliveries. */
  readonly channels: string[];
}

/** What each channel gets when its `events` list is not configured. */
export const DEFAULT_EMAIL_EVENTS: readonly NotifyEventName[] = ['backup_failed', 'backup_recovered', 'check_state_changed', 'drill_failed', 'report'];
export const DEFAULT_WEBHOOK_EVENTS: readonly NotifyEventName[] = ['backup_failed', 'backup_recovered', 'check_state_changed', 'drill_failed'];
/** A dead-man's switch only understands start, success and failure of the backup. */
export const HEALTHCHECKS_EVENTS: readonly NotifyEventKind[] = ['backup_started', 'backup_succeeded', 'backup_failed'];

/** Beyond a channel's own deadline, the notifier stops waiting for it no matter what. */
const DEADLINE_GRACE_MS = 1000;

interface SendContext {
  event: NotifyEvent;
  message: RenderedMessage;
  smtpPassword: PasswordLookup | undefined;
}

type PasswordLookup = { password: string | undefined } | { error: unknown };

interface Channel {
  name: string;
  timeoutMs: number;
  /** Parts of the channel's own settings that must never be shown (URL tokens). */
  secrets: string[];
  wants(kind: NotifyEventKind): boolean;
  deliver(context: SendContext): Promise<void>;
}

export function createNotifier(config: NotifyConfig, options: NotifierOptions): Notifier {
  const host = options.host ?? hostname();
  const env = options.env ?? process.env;
  const channels = buildChannels(config, options.configDir);
  const email = config.email;
  const log: NotifyLog = (level, message, fields) => {
    try {
      options.log(level, message, fields);
    } catch {
      // a broken logger must not turn a notification into a crash
    }
  };

  async function send(event: NotifyEvent): Promise<Delivery[]> {
    const wanted = channels.filter((channel) => channel.wants(event.kind));
    if (wanted.length === 0) return [];
    const when = options.clock.now().toISOString();
    const knownSecrets = [...(options.secrets ?? []), ...channels.flatMap((channel) => channel.secrets)];
    let redactor: Redactor = createRedactor(knownSecrets);
    let deliveries: Delivery[];
    try {
      // The SMTP password is read before anything is rendered so that it can be redacted everywhere.
      const smtpPassword = email && wanted.some((channel) => channel.name === 'email') ? await lookUpPassword(email.smtp, options.configDir, env) : undefined;
      if (smtpPassword && 'password' in smtpPassword) redactor = createRedactor([smtpPassword.password, ...knownSecrets]);
      const safeEvent = redactor.deep(event);
      const context: SendContext = { event: safeEvent, message: renderEvent(safeEvent), smtpPassword };
      deliveries = await Promise.all(wanted.map((channel) => deliverWithin(channel, context, redactor)));
    } catch (error) {
      // Only a defect gets here (every channel failure is caught below); still no exception leaves.
      const reason = redactor.text(`could not prepare the notification: ${(error as Error)?.message ?? String(error)}`);
      deliveries = wanted.map((channel) => ({ channel: channel.name, event: event.kind, ok: false, error: reason, durationMs: 0 }));
    }

    for (const delivery of deliveries) {
      const fields = { channel: delivery.channel, event: delivery.event, durationMs: delivery.durationMs };
      if (delivery.ok) log('info', `notified ${delivery.channel} of ${delivery.event}`, fields);
      else log(event.kind === 'backup_failed' || event.kind === 'drill_failed' ? 'error' : 'warn', `could not notify ${delivery.channel} of ${delivery.event}: ${delivery.error}`, { ...fields, error: delivery.error });
    }
    const records: NotificationRecord[] = deliveries.map((delivery) => ({ when, ...delivery }));
    try {
      await appendNotificationRecords(options.repositoryRoot, records);
    } catch (error) {
      log('warn', redactor.text(`could not record notifications in ${options.repositoryRoot}: ${(error as Error).message}`));
    }
    return deliveries;
  }

  return {
    send,
    channels: channels.map((channel) => channel.name),
    async notifyCheckState(result) {
      try {
        return await alertOnCheckState(result, {
          repositoryRoot: options.repositoryRoot,
          job: options.job,
          host,
          now: options.clock.now(),
          repeatAfterMs: config.repeat_after_ms,
          send,
          log,
        });
      } catch (error) {
        log('warn', `could not evaluate the check-state alert: ${(error as Error).message}`);
        return { decision: { notify: false }, deliveries: [], remembered: false };
      }
    },
  };
}

async function deliverWithin(channel: Channel, context: SendContext, redactor: Redactor): Promise<Delivery> {
  const started = performance.now();
  const deadlineMs = channel.timeoutMs + DEADLINE_GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${Math.round(deadlineMs / 1000)} s without an answer`)), deadlineMs);
  });
  try {
    await Promise.race([channel.deliver(context), deadline]);
    return { channel: channel.name, event: context.event.kind, ok: true, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { channel: channel.name, event: context.event.kind, ok: false, error: redactor.text(message), durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

async function lookUpPassword(smtp: NonNullable<NotifyConfig['email']>['smtp'], configDir: string, env: NodeJS.ProcessEnv): Promise<PasswordLookup> {
  try {
    return { password: await readSmtpPassword(smtp, configDir, env) };
  } catch (error) {
    return { error };
  }
}

function buildChannels(config: NotifyConfig, configDir: string): Channel[] {
  const channels: Channel[] = [];
  const email = config.email;
  if (email) {
    const events = new Set<NotifyEventKind>(email.events ?? DEFAULT_EMAIL_EVENTS);
    channels.push({
      name: 'email',
      timeoutMs: email.smtp.timeout_ms,
      secrets: [],
      wants: (kind) => events.has(kind),
      async deliver({ event, message, smtpPassword }) {
        if (smtpPassword && 'error' in smtpPassword) throw smtpPassword.error;
        await sendMail(email, event, message, { configDir, password: smtpPassword?.password });
      },
    });
  }

  const names = new Map<string, number>();
  const uniqueName = (name: string) => {
    const seen = (names.get(name) ?? 0) + 1;
    names.set(name, seen);
    return seen === 1 ? name : `${name}#${seen}`;
  };

  for (const webhook of config.webhooks) {
    const events = new Set<NotifyEventKind>(webhook.events ?? DEFAULT_WEBHOOK_EVENTS);
    const target = httpTarget(webhook.url);
    channels.push({
      name: uniqueName(`webhook:${webhook.format}:${target.label}`),
      timeoutMs: webhook.timeout_ms,
      secrets: target.secrets,
      wants: (kind) => events.has(kind),
      deliver: ({ event, message }) => postWebhook(webhook, event, message),
    });
  }

  const healthchecks = config.healthchecks;
  if (healthchecks) {
    const target = httpTarget(healthchecks.url);
    channels.push({
      name: uniqueName(`healthchecks:${target.label}`),
      timeoutMs: healthchecks.timeout_ms,
      secrets: target.secrets,
      wants: (kind) => HEALTHCHECKS_EVENTS.includes(kind),
      async deliver({ event, message }) {
        const ping = healthchecksPingFor(event, message);
        if (ping) await sendHealthchecksPing(healthchecks, ping);
      },
    });
  }
  return channels;
}
