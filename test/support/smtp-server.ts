// A real SMTP server for the notifier tests (smtp-server from npm) on
// 127.0.0.1 and a free port: STARTTLS with a throw-away self-signed certificate
// made by openssl for this test, AUTH PLAIN/LOGIN only after STARTTLS, and the
// messages it received as raw RFC 822 text plus a minimal MIME decoding (enough
// to assert on subject, headers and body). Modes make it misbehave the way real
// relays do: refuse recipients or data with 550, or stall (never greet, or
// swallow the data and never answer); and `tls` makes it a port-465 relay or a
// careless one that takes AUTH in clear. Stopped when the test ends.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { tempDir } from './temp.ts';

export type SmtpMode = 'accept' | 'refuse-rcpt' | 'refuse-data' | 'stall-greeting' | 'stall-data';

export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  /** The user the session logged in as; undefined without AUTH. */
  authUser: string | undefined;
  /** Whether the session was inside TLS when the message came. */
  secure: boolean;
  /** The message as it came over the wire (RFC 822, CRLF). */
  raw: string;
  /** Header names lower-cased, folded lines joined, encoded words decoded. */
  headers: Map<string, string>;
  subject: string;
  /** The text/plain part, transfer encoding undone. */
  text: string;
  /** The text/html part, if any. */
  html: string | undefined;
}

export interface AuthAttempt {
  username: string;
  password: string | undefined;
  secure: boolean;
}

export interface TestSmtpServer {
  host: string;
  port: number;
  /** PEM of the self-signed certificate, to pin as the CA (`ca_file`). */
  caFile: string;
  user: string;
  password: string;
  mode: SmtpMode;
  messages: ReceivedMail[];
  authAttempts: AuthAttempt[];
  /** Connections accepted so far (stalls are counted too). */
  connectionCount: number;
}

interface StartOptions {
  user?: string;
  password?: string;
  mode?: SmtpMode;
  /** `starttls` (default, port 587 style), `implicit` (TLS from the first byte, port 465 style), or `none`: a relay that offers no TLS and takes AUTH in clear. */
  tls?: 'starttls' | 'implicit' | 'none';
}

export async function startSmtpServer(t: { after(fn: () => unknown): void }, options: StartOptions = {}): Promise<TestSmtpServer> {
  const dir = tempDir(t, 'restorable-smtp-');
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', caFile,
  ], { stdio: 'ignore' });

  const state: TestSmtpServer = {
    host: '127.0.0.1',
    port: 0,
    caFile,
    user: options.user ?? 'alerts@example.test',
    password: options.password ?? 'smtp-Pa55word-not-for-mail',
    mode: options.mode ?? 'accept',
    messages: [],
    authAttempts: [],
    connectionCount: 0,
  };
  const refused = (message: string) => Object.assign(new Error(message), { responseCode: 550 });

  const tls = options.tls ?? 'starttls';
  const server = new SMTPServer({
    secure: tls === 'implicit',
    // hiding STARTTLS from EHLO is not enough: nodemailer with requireTLS tries it anyway
    disabledCommands: tls === 'none' ? ['STARTTLS'] : [],
    allowInsecureAuth: tls === 'none',
    key: readFileSync(keyFile),
    cert: readFileSync(caFile),
    authMethods: ['PLAIN', 'LOGIN'],
    // Unless tls is 'none', AUTH before STARTTLS is answered 538, as real relays do.
    closeTimeout: 200,
    logger: false,
    onConnect(_session, callback) {
      state.connectionCount++;
      // stall-greeting: accept the TCP connection and never say hello
      if (state.mode !== 'stall-greeting') callback();
    },
    onAuth(auth, session, callback) {
      state.authAttempts.push({ username: auth.username ?? '', password: auth.password ?? undefined, secure: session.secure });
      if (auth.username === state.user && auth.password === state.password) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (state.mode === 'refuse-rcpt') return callback(refused(`mailbox ${address.address} unavailable`));
      callback();
    },
    onData(stream, session, callback) {
      // stall-data: never read the message and never answer it
      if (state.mode === 'stall-data') return;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (state.mode === 'refuse-data') return callback(refused('message refused by policy'));
        state.messages.push(parseMail(Buffer.concat(chunks).toString('utf8'), session));
        callback();
      });
    },
  });
  server.on('error', () => {}); // a client that hangs up mid-session is not a test failure

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const { headers, body } = splitHeaders(raw);
  const parts = textParts(headers, body);
  return {
    envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    authUser: typeof session.user === 'string' ? session.user : undefined,
    secure: session.secure,
    raw,
    headers,
    subject: headers.get('subject') ?? '',
    text: parts.text,
    html: parts.html,
  };
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeEncodedWords(line.slice(colon + 1).trim()));
  }
  return { headers, body };
}

/** Finds text/plain and text/html, in a single-part message or one level of multipart. */
function textParts(headers: Map<string, string>, body: string): { text: string; html: string | undefined } {
  const contentType = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!/^multipart\//i.test(contentType) || !boundary) {
    const decoded = decodeTransfer(body, headers.get('content-transfer-encoding'));
    return /^text\/html/i.test(contentType) ? { text: '', html: decoded } : { text: decoded, html: undefined };
  }
  let text = '';
  let html: string | undefined;
  for (const section of body.split(`--${boundary}`).slice(1)) {
    if (section.startsWith('--')) break;
    const part = splitHeaders(section.replace(/^\r\n/, ''));
    const type = part.headers.get('content-type') ?? 'text/plain';
    const decoded = decodeTransfer(part.body.replace(/\r\n$/, ''), part.headers.get('content-transfer-encoding'));
    if (/^text\/plain/i.test(type)) text = decoded;
    else if (/^text\/html/i.test(type)) html = decoded;
  }
  return { text, html };
}

/** The body as a reader sees it: transfer encoding undone, CRLF as \n. */
function decodeTransfer(body: string, encoding: string | undefined): string {
  return undoTransferEncoding(body, encoding).replace(/\r\n/g, '\n');
}

function undoTransferEncoding(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

/** `=?UTF-8?Q?...?=` and `=?UTF-8?B?...?=` (RFC 2047), as nodemailer writes non-ASCII subjects. */
function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=/gi, (_, _charset: string, kind: string, text: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
    );
}
