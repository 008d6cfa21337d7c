// A source kind registered by this test alone, with nothing of it in src/:
// `lines` (a text file whose artifact is the file itself), once as a
// database-like kind (`restore db` restores it into a file) and once as a
// files-like kind (`restore files` restores it into a directory). Backup,
// verify, restore and drill run on it through the real commands and jobs,
// which find everything they need in the registry: the proof that a new kind
// is one module plus one registerSourceKind call (docs/architecture.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { main } from '../../src/cli/main.ts';
import { registerSourceKind } from '../../src/sources/registry.ts';
import type { ArtifactContent, SourceDriver } from '../../src/sources/source.ts';
import type { ContentCheck, ContentFindings } from '../../src/sources/source-verify.ts';
import { wrongTarget, type DrillContext, type DrillMeasurement, type RestoreContext, type Restored, type RestoreTarget } from '../../src/sources/source-restore.ts';
import { assertReadSound, readVerified } from '../../src/storage/verified-read.ts';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';

interface LinesSettings {
  path: string;
}

/** What the backup records: the drill and the content check compare against it. */
interface LinesFacts {
  lines: number;
  textSha256: string;
}

function factsOf(text: Buffer): LinesFacts {
  return { lines: text.toString('utf8').split('\n').filter(Boolean).length, textSha256: createHash('sha256').update(text).digest('hex') };
}

function recordedFacts(details: Record<string, unknown>): LinesFacts {
  return { lines: details.lines as number, textSha256: details.textSha256 as string };
}

/** A writable that keeps what it is given (the artifacts here are a few lines). */
function collector(): { sink: Writable; text: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { sink, text: () => Buffer.concat(chunks) };
}

function differencesFrom(recorded: LinesFacts, restored: LinesFacts): string[] {
  const differences: string[] = [];
  if (restored.lines !== recorded.lines) differences.push(`${restored.lines} lines read back, ${recorded.lines} recorded`);
  if (restored.textSha256 !== recorded.textSha256) differences.push('the text differs from the one backed up');
  return differences;
}

function linesDriver(type: string, content: ArtifactContent): SourceDriver<LinesSettings> {
  const restoreLines = async (context: RestoreContext, target: RestoreTarget): Promise<Restored> => {
    if (target.content !== content) return wrongTarget(context.artifact, target);
    const settings = context.settings() as LinesSettings | undefined;
    const into =
      target.content === 'database'
        ? resolve(target.into ?? `${settings?.path ?? context.artifact.source}.restored`)
        : join(resolve(target.to), basename(settings?.path ?? `${context.artifact.source}.txt`));
    await mkdir(resolve(into, '..'), { recursive: true });
    const existed = await stat(into).then(() => true, () => false);
    const read = await readVerified(context.reader, context.artifact, [createWriteStream(into, { mode: 0o600 })], context.signal);
    assertReadSound(context.artifact, read);
    const text = await readFile(into);
    context.log.step(`restored ${context.artifact.source} into ${into}`);
    if (target.content === 'database') return { content: 'database', target: `file ${into}`, created: !existed, rawBytes: text.length };
    return {
      content: 'files',
      target: resolve(target.to),
      placement: 'created',
      paths: target.paths,
      entries: { files: 1, dirs: 0, symlinks: 0, hardlinks: 0 },
      sizeBytes: read.sizeBytes,
    };
  };

  return {
    type,
    extension: 'txt',
    content,
    async preflight(context) {
      await stat(context.config.path);
      return { notes: [`${context.sourceName}: ${context.config.path}`], warnings: [] };
    },
    async produce(context) {
      const text = readFileSync(context.config.path);
      return { stream: Readable.from([text]), completed: Promise.resolve({ warnings: [], details: { ...factsOf(text) }, degraded: false }) };
    },
    checkContent(artifact): ContentCheck {
      const { sink, text } = collector();
      return {
        stages: async () => [sink],
        conclude: async (): Promise<ContentFindings> => {
          const differences = differencesFrom(recordedFacts(artifact.details), factsOf(text()));
          return {
            passed: differences.length === 0 ? ['entries'] : [],
            failures: differences.map((message) => ({ check: 'entries' as const, message })),
            facts: { lines: factsOf(text()).lines },
          };
        },
        dispose: async () => {},
      };
    },
    restore: restoreLines,
    async drill(context: DrillContext): Promise<DrillMeasurement> {
      const scratchCopy = join(context.scratchDir, `${context.artifact.source}.txt`);
      context.stopwatch.start();
      assertReadSound(context.artifact, await readVerified(context.reader, context.artifact, [createWriteStream(scratchCopy, { mode: 0o600 })], context.signal));
      const restoreMs = context.stopwatch.stop();
      const compareStarted = performance.now();
      const restored = factsOf(await readFile(scratchCopy));
      await rm(scratchCopy, { force: true });
      const differences = differencesFrom(recordedFacts(context.artifact.details), restored);
      return { ok: differences.length === 0, restoreMs, compareMs: performance.now() - compareStarted, compared: `${restored.lines} lines`, differences, notes: [] };
    },
    restoreByHand: (artifact) => `gzip -dc ${basename(artifact.path)} > ${artifact.source}.txt`,
  };
}

function registerLinesKind(type: string, content: ArtifactContent): void {
  registerSourceKind<{ type: string; path: string }, LinesSettings>({
    type,
    section: z.strictObject({ type: z.literal(type), path: z.string().min(1).describe('The text file.') }),
    driver: linesDriver(type, content),
    prepare: (_name, section, configDir) => ({ path: resolve(configDir, section.path) }),
  });
}

