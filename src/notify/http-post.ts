// Owns one HTTP POST from the notifier (webhooks, healthchecks pings): a hard
// deadline (AbortSignal.timeout covers connect, headers and body), credentials
// moved from the URL into an Authorization header (fetch refuses URLs with
// user:password@), no redirects followed (a redirect would carry the body
// somewhere the operator did not configure), and any non-2xx answer reported as
// a failure with its status and a short excerpt. Messages name the host only:
// webhook URLs are secrets themselves (Slack, Discord and ntfy tokens live in them).

import { formatElapsed } from './render.ts';

export interface HttpTarget {
  /** The URL without user:password. */
  url: URL;
  /** `Basic …` when the configured URL carried credentials. */
  authorization?: string;
  /** What messages call it: host and port, never the path or query. */
  label: string;
  /** Parts of the configured URL to keep out of every message. */
  secrets: string[];
}

/** Path segments this long are tokens (Slack, Discord, healthchecks ping keys), not words. */
const TOKEN_SEGMENT_LENGTH = 16;
const EXCERPT_CHARS = 200;
const EXCERPT_READ_BYTES = 4096;

export function httpTarget(configured: string): HttpTarget {
  const url = new URL(configured);
  const secrets: string[] = [configured];
  let authorization: string | undefined;
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    secrets.push(password, url.password, authorization.slice('Basic '.length));
    // ntfy access tokens go in the user part with an empty password
    if (!password) secrets.push(user);
    url.username = '';
    url.password = '';
  }
  for (const [, value] of url.searchParams) if (value.length >= 8) secrets.push(value);
  for (const segment of url.pathname.split('/')) if (segment.length >= TOKEN_SEGMENT_LENGTH) secrets.push(decodeURIComponent(segment));
  return { url, authorization, label: url.host, secrets: secrets.filter((secret) => secret.length > 0) };
}

/** A channel failure whose message is safe to show (no URL, no token). */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

export interface PostRequest {
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** Resolves on a 2xx answer; rejects with a DeliveryError otherwise. Never outlives timeoutMs. */
export async function postWithDeadline(target: HttpTarget, request: PostRequest): Promise<void> {
  const signal = AbortSignal.timeout(request.timeoutMs);
  const headers: Record<string, string> = { 'content-type': request.contentType, 'user-agent': 'restorable', ...request.headers };
  if (target.authorization) headers.authorization = target.authorization;
  let response: Response;
  try {
    response = await fetch(target.url, { method: 'POST', body: request.body, headers, signal, redirect: 'manual' });
  } catch (error) {
    throw new DeliveryError(describeFetchError(error, target.label, request.timeoutMs));
  }
  if (response.status >= 200 && response.status < 300) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  const excerpt = await readExcerpt(response).catch(() => '');
  const redirect = response.status >= 300 && response.status < 400 ? ' (a redirect: configure the final URL, redirects are not followed)' : '';
  throw new DeliveryError(`${target.label} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${redirect}${excerpt ? `: ${excerpt}` : ''}`);
}

function describeFetchError(error: unknown, label: string, timeoutMs: number): string {
  const name = (error as Error | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer from ${label} within ${formatElapsed(timeoutMs)}`;
  // undici reports "fetch failed" and hides the reason (DNS, refused, TLS) in `cause`
  const cause = (error as { cause?: { message?: string; code?: string } } | undefined)?.cause;
  const reason = cause?.message ?? (error as Error | undefined)?.message ?? String(error);
  return `could not reach ${label}: ${reason}`;
}

async function readExcerpt(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < EXCERPT_READ_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}...` : text;
}
