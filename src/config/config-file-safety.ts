// Owns the rule that the configuration is code: restorable runs as root the
// dump tool the config names and reads the .env and password files it names,
// so whoever can change one of those files, or rename one of the directories
// above it, can run commands as root or redirect the backup. As sshd's
// StrictModes does (OpenSSH misc.c safe_path: the file and every directory
// up to / must be owned by root or by the user, and not writable by group or
// others), each such path is checked; unlike sshd, a sticky directory owned
// by root or the user (/tmp, mode 1777) is accepted, because the sticky bit
// keeps other users from renaming or removing what is not theirs in it.

import { accessSync, constants, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';

/** One file or directory that a user other than root and restorable's own user can change. */
export interface InsecureConfigPath {
  /** The real path (symbolic links resolved) that is unsafe. */
  path: string;
  kind: 'file' | 'directory';
  /** What it is to restorable: `the configuration`, `sources.db.env_file`, or `directory of sources.db.env_file`. */
  roles: string[];
  ownerUid: number;
  /** The owner's name from /etc/passwd, when it has one. */
  ownerName: string | undefined;
  /** Permission bits, e.g. 0o664. */
  mode: number;
  /** Why: `writable by group and others`, `owned by uid 65534 (nobody)`. */
  problems: string[];
  /** The command that fixes it. */
  fix: string;
}

/** Config keys whose value is a path restorable executes or reads secrets/settings from. */
const CHECKED_KEYS = new Set(['env_file', 'password_file', 'dump_tool']);

export interface SafetyCheckOptions {
  /** The user restorable runs as (process.geteuid() by default). */
  uid?: number;
  /** For a `dump_tool` given by name: where to find it (process.env.PATH by default). */
  searchPath?: string;
}

/**
 * Every path of the configuration that others could change: the config file
 * itself, and each `env_file`, `password_file` and `dump_tool` it names
 * (relative paths from the config's directory; a bare dump tool name through
 * PATH), each with the directories above it up to /. Paths that do not exist
 * are left to the code that reads them, which names them in its own error.
 */
export function findInsecureConfigPaths(
  loaded: { path: string; directory: string; config: unknown },
  options: SafetyCheckOptions = {},
): InsecureConfigPath[] {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const targets: Array<{ role: string; path: string }> = [{ role: 'the configuration', path: loaded.path }];
  for (const { field, value } of pathFields(loaded.config, [])) {
    const key = field.split('.').pop()!;
    const path = key === 'dump_tool' && !value.includes('/') ? findOnPath(value, options.searchPath ?? process.env.PATH ?? '') : resolve(loaded.directory, value);
    if (path) targets.push({ role: field, path });
  }
  const found = new Map<string, InsecureConfigPath>();
  const note = (path: string, kind: InsecureConfigPath['kind'], role: string, stats: Stats) => {
    const problems = problemsOf(stats, uid, kind);
    if (problems.length === 0) return;
    const existing = found.get(path);
    if (existing) {
      if (!existing.roles.includes(role)) existing.roles.push(role);
      return;
    }
    const wrongOwner = stats.uid !== 0 && stats.uid !== uid;
    const fix = [...(wrongOwner ? [`chown root ${shellQuote(path)}`] : []), ...((stats.mode & 0o022) !== 0 ? [`chmod go-w ${shellQuote(path)}`] : [])].join(' && ');
    found.set(path, { path, kind, roles: [role], ownerUid: stats.uid, ownerName: userName(stats.uid), mode: stats.mode & 0o7777, problems, fix });
  };
  for (const target of targets) {
    let real: string;
    let stats: Stats;
    try {
      real = realpathSync(target.path);
      stats = statSync(real);
    } catch {
      continue;
    }
    note(real, 'file', target.role, stats);
    for (let directory = dirname(real); ; directory = dirname(directory)) {
      try {
        note(directory, 'directory', `directory of ${target.role}`, statSync(directory));
      } catch {
        // a directory we cannot stat: the read of the file itself will fail and say so
      }
      if (directory === dirname(directory)) break;
    }
  }
  return [...found.values()];
}

function problemsOf(stats: Stats, uid: number, kind: InsecureConfigPath['kind']): string[] {
  const problems: string[] = [];
  if (stats.uid !== 0 && stats.uid !== uid) problems.push(`owned by ${describeUser(stats.uid)}, neither root nor the user restorable runs as`);
  const groupWritable = (stats.mode & 0o020) !== 0;
  const otherWritable = (stats.mode & 0o002) !== 0;
  // A sticky directory (/tmp) lets nobody rename or remove what another user owns in it.
  const sticky = kind === 'directory' && (stats.mode & 0o1000) !== 0;
  if ((groupWritable || otherWritable) && !sticky) {
    problems.push(`writable by ${groupWritable && otherWritable ? 'group and others' : groupWritable ? 'its group' : 'others'}`);
  }
  return problems;
}

/** `sources.db.env_file` = value, for every checked key anywhere in the config. */
function pathFields(node: unknown, path: string[]): Array<{ field: string; value: string }> {
  if (node === null || typeof node !== 'object') return [];
  const fields: Array<{ field: string; value: string }> = [];
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (CHECKED_KEYS.has(key) && typeof value === 'string' && value !== '') fields.push({ field: [...path, key].join('.'), value });
    else fields.push(...pathFields(value, [...path, key]));
  }
  return fields;
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const directory of searchPath.split(delimiter)) {
    if (!directory || !isAbsolute(directory)) continue;
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let passwdNames: Map<number, string> | undefined;

function userName(uid: number): string | undefined {
  if (!passwdNames) {
    passwdNames = new Map();
    try {
      for (const entry of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = entry.split(':');
        if (name && id && /^\d+$/.test(id) && !passwdNames.has(Number(id))) passwdNames.set(Number(id), name);
      }
    } catch {
      // no /etc/passwd: uids only
    }
  }
  return passwdNames.get(uid);
}

function describeUser(uid: number): string {
  const name = userName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function shellQuote(path: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

/** One line per unsafe path: what it is, who owns it, its mode, why, and the fix. */
export function describeInsecurePath(entry: InsecureConfigPath): string {
  const mode = entry.mode.toString(8).padStart(4, '0');
  return `${entry.path} (${entry.roles.join(', ')}): ${entry.kind} owned by ${describeUser(entry.ownerUid)}, mode ${mode}: ${entry.problems.join(', ')}; fix: ${entry.fix}`;
}

export interface ConfigSafetyPolicy {
  /** `--allow-insecure-config`: warn instead of refusing. */
  allowInsecure?: boolean;
  /** Where the loud warning goes (stderr in the CLI). */
  warn?: (text: string) => void;
  /** For tests: the user to check against (process.geteuid() by default). */
  uid?: number;
}

/**
 * Refuses (ConfigError CONFIG_INSECURE, exit 2) when any path is unsafe,
 * naming each with its owner, mode and fix; with `allowInsecure`, warns
 * through `warn` instead and lets the command go on.
 */
export function enforceConfigFileSafety(findings: InsecureConfigPath[], configPath: string, policy: ConfigSafetyPolicy = {}): void {
  if (findings.length === 0) return;
  const lines = findings.map(describeInsecurePath);
  const headline = `${configPath}: ${findings.length === 1 ? 'a file or directory' : `${findings.length} files or directories`} that restorable runs or reads as ${describeUser(policy.uid ?? process.geteuid?.() ?? 0)} can be changed by other users`;
  if (policy.allowInsecure) {
    const warn = policy.warn ?? ((text: string) => process.stderr.write(`${text}\n`));
    warn(`WARNING: ${headline} (going on because of --allow-insecure-config):`);
    for (const text of lines) warn(`WARNING:   ${text}`);
    return;
  }
  throw new ConfigError(`refusing to use ${headline}: ${lines[0]}`, {
    code: 'CONFIG_INSECURE',
    where: { path: findings[0]!.path },
    details: lines.slice(1),
    remedy: `make each path named above owned by root (or by the user restorable runs as) and not writable by group or others (${[...new Set(findings.map((entry) => entry.fix))].join('; ')}), or pass --allow-insecure-config to run anyway`,
  });
}
