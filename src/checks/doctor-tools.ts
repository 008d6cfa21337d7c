// Owns the doctor's questions about the machine: the programs restorable and
// its restore-by-hand commands run (each found on PATH, with its version),
// and the clock (NTP offset, when chrony or systemd-timesyncd tell it).
//
// Which programs: zstd when the config compresses with it (backups fail
// without it); getfattr/setfattr when a source archives files (ACLs and
// extended attributes are left out without them); tar and gzip always, for
// the stock restore commands restorable prints (`gunzip < x.sql.gz | mysql`,
// `tar -xzf`). A source's own tools (mariadb-dump, pg_dump) and the versions of
// client and server are its driver's pre-flight: see doctor-sources.ts.

import { runToText } from '../process/spawn-stream.ts';
import { driverForKind } from '../sources/registry.ts';
import type { DoctorContext, Finding, FindingStatus } from './doctor-finding.ts';

interface WantedTool {
  program: string;
  /** Why restorable needs it, for the finding. */
  purpose: string;
  /** How bad it is when missing. */
  missing: Exclude<FindingStatus, 'ok' | 'skipped'>;
  install: string;
}

export async function toolFindings(context: DoctorContext): Promise<Finding[]> {
  const searchPath = context.searchPath ?? process.env.PATH ?? '';
  const findings: Finding[] = [];
  for (const tool of wantedTools(context)) {
    const name = `tool ${tool.program}`;
    const version = await programVersion(tool.program, searchPath);
    if (version.missing) {
      findings.push({ name, status: tool.missing, found: `${tool.program} is not installed (not on PATH ${searchPath}); it is needed ${tool.purpose}`, remedy: tool.install });
    } else if (version.failure) {
      findings.push({ name, status: tool.missing, found: `${tool.program} does not run: ${version.failure}`, remedy: tool.install.replace('apt-get install', 'apt-get install --reinstall') });
    } else {
      findings.push({ name, status: 'ok', found: version.text || tool.program });
    }
  }
  return findings;
}

/** The first line of `program --version`, looked up on `searchPath` as a shell would. */
async function programVersion(program: string, searchPath: string): Promise<{ text?: string; missing?: boolean; failure?: string }> {
  try {
    const text = await runToText(program, ['--version'], { name: program, deadlineMs: 10_000, env: { ...process.env, PATH: searchPath } });
    return { text: text.trim().split('\n')[0] };
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    return message.includes('program not found') ? { missing: true } : { failure: message };
  }
}

function wantedTools(context: DoctorContext): WantedTool[] {
  const { config } = context.loaded;
  const tools: WantedTool[] = [];
  if (config.compression.algorithm === 'zstd') {
    tools.push({ program: 'zstd', purpose: 'by compression: zstd, for every backup, verify, restore and drill', missing: 'critical', install: 'apt-get install zstd, or set compression: gzip' });
  }
  const archivesFiles = Object.values(config.sources).some((source) => driverForKind(source.type)?.content === 'files');
  if (archivesFiles) {
    for (const program of ['getfattr', 'setfattr']) {
      const purpose = program === 'getfattr' ? 'to back up ACLs and extended attributes of files' : 'to restore ACLs and extended attributes of files';
      tools.push({ program, purpose, missing: 'warning', install: 'apt-get install attr' });
    }
  }
  tools.push({ program: 'tar', purpose: 'for the stock restore commands of file archives (tar -xzf)', missing: 'warning', install: 'apt-get install tar' });
  tools.push({ program: 'gzip', purpose: 'for the stock restore commands (gunzip < x.sql.gz | mysql)', missing: 'warning', install: 'apt-get install gzip' });
  return tools;
}

/** Offset beyond which ages, schedules and set names start to lie. */
const WARNING_OFFSET_S = 1;
const CRITICAL_OFFSET_S = 60;

export async function clockFindings(context: DoctorContext): Promise<Finding[]> {
  const name = 'clock';
  const searchPath = context.searchPath ?? process.env.PATH ?? '';
  const measured = (await chronyOffset(searchPath)) ?? (await timesyncdOffset(searchPath));
  if (!measured) {
    return [{ name, status: 'skipped', found: 'not examined: neither chronyc nor timedatectl could tell the NTP offset here' }];
  }
  if (measured.synchronized === false) {
    return [{ name, status: 'warning', found: `the clock is not synchronised with NTP (${measured.by})`, remedy: 'enable time synchronisation: timedatectl set-ntp true, or install chrony' }];
  }
  if (measured.offsetSeconds === undefined) return [{ name, status: 'ok', found: `synchronised with NTP (${measured.by})` }];
  const offset = Math.abs(measured.offsetSeconds);
  const found = `${offset.toFixed(3)} s off NTP time (${measured.by})`;
  if (offset < WARNING_OFFSET_S) return [{ name, status: 'ok', found }];
  return [
    {
      name,
      status: offset >= CRITICAL_OFFSET_S ? 'critical' : 'warning',
      found: `${found}: backup ages, schedules and set names follow this clock`,
      remedy: 'check the time service (chronyc sources -v, or timedatectl timesync-status) and its network access',
    },
  ];
}

interface ClockReading {
  by: string;
  synchronized?: boolean;
  offsetSeconds?: number;
}

async function chronyOffset(searchPath: string): Promise<ClockReading | undefined> {
  const text = await runToText('chronyc', ['tracking'], { name: 'chronyc', deadlineMs: 5_000, env: { ...process.env, PATH: searchPath } }).catch(() => undefined);
  const match = text && /System time\s*:\s*([\d.]+) seconds (fast|slow)/.exec(text);
  if (!match) return undefined;
  const leapUnsynchronised = /Leap status\s*:\s*Not synchronised/i.test(text);
  return { by: 'chronyc tracking', synchronized: !leapUnsynchronised, offsetSeconds: Number(match[1]) * (match[2] === 'fast' ? 1 : -1) };
}

async function timesyncdOffset(searchPath: string): Promise<ClockReading | undefined> {
  const options = { name: 'timedatectl', deadlineMs: 5_000, env: { ...process.env, PATH: searchPath } };
  const status = await runToText('timedatectl', ['timesync-status'], options).catch(() => undefined);
  const offset = status && /Offset:\s*([+-]?[\d.]+)(us|ms|s|min)/.exec(status);
  if (offset) {
    const scale: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, min: 60 };
    return { by: 'timedatectl timesync-status', offsetSeconds: Number(offset[1]) * scale[offset[2]!]! };
  }
  const shown = await runToText('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], options).catch(() => undefined);
  const value = shown?.trim();
  if (value !== 'yes' && value !== 'no') return undefined;
  return { by: 'timedatectl show', synchronized: value === 'yes' };
}
