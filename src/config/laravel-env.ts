// Owns reading a Laravel `.env` exactly as Laravel 8+ reads it: a port of
// vlucas/phpdotenv v5's parser (Parser/Lines.php, Parser/EntryParser.php,
// Parser/Lexer.php, Loader/Resolver.php) and Laravel's `Env::get`
// conversions (`null`, `(empty)`, `'"quoted"'` ...); laravel-database.ts
// builds the database connection from these values. A value that reads
// differently here than in PHP means a backup of the wrong database, or an
// "access denied" for an application that works; docs/laravel-env.md lists
// the rules, test/config/laravel-env-phpdotenv.test.ts holds phpdotenv's own
// expectations.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../core/errors.ts';

/** The variables a `.env` defines, as phpdotenv stores them (before `Env::get`). */
export type EnvValues = Record<string, string>;

/** phpdotenv refuses the whole file (Laravel then stops with "The environment file is invalid!"). */
export class LaravelEnvSyntaxError extends Error {
  /** 1-based line where the refused entry starts. */
  readonly line: number;
  /** phpdotenv's cause ("unexpected whitespace"), without the text it quotes (which may be a secret). */
  readonly reason: string;
  /** The variable whose value was refused, when its name was valid. */
  readonly key: string | undefined;

  constructor(cause: string, subject: string, line: number, key?: string) {
    // sprintf('Encountered %s at [%s].', $cause, strtok($subject, "\n"))
    super(`Encountered ${cause} at [${subject.replace(/^\n+/, '').split('\n')[0] ?? ''}].`);
    this.name = 'LaravelEnvSyntaxError';
    this.line = line;
    this.reason = cause;
    this.key = key;
  }
}

export interface ParseOptions {
  /**
   * Where `${NAME}` looks after the variables defined earlier in the file
   * (phpdotenv reads the PHP process's environment there); restorable's own
   * environment by default. A name found nowhere stays literally `${NAME}`.
   */
  environment?: NodeJS.ProcessEnv;
}

/** Parses a `.env` text as phpdotenv v5 does; throws LaravelEnvSyntaxError where phpdotenv throws. */
export function parseLaravelEnv(text: string, options: ParseOptions = {}): EnvValues {
  const environment = options.environment ?? process.env;
  // Str::utf8 drops a UTF-8 byte order mark; Parser splits on \r\n, \n or \r.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const values: EnvValues = Object.create(null) as EnvValues;
  for (const { text: entry, line } of joinEntries(lines)) {
    const { name, value } = parseEntry(entry, line);
    if (value === undefined) {
      // `FOO` alone (no `=`): the Loader clears FOO.
      delete values[name];
      continue;
    }
    values[name] = resolveVariables(value, (variable) => values[variable] ?? environment[variable]);
  }
  return { ...values };
}

// ---- Lines.php: comment lines, blank lines, multi-line double-quoted values

interface Entry {
  text: string;
  line: number;
}

function joinEntries(lines: string[]): Entry[] {
  const entries: Entry[] = [];
  let buffer: string[] = [];
  let bufferStart = 0;
  let multiline = false;
  lines.forEach((text, index) => {
    const startsHere = !multiline && looksLikeMultilineStart(text);
    if (startsHere) {
      multiline = true;
      bufferStart = index + 1;
    }
    let entryText = text;
    let entryLine = index + 1;
    if (multiline) {
      buffer.push(text);
      if (looksLikeMultilineStop(text, startsHere)) {
        multiline = false;
        entryText = buffer.join('\n');
        entryLine = bufferStart;
        buffer = [];
      }
    }
    if (!multiline && !isCommentOrWhitespace(entryText)) entries.push({ text: entryText, line: entryLine });
  });
  // A multi-line value still open at the end of the file is dropped, as Lines::process drops it.
  return entries;
}

function looksLikeMultilineStart(line: string): boolean {
  return line.includes('="') && !looksLikeMultilineStop(line, true);
}

function looksLikeMultilineStop(line: string, started: boolean): boolean {
  if (line === '"') return true;
  // preg_match_all('/(?=([^\\\\]"))/') on the line without its `\\` pairs:
  // the double quotes that follow a character other than a backslash.
  const stripped = line.split('\\\\').join('');
  let count = 0;
  for (let index = 0; index + 1 < stripped.length; index++) {
    if (stripped[index] !== '\\' && stripped[index + 1] === '"') count++;
  }
  return started ? count > 1 : count >= 1;
}

