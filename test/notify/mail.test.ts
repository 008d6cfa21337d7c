// Mail alerts against a real SMTP server on loopback (STARTTLS, AUTH, a
// self-signed certificate pinned with ca_file): the failure mail an operator
// gets says CRITICAL, what failed, where and what to do, and carries no
// password; the recovery mail comes after failures; a relay that refuses (550)
// or stalls costs at most the configured deadline and leaves a record instead of
// an exception; AUTH never happens outside TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { notifySchema } from '../../src/config/schema.ts';
import { RestorableError } from '../../src/core/errors.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import type { BackupOutcome } from '../../src/jobs/backup.ts';
import type { RunRecord } from '../../src/storage/state-store.ts';
import { createNotifier, type NotifyLogLevel } from '../../src/notify/notifier.ts';
import { eventsForBackupOutcome } from '../../src/jobs/backup-events.ts';
import { notificationRecordsPath, readNotificationRecords } from '../../src/notify/delivery-records.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.ts';
import { tempDir } from '../support/temp.ts';

const JOB = 'askproai';
const HOST = 'web1.example.test';
const NOW = new Date('2026-02-01T03:00:42Z');
/** Appears only as a `--password=` value: the shape rule must catch it. */
const DB_PASSWORD_IN_ARGV = 'ArgvDbSecret-71';
/** Appears bare: only the known-secrets list (options.secrets) can catch it. */
const DB_PASSWORD_BARE = 'BareDbSecret-93';

function dumpFailure(smtpPassword: string): RestorableError {
  return new RestorableError('mysqldump exited with code 2: Access denied for user backup@localhost (using password: YES)', {
    code: 'DUMP_FAILED',
    remedy: 'grant SELECT, SHOW VIEW, TRIGGER to backup@localhost',
    where: { job: JOB, source: 'db' },
    details: [
      `mysqldump: [Warning] command was: mysqldump --user=backup --password=${DB_PASSWORD_IN_ARGV} askproai_db`,
      `mysqldump: Got error: 1045 while connecting with ${DB_PASSWORD_BARE}`,
      // A secret that has no business in a dump error, to prove the SMTP password is scrubbed wherever it shows up
      `environment leaked into stderr: ${smtpPassword}`,
    ],
  });
}

function failedOutcome(smtpPassword: string): BackupOutcome {
  return { status: 'failed', error: dumpFailure(smtpPassword), warnings: [], durationMs: 4200, runLogPath: 'logs/backup_2026-02-01_03-00-00.jsonl' };
}

function okRun(startedAt: string, status: RunRecord['status'] = 'ok'): RunRecord {
  return { runId: `run-${startedAt}`, command: 'backup', status, startedAt, finishedAt: startedAt, durationMs: 60_000 };
}

function manifestFor(setId: string): Manifest {
  return {
    format: 'restorable-manifest',
    version: 1,
    setId,
    job: JOB,
    runId: 'run-now',
    host: HOST,
    restorableVersion: '0.1.0',
    startedAt: NOW.toISOString(),
    finishedAt: NOW.toISOString(),
    durationMs: 61_000,
    status: 'ok',
    artifacts: [
      { source: 'db', type: 'mysql', path: `db/db_backup_${setId}.sql.gz`, compression: 'gzip', sizeBytes: 1_500_000, sha256: 'a'.repeat(64), rawSizeBytes: 9_000_000, durationMs: 3000, warnings: [], details: {} },
    ],
  };
}

interface Harness {
  repositoryRoot: string;
  configDir: string;
  logs: Array<{ level: NotifyLogLevel; line: string }>;
}

function harness(t: Parameters<typeof tempDir>[0]): Harness {
  return { repositoryRoot: tempDir(t), configDir: tempDir(t), logs: [] };
}

function mailConfig(server: TestSmtpServer, h: Harness, smtp: Record<string, unknown> = {}) {
  const passwordFile = join(h.configDir, 'smtp-password');
  writeFileSync(passwordFile, `${server.password}\nsecond line is ignored\n`, { mode: 0o600 });
  return notifySchema.parse({
    email: {
      to: 'fabian@askproai.example',
      from: 'restorable@web1.example.test',
      smtp: { host: server.host, port: server.port, user: server.user, password_file: 'smtp-password', ca_file: server.caFile, timeout: '2s', ...smtp },
    },
  });
}

