// Owns `restorable config validate` (load, validate, resolve every source,
// say what would be backed up) and `restorable config schema` (the JSON Schema
// generated from the one schema, for editors).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { configJsonSchema } from '../config/schema.ts';
import { prepareSource } from '../sources/registry.ts';
import { line, printJson, type Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerConfigCommands(program: Command, output: Output, run: ActionWrapper): void {
  const config = program.command('config').description('check the configuration or print its schema');
  config
    .command('validate')
    .description('check the configuration file')
    .action(
      run(async (options) => {
        const loaded = loadConfig(locateConfig(options.config));
        const sources = Object.entries(loaded.config.sources).map(([name, source]) => {
          prepareSource(name, source, loaded.directory); // resolves env files: errors name the field
          return { name, type: source.type };
        });
        if (output.json) {
          printJson(output, { valid: true, path: loaded.path, job: loaded.config.app, repository: loaded.repositoryPath, sources });
        } else {
          line(output, `${loaded.path}: valid`);
          line(output, `job ${loaded.config.app}, repository ${loaded.repositoryPath}`);
          for (const source of sources) line(output, `  source ${source.name} (${source.type})`);
        }
        return ExitCode.OK;
      }),
    );
  config
    .command('schema')
    .description('print the JSON Schema of the configuration')
    .action(
      run(async () => {
        printJson(output, configJsonSchema());
        return ExitCode.OK;
      }),
    );
}
