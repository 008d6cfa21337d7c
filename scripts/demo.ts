// `npm run demo`: the main job on an embedded default, no database server.
// Makes a small Laravel-like app under .demo/ (SQLite database, uploads, .env),
// writes its config, backs it up, lists the sets and says how to point
// restorable at a real app. Running it again adds another set.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openSqlite } from '../src/sources/sqlite-database.ts';
import { main } from '../src/cli/main.ts';

const root = resolve(import.meta.dirname, '..', '.demo');
const app = join(root, 'app');
const configPath = join(root, 'restorable.yml');

function makeApp(): void {
  mkdirSync(join(app, 'database'), { recursive: true });
  mkdirSync(join(app, 'storage/app/public/avatars'), { recursive: true });
  mkdirSync(join(app, 'storage/app/invoices/2026'), { recursive: true });
  const database = openSqlite(join(app, 'database/database.sqlite'));
  database.exec('PRAGMA journal_mode = WAL');
  database.exec(`
    create table users (id integer primary key, name text not null, email text unique not null, created_at text);
    create table posts (id integer primary key, user_id integer references users(id), title text, body text);
    create index posts_user on posts(user_id);
    create view post_counts as select user_id, count(*) as posts from posts group by user_id;
  `);
  database.transaction(() => {
    for (let i = 1; i <= 500; i++) {
      database.run('insert into users (name, email, created_at) values (?, ?, ?)', `User ${i} Müller`, `user${i}@example.test`, new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString());
      for (let j = 0; j < 4; j++) database.run('insert into posts (user_id, title, body) values (?, ?, ?)', i, `Post ${j} 📦`, 'Lorem ipsum dolor sit amet. '.repeat(20));
    }
  });
  database.close();
  for (let i = 1; i <= 20; i++) writeFileSync(join(app, `storage/app/public/avatars/user-${i}.jpg`), randomBytes(20_000 + i * 1000));
  for (let i = 1; i <= 10; i++) writeFileSync(join(app, `storage/app/invoices/2026/invoice-${i}.txt`), `Invoice ${i}\n`.repeat(200));
  writeFileSync(
    join(app, '.env'),
    [
      'APP_NAME="Demo Shop"',
      'APP_ENV=production',
      'APP_KEY=base64:ZGVtby1rZXktbm90LWEtcmVhbC1zZWNyZXQtMTIzNDU2Nzg=',
      'DB_CONNECTION=sqlite',
      `DB_DATABASE=${join(app, 'database/database.sqlite')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

function writeConfig(): void {
  writeFileSync(
    configPath,
    `# Demo configuration written by \`npm run demo\`.
app: demo-shop
repository: ${join(root, 'backups')}
sources:
  db:
    type: sqlite
    env_file: ${join(app, '.env')}
  files:
    type: files
    paths: [${join(app, 'storage/app')}]
  config:
    type: files
    paths: [${join(app, '.env')}]
retention: { daily: 14, weekly: 4, monthly: 3 }
`,
  );
}

if (!existsSync(join(app, '.env'))) {
  console.log(`making a sample Laravel-like app in ${app}`);
  makeApp();
}
writeConfig();
console.log(`\n$ restorable -c ${configPath} backup`);
const backupExit = await main(['-c', configPath, 'backup']);
console.log(`\n$ restorable -c ${configPath} list`);
await main(['-c', configPath, 'list']);
console.log(`
The seed's own tools read what was written:
  gunzip -t ${join(root, 'backups/db')}/db_backup_*.sqlite.gz
  tar -tzf ${join(root, 'backups/files')}/files_backup_*.tar.gz | head

To protect a real Laravel app:
  restorable init --laravel /var/www/your-app -o /etc/restorable/restorable.yml
  restorable config validate && restorable backup
`);
process.exitCode = backupExit;
