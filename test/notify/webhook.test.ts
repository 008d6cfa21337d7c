// Webhooks and healthchecks pings against a real HTTP server on loopback: each
// format arrives in the shape its service expects (json = the event as data,
// Slack {text}, Discord {content} within 2000 characters, ntfy text with
// Title/Priority/Tags), healthchecks gets /start, success and /fail, events go
// only to the channels that want them, and a 500, a stall or a name that does
// not resolve yields ok:false within the deadline, a record, and no token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { notifySchema } from '../../src/config/schema.ts';
import { RestorableError } from '../../src/core/errors.ts';
import type { BackupOutcome } from '../../src/jobs/backup.ts';
import { createNotifier } from '../../src/notify/notifier.ts';
import { backupStartedEvent, eventsForBackupOutcome } from '../../src/jobs/backup-events.ts';
import { notificationRecordsPath, readNotificationRecords } from '../../src/notify/delivery-records.ts';
import { DISCORD_CONTENT_LIMIT } from '../../src/notify/webhook.ts';
import type { NotifyEvent } from '../../src/notify/events.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';
import { tempDir } from '../support/temp.ts';

const JOB = 'askproai';
const HOST = 'web1';
const NOW = new Date('2026-02-01T03:00:42Z');
const HC_UUID = '5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278';

const failure = new RestorableError('mysqldump exited with code 2: Lost connection to server during query', {
  code: 'DUMP_FAILED',
  remedy: 'check the database server log; raise max_allowed_packet if the dump stops on a big row',
  where: { job: JOB, source: 'db' },
  details: ['mysqldump: Error 2013: Lost connection to MySQL server during query when dumping table `calls` at row: 48211'],
});
const failed: BackupOutcome = { status: 'failed', error: failure, warnings: [], durationMs: 3000 };
const failedEvent = eventsForBackupOutcome(failed, [], JOB, HOST, NOW)[0]!;

function notifierFor(t: Parameters<typeof tempDir>[0], notify: unknown, logs: string[] = []) {
  const repositoryRoot = tempDir(t);
  const notifier = createNotifier(notifySchema.parse(notify), {
    configDir: repositoryRoot,
    repositoryRoot,
    job: JOB,
    host: HOST,
    clock: { now: () => NOW },
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
  });
  return { notifier, repositoryRoot };
}

test('json, slack, discord and ntfy webhooks each receive the failure in their own shape', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const { notifier } = notifierFor(t, {
    webhooks: ['json', 'slack', 'discord', 'ntfy'].map((format) => ({ url: receiver.url(`/${format}`), format })),
  });

  const deliveries = await notifier.send(failedEvent);

  assert.deepEqual(
    deliveries.map((d) => [d.channel, d.ok]),
    ['json', 'slack', 'discord', 'ntfy'].map((format) => [`webhook:${format}:127.0.0.1:${receiver.port}`, true]),
  );
  const byPath = new Map(receiver.requests.map((request) => [request.url, request]));
  assert.equal(receiver.requests.length, 4);
  for (const request of receiver.requests) assert.equal(request.method, 'POST');

  const json = byPath.get('/json')!;
  assert.match(String(json.headers['content-type']), /^application\/json/);
  const data = JSON.parse(json.body);
  assert.equal(data.kind, 'backup_failed');
  assert.equal(data.severity, 'critical');
  assert.match(data.subject, /^\[restorable\] CRITICAL: backup of askproai on web1 failed/);
  assert.equal(data.event.error.code, 'DUMP_FAILED');
  assert.equal(data.event.error.where.source, 'db');
  assert.equal(data.event.at, NOW.toISOString());

  const slack = JSON.parse(byPath.get('/slack')!.body);
  assert.deepEqual(Object.keys(slack), ['text']);
  assert.match(slack.text, /^\*\[restorable\] CRITICAL: backup of askproai on web1 failed \(DUMP_FAILED\)\*\n/);
  assert.match(slack.text, /raise max_allowed_packet/);
  assert.match(slack.text, /`calls`/);

  const discord = JSON.parse(byPath.get('/discord')!.body);
  assert.match(discord.content, /^\*\*\[restorable\] CRITICAL: backup of askproai on web1 failed \(DUMP_FAILED\)\*\*\n/);
  assert.match(discord.content, /Lost connection to server during query/);
  assert.deepEqual(discord.allowed_mentions, { parse: [] });

  const ntfy = byPath.get('/ntfy')!;
  assert.match(String(ntfy.headers['content-type']), /^text\/plain/);
  assert.match(String(ntfy.headers.title), /^\[restorable\] CRITICAL: backup of askproai on web1 failed/);
  assert.equal(ntfy.headers.priority, '5');
  assert.deepEqual(String(ntfy.headers.tags).split(','), ['rotating_light', 'restorable', 'askproai']);
  assert.match(ntfy.body, /^The backup of askproai on web1 FAILED at 2026-02-01 03:00:42 UTC\./);
  assert.match(ntfy.body, /What to do:\s+check the database server log/);
});

