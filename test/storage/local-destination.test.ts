// The local destination: the conformance suite every destination passes, then
// what only a local disk has (modes, symlinks planted below the root), then the
// wrappers composed around it (retry, dry run, log, faults).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../support/temp.ts';
import { destinationConformance, failingSource, readAll, sourceOf } from './destination-conformance.ts';
import { LocalDestination } from '../../src/storage/local-destination.ts';
import { composeDestination, type DestinationEvent } from '../../src/storage/destination-wrappers.ts';
import { isLinkInPlaceOfFile, isNotFound, type Destination, type ReopenableSource } from '../../src/storage/destination.ts';
import { RestorableError } from '../../src/core/errors.ts';

destinationConformance('local', async (t) => {
  const root = join(tempDir(t), 'repository');
  return { destination: new LocalDestination(root), truncate: async (path, size) => truncateSync(join(root, path), size) };
});

test('local destination: files are 0600 and the directories it creates 0700, whatever the umask', async (t) => {
  const root = join(tempDir(t), 'repository');
  const previous = process.umask(0o022);
  try {
    await new LocalDestination(root).put('db/a/b.sql.gz', sourceOf(Buffer.from('x')));
  } finally {
    process.umask(previous);
  }
  assert.equal(statSync(join(root, 'db/a/b.sql.gz')).mode & 0o777, 0o600);
  assert.equal(statSync(join(root, 'db/a')).mode & 0o777, 0o700);
  assert.equal(statSync(join(root, 'db')).mode & 0o777, 0o700);
});

test('local destination: a failed put leaves no .partial behind', async (t) => {
  const root = join(tempDir(t), 'repository');
  await assert.rejects(new LocalDestination(root).put('db/x.sql.gz', failingSource(Buffer.alloc(100_000))));
  assert.deepEqual(readdirSync(join(root, 'db')), []);
});

test('local destination: no symlink below the root is followed', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'repository');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'db'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'not yours\n');
  const destination = new LocalDestination(root);

  // A link in place of a stored file: refused for reading (the file is damaged), removed as a link.
  symlinkSync(join(outside, 'secret'), join(root, 'db', 'link.sql.gz'));
  await assert.rejects(destination.get('db/link.sql.gz'), (error) => isLinkInPlaceOfFile(error));
  await assert.rejects(destination.stat('db/link.sql.gz'), (error) => isLinkInPlaceOfFile(error));
  await assert.rejects(destination.put('db/link.sql.gz', sourceOf(Buffer.from('x'))), RestorableError, 'never written through');
  await destination.remove('db/link.sql.gz');
  assert.equal(lstatSync(join(root, 'db', 'link.sql.gz'), { throwIfNoEntry: false }), undefined, 'the link is gone');
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'not yours\n', 'its target is untouched');

  // A link in place of a directory: the whole destination is unsafe, for every operation.
  symlinkSync(outside, join(root, 'files'));
  for (const attempt of [
    () => destination.get('files/secret'),
    () => destination.stat('files/secret'),
    () => destination.list('files'),
    () => destination.remove('files/secret'),
    () => destination.put('files/new', sourceOf(Buffer.from('x'))),
  ]) {
    await assert.rejects(attempt(), (error: RestorableError) => error.code === 'REPOSITORY_UNSAFE' && !isLinkInPlaceOfFile(error));
  }
  assert.deepEqual(readdirSync(outside), ['secret'], 'nothing created or removed outside');
});

test('local destination: the root itself may be a link (the operator chose it)', async (t) => {
  const base = tempDir(t);
  mkdirSync(join(base, 'data'));
  symlinkSync(join(base, 'data'), join(base, 'backups'));
  const destination = new LocalDestination(join(base, 'backups'));
  await destination.put('manifests/a.json', sourceOf(Buffer.from('{}')));
  assert.ok(existsSync(join(base, 'data', 'manifests', 'a.json')));
});

// ---- wrappers --------------------------------------------------------------------

function countingSource(bytes: Buffer): { source: ReopenableSource; opened: () => number } {
  let opened = 0;
  const inner = sourceOf(bytes);
  return { source: () => (opened++, inner()), opened: () => opened };
}

test('retry: transient failures are retried (a put re-reads its source), up to the bound', async (t) => {
  const root = join(tempDir(t), 'repository');
  const flaky = composeDestination(new LocalDestination(root), { faults: { transient: { count: 2 } }, retry: { attempts: 3, delayMs: 1 } });
  const { source, opened } = countingSource(Buffer.from('content'));
  await flaky.put('db/a.sql.gz', source);
  assert.equal(opened(), 1, 'the two reset attempts failed before reading; the third read the source once');
  assert.equal(readFileSync(join(root, 'db/a.sql.gz'), 'utf8'), 'content');

  const hopeless = composeDestination(new LocalDestination(root), { faults: { transient: { count: 5 } }, retry: { attempts: 3, delayMs: 1 } });
  await assert.rejects(hopeless.stat('db/a.sql.gz'), /connection reset/, 'three attempts, then the error');
  assert.deepEqual(await hopeless.stat('db/a.sql.gz'), { path: 'db/a.sql.gz', sizeBytes: 7 }, 'the next call: its three attempts outlast the two faults left');
});

