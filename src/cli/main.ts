// Owns argv -> command -> exit code. The only place where errors become exit
// codes (DESIGN.md: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Global options
// (-c/--config, --json) work before or after the command name.

import { Command, CommanderError } from 'commander';
import { ExitCode, RestorableError } from '../core/errors.ts';
import { restorableVersion } from '../jobs/version.ts';
import { renderError, renderUnexpected, tolerateClosedPipes, type Output } from './render.ts';
import { exitCodeAfterInterrupt } from './interrupt.ts';
import type { ConfigSafetyPolicy } from '../config/config-file-safety.ts';
import { registerBackupCommand } from './backup-command.ts';
import { registerListCommand } from './list-command.ts';
import { registerConfigCommands } from './config-command.ts';
import { registerInitCommand } from './init-command.ts';
import { registerPruneCommand } from './prune-command.ts';
import { registerCheckCommand } from './check-command.ts';
import { registerMetricsCommand } from './metrics-command.ts';
import { registerReportCommand } from './report-command.ts';
import { registerVerifyCommand } from './verify-command.ts';
import { registerRestoreCommand } from './restore-command.ts';
import { registerDrillCommand } from './drill-command.ts';
import { registerScheduleCommand } from './schedule-command.ts';
import { registerDaemonCommand } from './daemon-command.ts';
import { registerDoctorCommand } from './doctor-command.ts';
import { registerUnpinCommand } from './unpin-command.ts';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  allowInsecureConfig?: boolean;
  /** For loadConfig: refuse a config others can change, or with --allow-insecure-config warn on stderr. */
  configSafety?: ConfigSafetyPolicy;
}

/** What a command action hands back: the exit code. */
export type CommandResult = Promise<number>;

export async function main(argv: string[], streams: Partial<Output> = {}): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const wantsJson = argv.includes('--json');
  const output: Output = { json: wantsJson, out: streams.out ?? process.stdout, err: streams.err ?? process.stderr };
  tolerateClosedPipes(output);
  const program = new Command('restorable')
    .description('Backups for web-application servers, each one proven restorable.')
    .version(restorableVersion(), '-V, --version')
    .option('-c, --config <file>', 'configuration file (default: $RESTORABLE_CONFIG, ./restorable.yml, /etc/restorable/restorable.yml)')
    .option('--json', 'machine-readable output')
    .option('--allow-insecure-config', 'run even when the config, or a file it names (env_file, password_file, dump_tool), can be changed by other users (warns instead of refusing)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.out.write(text),
      writeErr: (text) => output.err.write(text),
    })
    .showHelpAfterError('(run `restorable --help` for usage)')
    // -c/--config and --json are the program's: Commander takes them before
    // or after any command name, and every command's help lists them.
    .configureHelp({ showGlobalOptions: true });

  const run = (action: (options: GlobalOptions & Record<string, unknown>, ...args: unknown[]) => CommandResult) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
      options.configSafety = { allowInsecure: options.allowInsecureConfig === true, warn: (text) => output.err.write(`${text}\n`) };
      exitCode = await action(options, ...args.slice(0, -2));
    };

  registerBackupCommand(program, output, run);
  registerListCommand(program, output, run);
  registerConfigCommands(program, output, run);
  registerInitCommand(program, output, run);
  registerPruneCommand(program, output, run);
  registerCheckCommand(program, output, run);
  registerMetricsCommand(program, output, run);
  registerReportCommand(program, output, run);
  registerVerifyCommand(program, output, run);
  registerRestoreCommand(program, output, run);
  registerDrillCommand(program, output, run);
  registerScheduleCommand(program, output, run);
  registerDaemonCommand(program, output, run);
  registerDoctorCommand(program, output, run);
  registerUnpinCommand(program, output, run);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCodeAfterInterrupt(exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are CRITICAL (2).
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.CRITICAL;
    }
    if (error instanceof RestorableError) {
      renderError(output, error);
      return exitCodeAfterInterrupt(error.exitCode);
    }
    renderUnexpected(output, error);
    return exitCodeAfterInterrupt(ExitCode.CRITICAL);
  }
}

export type ActionWrapper = (action: (options: GlobalOptions & Record<string, unknown>, ...args: unknown[]) => CommandResult) => (...args: unknown[]) => Promise<void>;
