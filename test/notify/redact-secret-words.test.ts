// Redaction must never point at a secret. A password that is part of an
// ordinary word ("pass" in "password") must not be cut out of that word: the
// server's "(using password: YES)" once became "(using ***word: YES)", which
// tells every reader of the alert that the password is "pass". Both nets are
// tested: the notifier's redactor and the mysql source's scrubber.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor } from '../../src/notify/redact.ts';
import { scrubSecret, SecretValue } from '../../src/sources/mysql-connection.ts';

const SERVER_MESSAGES = [
  "Access denied for user 'laravel'@'127.0.0.1' (using password: YES)",
  "mariadb-dump: Got error: 1045: \"Access denied for user 'laravel'@'localhost' (using password: YES)\" when trying to connect",
  'check the user and password of sources.db (password_file, password_env or DB_PASSWORD)',
  "Couldn't execute 'SHOW FIELDS FROM `v`': execute command denied to user 'bk'@'127.0.0.1' for routine 'app.twice' (1370)",
  'Lost connection to server during query; the passwords table is passing',
];

// Parts of the words above, and whole ordinary words that occur in them.
const WORDLIKE_PASSWORDS = ['pass', 'word', 'sword', 'assword', 'sing', 'ccess', 'enied', 'password', 'Access', 'user', 'denied', 'laravel', 'connect'];

test('a password that is (part of) an ordinary word leaves the words of a message as they were', () => {
  for (const password of WORDLIKE_PASSWORDS) {
    const redact = createRedactor([password]);
    for (const message of SERVER_MESSAGES) {
      assert.equal(redact.text(message), message, `redactor, password ${JSON.stringify(password)}`);
      assert.equal(scrubSecret(message, new SecretValue(password)), message, `scrubSecret, password ${JSON.stringify(password)}`);
    }
  }
});

test('the same word-like passwords are still removed where text announces a secret', () => {
  for (const password of ['pass', 'password', 'laravel']) {
    const redact = createRedactor([password]);
    assert.equal(redact.text(`DB_PASSWORD=${password} in .env`), 'DB_PASSWORD=[redacted] in .env');
    assert.equal(redact.text(`mysql://laravel:${password}@db.internal/shop`), 'mysql://laravel:[redacted]@db.internal/shop');
    assert.equal(scrubSecret(`[client]\npassword="${password}"\n`, new SecretValue(password)), '[client]\npassword=***\n');
  }
});

test('a password that looks like a password is removed wherever it stands on its own, also beside punctuation', () => {
  const password = 'Tr0ub4dor&3';
  const redact = createRedactor([password]);
  const scrub = (text: string) => scrubSecret(text, new SecretValue(password));
  for (const [input, expected] of [
    [`connecting with ${password} failed`, 'connecting with *** failed'],
    [`'${password}'`, "'***'"],
    [`(${password})`, '(***)'],
    [`${password}`, '***'],
    // Glued to something that is no ordinary word: still the secret.
    [`mysql -ularavel -p${password} shop`, 'mysql -ularavel -p*** shop'],
  ] as const) {
    assert.equal(scrub(input), expected, input);
    assert.equal(redact.text(input), expected.replaceAll('***', '[redacted]'), input);
  }
  // A random-looking password of letters only is not an ordinary word either.
  assert.equal(scrubSecret('the server said: XkQzPvWmRt', new SecretValue('XkQzPvWmRt')), 'the server said: ***');
  assert.equal(createRedactor(['hunter2x']).text('password hunter2x rejected'), 'password [redacted] rejected');
});

test('no redaction of the word-like passwords leaves a fragment of them beside a mask', () => {
  for (const password of WORDLIKE_PASSWORDS) {
    const redact = createRedactor([password]);
    for (const message of SERVER_MESSAGES) {
      assert.doesNotMatch(redact.text(message), /\[redacted\][\p{L}\p{N}]|[\p{L}\p{N}]\[redacted\]/u, password);
      assert.doesNotMatch(scrubSecret(message, new SecretValue(password)), /\*\*\*[\p{L}\p{N}]|[\p{L}\p{N}]\*\*\*/u, password);
    }
  }
});
