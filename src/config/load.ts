// Owns turning a YAML file into a validated Config: finds the file (the CLI's
// search order), parses YAML, validates against the schema, and reports every
// problem as `file:line field: what was expected, got what` (ConfigError).

import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/errors.ts';
import { configSchema, type Config } from './schema.ts';
import { validateRetentionPolicy } from '../core/retention.ts';
import { enforceConfigFileSafety, findInsecureConfigPaths, type ConfigSafetyPolicy, type InsecureConfigPath } from './config-file-safety.ts';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from. */
  path: string;
  /** Directory relative paths in the config are resolved against. */
  directory: string;
  /** The repository path, absolute, with the default applied. */
  repositoryPath: string;
  /** Paths of the config others can change (only with --allow-insecure-config; see config-file-safety.ts). */
  insecurePaths?: InsecureConfigPath[];
}

/** The config file to use: explicit flag, $RESTORABLE_CONFIG, ./restorable.yml, /etc/restorable/restorable.yml. */
export function locateConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (explicit) return resolve(cwd, explicit);
  if (env.RESTORABLE_CONFIG) return resolve(cwd, env.RESTORABLE_CONFIG);
  const candidates = [resolve(cwd, 'restorable.yml'), '/etc/restorable/restorable.yml'];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new ConfigError('no configuration found (looked for ./restorable.yml and /etc/restorable/restorable.yml)', {
      code: 'CONFIG_NOT_FOUND',
      remedy: 'pass -c FILE, set RESTORABLE_CONFIG, or write one with `restorable init --laravel DIR -o FILE` (a template: `restorable init -o FILE`)',
    });
  }
  return found;
}

/**
 * Reads, validates and safety-checks the config file: a config (or a file it
 * runs or reads as root) that other users can change is refused unless
 * `safety.allowInsecure` (--allow-insecure-config) turns that into a warning.
 */
export function loadConfig(path: string, safety: ConfigSafetyPolicy = {}): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the configuration ${path}: ${(error as Error).message}`, {
      code: 'CONFIG_NOT_FOUND',
      where: { path },
      remedy: 'check the path given with -c or RESTORABLE_CONFIG',
    });
  }
  const loaded = parseConfigText(text, path);
  const insecurePaths = findInsecureConfigPaths(loaded, { uid: safety.uid });
  enforceConfigFileSafety(insecurePaths, loaded.path, safety);
  return { ...loaded, insecurePaths };
}

export function parseConfigText(text: string, path: string): LoadedConfig {
  const label = shortName(path);
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const lines = document.errors.map((error) => {
      const position = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
      return `${label}${position ? `:${position.line}` : ''}: ${error.message.split('\n')[0]}`;
    });
    throw new ConfigError(`${lines[0]}`, { where: { path }, details: lines.slice(1), remedy: 'fix the YAML syntax' });
  }
  const raw: unknown = document.toJS() ?? {};
  const parsed = configSchema().safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap(issueOfWrittenForm).map((issue) => {
      // An unknown key is best pointed at by its own line, not its parent's.
      const located = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
      const line = lineOf(document, lineCounter, located);
      return `${label}${line ? `:${line}` : ''} ${fieldName(issue.path) || '(top level)'}: ${describeIssue(issue)}`;
    });
    throw new ConfigError(lines[0]!, {
      where: { path },
      details: lines.slice(1),
      remedy: 'fix the field named above; `restorable config schema` prints every field with its type',
    });
  }
  const config = parsed.data;
  const directory = dirname(resolve(path));
  checkCrossFieldRules(config, label, document, lineCounter);
  const repositoryPath = resolve(directory, config.repository ?? `/var/backups/${config.app}`);
  return { config, path: resolve(path), directory, repositoryPath };
}

/** Rules the schema cannot express on one field alone. */
function checkCrossFieldRules(config: Config, label: string, document: ReturnType<typeof parseDocument>, lineCounter: LineCounter): void {
  const fail = (path: (string | number)[], message: string): never => {
    const line = lineOf(document, lineCounter, path);
    throw new ConfigError(`${label}${line ? `:${line}` : ''} ${fieldName(path)}: ${message}`, {
      remedy: 'fix the field named above',
    });
  };
  const retentionProblem = validateRetentionPolicy(config.retention);
  if (retentionProblem) fail(['retention'], retentionProblem);
  if (config.monitor.critical_after_ms < config.monitor.warn_after_ms) {
    fail(['monitor', 'critical_after'], `must not be shorter than monitor.warn_after (${config.monitor.warn_after})`);
  }
  for (const [name, source] of Object.entries(config.sources)) {
    if (source.type === 'files') {
      source.paths.forEach((entry, index) => {
        if (!isAbsolute(entry)) fail(['sources', name, 'paths', index], `expected an absolute path, got "${entry}"`);
      });
    }
    if (source.type === 'sqlite' && !source.path && !source.env_file) {
      fail(['sources', name], 'expected `path` (the database file) or `env_file` (a Laravel .env naming it)');
    }
    if (source.type === 'mysql' && !source.env_file && !source.database) {
      fail(['sources', name], 'expected `database` (and `user`), or `env_file` (a Laravel .env)');
    }
    if (source.type === 'mysql' && source.password_file && source.password_env) {
      fail(['sources', name, 'password_env'], 'give either password_file or password_env, not both');
    }
  }
}

/**
 * A field with a short and a long form (`compression: zstd` or `compression: { ... }`)
 * fails as a union: when only one form matches the shape that was written, its
 * own issues (`compression.algorithm: expected one of ...`) say more than the
 * union's summary.
 */
function issueOfWrittenForm(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const shapeMatches = issue.errors.filter((branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0));
  if (shapeMatches.length !== 1) return [issue];
  return shapeMatches[0]!.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }) as z.core.$ZodIssue);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const got = 'input' in issue && issue.input !== undefined ? `, got ${JSON.stringify(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
      if ('input' in issue && issue.input === undefined) return `required: expected ${article(issue.expected)}`;
      return `expected ${article(issue.expected)}${got}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')} (misspelled? \`restorable config schema\` lists the known ones)`;
    case 'invalid_union': {
      // A discriminated union reports the whole object; show the bad tag itself.
      const expected = /Expected (.+?)(?:, got|$)/.exec(issue.message)?.[1];
      const key = issue.path[issue.path.length - 1];
      const input = 'input' in issue ? (issue.input as Record<PropertyKey, unknown> | undefined) : undefined;
      if (expected && key !== undefined && input && typeof input === 'object') {
        const options = expected.split(' | ').map((option) => JSON.stringify(option.replace(/^'|'$/g, '')));
        return `expected one of ${options.join(', ')}, got ${JSON.stringify(input[key])}`;
      }
      return (issue as { message: string }).message;
    }
    case 'invalid_value':
      if ('values' in issue) return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}${got}`;
      return `${(issue as { message: string }).message}${got}`;
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
      return `${issue.message.replace(/^Too (small|big): /, '')}${got}`;
    default:
      return `${issue.message}${got}`;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function fieldName(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

/** The line of the deepest node of `path` that exists in the document (1-based). */
function lineOf(document: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth) as (string | number)[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

function shortName(path: string): string {
  const relativeToCwd = resolve(path).startsWith(process.cwd() + '/') ? resolve(path).slice(process.cwd().length + 1) : path;
  return relativeToCwd;
}