function notifierFor(config: ReturnType<typeof notifySchema.parse>, h: Harness, secrets: string[] = [DB_PASSWORD_BARE]) {
  return createNotifier(config, {
    configDir: h.configDir,
    repositoryRoot: h.repositoryRoot,
    job: JOB,
    host: HOST,
    clock: { now: () => NOW },
    secrets,
    log: (level, message, fields) => h.logs.push({ level, line: `${message} ${JSON.stringify(fields ?? {})}` }),
  });
}

test('a failed backup mails CRITICAL at once: what failed, the source, the remedy, and no password anywhere', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h), h);
  const events = eventsForBackupOutcome(failedOutcome(server.password), [okRun('2026-01-31T03:00:00Z')], JOB, HOST, NOW);

  const deliveries = (await Promise.all(events.map((event) => notifier.send(event)))).flat();

  assert.deepEqual(deliveries.map((d) => [d.channel, d.event, d.ok, d.error]), [['email', 'backup_failed', true, undefined]]);
  assert.equal(server.messages.length, 1);
  const mail = server.messages[0]!;
  assert.match(mail.subject, /CRITICAL/);
  assert.match(mail.subject, /backup of askproai on web1\.example\.test failed/);
  assert.deepEqual(mail.envelopeTo, ['fabian@askproai.example']);
  assert.match(mail.text, /mysqldump exited with code 2: Access denied for user backup@localhost \(using password: YES\)/);
  assert.match(mail.text, /Where:\s+job askproai, source db/);
  assert.match(mail.text, /What to do:\s+grant SELECT, SHOW VIEW, TRIGGER to backup@localhost/);
  assert.match(mail.text, /DUMP_FAILED/);
  assert.match(mail.text, /2026-02-01 03:00:42 UTC/);
  assert.match(mail.text, /--password=\[redacted\]/, 'the detail line stays, only its secret goes');
  assert.equal(mail.headers.get('x-restorable-event'), 'backup_failed');
  for (const secret of [server.password, DB_PASSWORD_IN_ARGV, DB_PASSWORD_BARE]) {
    assert.ok(!mail.raw.includes(secret), `the mail must not contain ${secret}`);
  }
  // The password went where it belongs: into AUTH, inside TLS.
  assert.deepEqual(server.authAttempts, [{ username: server.user, password: server.password, secure: true }]);
  assert.equal(mail.secure, true);

  const recordsText = readFileSync(notificationRecordsPath(h.repositoryRoot), 'utf8');
  const records = await readNotificationRecords(h.repositoryRoot);
  assert.deepEqual(records.map((r) => [r.event, r.channel, r.ok, r.when]), [['backup_failed', 'email', true, NOW.toISOString()]]);
  assert.equal(statSync(notificationRecordsPath(h.repositoryRoot)).mode & 0o777, 0o600);
  for (const secret of [server.password, DB_PASSWORD_IN_ARGV, DB_PASSWORD_BARE]) {
    assert.ok(!recordsText.includes(secret));
    assert.ok(!h.logs.some((log) => log.line.includes(secret)));
  }
});

test('the first success after failures mails a recovery with how long it was failing; a plain success mails nothing', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h), h);
  const history = [okRun('2026-01-29T03:00:00Z'), okRun('2026-01-30T03:00:00Z', 'failed'), okRun('2026-01-31T03:00:00Z', 'failed')];
  const recovered: BackupOutcome = { status: 'ok', setId: '2026-02-01_03-00-00', manifest: manifestFor('2026-02-01_03-00-00'), warnings: [], durationMs: 61_000 };

  const events = eventsForBackupOutcome(recovered, history, JOB, HOST, NOW);
  assert.deepEqual(events.map((e) => e.kind), ['backup_recovered', 'backup_succeeded']);
  const deliveries = (await Promise.all(events.map((event) => notifier.send(event)))).flat();

  // backup_succeeded is not mailed by default (no daily "all good" noise)
  assert.deepEqual(deliveries.map((d) => [d.channel, d.event, d.ok]), [['email', 'backup_recovered', true]]);
  assert.equal(server.messages.length, 1);
  const mail = server.messages[0]!;
  assert.match(mail.subject, /RECOVERED/);
  assert.match(mail.subject, /set 2026-02-01_03-00-00/);
  assert.match(mail.text, /failing for 2 days 0 h \(2 failed runs since 2026-01-30 03:00:00 UTC\)/);

  // The next success, with a success in the history, raises no recovery and sends no mail.
  const again = eventsForBackupOutcome(recovered, [...history, okRun('2026-02-01T03:00:00Z')], JOB, HOST, NOW);
  assert.deepEqual(again.map((e) => e.kind), ['backup_succeeded']);
  assert.deepEqual(await notifier.send(again[0]!), []);
  assert.equal(server.messages.length, 1);
});

