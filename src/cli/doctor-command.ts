// Owns `restorable doctor [--json]`: every finding of the doctor (jobs/doctor.ts)
// as it is made, one line each, `<STATUS> <what was asked>: <what was found>`,
// with the remedy under it when there is something to do, and last the
// verdict line `restorable doctor: <STATUS> - <tally>`; exit 0 when all is
// well, 1 for a warning, 2 for a critical finding (130 when interrupted).
// A config that cannot be loaded is itself a finding (critical), so the doctor
// always says what to fix first. The config is loaded even when other users
// can change it, to report that as a finding; the doctor then runs none of
// the tools it names unless --allow-insecure-config is given.

import type { Command } from 'commander';
import { asRestorableError } from '../core/errors.ts';
import { systemClock } from '../core/ports.ts';
import { loadConfig, locateConfig, type LoadedConfig } from '../config/load.ts';
import { runDoctor, summarize, type DoctorReport, type Finding } from '../jobs/doctor.ts';
import { line, printJson, type Output } from './render.ts';
import { interruptExitCode, interruptible } from './interrupt.ts';
import type { ActionWrapper } from './main.ts';
import { RESTORABLE_BIN } from './schedule-command.ts';

export function registerDoctorCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('doctor')
    .description('examine the setup (repository, space, tools, database privileges, schedule, clock) and say what to fix; exit 0 OK, 1 WARNING, 2 CRITICAL')
    .action(
      run(async (options) => {
        const print = findingPrinter(output);
        let loaded: LoadedConfig;
        try {
          loaded = loadConfig(locateConfig(options.config), { allowInsecure: true, warn: () => {} });
        } catch (error) {
          const failure = asRestorableError(error);
          const finding: Finding = { name: 'config', status: 'critical', found: failure.message, remedy: failure.remedy, details: failure.details.length > 0 ? failure.details : undefined };
          print(finding);
          return finish(summarize('', '', [finding]));
        }
        return interruptible(async (signal) => {
          const invocation = { node: process.execPath, bin: RESTORABLE_BIN };
          const report = await runDoctor({ loaded, clock: systemClock, allowInsecureConfig: options.allowInsecureConfig === true, invocation, signal, onFinding: print });
          finish(report);
          if (!signal.aborted) return report.exitCode;
          output.err.write(`restorable: doctor ${String(signal.reason)}: the questions after the last finding shown were not asked\n`);
          return interruptExitCode(signal);
        });
      }),
    );

  function finish(report: DoctorReport): number {
    if (output.json) printJson(output, report);
    else line(output, verdictLine(report));
    return report.exitCode;
  }
}

/** Prints each finding in text mode (nothing in JSON mode, where the report says it all at the end). */
function findingPrinter(output: Output): (finding: Finding) => void {
  // Restore and drill often lack the same privileges for the same reasons: each reason is shown once.
  const shown = new Set<string>();
  return (finding) => {
    if (output.json) return;
    for (const text of renderFinding(finding, shown)) line(output, text);
  };
}

export function renderFinding(finding: Finding, shownDetails = new Set<string>()): string[] {
  const lines = [`${finding.status.toUpperCase()} ${finding.name}: ${finding.found}`];
  for (const detail of finding.details ?? []) {
    if (!shownDetails.has(detail)) lines.push(`  | ${detail}`);
    shownDetails.add(detail);
  }
  if (finding.remedy && finding.status !== 'ok') lines.push(`  next: ${finding.remedy}`);
  return lines;
}

/** `restorable doctor: CRITICAL - 1 critical, 0 warning, 12 ok, 3 skipped (job shop, repository /var/backups/shop)` */
export function verdictLine(report: DoctorReport): string {
  const count = (status: Finding['status']) => report.findings.filter((finding) => finding.status === status).length;
  const tally = (['critical', 'warning', 'ok', 'skipped'] as const).map((status) => `${count(status)} ${status}`).join(', ');
  const about = report.job ? ` (job ${report.job}, repository ${report.repository})` : '';
  return `restorable doctor: ${report.status} - ${tally}${about}`;
}
