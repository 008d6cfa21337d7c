// `restorable schedule install | remove | status` through the real CLI with
// --root (so no crontab or systemctl runs): cron lines that parse (5 fields
// croner accepts, a user, a command with absolute paths, umask 077, a cd into
// a directory that exists, output appended to the run log), foreign lines and
// other apps' blocks kept, reinstall replacing our block, remove restoring the
// file as it was; --user writes the spool file; --systemd units that
// `systemd-analyze verify` accepts (skipped where it cannot run) and whose
// OnCalendar fires when croner does; status round trips and notices a config
// that changed; a bad cron expression fails config loading naming its field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { userInfo } from 'node:os';
import { Cron } from 'croner';
import { writeFilesOnlyConfig } from '../support/files-only-app.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { onCalendarValues } from '../../src/core/schedule-calendar.ts';
import { parseConfigText } from '../../src/config/load.ts';

const SCHEDULE = '{ backup: "0 3 * * *", check: "0 * * * *", drill: "30 4 * * 0" }';
const FOREIGN = '# the admin\'s own\nMAILTO=ops@example.com\n17 * * * * root /usr/local/bin/rotate-things\n# BEGIN restorable app=blog installed=2026-01-01T00:00:00.000Z\n# job: backup\n0 2 * * * root true\n# END restorable app=blog\n';

function app(t: Parameters<typeof tempDir>[0], schedule = SCHEDULE) {
  const base = tempDir(t);
  mkdirSync(join(base, 'data'));
  const configPath = writeFilesOnlyConfig(base, join(base, 'data'), 'shop');
  appendFileSync(configPath, `schedule: ${schedule}\n`);
  const root = join(base, 'root');
  const cli = (...args: string[]) => runCli(['-c', configPath, 'schedule', ...args, '--root', root]);
  return { base, configPath, root, cli };
}

/** The entry lines of a crontab text: not comments, not blank, not VAR=value. */
function entries(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#') && !/^[A-Z_]+=/.test(line));
}

test('install writes /etc/cron.d/restorable lines that parse, keeping foreign lines; reinstall replaces; remove restores the file', async (t) => {
  const { root, cli, configPath, base } = app(t);
  const cronFile = join(root, 'etc/cron.d/restorable');
  mkdirSync(join(root, 'etc/cron.d'), { recursive: true });
  writeFileSync(cronFile, FOREIGN);

  const installed = await cli('install');
  assert.equal(installed.code, 0, installed.stderr);
  assert.match(installed.stdout, /installed in cron\.d: .*etc\/cron\.d\/restorable/);
  const text = readFileSync(cronFile, 'utf8');
  assert.ok(text.startsWith(FOREIGN.trimEnd()), 'foreign lines and the other block stay first, unchanged');
  assert.equal(statSync(cronFile).mode & 0o777, 0o644);
  const ours = entries(text).filter((line) => !line.includes('rotate-things') && !line.includes(' true'));
  assert.equal(ours.length, 3);
  for (const [index, job] of ['backup', 'check', 'drill'].entries()) {
    const fields = ours[index]!.split(' ');
    assert.doesNotThrow(() => new Cron(fields.slice(0, 5).join(' '), { mode: '5-part' }), ours[index]);
    assert.equal(fields[5], userInfo().username);
    const command = fields.slice(6).join(' ');
    const cd = /^cd '([^']+)' && umask 077 && PATH=\S*\/usr\/bin\S* exec '([^']+)' '([^']+)' '-c' '([^']+)' (\w+) >> '([^']+)' 2>&1$/.exec(command);
    assert.ok(cd, command);
    const [, directory, node, bin, config, ranJob, log] = cd;
    assert.ok(existsSync(directory!) && statSync(directory!).isDirectory());
    assert.equal(node, process.execPath);
    assert.ok(isAbsolute(bin!) && existsSync(bin!), bin);
    assert.equal(config, configPath);
    assert.equal(ranJob, job);
    assert.equal(log, join(base, 'backups', '.restorable', 'schedule.log'));
  }
  const shell = spawnSync('sh', ['-n', '-c', entries(text).at(-1)!.split(' ').slice(6).join(' ')]);
  assert.equal(shell.status, 0, 'the command is valid sh');

  assert.equal((await cli('install')).code, 0);
  assert.equal(readFileSync(cronFile, 'utf8').match(/# BEGIN restorable app=shop /g)?.length, 1, 'reinstalling replaces our block');

  const status = await cli('status');
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /^backup "0 3 \* \* \*" {2}next: \d{4}-\d\d-\d\d 03:00:00, /m);
  assert.match(status.stdout, /installed in .*cron\.d\/restorable \(cron\.d\): backup, check, drill since /);
  assert.doesNotMatch(status.stdout, /DIFFERS|WARNING/);

  writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('0 3 * * *', '0 4 * * *'));
  const changed = await cli('status');
  assert.equal(changed.code, 1);
  assert.match(changed.stdout, /DIFFERS from the config/);
  assert.match(changed.stdout, /WARNING: .* differs from the config .* run `restorable schedule install` again/);

  const removed = await cli('remove');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(readFileSync(cronFile, 'utf8'), FOREIGN, 'only our block was removed');
  const after = await cli('status');
  assert.equal(after.code, 1);
  assert.match(after.stdout, /WARNING: the configured schedule is not installed/);
  assert.match((await cli('remove')).stdout, /nothing of shop is installed/);
});

