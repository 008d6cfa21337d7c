// The check-state alert rule, as an operator lives it: the first WARNING is
// announced, the same WARNING an hour later is not, after repeat_after (24 h) it
// is announced again, a change to CRITICAL is announced at once, and the way
// back to OK is announced as a recovery. The memory lives in notify-state.json;
// when every channel failed, nothing is remembered and the next check retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { notifySchema } from '../../src/config/schema.ts';
import { createNotifier } from '../../src/notify/notifier.ts';
import { notifyStatePath, readNotifyState, shouldNotifyCheckState, type NotifiedCheckState } from '../../src/notify/state.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';
import { startSmtpServer } from '../support/smtp-server.ts';
import { tempDir } from '../support/temp.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2026-02-01T10:00:00Z');
const after = (ms: number) => new Date(T0.getTime() + ms);

test('shouldNotifyCheckState: changes are announced, a non-OK state repeats only after repeat_after, OK stays quiet', () => {
  const noticed = (state: NotifiedCheckState['state'], at: Date): NotifiedCheckState => ({ state, notifiedAt: at.toISOString(), since: at.toISOString() });

  assert.deepEqual(shouldNotifyCheckState(undefined, 'OK', T0, DAY), { notify: false }, 'a healthy first check says nothing');
  assert.deepEqual(shouldNotifyCheckState(undefined, 'WARNING', T0, DAY), { notify: true, reason: 'changed' });
  assert.deepEqual(shouldNotifyCheckState(noticed('OK', T0), 'WARNING', after(HOUR), DAY), { notify: true, reason: 'changed' });
  assert.deepEqual(shouldNotifyCheckState(noticed('WARNING', T0), 'WARNING', after(HOUR), DAY), { notify: false });
  assert.deepEqual(shouldNotifyCheckState(noticed('WARNING', T0), 'WARNING', after(DAY - 1), DAY), { notify: false });
  assert.deepEqual(shouldNotifyCheckState(noticed('WARNING', T0), 'WARNING', after(DAY), DAY), { notify: true, reason: 'repeat' });
  assert.deepEqual(shouldNotifyCheckState(noticed('WARNING', T0), 'CRITICAL', after(HOUR), DAY), { notify: true, reason: 'changed' });
  assert.deepEqual(shouldNotifyCheckState(noticed('CRITICAL', T0), 'WARNING', after(HOUR), DAY), { notify: true, reason: 'changed' });
  assert.deepEqual(shouldNotifyCheckState(noticed('CRITICAL', T0), 'OK', after(HOUR), DAY), { notify: true, reason: 'recovered' });
  assert.deepEqual(shouldNotifyCheckState(noticed('OK', T0), 'OK', after(30 * DAY), DAY), { notify: false }, 'OK is never repeated');
  assert.deepEqual(shouldNotifyCheckState(noticed('UNKNOWN', T0), 'UNKNOWN', after(2 * HOUR), 2 * HOUR), { notify: true, reason: 'repeat' });
});

test('a day of checks: OK -> WARNING alerts, WARNING again within 24 h does not, after 24 h it repeats, CRITICAL alerts, OK is a recovery', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const repositoryRoot = tempDir(t);
  let now = T0;
  const notifier = createNotifier(notifySchema.parse({ webhooks: [{ url: receiver.url(), format: 'json' }], repeat_after: '24h' }), {
    configDir: repositoryRoot,
    repositoryRoot,
    job: 'askproai',
    host: 'web1',
    clock: { now: () => now },
    log: () => {},
  });
  const check = async (at: Date, state: 'OK' | 'WARNING' | 'CRITICAL', summary: string, problems: string[] = []) => {
    now = at;
    const before = receiver.requests.length;
    const alert = await notifier.notifyCheckState({ state, summary, problems });
    const sent = receiver.requests.slice(before).map((request) => JSON.parse(request.body));
    return { alert, sent };
  };

  const quiet = await check(T0, 'OK', 'OK: last backup 2 h old');
  assert.equal(quiet.sent.length, 0, 'all well: nothing sent');

  const warning = await check(after(HOUR), 'WARNING', 'WARNING: last backup 27 h old', ['age: last backup 27 h old (warn after 26h)']);
  assert.equal(warning.sent.length, 1);
  assert.equal(warning.sent[0].kind, 'check_state_changed');
  assert.deepEqual([warning.sent[0].event.from, warning.sent[0].event.to, warning.sent[0].event.repeated], ['OK', 'WARNING', false]);
  assert.match(warning.sent[0].subject, /^\[restorable\] WARNING: askproai on web1 \(OK -> WARNING\): last backup 27 h old/);
  assert.match(warning.sent[0].text, /age: last backup 27 h old \(warn after 26h\)/);
  assert.equal(statSync(notifyStatePath(repositoryRoot)).mode & 0o777, 0o600);

  const again = await check(after(2 * HOUR), 'WARNING', 'WARNING: last backup 28 h old');
  assert.equal(again.sent.length, 0, 'the same WARNING an hour later is not repeated');
  assert.deepEqual(again.alert.decision, { notify: false });

  const stillWithinDay = await check(after(HOUR + DAY - 60_000), 'WARNING', 'WARNING: last backup 51 h old');
  assert.equal(stillWithinDay.sent.length, 0);

  const repeated = await check(after(HOUR + DAY), 'WARNING', 'WARNING: last backup 52 h old');
  assert.equal(repeated.sent.length, 1, 'after 24 h the WARNING is repeated');
  assert.equal(repeated.sent[0].event.repeated, true);
  assert.equal(repeated.sent[0].event.since, after(HOUR).toISOString());
  assert.match(repeated.sent[0].subject, /still WARNING: askproai on web1 since 2026-02-01 11:00:00 UTC/);

  const critical = await check(after(HOUR + DAY + HOUR), 'CRITICAL', 'CRITICAL: last backup 53 h old');
  assert.equal(critical.sent.length, 1, 'WARNING -> CRITICAL is announced at once');
  assert.deepEqual([critical.sent[0].event.from, critical.sent[0].event.to, critical.sent[0].severity], ['WARNING', 'CRITICAL', 'critical']);

  const recovered = await check(after(HOUR + DAY + 2 * HOUR), 'OK', 'OK: last backup 10 min old');
  assert.equal(recovered.sent.length, 1, 'the way back to OK is announced');
  assert.deepEqual(recovered.alert.decision, { notify: true, reason: 'recovered' });
  assert.deepEqual([recovered.sent[0].event.from, recovered.sent[0].event.to, recovered.sent[0].severity], ['CRITICAL', 'OK', 'ok']);
  assert.match(recovered.sent[0].subject, /^\[restorable\] RECOVERED: askproai on web1 is OK again \(CRITICAL -> OK\)/);

  const calm = await check(after(3 * DAY), 'OK', 'OK: last backup 1 h old');
  assert.equal(calm.sent.length, 0);
  assert.equal((await readNotifyState(repositoryRoot)).check?.state, 'OK');
});

