// spawnStream (src/process/spawn-stream.ts): a child process as a stream whose
// `completed` says whether the child succeeded, whatever its stdout did: a
// child that fails carries its exit status and stderr tail, one that closes
// its stdout early and then fails is still a failure, one whose reader went
// away fails, and deadlines and stalls stop it with the reason named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { ChildProcessError, runToText, spawnStream } from '../../src/process/spawn-stream.ts';

async function failureOf(completed: Promise<void>): Promise<ChildProcessError> {
  const error = await completed.then(
    () => assert.fail('expected the child to fail'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof ChildProcessError, `a ChildProcessError, got ${String(error)}`);
  return error;
}

test('a clean exit resolves, and its whole stdout is read', async () => {
  const spawned = spawnStream('sh', ['-c', 'printf "one\\ntwo\\n"']);
  assert.equal(await text(spawned.stdout), 'one\ntwo\n');
  await spawned.completed;
  assert.equal(await runToText('sh', ['-c', 'echo hello']), 'hello\n');
});

test('a failing child rejects with its exit status and the tail of its stderr, under the name given', async () => {
  const spawned = spawnStream('sh', ['-c', 'echo partial; echo "first problem" >&2; echo "Access denied for user" >&2; exit 3'], { name: 'mariadb-dump' });
  assert.equal(await text(spawned.stdout), 'partial\n');
  const error = await failureOf(spawned.completed);
  assert.equal(error.message, 'mariadb-dump exited with status 3');
  assert.equal(error.code, 'CHILD_FAILED');
  assert.equal(error.exitStatus, 3);
  assert.equal(error.signal, null);
  assert.equal(error.stderrTail, 'first problem\nAccess denied for user\n');
  assert.deepEqual(error.details, ['first problem', 'Access denied for user']);
});

test('a child that closes its stdout and fails afterwards is a failure although the stream ended cleanly', async () => {
  const spawned = spawnStream('sh', ['-c', 'echo "all rows"; exec >&-; sleep 0.2; echo "lost connection" >&2; exit 2'], { name: 'dump' });
  assert.equal(await text(spawned.stdout), 'all rows\n', 'the stream itself ends as if complete');
  const error = await failureOf(spawned.completed);
  assert.equal(error.exitStatus, 2);
  assert.match(error.stderrTail, /lost connection/);
});

test('a child whose reader went away fails (it cannot write any more), with its own complaint', async () => {
  const spawned = spawnStream('yes', [], { name: 'yes' });
  spawned.stdout.once('data', () => spawned.stdout.destroy());
  const error = await failureOf(spawned.completed);
  // Node's stdio pipe is a socket: the writer sees ECONNRESET (or, on a plain pipe, SIGPIPE).
  assert.match(error.message, /^yes (exited with status [1-9]\d*|was killed by SIGPIPE)$/);
  if (error.signal === null) assert.match(error.stderrTail, /^yes: standard output: /);
});

test('a deadline stops a child that runs too long; a stall timeout one that stops writing; each names why', async () => {
  const started = Date.now();
  const slow = spawnStream('sh', ['-c', 'while :; do echo tick; sleep 0.05; done'], { name: 'slow', deadlineMs: 400 });
  slow.stdout.resume();
  const deadline = await failureOf(slow.completed);
  assert.match(deadline.message, /^slow ran longer than its deadline of 0 s and was stopped$/);
  assert.equal(deadline.signal, 'SIGTERM');
  assert.ok(Date.now() - started < 5000, 'stopped near the deadline although it kept writing');

  const stalled = spawnStream('sh', ['-c', 'echo start; exec sleep 30'], { name: 'stalled', stallTimeoutMs: 300 });
  stalled.stdout.resume();
  const stall = await failureOf(stalled.completed);
  assert.match(stall.message, /^stalled produced no output for 0 s and was stopped$/);
});

test('a program that does not exist rejects saying it could not be started', async () => {
  const spawned = spawnStream('restorable-no-such-program', [], { name: 'pg_dump' });
  spawned.stdout.resume();
  const error = await failureOf(spawned.completed);
  assert.equal(error.message, 'pg_dump could not be started: program not found');
  assert.equal(error.exitStatus, null);
});
