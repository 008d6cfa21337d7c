// Owns turning SIGINT/SIGTERM into a cancellation: long commands run with an
// AbortSignal that these signals abort, so the job can stop its children,
// remove what it half-wrote and exit with a clear message (never a silent kill).

export async function interruptible<T>(action: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(`interrupted by ${signal}`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await action(interrupt.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
