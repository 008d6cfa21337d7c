// Owns the webhook channel: how an event is shaped for each `format` and the
// POST itself. json sends the event as data (for scripts and chat bridges);
// slack and discord send one readable message; ntfy sends the text as the body
// with Title/Priority/Tags headers so a phone shows severity at a glance.
// Shaping is pure (webhookRequest) so every format is testable without a server.

import type { NotifyConfig } from '../config/schema.ts';
import type { NotifyEvent, Severity } from './events.ts';
import type { RenderedMessage } from './render.ts';
import { httpTarget, postWithDeadline } from './http-post.ts';

export type WebhookConfig = NotifyConfig['webhooks'][number];
export type WebhookFormat = WebhookConfig['format'];

export interface WebhookRequest {
  contentType: string;
  body: string;
  headers: Record<string, string>;
}

/** Discord rejects `content` longer than this (HTTP 400). */
export const DISCORD_CONTENT_LIMIT = 2000;
/** Slack shows longer texts truncated behind "show more"; keep alerts whole. */
const SLACK_TEXT_LIMIT = 3500;
/** ntfy turns bodies over 4096 bytes into attachments, which phones do not show inline. */
const NTFY_BODY_BYTES = 4000;

const NTFY_PRIORITY: Record<Severity, string> = { critical: '5', warning: '4', ok: '3', info: '3' };
/** ntfy maps these tag names to emojis. */
const NTFY_TAG: Record<Severity, string> = { critical: 'rotating_light', warning: 'warning', ok: 'white_check_mark', info: 'information_source' };

export function webhookRequest(format: WebhookFormat, event: NotifyEvent, message: RenderedMessage): WebhookRequest {
  switch (format) {
    case 'json':
      return {
        contentType: 'application/json',
        headers: {},
        body: JSON.stringify({ kind: event.kind, severity: message.severity, subject: message.subject, text: message.text, event }),
      };
    case 'slack': {
      const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const body = truncate(escape(message.text.trimEnd()), SLACK_TEXT_LIMIT);
      return { contentType: 'application/json', headers: {}, body: JSON.stringify({ text: `*${escape(message.subject)}*\n\`\`\`${body}\`\`\`` }) };
    }
    case 'discord': {
      const head = `**${message.subject}**\n\`\`\`\n`;
      const tail = '\n```';
      const body = truncate(message.text.trimEnd(), DISCORD_CONTENT_LIMIT - codePoints(head) - codePoints(tail));
      // allowed_mentions: an error text containing "@everyone" must not page a whole server
      return { contentType: 'application/json', headers: {}, body: JSON.stringify({ content: head + body + tail, allowed_mentions: { parse: [] } }) };
    }
    case 'ntfy':
      return {
        contentType: 'text/plain; charset=utf-8',
        headers: {
          title: headerSafe(message.subject),
          priority: NTFY_PRIORITY[message.severity],
          tags: `${NTFY_TAG[message.severity]},restorable,${event.job}`,
        },
        body: truncateBytes(message.text, NTFY_BODY_BYTES),
      };
  }
}

export async function postWebhook(webhook: WebhookConfig, event: NotifyEvent, message: RenderedMessage): Promise<void> {
  const request = webhookRequest(webhook.format, event, message);
  await postWithDeadline(httpTarget(webhook.url), { ...request, timeoutMs: webhook.timeout_ms });
}

/** Header values must be Latin-1 for fetch; ntfy decodes RFC 2047 encoded words. */
function headerSafe(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(oneLine) ? oneLine : `=?UTF-8?B?${Buffer.from(oneLine, 'utf8').toString('base64')}?=`;
}

function codePoints(text: string): number {
  return Array.from(text).length;
}

function truncate(text: string, limit: number): string {
  const chars = Array.from(text);
  if (chars.length <= limit) return text;
  const marker = '\n... (cut; see the run log)';
  return chars.slice(0, Math.max(0, limit - marker.length)).join('') + marker;
}

function truncateBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const marker = '\n... (cut)';
  let cut = text.slice(0, limit - marker.length);
  while (Buffer.byteLength(cut) > limit - marker.length) cut = cut.slice(0, -1);
  return cut + marker;
}