/** PHP's trim() default set: space, \t, \n, \r, \0, \x0B. */
function phpTrim(text: string): string {
  return text.replace(/^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g, '');
}

function isCommentOrWhitespace(line: string): boolean {
  const trimmed = phpTrim(line);
  return trimmed === '' || trimmed.startsWith('#');
}

// ---- EntryParser.php

export interface ParsedValue {
  chars: string;
  /** Offsets in `chars` of each `$` that may start a `${NAME}` reference. */
  variables: number[];
}

/**
 * One entry as EntryParser::parse sees it (after Lines has joined a
 * multi-line value): its name and its value's characters with the offsets
 * of the `$` that may start a variable (getVars(): the highest first), or
 * no value for a line without `=`. Exported for the table of phpdotenv's
 * own EntryParserTest cases.
 */
export function parseEnvEntry(entry: string): { name: string; value: ParsedValue | undefined } {
  const { name, value } = parseEntry(entry, 1);
  return { name, value: value && { chars: value.chars, variables: [...value.variables].sort((a, b) => b - a) } };
}

function parseEntry(entry: string, line: number): { name: string; value: ParsedValue | undefined } {
  const equals = entry.indexOf('=');
  const rawName = equals < 0 ? entry : phpTrim(entry.slice(0, equals));
  if (equals >= 0 && rawName === '') throw new LaravelEnvSyntaxError('an unexpected equals', entry, line);
  const name = parseName(rawName, line);
  if (equals < 0) return { name, value: undefined };
  return { name, value: parseValue(phpTrim(entry.slice(equals + 1)), line, name) };
}

function parseName(raw: string, line: number): string {
  let name = raw;
  if ([...name].length > 8 && name.startsWith('export') && /^[ \t\n\r\v\f]$/.test(name[6]!)) {
    name = name.slice(6).replace(/^[ \t\n\r\v\f]+/, '');
  }
  const first = name[0];
  if ([...name].length >= 3 && (first === '"' || first === "'") && name.endsWith(first)) name = name.slice(1, -1);
  if (!/^[\p{Ll}\p{Lu}\p{M}\p{N}_.]+$/u.test(name)) throw new LaravelEnvSyntaxError('an invalid name', name, line);
  return name;
}

/** Lexer.php's token kinds, tried in this order (PCRE alternation). */
const TOKEN = /[\r\n]{1,1000}|[ \t\v\f]{1,1000}|\\|'|"|#|\$|[^ \t\n\v\f\r\\'"#$]{1,1000}/y;

function* lex(value: string): Generator<string> {
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < value.length) {
    const match = TOKEN.exec(value);
    if (!match) throw new Error(`Lexer encountered unexpected character [${value[TOKEN.lastIndex]}].`);
    yield match[0];
  }
}

type State = 'initial' | 'unquoted' | 'single-quoted' | 'double-quoted' | 'escape-sequence' | 'whitespace' | 'comment';

/** PHP ctype_space: every character is one of space, \t, \n, \v, \f, \r. */
function isSpace(token: string): boolean {
  return /^[ \t\n\v\f\r]+$/.test(token);
}

