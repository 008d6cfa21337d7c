// The structure rules of the codebase (issue 12, "done when"), checked on the
// source text of src/ so that a change that breaks one fails here with the
// offending file and line, not in a later review.
//
// Layers, lowest first. A module may import its own layer or a lower one, never
// a higher one:
//
//   0 core                      pure logic, no I/O, imports nothing of ours
//   1 process, stages, storage  mechanisms: child processes, codecs, where sets live
//   2 config                    the schema and loading (imports core only today;
//                               above storage so that storage takes settings as
//                               arguments instead of reading the config)
//   3 sources, checks, notify   the kinds, monitor checks and notifiers, read config
//   4 jobs                      the use cases shared by the CLI and a daemon
//   5 cli, daemon               argv in, rendering out
//
// So notify/checks/sources/stages/storage never import jobs or cli, and a
// source kind never reaches up into the jobs that run it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');

const LAYER_OF_DIRECTORY: Record<string, number> = {
  core: 0,
  process: 1,
  stages: 1,
  storage: 1,
  config: 2,
  sources: 3,
  checks: 3,
  notify: 3,
  schedule: 3,
  jobs: 4,
  cli: 5,
};

const MAX_FILE_LINES = 450;
const MAX_JOBS_LINES = 2600;

interface SourceFile {
  /** Path relative to src/, with forward slashes (`jobs/verify.ts`). */
  path: string;
  directory: string;
  text: string;
  lines: string[];
}

function sourceFiles(directory = SRC): SourceFile[] {
  return readdirSync(directory)
    .sort()
    .flatMap((name) => {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      if (!/\.(ts|mts|mjs|js)$/.test(name) || name.endsWith('.d.ts')) return [];
      const text = readFileSync(path, 'utf8');
      const relativePath = relative(SRC, path).split(sep).join('/');
      return [{ path: relativePath, directory: relativePath.split('/')[0]!, text, lines: text.split('\n') }];
    });
}

const files = sourceFiles();

/** Every relative module specifier of a file, with its line: static, re-export, side-effect and dynamic imports. */
function importsOf(file: SourceFile): { line: number; specifier: string }[] {
  const found: { line: number; specifier: string }[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const match of file.text.matchAll(pattern)) {
    const line = file.text.slice(0, match.index).split('\n').length;
    found.push({ line, specifier: match[1]! });
  }
  return found;
}

/** The top-level directory of src/ an import lands in, or undefined when it leaves src/. */
function directoryOfImport(file: SourceFile, specifier: string): string | undefined {
  const target = relative(SRC, resolve(SRC, dirname(file.path), specifier)).split(sep);
  if (target[0] === '..') return undefined;
  return target.length > 1 ? target[0] : '(src root)';
}

test('the layer table knows every directory of src/', () => {
  const unknown = [...new Set(files.map((file) => file.directory))].filter((directory) => !(directory in LAYER_OF_DIRECTORY));
  assert.equal(unknown.length, 0, `place these directories in LAYER_OF_DIRECTORY of test/architecture.test.ts: ${unknown.join(', ')}`);
});

test('no module imports from a higher layer (notify/checks/sources/stages/storage never import jobs or cli)', () => {
  const offenders: string[] = [];
  for (const file of files) {
    const ownLayer = LAYER_OF_DIRECTORY[file.directory];
    if (ownLayer === undefined) continue;
    for (const { line, specifier } of importsOf(file)) {
      const target = directoryOfImport(file, specifier);
      if (target === undefined || target === file.directory) continue;
      const targetLayer = LAYER_OF_DIRECTORY[target];
      if (targetLayer === undefined || targetLayer > ownLayer) {
        offenders.push(`src/${file.path}:${line} (${file.directory}, layer ${ownLayer}) imports ${specifier} (${target}, layer ${targetLayer ?? '?'})`);
      }
    }
  }
  assert.equal(offenders.length, 0, `imports against the layers:\n  ${offenders.join('\n  ')}`);
});

test('core imports nothing of ours outside core/', () => {
  const offenders = files
    .filter((file) => file.directory === 'core')
    .flatMap((file) =>
      importsOf(file)
        .filter(({ specifier }) => directoryOfImport(file, specifier) !== 'core')
        .map(({ line, specifier }) => `src/${file.path}:${line} imports ${specifier}`),
    );
  assert.equal(offenders.length, 0, `core/ must stay pure:\n  ${offenders.join('\n  ')}`);
});

/**
 * A branch on an artifact's (or a source's) kind: `switch (artifact.type)`,
 * `.type === 'mysql'`, `case 'sqlite':`, `kind !== 'files'`. The kinds are the
 * built-in ones plus postgres, which a speculative branch once named.
 */
const KIND_NAMES = ['mysql', 'sqlite', 'files', 'postgres', 'postgresql'];
const KIND_BRANCH_PATTERNS: RegExp[] = [
  /\bswitch\s*\([^)]*\b(?:type|kind)\s*\)/,
  new RegExp(`(?:\\.type|\\bkind|\\btype)\\s*[!=]==?\\s*['"](?:${KIND_NAMES.join('|')})['"]`),
  new RegExp(`['"](?:${KIND_NAMES.join('|')})['"]\\s*[!=]==?\\s*(?:[\\w.]*\\.type|kind|type)\\b`),
  new RegExp(`\\bcase\\s+['"](?:${KIND_NAMES.join('|')})['"]\\s*:`),
];

test('jobs/ never branches on an artifact kind (the driver from the registry decides)', () => {
  const offenders: string[] = [];
  for (const file of files.filter((candidate) => candidate.directory === 'jobs')) {
    file.lines.forEach((text, index) => {
      const code = text.replace(/\/\/.*$/, '');
      if (KIND_BRANCH_PATTERNS.some((pattern) => pattern.test(code))) offenders.push(`src/${file.path}:${index + 1}: ${text.trim()}`);
    });
  }
  assert.equal(offenders.length, 0, `branches on a kind in jobs/:\n  ${offenders.join('\n  ')}`);
});

function lineCount(file: SourceFile): number {
  // `wc -l`: a final newline ends the last line rather than starting another.
  return file.text.endsWith('\n') ? file.lines.length - 1 : file.lines.length;
}

test(`jobs/ is at most ${MAX_JOBS_LINES} lines in total`, () => {
  const jobs = files.filter((file) => file.directory === 'jobs').map((file) => ({ path: file.path, lines: lineCount(file) }));
  const total = jobs.reduce((sum, file) => sum + file.lines, 0);
  const largest = [...jobs].sort((a, b) => b.lines - a.lines).map((file) => `src/${file.path}: ${file.lines}`);
  assert.ok(total <= MAX_JOBS_LINES, `jobs/ has ${total} lines (at most ${MAX_JOBS_LINES}), largest first:\n  ${largest.join('\n  ')}`);
});

test(`no file in src/ is above ${MAX_FILE_LINES} lines`, () => {
  const offenders = files
    .map((file) => ({ path: file.path, lines: lineCount(file) }))
    .filter((file) => file.lines > MAX_FILE_LINES)
    .sort((a, b) => b.lines - a.lines)
    .map((file) => `src/${file.path}: ${file.lines} lines`);
  assert.equal(offenders.length, 0, `files above ${MAX_FILE_LINES} lines (split by responsibility):\n  ${offenders.join('\n  ')}`);
});