test('when every channel fails, the state is not remembered and the next check alerts again', async (t) => {
  const receiver = await startWebhookReceiver(t, 'error');
  const repositoryRoot = tempDir(t);
  let now = T0;
  const notifier = createNotifier(notifySchema.parse({ webhooks: [{ url: receiver.url(), timeout: '2s' }] }), {
    configDir: repositoryRoot,
    repositoryRoot,
    job: 'askproai',
    host: 'web1',
    clock: { now: () => now },
    log: () => {},
  });

  const lost = await notifier.notifyCheckState({ state: 'CRITICAL', summary: 'CRITICAL: no backup for 49 h', problems: [] });
  assert.equal(lost.deliveries[0]!.ok, false);
  assert.equal(lost.remembered, false);
  assert.equal((await readNotifyState(repositoryRoot)).check, undefined);

  receiver.mode = 'ok';
  now = after(HOUR);
  const retried = await notifier.notifyCheckState({ state: 'CRITICAL', summary: 'CRITICAL: no backup for 50 h', problems: [] });
  assert.deepEqual(retried.decision, { notify: true, reason: 'changed' }, 'within repeat_after, yet sent: the first attempt never arrived');
  assert.equal(retried.deliveries[0]!.ok, true);
  assert.equal(retried.remembered, true);
  assert.equal(receiver.requests.length, 2);
});

test('a corrupt notify-state.json errs towards alerting, and the check-state mail reads like the others', async (t) => {
  const server = await startSmtpServer(t);
  const repositoryRoot = tempDir(t);
  const configDir = tempDir(t);
  writeFileSync(`${configDir}/pw`, server.password);
  const notifier = createNotifier(
    notifySchema.parse({
      email: { to: 'ops@example.test', from: 'restorable@example.test', smtp: { host: server.host, port: server.port, user: server.user, password_file: 'pw', ca_file: server.caFile, timeout: '2s' } },
    }),
    { configDir, repositoryRoot, job: 'askproai', host: 'web1', clock: { now: () => T0 }, log: () => {} },
  );
  const first = await notifier.notifyCheckState({ state: 'WARNING', summary: 'WARNING: disk 93% full', problems: ['disk: 7% free on /var/backups (minimum 10%)'] });
  assert.equal(first.deliveries[0]!.ok, true);
  writeFileSync(notifyStatePath(repositoryRoot), '{"version":1,"check":{"state":"WARN');

  const afterCorruption = await notifier.notifyCheckState({ state: 'WARNING', summary: 'WARNING: disk 93% full', problems: ['disk: 7% free on /var/backups (minimum 10%)'] });

  assert.equal(afterCorruption.deliveries.length, 1, 'an unreadable memory alerts rather than stays silent');
  assert.equal(server.messages.length, 2);
  const mail = server.messages[1]!;
  assert.match(mail.subject, /^\[restorable\] WARNING: askproai on web1 \(OK -> WARNING\): disk 93% full$/);
  assert.match(mail.text, /Checks that are not OK:\n  disk: 7% free on \/var\/backups \(minimum 10%\)/);
  assert.match(mail.text, /Run `restorable check` on the host/);
  assert.equal(JSON.parse(readFileSync(notifyStatePath(repositoryRoot), 'utf8')).check.state, 'WARNING');
});
