// Compression level per kind of artifact, judged the way an operator would:
// the database artifact of a default config is at most 1.02x the size of the
// seed's `gzip -9` of the same dump, while the uploads are still compressed
// at the fast files level; an explicit `compression.level` still applies to
// every artifact, and `database_level` sets the databases' own. The data is
// an employees-like payroll (sequential ids, random dates, salaries, names:
// the shape of MySQL's employees sample, where gzip level 4 came out 1.13x of
// `gzip -9`), made by a seeded generator so every run sees the same bytes,
// and dumped from a private MariaDB by the real CLI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseConfigText } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { runCli } from '../support/cli.ts';
import { startPrivateMariadb, type PrivateMariadb } from '../support/mariadb.ts';
import { tempDir } from '../support/temp.ts';
import { initRepositoryOf } from '../support/initialised-repository.ts';

const DATABASE = 'payroll';
let server: PrivateMariadb;
let fixtureDir: string;
let fixtureSql: string;

before(async () => {
  server = await startPrivateMariadb();
  await server.createDatabase(DATABASE);
  fixtureDir = mkdtempSync(join(tmpdir(), 'restorable-payroll-'));
  fixtureSql = join(fixtureDir, 'payroll.sql');
  writeFileSync(fixtureSql, payrollSql(6000));
  await server.runClient([DATABASE], fixtureSql);
});
after(async () => {
  await server?.stop();
  if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
});

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** Schema and rows of an employees-like payroll: `employees` people, about 9 salary rows each (about 3 MB of SQL for 6000). */
function payrollSql(employees: number): string {
  const random = seededRandom(20261203);
  const firstNames = ['Georgi', 'Bezalel', 'Parto', 'Chirstian', 'Kyoichi', 'Anneke', 'Tzvetan', 'Saniya', 'Sumant', 'Duangkaew', 'Mary', 'Patricio', 'Eberhardt', 'Berni', 'Guoxiang', 'Kazuhito', 'Cristinel', 'Kazuhide', 'Lillian', 'Mayuko'];
  const lastNames = ['Facello', 'Simmel', 'Bamford', 'Koblick', 'Maliniak', 'Preusig', 'Zielinski', 'Kalloufi', 'Peac', 'Piveteau', 'Sluis', 'Bridgland', 'Terkki', 'Genin', 'Nooteboom', 'Cappelletti', 'Bouloucos', 'Peha', 'Haddadi', 'Warwick'];
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  const twoDigits = (value: number) => String(value).padStart(2, '0');
  const month = () => twoDigits(1 + Math.floor(random() * 12));
  const day = () => twoDigits(1 + Math.floor(random() * 28));
  const people: string[] = [];
  const salaries: string[] = [];
  for (let index = 0; index < employees; index++) {
    const id = 10001 + index;
    const hired = 1985 + Math.floor(random() * 15);
    people.push(`(${id},'${1952 + Math.floor(random() * 13)}-${month()}-${day()}','${pick(firstNames)}','${pick(lastNames)}','${random() < 0.6 ? 'M' : 'F'}','${hired}-${month()}-${day()}')`);
    let salary = 40000 + Math.floor(random() * 30000);
    const anniversary = `${month()}-${day()}`;
    for (let year = hired; year < 2002; year++) {
      salaries.push(`(${id},${salary},'${year}-${anniversary}','${year + 1 === 2002 ? '9999-01-01' : `${year + 1}-${anniversary}`}')`);
      salary += Math.floor(random() * 3000);
    }
  }
  const inserts = (table: string, rows: string[]) => {
    const statements: string[] = [];
    for (let start = 0; start < rows.length; start += 1000) statements.push(`INSERT INTO ${table} VALUES ${rows.slice(start, start + 1000).join(',')};`);
    return statements.join('\n');
  };
  return [
    "CREATE TABLE employees (emp_no INT NOT NULL PRIMARY KEY, birth_date DATE NOT NULL, first_name VARCHAR(14) NOT NULL, last_name VARCHAR(16) NOT NULL, gender ENUM('M','F') NOT NULL, hire_date DATE NOT NULL) ENGINE=InnoDB;",
    'CREATE TABLE salaries (emp_no INT NOT NULL, salary INT NOT NULL, from_date DATE NOT NULL, to_date DATE NOT NULL, PRIMARY KEY (emp_no, from_date)) ENGINE=InnoDB;',
    inserts('employees', people),
    inserts('salaries', salaries),
    '',
  ].join('\n');
}