const ESCAPES: Record<string, string> = { f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** One step of EntryParser::processToken: the characters to append, whether they start a variable, the next state; or the cause of a refusal. */
type Step = [chars: string, isVariable: boolean, next: State] | { refused: string };

function processToken(state: State, token: string): Step {
  switch (state) {
    case 'initial':
      if (token === "'") return ['', false, 'single-quoted'];
      if (token === '"') return ['', false, 'double-quoted'];
      if (token === '#') return ['', false, 'comment'];
      return [token, token === '$', 'unquoted'];
    case 'unquoted':
      // A `#` starts a comment anywhere in an unquoted value, with or
      // without a space before it: `abc#def` is `abc`.
      if (token === '#') return ['', false, 'comment'];
      if (isSpace(token)) return ['', false, 'whitespace'];
      return [token, token === '$', 'unquoted'];
    case 'single-quoted':
      if (token === "'") return ['', false, 'whitespace'];
      return [token, false, 'single-quoted'];
    case 'double-quoted':
      if (token === '"') return ['', false, 'whitespace'];
      if (token === '\\') return ['', false, 'escape-sequence'];
      return [token, token === '$', 'double-quoted'];
    case 'escape-sequence': {
      if (token === '"' || token === '\\' || token === '$') return [token, false, 'double-quoted'];
      const escaped = ESCAPES[token[0]!];
      if (escaped === undefined) return { refused: 'an unexpected escape sequence' };
      return [escaped + token.slice(1), false, 'double-quoted'];
    }
    case 'whitespace':
      if (token === '#') return ['', false, 'comment'];
      if (!isSpace(token)) return { refused: 'unexpected whitespace' };
      return ['', false, 'whitespace'];
    case 'comment':
      return ['', false, 'comment'];
  }
}

function parseValue(value: string, line: number, key: string): ParsedValue {
  const parsed: ParsedValue = { chars: '', variables: [] };
  if (value === '') return parsed;
  let state: State = 'initial';
  for (const token of lex(value)) {
    const step = processToken(state, token);
    if (!Array.isArray(step)) throw new LaravelEnvSyntaxError(step.refused, value, line, key);
    const [chars, isVariable, next] = step;
    if (isVariable) parsed.variables.push(parsed.chars.length);
    parsed.chars += chars;
    state = next;
  }
  if (state === 'single-quoted' || state === 'double-quoted' || state === 'escape-sequence') {
    throw new LaravelEnvSyntaxError('a missing closing quote', value, line, key);
  }
  return parsed;
}

// ---- Resolver.php: `${NAME}` from the right to the left, each replaced once

function resolveVariables(value: ParsedValue, lookup: (name: string) => string | undefined): string {
  let text = value.chars;
  for (const offset of [...value.variables].sort((a, b) => b - a)) {
    const rest = text.slice(offset);
    const match = /^\$\{([a-zA-Z0-9_.]+)\}/.exec(rest);
    if (!match) continue;
    const replacement = lookup(match[1]!);
    if (replacement === undefined) continue;
    text = text.slice(0, offset) + replacement + rest.slice(match[0].length);
  }
  return text;
}

// ---- Laravel: Env::get

/**
 * `env(KEY)` in a Laravel config file (Illuminate\Support\Env::get):
 * undefined when the key is not set (the config's default applies),
 * true/false for `true`/`(true)`/`false`/`(false)`, `''` for `empty`/`(empty)`,
 * null for `null`/`(null)` (the default does NOT apply), and a value wrapped
 * in one more pair of matching quotes (`'"secret"'`) without them.
 */
export function laravelEnv(values: EnvValues, key: string): string | boolean | null | undefined {
  if (!Object.hasOwn(values, key)) return undefined;
  const value = values[key]!;
  switch (value.toLowerCase()) {
    case 'true':
    case '(true)':
      return true;
    case 'false':
    case '(false)':
      return false;
    case 'empty':
    case '(empty)':
      return '';
    case 'null':
    case '(null)':
      return null;
  }
  const quoted = /^(['"])([\s\S]*)\1$/.exec(value);
  return quoted ? quoted[2]! : value;
}

/** What PHP makes of an `env()` result used as a string (PDO, DSN): true is "1", false is "". */
export function phpString(value: string | boolean | null | undefined): string | null | undefined {
  if (typeof value === 'boolean') return value ? '1' : '';
  return value;
}

/** `env(KEY)` as the string a database config receives; null and unset both give undefined. */
export function laravelEnvString(values: EnvValues, key: string): string | undefined {
  return phpString(laravelEnv(values, key)) ?? undefined;
}

// ---- reading the file

/**
 * Reads and parses the `.env` a source's `env_file` names; unreadable or
 * refused by phpdotenv is a ConfigError naming the field and the line.
 */
export function readLaravelEnvFile(path: string, field: string, sourceName: string, options: ParseOptions = {}): EnvValues {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by restorable' : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError(`${field}: ${path} ${why}`, {
      where: { source: sourceName, path },
      remedy: `fix ${field}, or make ${path} readable by the user restorable runs as`,
      cause: error,
    });
  }
  try {
    return parseLaravelEnv(text, options);
  } catch (error) {
    if (!(error instanceof LaravelEnvSyntaxError)) throw error;
    // phpdotenv's message quotes the value: it may be a password, so only the cause and the key.
    const what = error.key ? `the value of ${error.key}: ${error.reason}` : error.reason;
    throw new ConfigError(`${field}: ${path} line ${error.line}: phpdotenv refuses ${what}, so Laravel stops too ("The environment file is invalid!")`, {
      where: { source: sourceName, path },
      remedy: `fix line ${error.line} of ${path} (quote a value that holds spaces: KEY="a b")`,
    });
  }
}

/** The Laravel application directory a `.env` belongs to (where config/ and database/ are). */
export function laravelAppDir(envPath: string): string {
  return dirname(envPath);
}
