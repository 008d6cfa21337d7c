// Owns building the repository a command works on: the one place that turns
// the configured repository path into a LocalRepository over a (possibly
// wrapped) LocalDestination. Offsite destinations will be built here too, so
// adding S3 changes this file, not the commands. Wrappers (a dry run, a
// test's faults, logging) are composed here through composeDestination.

import { composeDestination, type DestinationWrappers } from './destination-wrappers.ts';
import { LocalDestination } from './local-destination.ts';
import { LocalRepository } from './local-repository.ts';

export function openRepository(loaded: { repositoryPath: string }, wrappers: DestinationWrappers = {}): LocalRepository {
  const root = loaded.repositoryPath;
  return new LocalRepository(root, composeDestination(new LocalDestination(root), wrappers));
}
