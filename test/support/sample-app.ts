// A small Laravel-like app for pipeline tests: an SQLite database with known
// rows, an uploads tree, a .env, and a config pointing at a repository.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openSqlite } from '../../src/sources/sqlite-database.ts';
import { initRepositoryOf } from './initialised-repository.ts';

export interface SampleApp {
  root: string;
  databasePath: string;
  uploadsDir: string;
  envPath: string;
  repository: string;
  configPath: string;
}

/** Deterministic pseudo-random bytes (incompressible, reproducible). */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export interface SampleAppOptions {
  uploadBytes?: number;
  repository?: string;
  /** YAML for retention (default: the seed's 14/4/3). */
  retention?: string;
  /** YAML for monitor; the default keeps tests independent of how full the host disk is. */
  monitor?: string;
  /** `restorable init` the repository (default true); false for tests that put something else there. */
  initialise?: boolean;
}

export function makeSampleApp(root: string, options: SampleAppOptions = {}): SampleApp {
  const databasePath = join(root, 'app/database/database.sqlite');
  const uploadsDir = join(root, 'app/storage/app');
  const envPath = join(root, 'app/.env');
  const repository = options.repository ?? join(root, 'backups');
  mkdirSync(join(root, 'app/database'), { recursive: true });
  mkdirSync(join(uploadsDir, 'public'), { recursive: true });
  const database = openSqlite(databasePath);
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('create table users (id integer primary key, name text, email text)');
  database.transaction(() => {
    for (let i = 0; i < 1000; i++) database.run('insert into users (name, email) values (?, ?)', `user ${i} 🙂`, `u${i}@example.test`);
  });
  database.close();
  writeFileSync(join(uploadsDir, 'public/readme.txt'), 'hello\n'.repeat(100));
  writeFileSync(join(uploadsDir, 'public/photo.jpg'), pseudoRandomBytes(options.uploadBytes ?? 50_000, 'photo'));
  writeFileSync(envPath, `APP_NAME=Sample\nDB_CONNECTION=sqlite\nDB_DATABASE=${databasePath}\nDB_PASSWORD="s3cret-sample"\n`, { mode: 0o600 });
  const configPath = join(root, 'restorable.yml');
  writeFileSync(
    configPath,
    `app: sample
repository: ${repository}
sources:
  db: { type: sqlite, env_file: ${envPath} }
  files: { type: files, paths: [${uploadsDir}] }
  config: { type: files, paths: [${envPath}] }
retention: ${options.retention ?? '{ daily: 14, weekly: 4, monthly: 3 }'}
monitor: ${options.monitor ?? '{ min_free: 1MB }'}
`,
  );
  if (options.initialise !== false) initRepositoryOf(configPath);
  return { root, databasePath, uploadsDir, envPath, repository, configPath };
}