test('a relay that refuses the recipient (550) or the data (550) costs no more than the deadline and is recorded', async (t) => {
  for (const mode of ['refuse-rcpt', 'refuse-data'] as const) {
    const server = await startSmtpServer(t, { mode });
    const h = harness(t);
    const notifier = notifierFor(mailConfig(server, h), h);
    const [event] = eventsForBackupOutcome(failedOutcome(server.password), [], JOB, HOST, NOW);

    const started = performance.now();
    const deliveries = await notifier.send(event!);
    const elapsedMs = performance.now() - started;

    assert.equal(deliveries.length, 1, mode);
    assert.equal(deliveries[0]!.ok, false, mode);
    assert.match(deliveries[0]!.error!, /550/, mode);
    assert.match(deliveries[0]!.error!, new RegExp(`SMTP 127\\.0\\.0\\.1:${server.port}`), mode);
    assert.ok(elapsedMs < 3000, `${mode}: took ${elapsedMs} ms`);
    assert.equal(server.messages.length, 0);
    const records = await readNotificationRecords(h.repositoryRoot);
    assert.deepEqual(records.map((r) => [r.event, r.channel, r.ok]), [['backup_failed', 'email', false]], mode);
    assert.match(records[0]!.error!, /550/);
    assert.ok(h.logs.some((log) => log.level === 'error' && /could not notify email of backup_failed: .*550/.test(log.line)), mode);
    assert.ok(!readFileSync(notificationRecordsPath(h.repositoryRoot), 'utf8').includes(server.password));
  }
});

test('a relay that never greets or swallows the data makes send resolve at the deadline with ok:false', async (t) => {
  for (const mode of ['stall-greeting', 'stall-data'] as const) {
    const server = await startSmtpServer(t, { mode });
    const h = harness(t);
    const notifier = notifierFor(mailConfig(server, h, { timeout: '1s' }), h);
    const [event] = eventsForBackupOutcome(failedOutcome(server.password), [], JOB, HOST, NOW);

    const started = performance.now();
    const deliveries = await notifier.send(event!);
    const elapsedMs = performance.now() - started;

    assert.equal(server.connectionCount, 1, `${mode}: the relay was reached`);
    assert.equal(deliveries[0]!.ok, false, mode);
    assert.match(deliveries[0]!.error!, /SMTP 127\.0\.0\.1:\d+: .*(timeout|Timeout|within 1 s|never received)/, `${mode}: ${deliveries[0]!.error}`);
    assert.ok(elapsedMs >= 900 && elapsedMs < 2500, `${mode}: took ${elapsedMs} ms with a 1 s deadline`);
    const records = await readNotificationRecords(h.repositoryRoot);
    assert.deepEqual(records.map((r) => [r.event, r.channel, r.ok]), [['backup_failed', 'email', false]], mode);
  }
});

test('a wrong password fails with an AUTH error that names the setting, not the password', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const config = mailConfig(server, h);
  writeFileSync(join(h.configDir, 'smtp-password'), 'Wrong-Password-4711\n');
  const notifier = notifierFor(config, h);
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, false);
  assert.match(delivery!.error!, /535/);
  assert.match(delivery!.error!, /notify\.email\.smtp\.user and its password/);
  assert.equal(server.authAttempts[0]!.password, 'Wrong-Password-4711');
  assert.equal(server.authAttempts[0]!.secure, true);
  const everything = readFileSync(notificationRecordsPath(h.repositoryRoot), 'utf8') + h.logs.map((log) => log.line).join('\n');
  assert.ok(!everything.includes('Wrong-Password-4711'));
});

