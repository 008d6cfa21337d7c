// Owns `restorable config validate` (load, validate, resolve every source,
// say what would be backed up, and which paths others could change) and `restorable config schema` (the JSON Schema
// generated from the one schema, for editors).

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { configJsonSchema } from '../config/schema.ts';
import { describeInsecurePath } from '../config/config-file-safety.ts';
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
        const loaded = loadConfig(locateConfig(options.config), options.configSafety);
        const sources = Object.entries(loaded.config.sources).map(([name, source]) => {
          prepareSource(name, source, loaded.directory); // resolves env files: errors name the field
          return { name, type: source.type };
        });
        // Only here with --allow-insecure-config: valid, but others can change what it runs.
        const insecure = (loaded.insecurePaths ?? []).map((entry) => ({
          path: entry.path,
          kind: entry.kind,
          roles: entry.roles,
          owner: entry.ownerName ?? String(entry.ownerUid),
          ownerUid: entry.ownerUid,
          mode: entry.mode.toString(8).padStart(4, '0'),
          problems: entry.problems,
          fix: entry.fix,
        }));
        if (output.json) {
          printJson(output, { valid: true, path: loaded.path, job: loaded.config.app, repository: loaded.repositoryPath, sources, insecure });
        } else {
          line(output, `${loaded.path}: valid${insecure.length > 0 ? `, but ${insecure.length} path(s) can be changed by other users` : ''}`);
          line(output, `job ${loaded.config.app}, repository ${loaded.repositoryPath}`);
          for (const source of sources) line(output, `  source ${source.name} (${source.type})`);
          for (const entry of loaded.insecurePaths ?? []) line(output, `  insecure: ${describeInsecurePath(entry)}`);
        }
        return insecure.length > 0 ? ExitCode.WARNING : ExitCode.OK;
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