/** A config backing up the payroll database (`db`) and an uploads directory (`files`) holding the same text. */
function payrollApp(root: string, compressionYaml: string): { configPath: string; repository: string } {
  const uploads = join(root, 'uploads');
  mkdirSync(uploads);
  // Text among the uploads (an exported report) is files content: compressed at the files level.
  writeFileSync(join(uploads, 'payroll-export.sql'), readFileSync(fixtureSql));
  const repository = join(root, 'backups');
  const configPath = join(root, 'restorable.yml');
  writeFileSync(
    configPath,
    `app: payroll\nrepository: ${repository}\nsources:\n` +
      `  db: { type: mysql, socket: ${server.socket}, user: root, database: ${DATABASE} }\n` +
      `  files: { type: files, paths: [${uploads}] }\n` +
      `monitor: { min_free: 1MB }\n${compressionYaml}`,
  );
  initRepositoryOf(configPath);
  return { configPath, repository };
}

/** Each artifact's size as a multiple of `gzip -9` (one stream, the seed's method) of the very bytes it holds. */
async function ratiosToGzip9(compressionYaml: string, t: { after(fn: () => void): void }): Promise<Record<'db' | 'files', number>> {
  const app = payrollApp(tempDir(t), compressionYaml);
  const result = await runCli(['-c', app.configPath, 'backup']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const ratios: Record<string, number> = {};
  for (const source of ['db', 'files']) {
    const [name] = readdirSync(join(app.repository, source)).filter((file) => file.startsWith(`${source}_backup_`));
    const artifact = readFileSync(join(app.repository, source, name!));
    const raw = gunzipSync(artifact);
    assert.ok(raw.length > 2_000_000, `${source}: a dump of a few MB, got ${raw.length} bytes`);
    const gzip9 = execFileSync('gzip', ['-9', '-c'], { input: raw, maxBuffer: 64 * 1024 * 1024 });
    ratios[source] = artifact.length / gzip9.length;
  }
  return ratios as Record<'db' | 'files', number>;
}

test('by default the database dump is at most 1.02x the seed\'s gzip -9, the uploads stay at the fast files level', async (t) => {
  const ratios = await ratiosToGzip9('', t);
  assert.ok(ratios.db <= 1.02, `db artifact ${ratios.db.toFixed(3)}x gzip -9`);
  // The same text among the uploads is compressed at level 4, measurably larger: the default is per kind, not one level raised for all.
  assert.ok(ratios.files > 1.05, `files artifact ${ratios.files.toFixed(3)}x gzip -9`);
});

test('an explicit compression.level still applies to every artifact; database_level sets the databases\' own', async (t) => {
  const everywhere4 = await ratiosToGzip9('compression: { level: 4 }\n', t);
  assert.ok(everywhere4.db > 1.05, `level 4 written in the config: db artifact ${everywhere4.db.toFixed(3)}x gzip -9`);
  const databases9 = await ratiosToGzip9('compression: { level: 4, database_level: 9 }\n', t);
  assert.ok(databases9.db <= 1.02, `database_level 9: db artifact ${databases9.db.toFixed(3)}x gzip -9`);
  assert.ok(databases9.files > 1.05, `level 4 for files: ${databases9.files.toFixed(3)}x gzip -9`);
});

test('config: database_level defaults per algorithm, follows an explicit level, and is range-checked like level', () => {
  const sources = `sources:\n  files: { type: files, paths: [/srv/app] }\n`;
  const compression = (yaml: string) => parseConfigText(`app: a\n${sources}${yaml}`, 'restorable.yml').config.compression;
  assert.deepEqual([compression('').level, compression('').database_level], [4, 7]);
  assert.deepEqual([compression('compression: gzip\n').level, compression('compression: gzip\n').database_level], [4, 7]);
  assert.deepEqual([compression('compression: zstd\n').level, compression('compression: zstd\n').database_level], [3, 3]);
  // Configs written before database_level existed mean what they meant: one level for everything.
  assert.deepEqual([compression('compression: { level: 5 }\n').level, compression('compression: { level: 5 }\n').database_level], [5, 5]);
  assert.deepEqual([compression('compression: { database_level: 9 }\n').level, compression('compression: { database_level: 9 }\n').database_level], [4, 9]);
  assert.deepEqual(
    [compression('compression: { algorithm: zstd, level: 2, database_level: 12 }\n').level, compression('compression: { algorithm: zstd, level: 2, database_level: 12 }\n').database_level],
    [2, 12],
  );
  try {
    compression('compression: { database_level: 12 }\n');
    assert.fail('a gzip database_level of 12 was accepted');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, /compression\.database_level: expected a gzip level 1-9/);
  }
});
