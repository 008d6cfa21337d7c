// Notifications around real runs of the CLI, received by a real SMTP server on
// loopback: the failure mail at once, the recovery mail, the weekly report on
// its day (once), the check-state mail on a change (not repeated), and a relay
// that stalls changes neither the exit code nor hangs the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp, type SampleApp } from '../support/sample-app.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.ts';
import { localDay } from '../../src/jobs/report.ts';

function withMail(app: SampleApp, server: TestSmtpServer, extra: { monitor?: string; reportDay?: string } = {}): void {
  writeFileSync(join(app.root, 'smtp-password'), `${server.password}\n`, { mode: 0o600 });
  const reportDay = extra.reportDay ?? localDay(new Date(), 'UTC').weekday;
  let text = readFileSync(app.configPath, 'utf8');
  if (extra.monitor) text = text.replace(/^monitor: .*$/m, `monitor: ${extra.monitor}`);
  writeFileSync(
    app.configPath,
    text +
      `notify:
  report_day: ${reportDay}
  email:
    to: ops@example.test
    from: backup@example.test
    smtp: { host: ${server.host}, port: ${server.port}, user: ${server.user}, password_file: ${join(app.root, 'smtp-password')}, ca_file: ${server.caFile}, timeout: 3s }
`,
  );
}

test('failure mail at once, then recovery mail and the weekly report (once) when backups work again', async (t) => {
  const server = await startSmtpServer(t);
  const app = makeSampleApp(tempDir(t));
  withMail(app, server);
  renameSync(app.envPath, `${app.envPath}.away`); // the config source now fails pre-flight

  const failed = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(failed.code, 2);
  assert.equal(server.messages.length, 1, 'one mail for the failure');
  const failure = server.messages[0]!;
  assert.match(failure.subject, /CRITICAL/);
  assert.match(failure.text, /\.env/, 'says what failed');
  assert.match(failure.text, /Where: +job sample, source db/, 'names the source');
  assert.match(failure.text, /What to do: /, 'says what to do');
  assert.ok(!failure.raw.includes(server.password), 'no SMTP password in the mail');
  assert.ok(!failure.raw.includes('s3cret-sample'), 'no DB password in the mail');

  renameSync(`${app.envPath}.away`, app.envPath);
  const recovered = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(recovered.code, 0, recovered.stderr);
  const subjects = server.messages.slice(1).map((mail) => mail.subject);
  assert.equal(subjects.length, 2, subjects.join(' | '));
  assert.match(subjects[0]!, /RECOVERED/);
  assert.match(subjects[1]!, /weekly backup report for sample \(2 runs, 1 failed\)/);
  const report = server.messages[2]!;
  assert.match(report.text, /Backup runs: 2 \(1 ok, 0 warning, 1 failed\), success rate 50 %/);
  assert.match(report.text, /db +1 set\(s\)/);
  assert.ok(report.html?.includes('Weekly backup report'), 'an HTML part too');

  const again = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(again.code, 0);
  assert.equal(server.messages.length, 3, 'no second report the same day, no mail for a plain success');
});

test('check mails a change of state once, not on every run', async (t) => {
  const server = await startSmtpServer(t);
  const app = makeSampleApp(tempDir(t));
  withMail(app, server, { monitor: '{ min_free: 1MB, warn_after: 1s, critical_after: 1h }', reportDay: 'monday' === localDay(new Date(), 'UTC').weekday ? 'tuesday' : 'monday' });
  assert.equal((await runCli(['-c', app.configPath, 'backup'])).code, 0);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const first = await runCli(['-c', app.configPath, 'check']);
  assert.equal(first.code, 1, first.stdout);
  assert.match(first.stdout, /^RESTORABLE WARNING - /);
  const second = await runCli(['-c', app.configPath, 'check']);
  assert.equal(second.code, 1);
  assert.equal(server.messages.length, 1, 'the WARNING is mailed once within repeat_after');
  assert.match(server.messages[0]!.subject, /WARNING/);
});

test('a relay that stalls does not change the exit code nor hang the run; the failed delivery is recorded', async (t) => {
  const server = await startSmtpServer(t, { mode: 'stall-greeting' });
  const app = makeSampleApp(tempDir(t));
  withMail(app, server);
  renameSync(app.envPath, `${app.envPath}.away`);
  const started = Date.now();
  const failed = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(failed.code, 2, 'still the backup failure, nothing else');
  assert.match(failed.stderr, /\.env/);
  assert.ok(Date.now() - started < 30_000, 'bounded by the 3 s mail deadline (plus start-up)');
  const records = readFileSync(join(app.repository, '.restorable/notifications.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  assert.ok(records.some((record) => record.channel === 'email' && record.ok === false), JSON.stringify(records));
  renameSync(`${app.envPath}.away`, app.envPath);
  const ok = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(ok.code, 0, 'a dead relay never fails a good backup');
});