registerLinesKind('lines', 'files');
registerLinesKind('lines-db', 'database');

/** Runs a command in this process (where the kinds are registered); its exit code and what it printed. */
async function restorable(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = collector();
  const err = collector();
  const code = await main(argv, { json: argv.includes('--json'), out: out.sink, err: err.sink });
  return { code, stdout: out.text().toString('utf8'), stderr: err.text().toString('utf8') };
}

test('a kind registered only by a test is backed up, verified, restored (db and files) and drilled through the jobs', async (t) => {
  const root = tempDir(t);
  const notes = join(root, 'notes.txt');
  const journal = join(root, 'journal.txt');
  writeFileSync(notes, 'first note\nsecond note\nthird note\n');
  writeFileSync(journal, 'opened the shop\nsold a lamp\n');
  const configPath = join(root, 'restorable.yml');
  writeFileSync(
    configPath,
    `app: lines-app\nrepository: ${join(root, 'repository')}\nsources:\n  notes: { type: lines, path: notes.txt }\n  journal: { type: lines-db, path: ${journal} }\n`,
    { mode: 0o600 },
  );
  initRepositoryOf(configPath);

  assert.equal((await restorable('config', 'validate', '-c', configPath)).code, 0, 'the config accepts the registered kinds');
  const unknown = join(root, 'unknown.yml');
  writeFileSync(unknown, `app: lines-app\nsources:\n  notes: { type: poems, path: notes.txt }\n`, { mode: 0o600 });
  const refused = await restorable('config', 'validate', '-c', unknown);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /sources\.notes\.type: expected one of "mysql", "postgres", "sqlite", "files", "lines", "lines-db", got "poems"/);

  const backup = await restorable('backup', '--json', '-c', configPath);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const setId = JSON.parse(backup.stdout).setId as string;
  const manifestFile = join(root, 'repository', 'manifests', `${setId}.json`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { setId: string; artifacts: Array<{ source: string; type: string; path: string; details: Record<string, unknown> }> };
  const bySource = Object.fromEntries(manifest.artifacts.map((artifact) => [artifact.source, artifact]));
  assert.equal(bySource.notes?.type, 'lines');
  assert.equal(bySource.journal?.type, 'lines-db');
  assert.deepEqual(recordedFacts(bySource.notes!.details), factsOf(readFileSync(notes)));
  assert.match(bySource.notes!.path, new RegExp(`^notes/notes_backup_${setId}\\.txt\\.gz$`));

  const verify = await restorable('verify', '--json', '-c', configPath);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const verified = JSON.parse(verify.stdout);
  assert.equal(verified.status, 'ok');
  const files = verified.sets[0].files as Array<{ path: string; passed: string[] }>;
  assert.ok(files.find((file) => file.path === bySource.notes!.path)?.passed.includes('entries'), `the kind's content check ran: ${JSON.stringify(files)}`);

  const restoredJournal = join(root, 'restored', 'journal.txt');
  const restoreDb = await restorable('restore', 'db', '--source', 'journal', '--into', restoredJournal, '-c', configPath);
  assert.equal(restoreDb.code, 0, restoreDb.stdout + restoreDb.stderr);
  assert.equal(readFileSync(restoredJournal, 'utf8'), readFileSync(journal, 'utf8'));

  const restoredNotes = join(root, 'restored-notes');
  const restoreFiles = await restorable('restore', 'files', '--source', 'notes', '--to', restoredNotes, '-c', configPath);
  assert.equal(restoreFiles.code, 0, restoreFiles.stdout + restoreFiles.stderr);
  assert.equal(readFileSync(join(restoredNotes, 'notes.txt'), 'utf8'), readFileSync(notes, 'utf8'));

  const drill = await restorable('drill', '--json', '-c', configPath);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const drilled = JSON.parse(drill.stdout) as { status: string; results: Array<{ source: string; type: string; ok: boolean; compared: string }> };
  assert.equal(drilled.status, 'ok');
  assert.deepEqual(
    drilled.results.map(({ source, type, ok, compared }) => ({ source, type, ok, compared })).sort((a, b) => a.source.localeCompare(b.source)),
    [
      { source: 'journal', type: 'lines-db', ok: true, compared: '2 lines' },
      { source: 'notes', type: 'lines', ok: true, compared: '3 lines' },
    ],
  );

  // The kind's own check and comparison judge the content: a manifest recording other facts fails both.
  const stored = JSON.parse(readFileSync(manifestFile, 'utf8'));
  stored.artifacts.find((artifact: { source: string }) => artifact.source === 'notes').details.lines = 99;
  writeFileSync(manifestFile, JSON.stringify(stored, null, 2));
  const damaged = await restorable('verify', '--json', '-c', configPath);
  assert.equal(damaged.code, 2, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout, /3 lines read back, 99 recorded/);
  const failedDrill = await restorable('drill', '--json', '-c', configPath);
  assert.equal(failedDrill.code, 2, failedDrill.stdout + failedDrill.stderr);
  const failed = (JSON.parse(failedDrill.stdout).results as Array<{ source: string; ok: boolean; differences: string[] }>).find((result) => result.source === 'notes');
  assert.deepEqual({ ok: failed?.ok, differences: failed?.differences }, { ok: false, differences: ['3 lines read back, 99 recorded'] });
});
