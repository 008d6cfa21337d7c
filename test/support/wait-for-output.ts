// Waits until a live child (startCli) has printed a line matching a pattern on
// stdout, or has exited: the moment to signal it "mid-run" in interrupt tests.
import type { ChildProcess } from 'node:child_process';

export function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<void> {
  let seen = '';
  return new Promise<void>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    child.on('close', () => resolve());
  });
}
