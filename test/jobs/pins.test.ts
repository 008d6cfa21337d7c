// Pins: `backup --keep NOTE` records the note in the manifest, retention keeps
// the set whatever its rules say (`prune --dry-run` gives the note as the
// reason), `list` shows it, and `unpin SET` rewrites the manifest without it
// (atomically: no `.partial` left), after which retention removes the set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCli } from '../support/cli.ts';
import { makeSampleApp } from '../support/sample-app.ts';

function setIds(repository: string): string[] {
  return readdirSync(join(repository, 'manifests')).filter((name) => name.endsWith('.json')).map((name) => name.replace(/\.json$/, '')).sort().reverse();
}

test('a pinned set survives prune until unpin; list and prune --dry-run show the pin', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 1 }' });
  const pinned = await runCli(['-c', app.configPath, 'backup', '--only', 'config', '--keep', 'before 2.4 deploy', '--json']);
  assert.equal(pinned.code, 0, pinned.stdout + pinned.stderr);
  const pinnedId = (JSON.parse(pinned.stdout) as { setId: string; pin: { note: string } }).setId;
  assert.equal((JSON.parse(pinned.stdout) as { pin: { note: string } }).pin.note, 'before 2.4 deploy');
  for (let run = 0; run < 2; run++) assert.equal((await runCli(['-c', app.configPath, 'backup', '--only', 'config'])).code, 0);
  const ids = setIds(app.repository);
  assert.equal(ids.length, 2, `the newest set and the pinned one: ${ids.join(', ')}`);
  assert.ok(ids.includes(pinnedId));

  const list = await runCli(['-c', app.configPath, 'list']);
  assert.equal(list.code, 0, list.stdout + list.stderr);
  assert.match(list.stdout, new RegExp(`^${pinnedId} .*PINNED "before 2\\.4 deploy" \\(kept until \`restorable unpin ${pinnedId}\`\\)`, 'm'));
  const listJson = JSON.parse((await runCli(['-c', app.configPath, 'list', '--json'])).stdout) as { sets: Array<{ setId: string; pin?: { note: string; at: string } }> };
  assert.equal(listJson.sets.find((set) => set.setId === pinnedId)?.pin?.note, 'before 2.4 deploy');
  const dryRun = await runCli(['-c', app.configPath, 'prune', '--dry-run']);
  assert.match(dryRun.stdout, new RegExp(`^keep {4}${pinnedId} .* pinned: before 2\\.4 deploy$`, 'm'));

  const unpin = await runCli(['-c', app.configPath, 'unpin', pinnedId]);
  assert.equal(unpin.code, 0, unpin.stdout + unpin.stderr);
  assert.match(unpin.stdout, new RegExp(`unpinned set ${pinnedId} \\("before 2\\.4 deploy"\\)`));
  const manifest = JSON.parse(readFileSync(join(app.repository, 'manifests', `${pinnedId}.json`), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.pin, undefined);
  assert.equal(manifest.setId, pinnedId);
  assert.deepEqual(readdirSync(join(app.repository, 'manifests')).filter((name) => !name.endsWith('.json')), [], 'no .partial left');
  assert.doesNotMatch((await runCli(['-c', app.configPath, 'list'])).stdout, /PINNED/);
  const again = await runCli(['-c', app.configPath, 'unpin', pinnedId]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /is not pinned; nothing changed/);

  const prune = await runCli(['-c', app.configPath, 'prune']);
  assert.equal(prune.code, 0, prune.stdout + prune.stderr);
  assert.ok(!setIds(app.repository).includes(pinnedId), 'unpinned, retention removes it');
});

test('unpin refuses a set that does not exist and `latest`; --keep refuses a note of several lines', async (t) => {
  const app = makeSampleApp(tempDir(t), { retention: '{ last: 1 }' });
  const missing = await runCli(['-c', app.configPath, 'unpin', '2020-01-01_00-00-00']);
  assert.equal(missing.code, 2, missing.stdout + missing.stderr);
  assert.match(missing.stderr, /set 2020-01-01_00-00-00 does not exist/);
  assert.equal((await runCli(['-c', app.configPath, 'unpin', 'latest'])).code, 2);
  const multiline = await runCli(['-c', app.configPath, 'backup', '--only', 'config', '--keep', 'one\ntwo']);
  assert.equal(multiline.code, 2, multiline.stdout + multiline.stderr);
  assert.match(multiline.stderr, /--keep takes a short note of one line/);
});