test('retry: a failure that is not transient is not retried', async (t) => {
  const root = join(tempDir(t), 'repository');
  let calls = 0;
  const base = new LocalDestination(root);
  const counting: Destination = { ...wrapAll(base), stat: (path) => (calls++, base.stat(path)) };
  const retried = composeDestination(counting, { retry: { attempts: 5, delayMs: 1 } });
  await assert.rejects(retried.stat('db/missing.sql.gz'), (error) => isNotFound(error));
  assert.equal(calls, 1, 'NOT_FOUND is an answer, not a hiccup');
});

test('retry: a put whose source fails mid-way and succeeds on the next attempt stores the whole file once', async (t) => {
  const root = join(tempDir(t), 'repository');
  let attempt = 0;
  const whole = Buffer.alloc(300_000, 7);
  const source: ReopenableSource = () => (attempt++ === 0 ? failingSourceTransient(whole.subarray(0, 100_000))() : sourceOf(whole)());
  await composeDestination(new LocalDestination(root), { retry: { attempts: 2, delayMs: 1 } }).put('files/a.tar.gz', source);
  assert.equal(attempt, 2);
  assert.ok(readFileSync(join(root, 'files/a.tar.gz')).equals(whole));
});

test('dry run: puts and removes are logged, not done; reads pass through', async (t) => {
  const root = join(tempDir(t), 'repository');
  const base = new LocalDestination(root);
  await base.put('db/kept.sql.gz', sourceOf(Buffer.from('kept')));
  const events: DestinationEvent[] = [];
  const dry = composeDestination(base, { dryRun: true, log: (event) => events.push(event) });
  const { source, opened } = countingSource(Buffer.from('new'));
  await dry.put('db/new.sql.gz', source);
  await dry.remove('db/kept.sql.gz');
  assert.equal(opened(), 0, 'the source is never opened');
  assert.ok(!existsSync(join(root, 'db/new.sql.gz')));
  assert.equal(readFileSync(join(root, 'db/kept.sql.gz'), 'utf8'), 'kept');
  assert.equal((await readAll(await dry.get('db/kept.sql.gz'))).toString(), 'kept');
  assert.deepEqual(
    events.map(({ operation, path, dryRun }) => ({ operation, path, dryRun })),
    [
      { operation: 'put', path: 'db/new.sql.gz', dryRun: true },
      { operation: 'remove', path: 'db/kept.sql.gz', dryRun: true },
      { operation: 'get', path: 'db/kept.sql.gz', dryRun: undefined },
    ],
  );
});

test('log: each operation once, with its error', async (t) => {
  const root = join(tempDir(t), 'repository');
  const events: DestinationEvent[] = [];
  const logged = composeDestination(new LocalDestination(root), { log: (event) => events.push(event) });
  await logged.put('db/a.sql.gz', sourceOf(Buffer.from('a')));
  await assert.rejects(logged.stat('db/b.sql.gz'));
  assert.deepEqual(events.map((event) => [event.operation, event.path, isNotFound(event.error)]), [
    ['put', 'db/a.sql.gz', false],
    ['stat', 'db/b.sql.gz', true],
  ]);
});

test('faults: an injected failed put leaves nothing visible; an injected short read ends the stream early', async (t) => {
  const root = join(tempDir(t), 'repository');
  const base = new LocalDestination(root);
  const faulty = composeDestination(base, { faults: { failPut: (path) => path.startsWith('manifests/'), shortRead: (path) => (path === 'db/a.sql.gz' ? 10 : undefined) } });
  await assert.rejects(faulty.put('manifests/x.json', sourceOf(Buffer.alloc(200_000, 1))), (error: RestorableError) => error.code === 'INJECTED_FAULT');
  await assert.rejects(base.stat('manifests/x.json'), (error) => isNotFound(error));
  assert.deepEqual(readdirSync(join(root, 'manifests')), [], 'no partial either');
  await faulty.put('db/a.sql.gz', sourceOf(Buffer.alloc(1000, 2)));
  assert.equal((await readAll(await faulty.get('db/a.sql.gz'))).length, 10);
  assert.equal((await readAll(await faulty.get('db/a.sql.gz', { offset: 0, length: 1000 }))).length, 10);
});

/** Every method of `inner`, bound (to override one in a test double). */
function wrapAll(inner: Destination): Destination {
  return {
    describe: () => inner.describe(),
    stat: (path) => inner.stat(path),
    list: (prefix) => inner.list(prefix),
    put: (path, source, options) => inner.put(path, source, options),
    get: (path, range) => inner.get(path, range),
    remove: (path) => inner.remove(path),
  };
}

/** Yields `before`, then fails the way a dropped connection does (a transient error). */
function failingSourceTransient(before: Buffer): ReopenableSource {
  return () =>
    Readable.from(
      (async function* () {
        yield before;
        throw Object.assign(new Error('connection reset while reading the source'), { code: 'ECONNRESET' });
      })(),
    );
}