test('--user writes the user crontab (under --root: the spool file) keeping its other lines, without a user field', async (t) => {
  const { root, cli } = app(t);
  const spool = join(root, 'var/spool/cron/crontabs', userInfo().username);
  mkdirSync(join(root, 'var/spool/cron/crontabs'), { recursive: true });
  writeFileSync(spool, '@reboot /home/me/start.sh\n');
  assert.equal((await cli('install', '--user')).code, 0);
  const text = readFileSync(spool, 'utf8');
  assert.ok(text.startsWith('@reboot /home/me/start.sh\n'));
  for (const line of entries(text).slice(1)) {
    assert.doesNotThrow(() => new Cron(line.split(' ').slice(0, 5).join(' '), { mode: '5-part' }));
    assert.equal(line.split(' ')[5], 'cd', 'no user field in a user crontab');
  }
  assert.match((await cli('status')).stdout, /installed in crontab -l \(crontab\): backup, check, drill/);
  assert.equal((await cli('remove', '--user')).code, 0);
  assert.equal(readFileSync(spool, 'utf8'), '@reboot /home/me/start.sh\n');
});

test('a 6-field (seconds) expression is refused for cron and written for systemd', async (t) => {
  const { cli, root } = app(t, '{ backup: "30 0 3 * * *" }');
  const refused = await cli('install');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /seconds field, which cron cannot run/);
  assert.match(refused.stderr, /--systemd|restorable daemon/);
  assert.equal((await cli('install', '--systemd')).code, 0);
  assert.match(readFileSync(join(root, 'etc/systemd/system/restorable-shop-backup.timer'), 'utf8'), /^OnCalendar=\*-\*-\* 03:00:30$/m);
});

/** Whether `systemd-analyze verify` works here: it needs no running systemd, but may be missing or unusable in a container. */
function systemdAnalyzeUsable(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'probe.service'), '[Service]\nType=oneshot\nExecStart=/bin/true\n');
  const probe = spawnSync('systemd-analyze', ['verify', join(dir, 'probe.service')], { encoding: 'utf8' });
  if (probe.error) return `systemd-analyze cannot run here: ${probe.error.message}`;
  if (probe.status !== 0) return `systemd-analyze verify fails even on a trivial unit here: ${probe.stderr.trim()}`;
  return undefined;
}

