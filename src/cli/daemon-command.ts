// Owns `restorable daemon`: the scheduler in the foreground (for systemd,
// a container, supervisord), logging one timestamped line per event to stdout.
// Signals: SIGTERM and SIGINT stop it — the running job is aborted through its
// AbortSignal and cleans up (no `.partial`, lock released) — then it exits 0:
// being told to stop is how a daemon ends, so no unit needs SuccessExitStatus
// (unlike a one-shot command, which exits 128 + the signal when interrupted,
// cli/interrupt.ts). SIGHUP reloads the config; a bad one is logged and the
// old one stays in use.

import type { Command } from 'commander';
import { ExitCode } from '../core/errors.ts';
import { loadConfig, locateConfig } from '../config/load.ts';
import { systemClock } from '../core/ports.ts';
import { startDaemon } from '../jobs/daemon-jobs.ts';
import type { Output } from './render.ts';
import type { ActionWrapper } from './main.ts';

export function registerDaemonCommand(program: Command, output: Output, run: ActionWrapper): void {
  program
    .command('daemon')
    .description('run the scheduled jobs (config `schedule:`) in the foreground, the alternative to cron; SIGTERM stops, SIGHUP reloads')
    .action(
      run(async (options) => {
        const configPath = locateConfig(options.config);
        const log = (text: string) => output.out.write(`${systemClock.now().toISOString()} ${text}\n`);
        const daemon = startDaemon({ load: () => loadConfig(configPath, options.configSafety), clock: systemClock, log });
        log(`daemon started (pid ${process.pid}, config ${configPath}, repository ${daemon.loaded.repositoryPath})`);
        await new Promise<void>((resolve) => {
          let stopping = false;
          const onStop = (signal: NodeJS.Signals) => {
            if (stopping) return log(`${signal}: already stopping, waiting for the running job to clean up`);
            stopping = true;
            process.off('SIGHUP', onReload);
            void daemon.stop(`stopped by ${signal}`).then(() => {
              process.off('SIGTERM', onStop);
              process.off('SIGINT', onStop);
              resolve();
            });
          };
          const onReload = () => {
            log('SIGHUP: reloading the config');
            daemon.reload();
          };
          process.on('SIGTERM', onStop);
          process.on('SIGINT', onStop);
          process.on('SIGHUP', onReload);
        });
        return ExitCode.OK;
      }),
    );
}
