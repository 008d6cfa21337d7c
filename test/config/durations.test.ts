// Durations are parsed once, by the schema: every duration field of a loaded
// config has its milliseconds beside the text as written (`warn_after: '26h'`,
// `warn_after_ms: 93600000`), defaults included, so no caller parses one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.ts';
import { notifySchema } from '../../src/config/schema.ts';

const HOUR = 3_600_000;

test('a loaded config carries <field>_ms beside each duration, for written values and defaults alike', () => {
  const { config } = parseConfigText(
    [
      'app: shop',
      'sources:',
      '  db: { type: mysql, database: shop, user: backup, stall_timeout: 90s }',
      '  cache: { type: sqlite, path: /srv/cache.sqlite }',
      'monitor: { warn_after: 30h }',
      'notify:',
      '  webhooks: [{ url: "https://hooks.example.test/x", timeout: 2s }]',
      '  healthchecks: { url: "https://hc.example.test/ping" }',
      '  email: { to: ops@example.test, from: backup@example.test, smtp: { host: mail.example.test } }',
      '',
    ].join('\n'),
    '/etc/restorable/restorable.yml',
  );
  const db = config.sources.db!;
  assert.ok(db.type === 'mysql');
  assert.equal(db.stall_timeout, '90s');
  assert.deepEqual([db.timeout_ms, db.stall_timeout_ms], [6 * HOUR, 90_000]);
  const cache = config.sources.cache!;
  assert.ok(cache.type === 'sqlite');
  assert.equal(cache.busy_timeout_ms, 30_000);
  assert.equal(config.monitor.warn_after, '30h', 'the text stays as written, for messages');
  assert.deepEqual([config.monitor.warn_after_ms, config.monitor.critical_after_ms, config.monitor.drill_max_age_ms], [30 * HOUR, 48 * HOUR, 8 * 24 * HOUR]);
  assert.equal(config.notify.repeat_after_ms, 24 * HOUR);
  assert.equal(config.notify.webhooks[0]!.timeout_ms, 2000);
  assert.equal(config.notify.healthchecks!.timeout_ms, 10_000);
  assert.equal(config.notify.email!.smtp.timeout_ms, 30_000);
  assert.equal(config.restore.keep_safety_ms, 7 * 24 * HOUR);
});

test('an absent section gets its defaults with their milliseconds too', () => {
  const { config } = parseConfigText('app: shop\nsources:\n  files: { type: files, paths: [/srv/uploads] }\n', '/etc/restorable/restorable.yml');
  assert.equal(config.monitor.warn_after_ms, 26 * HOUR);
  assert.equal(config.notify.repeat_after_ms, 24 * HOUR);
  assert.deepEqual(config.notify.webhooks, []);
  assert.equal(config.restore.keep_safety_ms, 7 * 24 * HOUR);
  assert.equal(notifySchema.parse({ webhooks: [{ url: 'https://hooks.example.test/x' }] }).webhooks[0]!.timeout_ms, 10_000);
});
