// Owns the doctor's questions that other modules already know how to answer,
// asked through them rather than again:
// - the config's safety (config/config-file-safety.ts: paths other users can
//   change), as `config validate` shows them;
// - each source, through its driver's own pre-flight (the one a backup runs:
//   dump tool found and its version, server reachable, every privilege the
//   dump needs with the GRANT as the server names the account, client older
//   than the server), and through the kind's restore/drill readiness when the
//   kind offers one (sources/source-readiness.ts);
// - the schedule, through the monitor's schedule check (checks/schedule.ts:
//   installed and firing), on the same snapshot `restorable check` reads, and
//   `schedule status` (schedule/schedule-installer.ts: installed as the config says, next runs).
// A config others can change is not run: its dump tool would run as us.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeInsecurePath } from '../config/config-file-safety.ts';
import { prepareSource, type PreparedSource } from '../sources/registry.ts';
import { readinessProbeFor } from '../sources/source-readiness.ts';
import type { SourceContext } from '../sources/source.ts';
import { scheduleCheck } from './schedule.ts';
import { openRepository } from '../storage/open-repository.ts';
import { gatherCheckContext } from './check-snapshot.ts';
import { scheduleStatus } from '../schedule/schedule-installer.ts';
import { findingFromError, type DoctorContext, type Finding } from './doctor-finding.ts';

export async function configSafetyFindings(context: DoctorContext): Promise<Finding[]> {
  const { loaded } = context;
  const insecure = loaded.insecurePaths ?? [];
  if (insecure.length === 0) {
    return [{ name: 'config safety', status: 'ok', found: `${loaded.path} and the files it names can be changed only by their owner (root or this user)` }];
  }
  return [
    {
      name: 'config safety',
      status: context.allowInsecureConfig ? 'warning' : 'critical',
      found:
        `${insecure.length} path(s) of the configuration can be changed by other users, who could then run commands as this user` +
        (context.allowInsecureConfig ? ' (allowed with --allow-insecure-config)' : '; every command refuses this config'),
      remedy: [...new Set(insecure.map((entry) => entry.fix))].join(' && '),
      details: insecure.map(describeInsecurePath),
    },
  ];
}

export async function sourceFindings(context: DoctorContext): Promise<Finding[]> {
  const { loaded } = context;
  const names = Object.keys(loaded.config.sources);
  if ((loaded.insecurePaths ?? []).length > 0 && !context.allowInsecureConfig) {
    return names.map((name) => ({
      name: `source ${name}`,
      status: 'skipped',
      found: 'not examined: other users can change the configuration (see config safety), and examining a source runs the tools it names',
    }));
  }
  const scratchDir = await mkdtemp(join(tmpdir(), 'restorable-doctor-'));
  try {
    const findings: Finding[] = [];
    for (const name of names) findings.push(...(await examineSource(context, name, scratchDir)));
    return findings;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

async function examineSource(context: DoctorContext, name: string, scratchDir: string): Promise<Finding[]> {
  const { loaded } = context;
  const finding = `source ${name}`;
  let prepared: PreparedSource;
  try {
    prepared = prepareSource(name, loaded.config.sources[name]!, loaded.directory);
  } catch (error) {
    return [findingFromError(finding, error)];
  }
  const notes: string[] = [];
  const sourceContext: SourceContext<unknown> = {
    job: loaded.config.app,
    sourceName: name,
    config: prepared.settings,
    repositoryPath: loaded.repositoryPath,
    scratchDir,
    signal: context.signal ?? new AbortController().signal,
    log: { info: (message) => notes.push(message), warn: (message) => notes.push(`warning: ${message}`) },
  };
  const findings: Finding[] = [];
  try {
    const report = await prepared.driver.preflight(sourceContext);
    const found = `${prepared.type}: ${[...report.notes, ...notes].join('; ') || 'ready to back up'}`;
    if (report.warnings.length === 0) findings.push({ name: finding, status: 'ok', found });
    else {
      findings.push({
        name: finding,
        status: 'warning',
        found: `${found}; ${report.warnings.length} warning(s)`,
        remedy: 'each warning above ends with what to do; a backup records them in its set and ends WARNING until they are fixed',
        details: report.warnings.map((warning) => `${warning.code}: ${warning.message}`),
      });
    }
  } catch (error) {
    return [findingFromError(finding, error)];
  }
  const probe = readinessProbeFor(prepared.type);
  if (probe) {
    const newest = await newestArtifactDetails(context, name);
    for (const readiness of await probe({ settings: prepared.settings, sourceName: name, loaded, details: newest?.details, setId: newest?.setId })) {
      const about = `source ${name}: ${readiness.purpose}`;
      if (readiness.error) findings.push(findingFromError(about, readiness.error));
      else if (readiness.warnings.length > 0) findings.push({ name: about, status: 'warning', found: `${readiness.found}; but ${readiness.warnings.join('; ')}`, remedy: 'see the warning: restore onto a server of the same family and version' });
      else findings.push({ name: about, status: 'ok', found: readiness.found });
    }
  }
  return findings;
}

/** What the newest set recorded about this source (the objects a restore must create), when there is one. */
async function newestArtifactDetails(context: DoctorContext, source: string): Promise<{ setId: string; details: Record<string, unknown> } | undefined> {
  try {
    for (const set of await openRepository(context.loaded).listSets()) {
      const artifact = set.manifest.artifacts.find((candidate) => candidate.source === source);
      if (artifact) return { setId: set.manifest.setId, details: (artifact as { details?: Record<string, unknown> }).details ?? {} };
    }
  } catch {
    // No readable repository: the repository findings say so; readiness is then checked without recorded facts.
  }
  return undefined;
}

export async function scheduleFindings(context: DoctorContext): Promise<Finding[]> {
  let checkContext;
  try {
    checkContext = await gatherCheckContext(context.loaded, context.now);
  } catch (error) {
    return [{ ...findingFromError('schedule', error, 'skipped'), found: `not examined: ${(error as Error).message}` }];
  }
  const results = await scheduleCheck(checkContext);
  const status = context.invocation
    ? await scheduleStatus({ loaded: context.loaded, root: '/', ...context.invocation, now: context.now }).catch(() => undefined)
    : undefined;
  const findings: Finding[] = results.map((result) => ({
    name: result.name,
    status: result.state === 'OK' ? 'ok' : result.state === 'CRITICAL' ? 'critical' : 'warning',
    found: result.summary,
    remedy: result.state === 'OK' ? undefined : result.remedy,
  }));
  // `schedule status` also knows an installed schedule that differs from the config (paths, times, log).
  const differing = status?.installed.filter((place) => !place.matchesConfig) ?? [];
  if (differing.length > 0) {
    findings.push({
      name: 'schedule matches the config',
      status: 'warning',
      found: `${differing.map((place) => place.where).join(', ')} differs from the config (schedule, paths or log)`,
      remedy: status!.problems.filter((problem) => problem.includes('differs')).join('; ') || 'run `restorable schedule install` again',
    });
  }
  if (findings.length === 0) return [{ name: 'schedule', status: 'skipped', found: 'no schedule in the config: nothing to check (cron or a timer outside restorable may still run it)' }];
  const next = status?.jobs.map((job) => `${job.job} next ${job.nextRuns[0] ?? '?'}`).join(', ');
  if (next && findings[0]!.status === 'ok') findings[0] = { ...findings[0]!, found: `${findings[0]!.found}; ${next} (${status!.timezone})` };
  return findings;
}
