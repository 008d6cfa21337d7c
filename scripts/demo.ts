// `npm run demo`: the main job on an embedded default, no database server.
// Makes a small Laravel-like app under .demo/ (SQLite database, uploads, .env),
// writes its config, initialises the repository, backs it up, lists the sets
// and says how to point restorable at a real app. Running it again adds
// another set. Every command it prints runs as printed, from the directory
// `npm run demo` ran in (test/cli/hygiene.test.ts runs them):
// `bin/restorable` from the checkout, the newest artifacts by their names.
// RESTORABLE_DEMO_DIR puts the demo elsewhere than .demo/ (tests).

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openSqlite } from '../src/sources/sqlite-database.ts';
import { main } from '../src/cli/main.ts';

const checkout = resolve(import.meta.dirname, '..');
const root = process.env.RESTORABLE_DEMO_DIR ? resolve(process.env.RESTORABLE_DEMO_DIR) : join(checkout, '.demo');
/** How to run restorable from here: `bin/restorable` in the checkout, else its absolute path. */
const fromHere = relative(process.cwd(), join(checkout, 'bin/restorable'));
const cli = fromHere.startsWith('..') || isAbsolute(fromHere) ? join(checkout, 'bin/restorable') : fromHere;
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
/** The newest artifact of a source (set ids sort by time), to name in a command that takes one file. */
function newestArtifact(source: string, suffix: string): string {
  const directory = join(root, 'backups', source);
  const names = existsSync(directory) ? readdirSync(directory).filter((name) => name.endsWith(suffix)).sort() : [];
  return join(directory, names[names.length - 1] ?? `${source}_backup_<set>${suffix}`);
}

writeConfig();
console.log(`\n$ ${cli} -c ${configPath} init`);
const initExit = await main(['-c', configPath, 'init']);
console.log(`\n$ ${cli} -c ${configPath} backup`);
const backupExit = initExit === 0 ? await main(['-c', configPath, 'backup']) : initExit;
console.log(`\n$ ${cli} -c ${configPath} list`);
await main(['-c', configPath, 'list']);
console.log(`
Try the other commands on it:
  ${cli} -c ${configPath} verify
  ${cli} -c ${configPath} drill
  ${cli} -c ${configPath} check
  ${cli} -c ${configPath} doctor

The seed's own tools read what was written:
  gunzip -t ${newestArtifact('db', '.sqlite.gz')}
  tar -tzf ${newestArtifact('files', '.tar.gz')} | head

To protect a real Laravel app:
  ${cli} init --laravel /var/www/your-app -o /etc/restorable/restorable.yml
  ${cli} config validate && ${cli} backup
`);
process.exitCode = backupExit;
