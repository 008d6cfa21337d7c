// Runs `restorable doctor --json` through the real CLI on a small config (a
// files source, optionally a database section, a repository) and finds a
// finding by name: shared by the doctor's test files.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli.ts';
import type { DoctorReport, Finding } from '../../src/jobs/doctor.ts';

export const noStack = /\n\s+at .*:\d+:\d+/;

export interface Setup {
  config: string;
  repository: string;
}

export function writeConfig(base: string, options: { db?: string; compression?: string; repository?: string } = {}): Setup {
  mkdirSync(join(base, 'app'), { recursive: true });
  writeFileSync(join(base, 'app', 'index.php'), '<?php echo "hi";\n');
  const repository = options.repository ?? join(base, 'backups');
  const config = join(base, 'restorable.yml');
  writeFileSync(
    config,
    `app: shop\nrepository: ${repository}\nsources:\n` +
      (options.db ? `  db: ${options.db}\n` : '') +
      `  files: { type: files, paths: [${join(base, 'app')}] }\nmonitor: { min_free: 1MB }\n` +
      (options.compression ? `compression: ${options.compression}\n` : ''),
  );
  return { config, repository };
}

export async function doctor(config: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const result = await runCli(['-c', config, 'doctor', '--json'], { env: { DOCTOR_TEST_PW: 'pw', ...env } });
  assert.doesNotMatch(result.stderr, noStack);
  return { code: result.code, report: JSON.parse(result.stdout) as DoctorReport, stderr: result.stderr };
}

export function finding(report: DoctorReport, name: string): Finding {
  const found = report.findings.find((candidate) => candidate.name === name);
  assert.ok(found, `a finding "${name}" in ${report.findings.map((entry) => entry.name).join(', ')}`);
  return found;
}

export async function init(config: string): Promise<void> {
  const result = await runCli(['-c', config, 'init']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
}
