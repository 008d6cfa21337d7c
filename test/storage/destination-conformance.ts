// The conformance suite every Destination must pass (modelled on restic's
// internal/backend/test): the contract in src/storage/destination.ts, checked
// through the interface only. A destination's own test file calls
// `destinationConformance(name, fixture)`; local-destination.test.ts runs it
// on the local destination, an S3 or SFTP driver will run it on theirs.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ALREADY_EXISTS, isNotFound, SHORT_READ, type Destination, type ReopenableSource } from '../../src/storage/destination.ts';
import { RestorableError } from '../../src/core/errors.ts';

export interface DestinationFixture {
  /** An empty destination of the kind under test, removed when the test ends. */
  destination: Destination;
  /** Shortens a stored file behind the destination's back, if the kind allows it (for the short-read check). */
  truncate?: (path: string, sizeBytes: number) => Promise<void>;
}

const MiB = 1024 * 1024;

/** A source that yields `bytes` in 64 KiB chunks (a fresh stream per call). */
export function sourceOf(bytes: Buffer): ReopenableSource {
  return () => Readable.from((function* () { for (let offset = 0; offset < bytes.length; offset += 64 * 1024) yield bytes.subarray(offset, offset + 64 * 1024); })());
}

/** A source that yields `before` bytes and then fails (a producer or a network that broke off). */
export function failingSource(before: Buffer): ReopenableSource {
  return () =>
    Readable.from(
      (async function* () {
        yield before;
        throw new Error('the source broke off');
      })(),
    );
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Reads a whole get, or rejects: a contract error may come from the get itself or from its stream. */
async function getAll(destination: Destination, path: string, range?: { offset: number; length?: number }): Promise<Buffer> {
  return readAll(await destination.get(path, range));
}

function hasCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RestorableError, `a RestorableError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

export function destinationConformance(kind: string, makeFixture: (t: TestContext) => Promise<DestinationFixture>): void {
  test(`${kind} destination: put then get returns the bytes, and stat their size (empty, small, several MiB)`, async (t) => {
    const { destination } = await makeFixture(t);
    for (const [path, bytes] of [['db/empty.sql.gz', Buffer.alloc(0)], ['db/small.sql.gz', Buffer.from('hello\n')], ['files/big.tar.gz', randomBytes(3 * MiB + 17)]] as const) {
      const stored = await destination.put(path, sourceOf(bytes));
      assert.deepEqual(stored, { path, sizeBytes: bytes.length });
      assert.deepEqual(await destination.stat(path), { path, sizeBytes: bytes.length });
      assert.ok((await getAll(destination, path)).equals(bytes), `${path} round trip`);
    }
    assert.match(destination.describe(), /\S/, 'describe() names the destination');
  });

  test(`${kind} destination: a ranged get returns exactly that range`, async (t) => {
    const { destination } = await makeFixture(t);
    const bytes = randomBytes(2 * MiB + 5);
    await destination.put('files/range.bin', sourceOf(bytes));
    assert.ok((await getAll(destination, 'files/range.bin', { offset: 1000, length: 70_000 })).equals(bytes.subarray(1000, 71_000)));
    assert.ok((await getAll(destination, 'files/range.bin', { offset: MiB + 3 })).equals(bytes.subarray(MiB + 3)), 'from an offset to the end');
    assert.equal((await getAll(destination, 'files/range.bin', { offset: 10, length: 0 })).length, 0, 'an empty range');
    assert.ok((await getAll(destination, 'files/range.bin', { offset: bytes.length - 1, length: 1 })).equals(bytes.subarray(-1)), 'the last byte');
  });

  test(`${kind} destination: a range past the end is a short read, never fewer bytes in silence`, async (t) => {
    const { destination } = await makeFixture(t);
    await destination.put('db/short.sql.gz', sourceOf(Buffer.alloc(1000, 1)));
    await assert.rejects(getAll(destination, 'db/short.sql.gz', { offset: 900, length: 200 }), hasCode(SHORT_READ));
    await assert.rejects(getAll(destination, 'db/short.sql.gz', { offset: 2000 }), hasCode(SHORT_READ));
  });

  test(`${kind} destination: a file that shrinks while it is read is detected (SHORT_READ)`, async (t) => {
    const fixture = await makeFixture(t);
    if (!fixture.truncate) return t.skip('this kind cannot shorten a stored file behind its back');
    const bytes = randomBytes(3 * MiB);
    await fixture.destination.put('db/shrinks.sql.gz', sourceOf(bytes));
    const stream = await fixture.destination.get('db/shrinks.sql.gz');
    await fixture.truncate('db/shrinks.sql.gz', MiB);
    await assert.rejects(readAll(stream), hasCode(SHORT_READ));
  });

  test(`${kind} destination: stat and get of a missing file are NOT_FOUND; remove of one is no error`, async (t) => {
    const { destination } = await makeFixture(t);
    await assert.rejects(destination.stat('manifests/2026-03-01_03-00-00.json'), (error) => isNotFound(error));
    await assert.rejects(destination.get('manifests/2026-03-01_03-00-00.json'), (error) => isNotFound(error));
    await destination.remove('manifests/2026-03-01_03-00-00.json');
  });

  test(`${kind} destination: list shows the files under a prefix, sorted, and nothing of other prefixes`, async (t) => {
    const { destination } = await makeFixture(t);
    assert.deepEqual(await destination.list('manifests'), [], 'an absent prefix lists nothing');
    for (const path of ['manifests/b.json', 'manifests/a.json', 'db/a.sql.gz']) await destination.put(path, sourceOf(Buffer.from(path)));
    assert.deepEqual(await destination.list('manifests'), [
      { path: 'manifests/a.json', sizeBytes: 16 },
      { path: 'manifests/b.json', sizeBytes: 16 },
    ]);
    assert.deepEqual((await destination.list('db')).map((file) => file.path), ['db/a.sql.gz']);
  });

  test(`${kind} destination: remove takes a file away for stat, get and list`, async (t) => {
    const { destination } = await makeFixture(t);
    await destination.put('db/gone.sql.gz', sourceOf(Buffer.from('x')));
    await destination.put('db/stays.sql.gz', sourceOf(Buffer.from('y')));
    await destination.remove('db/gone.sql.gz');
    await assert.rejects(destination.stat('db/gone.sql.gz'), (error) => isNotFound(error));
    await assert.rejects(destination.get('db/gone.sql.gz'), (error) => isNotFound(error));
    assert.deepEqual((await destination.list('db')).map((file) => file.path), ['db/stays.sql.gz']);
  });

  test(`${kind} destination: a stored file is never overwritten (ALREADY_EXISTS, the first content stays)`, async (t) => {
    const { destination } = await makeFixture(t);
    await destination.put('manifests/set.json', sourceOf(Buffer.from('first')));
    await assert.rejects(destination.put('manifests/set.json', sourceOf(Buffer.from('second'))), hasCode(ALREADY_EXISTS));
    assert.equal((await getAll(destination, 'manifests/set.json')).toString(), 'first');
  });

  test(`${kind} destination: a put whose source fails leaves nothing visible, and the path can be put again`, async (t) => {
    const { destination } = await makeFixture(t);
    await assert.rejects(destination.put('files/broken.tar.gz', failingSource(randomBytes(256 * 1024))), /broke off/);
    await assert.rejects(destination.stat('files/broken.tar.gz'), (error) => isNotFound(error));
    assert.deepEqual(await destination.list('files'), [], 'no partial file is listed');
    await destination.put('files/broken.tar.gz', sourceOf(Buffer.from('whole')));
    assert.equal((await getAll(destination, 'files/broken.tar.gz')).toString(), 'whole');
  });

  test(`${kind} destination: a put still in progress is not listed`, async (t) => {
    const { destination } = await makeFixture(t);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const slow: ReopenableSource = () =>
      Readable.from(
        (async function* () {
          yield Buffer.alloc(64 * 1024, 1);
          started();
          await released;
          yield Buffer.alloc(64 * 1024, 2);
        })(),
      );
    const putting = destination.put('files/slow.tar.gz', slow);
    await isStarted;
    assert.deepEqual(await destination.list('files'), [], 'half-written: not listed');
    await assert.rejects(destination.stat('files/slow.tar.gz'), (error) => isNotFound(error));
    release();
    assert.equal((await putting).sizeBytes, 128 * 1024);
    assert.deepEqual((await destination.list('files')).map((file) => file.path), ['files/slow.tar.gz']);
  });

  test(`${kind} destination: a path that would leave the root is refused by every operation`, async (t) => {
    const { destination } = await makeFixture(t);
    for (const path of ['../escape.json', 'db/../../escape.json', '/etc/passwd', 'db//x', '', 'db/./x']) {
      await assert.rejects(destination.put(path, sourceOf(Buffer.from('x'))), RestorableError, `put ${JSON.stringify(path)}`);
      await assert.rejects(destination.get(path), RestorableError, `get ${JSON.stringify(path)}`);
      await assert.rejects(destination.stat(path), RestorableError, `stat ${JSON.stringify(path)}`);
      await assert.rejects(destination.remove(path), RestorableError, `remove ${JSON.stringify(path)}`);
    }
    await assert.rejects(destination.list('..'), RestorableError, 'list ..');
  });
}
