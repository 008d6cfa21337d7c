// Owns the doctor's questions about the repository itself: present,
// initialised (the marker `restorable init` writes, for this app), writable,
// owned by the user restorable runs as and private (0700), and the
// destination's own self-test: a put/get/remove round trip of a small probe
// file through the same Destination every command uses
// (storage/open-repository.ts), so a wrapper or a future offsite destination
// is exercised exactly as a backup would. The probe is removed again; nothing
// else is written.

import { randomBytes } from 'node:crypto';
import { lstat, open, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openRepository } from '../storage/open-repository.ts';
import { MARKER_PATH, readRepositoryMarker } from '../storage/repository-marker.ts';
import { findingFromError, type DoctorContext, type Finding } from './doctor-finding.ts';

export async function repositoryFindings(context: DoctorContext): Promise<Finding[]> {
  const root = context.loaded.repositoryPath;
  const present = await presentFinding(root);
  if (present.status !== 'ok') {
    const skipped = (name: string): Finding => ({ name, status: 'skipped', found: `not examined: the repository ${root} is not there` });
    return [present, skipped('repository initialised'), skipped('repository writable'), skipped('repository owner and mode'), skipped('destination round trip')];
  }
  const writable = await writableFinding(root);
  return [
    present,
    await initialisedFinding(root, context.loaded.config.app),
    writable,
    await ownerAndModeFinding(root),
    writable.status === 'ok'
      ? await roundTripFinding(context)
      : { name: 'destination round trip', status: 'skipped', found: 'not tried: the repository is not writable (see above)' },
  ];
}

async function presentFinding(root: string): Promise<Finding> {
  const name = 'repository present';
  try {
    const info = await lstat(root);
    if (info.isSymbolicLink()) {
      const target = await stat(root).catch(() => undefined);
      if (!target?.isDirectory()) {
        return { name, status: 'critical', found: `${root} is a link to something that is not a directory`, remedy: `point \`repository\` at the backup directory itself` };
      }
    } else if (!info.isDirectory()) {
      return { name, status: 'critical', found: `${root} is not a directory`, remedy: `move it away, or point \`repository\` in the config at the backup directory` };
    }
    return { name, status: 'ok', found: `${root} is a directory` };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        name,
        status: 'critical',
        found: `${root} does not exist`,
        remedy: 'if the backup disk is not mounted, mount it; otherwise create the repository with `restorable init` (or fix `repository` in the config)',
      };
    }
    return findingFromError(name, error);
  }
}

/** Whether `restorable init` made this repository (its marker, storage/repository-marker.ts), and for this app. */
async function initialisedFinding(root: string, app: string): Promise<Finding> {
  const name = 'repository initialised';
  let marker;
  try {
    marker = await readRepositoryMarker(root);
  } catch (error) {
    return findingFromError(name, error);
  }
  if (!marker) {
    return {
      name,
      status: 'critical',
      found: `${root} has no repository marker (${MARKER_PATH}): backups refuse a repository that \`restorable init\` did not create`,
      remedy: 'if this is the right directory (and the backup disk is mounted), run `restorable init`',
    };
  }
  if (marker.app !== app) {
    return {
      name,
      status: 'warning',
      found: `${root} was initialised for app "${marker.app}", but the config is for "${app}"`,
      remedy: 'check that `repository` in the config names this app\'s repository; two apps must not share one',
    };
  }
  return { name, status: 'ok', found: `initialised for ${marker.app} on ${marker.createdAt} (id ${marker.id})` };
}

/** A real write, because root ignores permission bits: only a write tells a read-only mount or an immutable directory. */
async function writableFinding(root: string): Promise<Finding> {
  const name = 'repository writable';
  const probe = join(root, `.restorable-doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await rm(probe, { force: true });
    return { name, status: 'ok', found: `${root} accepts new files` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const why: Record<string, string> = {
      EROFS: 'is on a read-only filesystem',
      EACCES: `may not be written by ${userInfo().username}`,
      EPERM: 'refuses new files (an immutable attribute, chattr +i?)',
      ENOSPC: 'is on a full filesystem',
    };
    const remedies: Record<string, string> = {
      EROFS: `remount the filesystem read-write (mount -o remount,rw <mount point of ${root}>) or point \`repository\` at a writable disk`,
      EACCES: `run restorable as the repository's owner (usually root), or chown -R ${userInfo().username} ${root}`,
      EPERM: `lsattr -d ${root} shows the attribute; chattr -i ${root} removes it`,
      ENOSPC: 'free space on that filesystem (restorable prune) or move the repository to a larger disk',
    };
    return {
      name,
      status: 'critical',
      found: `${root} ${why[code] ?? `cannot be written: ${code}`}: backups would fail before the first byte`,
      remedy: remedies[code] ?? `check that the user running restorable may write to ${root}`,
    };
  }
}

async function ownerAndModeFinding(root: string): Promise<Finding> {
  const name = 'repository owner and mode';
  const info = await stat(root);
  const uid = process.geteuid?.() ?? info.uid;
  const user = userInfo().username;
  const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
  const problems: string[] = [];
  const fixes: string[] = [];
  if (info.uid !== uid) {
    problems.push(`owned by uid ${info.uid}, not by ${user} (uid ${uid}) who runs restorable`);
    fixes.push(`chown ${user} ${root}`);
  }
  if ((info.mode & 0o077) !== 0) {
    problems.push(`mode ${mode} lets other users ${info.mode & 0o022 ? 'change' : 'read'} the backups (database dumps hold every password hash of the app)`);
    fixes.push(`chmod 0700 ${root}`);
  }
  if (problems.length === 0) return { name, status: 'ok', found: `owned by ${user}, mode ${mode}` };
  return { name, status: 'warning', found: `${root} is ${problems.join(' and ')}`, remedy: fixes.join(' && ') };
}

async function roundTripFinding(context: DoctorContext): Promise<Finding> {
  const destination = openRepository(context.loaded).destination;
  const name = `destination round trip (${destination.describe()})`;
  const path = `restorable-doctor-probe-${process.pid}-${randomBytes(4).toString('hex')}`;
  const payload = Buffer.from(`restorable doctor probe ${context.now.toISOString()}\n`);
  let stored = false;
  try {
    await destination.put(path, () => Readable.from([payload]));
    stored = true;
    const chunks: Buffer[] = [];
    for await (const chunk of await destination.get(path)) chunks.push(chunk as Buffer);
    if (!Buffer.concat(chunks).equals(payload)) {
      return { name, status: 'critical', found: 'a probe file read back differs from what was written', remedy: 'the storage corrupts data: check the disk (dmesg, smartctl -a) before trusting any backup on it' };
    }
    await destination.remove(path);
    stored = false;
    return { name, status: 'ok', found: `wrote, read back and removed a ${payload.length}-byte probe` };
  } catch (error) {
    return findingFromError(name, error);
  } finally {
    if (stored) await destination.remove(path).catch(() => {});
  }
}
