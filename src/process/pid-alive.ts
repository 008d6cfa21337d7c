// Owns the question "does the process that left this behind still run?",
// asked before removing what a killed run left (scratch databases, staging
// directories): only leftovers of processes that are gone are removed.

/** True when a process with this pid runs on this host (EPERM: it runs, as another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