test('--systemd writes a service and a Persistent timer per job that systemd-analyze verify accepts; remove deletes only them', async (t) => {
  const { cli, root, base } = app(t, '{ backup: "0 3 * * *", check: "*/15 * * * *", drill: "30 4 * * 0", timezone: Europe/Berlin }');
  const unitDir = join(root, 'etc/systemd/system');
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(join(unitDir, 'other.service'), '[Service]\nExecStart=/bin/true\n');
  const installed = await cli('install', '--systemd');
  assert.equal(installed.code, 0, installed.stderr);
  const ours = readdirSync(unitDir).filter((name) => name.startsWith('restorable-shop-')).sort();
  assert.deepEqual(ours, ['backup', 'check', 'drill'].flatMap((job) => [`restorable-shop-${job}.service`, `restorable-shop-${job}.timer`]));
  const timer = readFileSync(join(unitDir, 'restorable-shop-check.timer'), 'utf8');
  assert.match(timer, /^OnCalendar=\*-\*-\* \*:00\/15:00 Europe\/Berlin$/m);
  assert.match(timer, /^Persistent=true$/m);
  const service = readFileSync(join(unitDir, 'restorable-shop-backup.service'), 'utf8');
  assert.match(service, /^UMask=0077$/m);
  assert.match(service, new RegExp(`^ExecStart="${process.execPath}" "/[^"]+/bin/restorable" "-c" "${base}/restorable.yml" backup$`, 'm'));
  assert.match(service, new RegExp(`^StandardOutput=append:${base}/backups/.restorable/schedule.log$`, 'm'));

  const unusable = systemdAnalyzeUsable(join(base, 'probe'));
  if (unusable) t.diagnostic(`skipped systemd-analyze verify: ${unusable}`);
  else {
    const verified = spawnSync('systemd-analyze', ['verify', ...ours.map((name) => join(unitDir, name))], { encoding: 'utf8' });
    assert.equal(verified.status, 0, verified.stderr);
    assert.equal(verified.stderr.trim(), '', 'no warnings either');
  }
  assert.match((await cli('status')).stdout, /installed in .*etc\/systemd\/system \(systemd\): backup, check, drill since/);
  assert.equal((await cli('remove', '--systemd')).code, 0);
  assert.deepEqual(readdirSync(unitDir), ['other.service']);
});

test('OnCalendar fires exactly when croner does (systemd-analyze calendar, where it runs)', (t) => {
  const expressions = ['0 3 * * *', '*/15 * * * *', '30 4 * * 0', '0 9-17 * * 1-5', '0 0 1,15 * *', '0 6 * * 5-7', '5 4 1 * 1', '0 22 * */3 *', '15 10 0 * * *'];
  const from = new Date('2026-12-03T12:00:00Z');
  for (const expression of expressions) {
    const expected = new Cron(expression, { mode: '5-or-6-parts', timezone: 'UTC' }).nextRuns(6, from).map((date) => date.toISOString());
    const values = onCalendarValues(expression, 'UTC');
    const fired = new Set<string>();
    for (const value of values) {
      const listed = spawnSync('systemd-analyze', ['calendar', '--iterations=6', `--base-time=${from.toISOString().replace('T', ' ').replace('.000Z', ' UTC')}`, value], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
      if (listed.error) return t.skip(`systemd-analyze cannot run here: ${listed.error.message}`);
      assert.equal(listed.status, 0, `${expression} -> ${value}: ${listed.stderr}`);
      for (const match of listed.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)) fired.add(new Date(`${match[1]!.replace(' ', 'T')}Z`).toISOString());
    }
    assert.deepEqual([...fired].sort().slice(0, 6), expected, `${expression} -> ${values.join(' | ')}`);
  }
});

test('a bad cron expression fails config loading naming its field', () => {
  const text = `app: shop\nsources:\n  files: { type: files, paths: [/srv] }\nschedule:\n  backup: "61 3 * * *"\n`;
  assert.throws(() => parseConfigText(text, '/etc/restorable/restorable.yml'), (error: Error) => /schedule\.backup/.test(error.message) && /cron expression/.test(error.message));
  assert.throws(() => parseConfigText(`${text.replace('61', '0')}  timezone: Mars/Olympus\n`, '/x.yml'), /unknown timezone "Mars\/Olympus"/);
});

test("the daemon's hardened unit in docs/operations.md is one systemd-analyze verify accepts, sandboxed as documented", (t) => {
  const docs = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const unit = /```ini\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(unit, 'an ini block in docs/operations.md');
  for (const setting of ['ProtectSystem=strict', 'PrivateTmp=true', 'NoNewPrivileges=true', 'ReadWritePaths=/var/backups/shop', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.ok(unit.split('\n').includes(setting), setting);
  }
  const dir = tempDir(t);
  const unusable = systemdAnalyzeUsable(join(dir, 'probe'));
  if (unusable) return t.skip(unusable);
  // The documented paths of an npm -g install are not this checkout's.
  const local = unit.replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${join(process.cwd(), 'bin/restorable')}`);
  writeFileSync(join(dir, 'restorable-daemon.service'), local);
  const verified = spawnSync('systemd-analyze', ['verify', join(dir, 'restorable-daemon.service')], { encoding: 'utf8' });
  assert.equal(verified.status, 0, verified.stderr);
  assert.equal(verified.stderr.trim(), '');
});
