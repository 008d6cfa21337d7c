// Owns building the notifier for a configured job: its channels from
// `notify`, its state in the repository, and the sources' passwords as
// secrets to keep out of every message. One place, for every command that
// notifies (backup, check, drill, report).

import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.ts';
import { createNotifier, type Notifier } from '../notify/notifier.ts';
import { secretsOfSources } from '../sources/registry.ts';
import type { Clock } from '../core/ports.ts';

/** `onProblem` hears about channels that failed (never about the secrets). */
export function notifierForJob(loaded: LoadedConfig, clock: Clock, onProblem: (message: string) => void): Notifier {
  return createNotifier(loaded.config.notify, {
    configDir: loaded.directory,
    repositoryRoot: loaded.repositoryPath,
    job: loaded.config.app,
    clock,
    host: hostname(),
    secrets: secretsOfSources(loaded),
    log: (level, message) => {
      if (level !== 'info') onProblem(message);
    },
  });
}