test('password_env works, and an unset variable is a clear failure without an exception', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const config = mailConfig(server, h, { password_file: undefined, password_env: 'RESTORABLE_TEST_SMTP_PASSWORD' });
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);
  const withEnv = (env: NodeJS.ProcessEnv) =>
    createNotifier(config, { configDir: h.configDir, repositoryRoot: h.repositoryRoot, job: JOB, host: HOST, clock: { now: () => NOW }, env, log: () => {} });

  const [sent] = await withEnv({ RESTORABLE_TEST_SMTP_PASSWORD: server.password }).send(event!);
  assert.equal(sent!.ok, true, sent!.error);
  assert.equal(server.messages.length, 1);

  const [unset] = await withEnv({}).send(event!);
  assert.equal(unset!.ok, false);
  assert.match(unset!.error!, /RESTORABLE_TEST_SMTP_PASSWORD \(notify\.email\.smtp\.password_env\) is not set/);
  assert.equal(server.messages.length, 1);
});

test('the relay certificate is verified: without ca_file the self-signed relay is refused, no password is sent', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h, { ca_file: undefined }), h);
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, false);
  assert.match(delivery!.error!, /certificate/);
  assert.match(delivery!.error!, /ca_file/);
  assert.deepEqual(server.authAttempts, []);
  assert.equal(server.messages.length, 0);
});

test('a relay that offers no STARTTLS never sees the password: AUTH only inside TLS', async (t) => {
  const server = await startSmtpServer(t, { tls: 'none' });
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h), h);
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, false);
  assert.match(delivery!.error!, /STARTTLS/);
  assert.deepEqual(server.authAttempts, [], 'no AUTH command reached the relay');
  assert.equal(server.messages.length, 0);
});

test('secure: true speaks TLS from the first byte (port 465 style)', async (t) => {
  const server = await startSmtpServer(t, { tls: 'implicit' });
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h, { secure: true }), h);
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, true, delivery!.error);
  assert.equal(server.messages[0]!.secure, true);
  assert.deepEqual(server.authAttempts.map((a) => a.secure), [true]);
});

test('the weekly report arrives as built, with its text and HTML parts; a failed drill mails CRITICAL', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const notifier = notifierFor(mailConfig(server, h), h);

  const [report] = await notifier.send({
    kind: 'report',
    job: JOB,
    host: HOST,
    at: NOW.toISOString(),
    subject: '[restorable] Weekly report askproai: 7 of 7 backups OK',
    text: 'Backups this week: 7 of 7 OK.\nNewest set: 2026-02-01_03-00-00 (1.5 GB).\n',
    html: '<h1>Weekly report</h1><p>Backups this week: <b>7 of 7</b> OK.</p>',
  });
  const [drill] = await notifier.send({
    kind: 'drill_failed',
    job: JOB,
    host: HOST,
    at: NOW.toISOString(),
    setId: '2026-01-31_03-00-00',
    differences: ['db: table calls has 48211 rows, 48300 at backup time', 'files: storage/app/a.pdf sha256 differs'],
  });

  assert.deepEqual([report!.ok, drill!.ok], [true, true]);
  const [weekly, drillMail] = server.messages;
  assert.equal(weekly!.subject, '[restorable] Weekly report askproai: 7 of 7 backups OK');
  assert.equal(weekly!.text, 'Backups this week: 7 of 7 OK.\nNewest set: 2026-02-01_03-00-00 (1.5 GB).\n');
  assert.equal(weekly!.html, '<h1>Weekly report</h1><p>Backups this week: <b>7 of 7</b> OK.</p>');
  assert.equal(drillMail!.subject, '[restorable] CRITICAL: restore drill of askproai on web1.example.test failed (set 2026-01-31_03-00-00)');
  assert.match(drillMail!.text, /What differed:\n  db: table calls has 48211 rows, 48300 at backup time\n  files: storage\/app\/a\.pdf sha256 differs/);
});

test('a relay that is not listening fails fast and is recorded', async (t) => {
  const server = await startSmtpServer(t);
  const h = harness(t);
  const closedPort = await portNobodyListensOn();
  const notifier = notifierFor(mailConfig(server, h, { port: closedPort }), h);
  const [event] = eventsForBackupOutcome(failedOutcome('unrelated'), [], JOB, HOST, NOW);

  const [delivery] = await notifier.send(event!);

  assert.equal(delivery!.ok, false);
  assert.match(delivery!.error!, new RegExp(`SMTP 127\\.0\\.0\\.1:${closedPort}: .*ECONNREFUSED`));
  assert.equal((await readNotificationRecords(h.repositoryRoot)).length, 1);
});

/** A port that was free a moment ago: bound, then released. */
async function portNobodyListensOn(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