test('a Discord message stays within 2000 characters however long the error is', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const { notifier } = notifierFor(t, { webhooks: [{ url: receiver.url(), format: 'discord' }] });
  const longError = new RestorableError(`tar failed: ${'x'.repeat(3000)}`, { code: 'FILES_FAILED', where: { source: 'files' }, details: Array.from({ length: 50 }, (_, i) => `line ${i} ${'é'.repeat(100)}`) });
  const [event] = eventsForBackupOutcome({ status: 'failed', error: longError, warnings: [], durationMs: 1 }, [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, true);
  const content: string = JSON.parse(receiver.requests[0]!.body).content;
  assert.ok(Array.from(content).length <= DISCORD_CONTENT_LIMIT, `content has ${Array.from(content).length} characters`);
  assert.match(content, /^\*\*\[restorable\] CRITICAL/);
  assert.match(content, /cut; see the run log/);
  assert.match(content, /```$/, 'the code block is closed');
});

test('healthchecks gets /start, the success ping and /fail with the error', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const { notifier, repositoryRoot } = notifierFor(t, { healthchecks: { url: receiver.url(`/ping/${HC_UUID}`) } });
  const succeeded = eventsForBackupOutcome(
    { status: 'ok', setId: '2026-02-01_03-00-00', warnings: [], durationMs: 61_000 },
    [],
    JOB,
    HOST,
    NOW,
  );

  const results = [
    await notifier.send(backupStartedEvent(JOB, HOST, NOW)),
    await notifier.send(succeeded.find((event) => event.kind === 'backup_succeeded')!),
    await notifier.send(failedEvent),
  ];

  assert.deepEqual(results.map((deliveries) => deliveries.map((d) => [d.channel, d.event, d.ok])), [
    [[`healthchecks:127.0.0.1:${receiver.port}`, 'backup_started', true]],
    [[`healthchecks:127.0.0.1:${receiver.port}`, 'backup_succeeded', true]],
    [[`healthchecks:127.0.0.1:${receiver.port}`, 'backup_failed', true]],
  ]);
  assert.deepEqual(receiver.requests.map((r) => [r.method, r.url]), [
    ['POST', `/ping/${HC_UUID}/start`],
    ['POST', `/ping/${HC_UUID}`],
    ['POST', `/ping/${HC_UUID}/fail`],
  ]);
  assert.match(receiver.requests[2]!.body, /^mysqldump exited with code 2: Lost connection to server during query\ncode DUMP_FAILED, source db\nwhat to do: /);
  // The records say which event went where, without the ping key.
  const records = await readNotificationRecords(repositoryRoot);
  assert.deepEqual(records.map((r) => [r.event, r.ok]), [['backup_started', true], ['backup_succeeded', true], ['backup_failed', true]]);
  assert.ok(!readFileSync(notificationRecordsPath(repositoryRoot), 'utf8').includes(HC_UUID));
});

test('each event goes only where it is wanted: defaults, and an explicit events list', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const { notifier } = notifierFor(t, {
    webhooks: [
      { url: receiver.url('/default') },
      { url: receiver.url('/successes'), events: ['backup_succeeded'] },
    ],
    healthchecks: { url: receiver.url('/hc') },
  });
  const [succeeded] = eventsForBackupOutcome({ status: 'ok', setId: '2026-02-01_03-00-00', warnings: [], durationMs: 1 }, [], JOB, HOST, NOW);
  const report: NotifyEvent = { kind: 'report', job: JOB, host: HOST, at: NOW.toISOString(), subject: 'weekly', text: 'all good', html: '<p>all good</p>' };

  const started = await notifier.send(backupStartedEvent(JOB, HOST, NOW));
  const success = await notifier.send(succeeded!);
  const weekly = await notifier.send(report);
  const failure = await notifier.send(failedEvent);

  const paths = (deliveries: { channel: string }[]) => deliveries.map((d) => d.channel.replace(/:127\.0\.0\.1:\d+/, ''));
  assert.deepEqual(paths(started), ['healthchecks']);
  assert.deepEqual(paths(success), ['webhook:json#2', 'healthchecks']);
  assert.deepEqual(paths(weekly), [], 'the report goes to mail only by default');
  assert.deepEqual(paths(failure), ['webhook:json', 'healthchecks']);
  assert.deepEqual(receiver.requests.map((r) => r.url).sort(), ['/default', '/hc', '/hc/fail', '/hc/start', '/successes']);
});

test('a webhook answering 500 is ok:false with the status, recorded, and no URL token leaks from an echoing error page', async (t) => {
  const receiver = await startWebhookReceiver(t, 'error');
  // Some proxies echo the request in their error page: the URL token and the credentials come back.
  receiver.errorBody = (request) => {
    const credentials = Buffer.from(String(request.headers.authorization).replace(/^Basic /, ''), 'base64').toString('utf8');
    return `upstream failed for ${request.url} (authorization: ${request.headers.authorization}; decoded ${credentials})`;
  };
  const logs: string[] = [];
  // A token in the path (Slack, Discord style), one in the query (ntfy ?auth=), and user:password.
  const url = `http://alerts:NtfyPassw0rd-7@127.0.0.1:${receiver.port}/hooks/PathToken0123456789abcdef?auth=QueryToken-81726354`;
  const { notifier, repositoryRoot } = notifierFor(t, { webhooks: [{ url, format: 'ntfy', timeout: '2s' }] }, logs);

  const started = performance.now();
  const [delivery] = await notifier.send(failedEvent);

  assert.ok(performance.now() - started < 3000);
  assert.equal(delivery!.ok, false);
  assert.match(delivery!.error!, new RegExp(`^127\\.0\\.0\\.1:${receiver.port} answered HTTP 500 Internal Server Error: upstream failed for`));
  // The credentials went in a header (fetch refuses them in the URL) and reached the server...
  assert.equal(receiver.requests[0]!.headers.authorization, `Basic ${Buffer.from('alerts:NtfyPassw0rd-7').toString('base64')}`);
  assert.equal(receiver.requests[0]!.url, '/hooks/PathToken0123456789abcdef?auth=QueryToken-81726354');
  // ...but nothing we keep or show contains them.
  const recordsText = readFileSync(notificationRecordsPath(repositoryRoot), 'utf8');
  const shown = [delivery!.error!, recordsText, ...logs].join('\n');
  for (const secret of ['NtfyPassw0rd-7', 'PathToken0123456789abcdef', 'QueryToken-81726354', Buffer.from('alerts:NtfyPassw0rd-7').toString('base64')]) {
    assert.ok(!shown.includes(secret), `${secret} leaked: ${shown}`);
  }
  const records = await readNotificationRecords(repositoryRoot);
  assert.deepEqual(records.map((r) => [r.event, r.channel, r.ok]), [['backup_failed', `webhook:ntfy:127.0.0.1:${receiver.port}`, false]]);
  assert.ok(logs.some((line) => line.startsWith('error could not notify webhook:ntfy')));
});

test('a webhook that never answers, or a host that does not resolve, costs at most the deadline', async (t) => {
  const stalled = await startWebhookReceiver(t, 'stall');
  const { notifier, repositoryRoot } = notifierFor(t, {
    webhooks: [
      { url: stalled.url(), timeout: '1s' },
      { url: 'http://restorable-notify-test.invalid/hook', timeout: '1s' },
    ],
  });

  const started = performance.now();
  const deliveries = await notifier.send(failedEvent);
  const elapsedMs = performance.now() - started;

  assert.equal(stalled.requests.length, 1, 'the request reached the stalling server');
  assert.ok(elapsedMs >= 900 && elapsedMs < 2500, `took ${elapsedMs} ms with 1 s deadlines`);
  assert.deepEqual(deliveries.map((d) => d.ok), [false, false]);
  assert.match(deliveries[0]!.error!, new RegExp(`^no answer from 127\\.0\\.0\\.1:${stalled.port} within 1 s$`));
  assert.match(deliveries[1]!.error!, /restorable-notify-test\.invalid/);
  assert.equal((await readNotificationRecords(repositoryRoot)).length, 2);
});

test('a repository that cannot take the record does not turn a delivery into an exception', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const logs: string[] = [];
  const notifier = createNotifier(notifySchema.parse({ webhooks: [{ url: receiver.url() }] }), {
    configDir: '/',
    repositoryRoot: '/nonexistent/restorable-repository',
    job: JOB,
    host: HOST,
    clock: { now: () => NOW },
    log: (level, message) => logs.push(`${level} ${message}`),
  });

  const deliveries = await notifier.send(failedEvent);

  assert.deepEqual(deliveries.map((d) => d.ok), [true]);
  assert.equal(receiver.requests.length, 1);
  assert.ok(logs.some((line) => /^warn could not record notifications in \/nonexistent\/restorable-repository: .*ENOENT/.test(line)), logs.join('\n'));
});
