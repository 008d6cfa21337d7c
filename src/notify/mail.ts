// Owns the mail channel: the SMTP transport built from `notify.email`, the
// password (from a file's first line or an environment variable, read at send
// time so a rotated password needs no restart), and one message with a hard
// deadline. Rules that keep alerts private and arriving:
//  - credentials never cross the wire in clear: with a user, either TLS from the
//    first byte (`secure`) or STARTTLS is required (nodemailer's requireTLS);
//    without one, STARTTLS is still used whenever the relay offers it;
//  - a relay with a private CA is trusted by pinning that CA (`ca_file`), never
//    by turning certificate checks off;
//  - connect, greeting and every read have the channel timeout, and an overall
//    AbortSignal ends the attempt at the same deadline whatever the server does.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { NotifyConfig } from '../config/schema.ts';
import type { NotifyEvent } from './events.ts';
import { formatElapsed, type RenderedMessage } from './render.ts';
import { DeliveryError } from './http-post.ts';

export type EmailConfig = NonNullable<NotifyConfig['email']>;
type SmtpConfig = EmailConfig['smtp'];

/**
 * The SMTP password, or undefined when no AUTH is configured. Rejects with a
 * DeliveryError that names the setting (never the value) when it cannot be read.
 */
export async function readSmtpPassword(smtp: SmtpConfig, configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (smtp.user === undefined) return undefined;
  if (smtp.password_file !== undefined) {
    const path = resolve(configDir, smtp.password_file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new DeliveryError(`cannot read notify.email.smtp.password_file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
    if (!firstLine) throw new DeliveryError(`notify.email.smtp.password_file ${path} is empty (the password is its first line)`);
    return firstLine;
  }
  if (smtp.password_env !== undefined) {
    const value = env[smtp.password_env];
    if (!value) throw new DeliveryError(`the environment variable ${smtp.password_env} (notify.email.smtp.password_env) is not set`);
    return value;
  }
  throw new DeliveryError('notify.email.smtp.user is set but neither password_file nor password_env is: no password to log in with');
}

export interface MailSendOptions {
  configDir: string;
  /** From readSmtpPassword; undefined sends without AUTH. */
  password: string | undefined;
}

export async function sendMail(email: EmailConfig, event: NotifyEvent, message: RenderedMessage, options: MailSendOptions): Promise<void> {
  const { smtp } = email;
  const timeoutMs = smtp.timeout_ms;
  const relay = `SMTP ${smtp.host}:${smtp.port}`;
  let ca: string | undefined;
  if (smtp.ca_file !== undefined) {
    const path = resolve(options.configDir, smtp.ca_file);
    try {
      ca = await readFile(path, 'utf8');
    } catch (error) {
      throw new DeliveryError(`cannot read notify.email.smtp.ca_file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const authenticates = smtp.user !== undefined && options.password !== undefined;
  // Loaded only when a mail is sent: nodemailer is the heaviest module to load,
  // and most runs of every command send none.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    // The one rule that matters: AUTH only inside TLS.
    requireTLS: authenticates && !smtp.secure,
    auth: authenticates ? { user: smtp.user!, pass: options.password! } : undefined,
    tls: { minVersion: 'TLSv1.2', ...(ca !== undefined ? { ca } : {}) },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    socketCloseTimeout: 0,
    // An alert never attaches local files or fetches URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  });
  try {
    await transport.sendMail({
      from: email.from,
      to: email.to,
      subject: message.subject,
      text: message.text,
      ...(message.html !== undefined ? { html: message.html } : {}),
      priority: message.severity === 'critical' ? 'high' : 'normal',
      headers: {
        'X-Restorable-Event': event.kind,
        'X-Restorable-Job': event.job,
        // RFC 3834: no vacation auto-replies to a machine
        'Auto-Submitted': 'auto-generated',
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new DeliveryError(describeSmtpError(error, relay, timeoutMs));
  } finally {
    transport.close();
  }
}

function describeSmtpError(error: unknown, relay: string, timeoutMs: number): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = (message ?? String(error)).replace(/\s+/g, ' ').trim();
  switch (code) {
    case 'EABORT':
      return `${relay}: no complete answer within ${formatElapsed(timeoutMs)} (notify.email.smtp.timeout)`;
    case 'EAUTH':
    case 'ENOAUTH':
      return `${relay}: ${text} (check notify.email.smtp.user and its password)`;
    case 'ETLS':
      return `${relay}: ${text} (the relay must offer STARTTLS before a password is sent; use port 465 with secure: true, or a relay that offers STARTTLS)`;
    case 'EENVELOPE':
      return `${relay}: ${text} (the relay refused the sender or recipients; check notify.email.from and notify.email.to)`;
    default:
      if (/certificate/i.test(text)) return `${relay}: ${text} (if the relay uses a private CA, set notify.email.smtp.ca_file to that CA)`;
      return `${relay}: ${text}`;
  }
}
