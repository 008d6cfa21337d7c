// Shared by the monitor-check tests (test/checks/*, test/jobs/check.test.ts):
// sets made by runBackup at clocks we choose, results picked by check name,
// and the Nagios plugin first line parsed strictly.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type { SampleApp } from './sample-app.ts';
import type { LoadedConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { silentReporter, type Clock } from '../../src/core/ports.ts';
import type { CheckReport } from '../../src/jobs/check.ts';
import type { CheckResult } from '../../src/checks/check.ts';

export const T0 = new Date('2026-11-26T03:00:00.000Z');
export const HOUR = 3_600_000;

/** `RESTORABLE <STATE> - <summary>[ | <perfdata>]`, the Nagios plugin first line. */
const NAGIOS_FIRST_LINE = /^RESTORABLE (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| ([^|\n]+))?$/;
/** One perfdata item: `label=value[UOM];[warn];[crit];[min];[max]`. */
const PERFDATA_ITEM = /^('[^']+'|[^\s'=]+)=(-?\d+(?:\.\d+)?)(s|B|%|c)?((?:;[\d.:~@-]*){0,4})$/;

export function at(date: Date): Clock {
  return { now: () => date };
}

export function after(hours: number, from = T0): Date {
  return new Date(from.getTime() + hours * HOUR);
}

export async function backupAt(loaded: LoadedConfig, when: Date, only?: string[]): Promise<string> {
  const outcome = await runBackup({ loaded, clock: at(when), reporter: silentReporter, only });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  return outcome.setId!;
}

export function result(report: CheckReport, name: string): CheckResult {
  const found = report.checks.find((check) => check.name === name);
  assert.ok(found, `a ${name} result in ${report.checks.map((check) => check.name).join(', ')}`);
  return found;
}

/** Parses the first line; fails the test when it is not in the plugin format. */
export function firstLine(stdout: string): { state: string; summary: string; perfdata: Array<{ label: string; value: number; unit: string; thresholds: string }> } {
  const first = stdout.split('\n')[0]!;
  const match = NAGIOS_FIRST_LINE.exec(first);
  assert.ok(match, `Nagios first line: ${first}`);
  const perfdata = (match[3] ?? '').split(' ').filter(Boolean).map((item) => {
    const parsed = PERFDATA_ITEM.exec(item);
    assert.ok(parsed, `perfdata item ${item}`);
    return { label: parsed[1]!, value: Number(parsed[2]), unit: parsed[3] ?? '', thresholds: parsed[4] ?? '' };
  });
  return { state: match[1]!, summary: match[2]!, perfdata };
}

export function setConfig(app: SampleApp, replace: (text: string) => string): void {
  writeFileSync(app.configPath, replace(readFileSync(app.configPath, 'utf8')));
}
