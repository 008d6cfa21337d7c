// Faults injected through the destination wrapper (composeDestination's
// `faults`), not through any switch in a job or driver, are handled by the
// jobs as a real failing disk or remote would be: a failed put of the
// manifest publishes nothing and leaves earlier sets untouched; a short read
// makes verify report the set damaged instead of passing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { makeSampleApp } from '../support/sample-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { runVerify } from '../../src/jobs/verify.ts';
import { silentReporter } from '../../src/core/ports.ts';
import { composeDestination } from '../../src/storage/destination-wrappers.ts';
import { LocalDestination } from '../../src/storage/local-destination.ts';
import { DestinationSetReader } from '../../src/storage/set-reader.ts';

const at = (iso: string) => ({ now: () => new Date(iso) });

/** Every file under `dir` (the run history and logs aside) with its sha256. */
function filesWithHashes(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else found.set(relative(dir, child), createHash('sha256').update(readFileSync(child)).digest('hex'));
    }
  };
  walk(dir);
  return found;
}

function setFiles(repository: string): string[] {
  return [...filesWithHashes(repository).keys()].filter((path) => !path.startsWith('.restorable/') && !path.startsWith('logs/')).sort();
}

test('a put that fails (injected at the destination) fails the backup: the set is not published, earlier sets untouched, the next run succeeds', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 100 }' });
  const loaded = loadConfig(app.configPath);
  const first = await runBackup({ loaded, clock: at('2026-03-01T03:00:00Z'), reporter: silentReporter });
  assert.equal(first.status, 'ok', first.error?.message);
  const before = new Map([...filesWithHashes(app.repository)].filter(([path]) => setFiles(app.repository).includes(path)));

  const failed = await runBackup({
    loaded,
    clock: at('2026-03-02T03:00:00Z'),
    reporter: silentReporter,
    destinationWrappers: { faults: { failPut: (path) => path.startsWith('manifests/') } },
  });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'INJECTED_FAULT', failed.error?.message);
  assert.deepEqual(setFiles(app.repository), [...before.keys()].sort(), 'no file of the failed set is left: no artifact, no manifest, no .partial');
  for (const [path, hash] of before) assert.equal(filesWithHashes(app.repository).get(path), hash, `${path} untouched`);
  assert.deepEqual(readdirSync(join(app.repository, '.restorable')).filter((name) => (name.endsWith('.json') && name !== 'repository.json') || name.endsWith('.partial')), [], 'no journal left (the repository marker is not one)');

  const next = await runBackup({ loaded, clock: at('2026-03-02T03:00:00Z'), reporter: silentReporter });
  assert.equal(next.status, 'ok', next.error?.message);
  assert.equal(next.setId, '2026-03-02_03-00-00', 'the id of the failed run is free again');
});

test('a short read (injected at the destination) makes verify report the set damaged, and the same set verifies without it', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 100 }' });
  const outcome = await runBackup({ loaded: loadConfig(app.configPath), clock: at('2026-03-01T03:00:00Z'), reporter: silentReporter });
  assert.equal(outcome.status, 'ok', outcome.error?.message);
  const scratchParent = tempDir(t);
  const local = new LocalDestination(app.repository);

  const sound = await runVerify({ reader: new DestinationSetReader(local), scratchParent });
  assert.equal(sound.status, 'ok');

  const short = composeDestination(local, { faults: { shortRead: (path) => (path.startsWith('files/files_backup_') ? 100 : undefined) } });
  const verified = await runVerify({ reader: new DestinationSetReader(short), scratchParent });
  assert.equal(verified.status, 'failed');
  const set = verified.sets[0]!;
  assert.equal(set.status, 'failed');
  const files = set.files.find((file) => file.path.startsWith('files/files_backup_') && file.kind === 'artifact');
  assert.equal(files?.status, 'failed', 'the shortened artifact fails its size/sha256 check');
  assert.ok(set.files.filter((file) => !file.path.startsWith('files/files_backup_')).every((file) => file.status === 'ok'), 'the other files still pass');
});
