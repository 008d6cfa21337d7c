// Owns `restorable init`: creates the repository the config names (found as
// usual: -c, $RESTORABLE_CONFIG, ./restorable.yml, /etc/restorable/...), its
// directories 0700 and its marker (storage/repository-init.ts), so that
// `backup` never has to guess. With --laravel DIR it first writes a starting
// config (config/starting-config.ts) from the app's .env to -o FILE, then
// creates that config's repository; with -o FILE alone it writes the generic
// template only (to be edited before there is a repository to create).
// On an initialised repository it changes nothing and says so (exit 0).

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { writeStartingConfig } from '../config/starting-config.ts';
import { restorableVersion } from '../jobs/version.ts';
import { openRepository } from '../storage/open-repository.ts';
import { initialiseRepository } from '../storage/repository-init.ts';
import { MARKER_PATH } from '../storage/repository-marker.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper, GlobalOptions } from './main.ts';

export function registerInitCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('init')
    .description("create the config's repository (with --laravel DIR: first write a config from a Laravel app)")
    .option('--laravel <dir>', 'a Laravel application directory (reads its .env); writes -o FILE, then creates its repository')
    .option('-o, --output <file>', 'where to write the config (default restorable.yml); without --laravel: a template to edit, no repository yet')
    .option('--repository <dir>', 'the repository to write into the new config (default /var/backups/<app>)')
    .option('--force', 'overwrite an existing config file')
    .action(
      run(async (options) => {
        const laravelDir = typeof options.laravel === 'string' ? resolve(options.laravel) : undefined;
        let written: string | undefined;
        if (laravelDir !== undefined || typeof options.output === 'string') {
          written = resolve(typeof options.output === 'string' ? options.output : 'restorable.yml');
          const repository = typeof options.repository === 'string' ? resolve(options.repository) : undefined;
          await writeStartingConfig({ target: written, laravelDir, repository, overwrite: options.force === true });
          if (laravelDir === undefined) {
            if (output.json) printJson(output, { written });
            else line(output, `wrote ${written}; edit it, check it with \`restorable -c ${written} config validate\`, then create its repository with \`restorable -c ${written} init\``);
            return ExitCode.OK;
          }
          if (!output.json) line(output, `wrote ${written}; check it with \`restorable -c ${written} config validate\``);
        }
        return createRepository(written ?? locateConfig(options.config), options, output, written);
      }),
    );
}

async function createRepository(configPath: string, options: GlobalOptions, output: Output, written: string | undefined): Promise<number> {
  const loaded = loadConfig(configPath, options.configSafety);
  const repository = openRepository(loaded);
  const { created, marker } = await initialiseRepository(repository, {
    app: loaded.config.app,
    sourceNames: Object.keys(loaded.config.sources),
    now: new Date(),
    createdBy: `restorable ${restorableVersion()}`,
  });
  if (output.json) {
    printJson(output, { ...(written ? { written } : {}), repository: repository.root, created, app: marker.app, id: marker.id, createdAt: marker.createdAt });
  } else if (created) {
    line(output, `initialised the repository ${repository.root} for ${marker.app} (id ${marker.id}): directories 0700, marker ${MARKER_PATH}`);
    line(output, `next: \`restorable -c ${loaded.path} backup\``);
  } else {
    line(output, `the repository ${repository.root} is initialised already (app ${marker.app}, id ${marker.id}, since ${marker.createdAt}): nothing changed`);
  }
  // Another app's repository: `backup` would refuse it, so say so now.
  if (marker.app === loaded.config.app) return ExitCode.OK;
  if (!output.json) output.err.write(`  it belongs to app ${marker.app}, not ${loaded.config.app}: give each app its own repository (\`repository\` in ${loaded.path})\n`);
  return ExitCode.CRITICAL;
}
