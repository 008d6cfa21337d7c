// What the project prints and links is true: the weekly report never says
// "restore time" with nothing after it; every relative link in README.md and
// docs/*.md names a file of the repository; every command the demo prints
// runs as printed (from the checkout, as `npm run demo` leaves you).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/temp.ts';
import { weeklyReportText, type WeeklyReportData } from '../../src/jobs/report.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const noStack = /\n\s+at .*:\d+:\d+|EPIPE|Unhandled 'error'/;

test('the weekly report says nothing about restore time when the drill recorded none', () => {
  const data: WeeklyReportData = {
    job: 'shop',
    host: 'web1',
    periodStart: '2026-11-26',
    periodEnd: '2026-12-03',
    runs: { total: 1, ok: 1, warning: 0, failed: 0, successRatePercent: 100 },
    degradedSets: [],
    failures: [],
    sources: [],
    completeSets: 1,
    repositorySizeBytes: 1000,
    lastDrill: { at: '2026-12-02T04:30:00Z', status: 'failed', setId: '2026-12-02_03-00-00', restoreSeconds: {} },
    disk: undefined,
    offsite: 'none',
  };
  assert.doesNotMatch(weeklyReportText(data), /restore time/);
  assert.match(weeklyReportText({ ...data, lastDrill: { ...data.lastDrill!, restoreSeconds: undefined } }), /^Last restore drill: failed at .*\)$/m);
  assert.match(weeklyReportText({ ...data, lastDrill: { ...data.lastDrill!, restoreSeconds: { db: 4.25 } } }), /restore time db 4\.3 s$/m);
});

test('every relative link in README.md and docs/*.md names a file of the repository', () => {
  const documents = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const broken: string[] = [];
  for (const document of documents) {
    const text = readFileSync(join(ROOT, document), 'utf8');
    const links = [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g), ...text.matchAll(/^\[[^\]]+\]:\s+(\S+)/gm)].map((match) => match[1]!);
    for (const link of links) {
      if (/^(https?:|mailto:|#)/.test(link)) continue;
      const target = normalize(join(ROOT, dirname(document), decodeURIComponent(link.split('#')[0]!)));
      if (!target.startsWith(ROOT) || !existsSync(target)) broken.push(`${document}: ${link}`);
    }
    // Guides named in prose and code blocks too: `(docs/operations.md)`.
    for (const [mention] of text.matchAll(/(?<![\w/.-])docs\/[\w.-]+\.md\b/g)) {
      if (!existsSync(join(ROOT, mention))) broken.push(`${document}: ${mention}`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the demo prints commands that run as printed', (t) => {
  const demoDir = join(tempDir(t), 'demo');
  const demo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, RESTORABLE_DEMO_DIR: demoDir } });
  assert.equal(demo.status, 0, demo.stdout + demo.stderr);
  const printed = demo.stdout
    .split('\n')
    .map((text) => /^(?:\$ |  )((?:bin\/restorable|gunzip|tar) .*)$/.exec(text)?.[1])
    .filter((command): command is string => command !== undefined);
  const forRealApp = printed.filter((command) => command.includes('/var/www/your-app') || !command.includes(demoDir));
  const runnable = printed.filter((command) => !forRealApp.includes(command));
  assert.ok(runnable.length >= 8, `the demo prints its commands: ${printed.join(' | ')}`);
  for (const command of runnable) {
    // As typed into a default shell (no pipefail: `tar ... | head` may end tar with SIGPIPE, as intended).
    const result = spawnSync('bash', ['-c', command], { cwd: ROOT, encoding: 'utf8' });
    assert.ok(result.status === 0 || (/ check$| doctor$/.test(command) && result.status === 1), `${command}: exit ${result.status}\n${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stderr, noStack);
  }
  // The lines for a real app write to /etc: their commands and options must exist.
  const initHelp = spawnSync('bash', ['-c', 'bin/restorable init --help'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(initHelp.status, 0, initHelp.stderr);
  assert.match(initHelp.stdout, /--laravel/);
  assert.match(initHelp.stdout, /-o, --output|-o /);
  for (const command of forRealApp) assert.match(command, /^bin\/restorable (init --laravel \S+ -o \S+|config validate && bin\/restorable backup)$/);
});
