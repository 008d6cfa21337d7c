// Owns what every database kind does before it writes into a target that is
// not empty (after the operator confirmed it): the whole artifact is read and
// proved intact first, then the target as it is now is dumped into a safety
// set through the job's takeSafetySet, unless the set being restored is that
// target's own safety set (putting it back takes no new one). postgres uses
// it; mysql-restore-target.ts still has the same lines, to be switched here.

import { checkIntact } from '../storage/verified-read.ts';
import type { DatabaseTarget, RestoreContext } from './source-restore.ts';

/**
 * Resolves with the safety set's id, or undefined when the set restored is the
 * target's own safety set. `targetSettings` are the kind's settings that back
 * up the target (the source's, pointed at the target database).
 */
export async function protectNonEmptyTarget(context: RestoreContext, request: DatabaseTarget, into: string, targetSettings: () => unknown): Promise<string | undefined> {
  // Nothing goes into a live database before the whole artifact proved intact.
  await checkIntact(context.reader, context.artifact, context.signal);
  if (context.manifest.safety?.of === into) {
    context.log.step(`set ${context.manifest.setId} is the safety set of ${into}: putting it back, without a new safety set`);
    return undefined;
  }
  return request.takeSafetySet(targetSettings(), into);
}
