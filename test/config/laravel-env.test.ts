// The .env reader reads quoting and comments as Laravel (phpdotenv) does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLaravelEnv } from '../../src/config/laravel-env.ts';

test('Laravel .env quoting, comments, export and expansion', () => {
  const env = parseLaravelEnv(
    [
      '# a comment',
      'DB_CONNECTION=mysql',
      'DB_HOST = 127.0.0.1 ',
      'export DB_PORT=3307',
      'DB_DATABASE="askproai_db" # trailing comment',
      "DB_USERNAME='user#not-a-comment'",
      'DB_PASSWORD="p@ss w\\"ord#1"',
      'DB_SOCKET=',
      'APP_URL=http://x.test#frag',
      'PLAIN=value # comment',
      'EXPANDED="${DB_HOST}:${DB_PORT}"',
      'LITERAL=\'${DB_HOST}\'',
      'MULTI="line1',
      'line2"',
      'WINDOWS=crlf\r',
    ].join('\n'),
  );
  assert.equal(env.DB_CONNECTION, 'mysql');
  assert.equal(env.DB_HOST, '127.0.0.1');
  assert.equal(env.DB_PORT, '3307');
  assert.equal(env.DB_DATABASE, 'askproai_db');
  assert.equal(env.DB_USERNAME, 'user#not-a-comment');
  assert.equal(env.DB_PASSWORD, 'p@ss w"ord#1');
  assert.equal(env.DB_SOCKET, '');
  // phpdotenv v5: a `#` in an unquoted value starts a comment even without a space before it.
  assert.equal(env.APP_URL, 'http://x.test');
  assert.equal(env.PLAIN, 'value');
  assert.equal(env.EXPANDED, '127.0.0.1:3307');
  assert.equal(env.LITERAL, '${DB_HOST}');
  assert.equal(env.MULTI, 'line1\nline2');
  assert.equal(env.WINDOWS, 'crlf');
});
