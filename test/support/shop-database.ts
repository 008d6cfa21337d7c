// A small MariaDB database for restore tests: a table with a utf8mb4 title and
// a BLOB (one with a NUL byte, one NULL), and a view over it; plus the
// restorable config that backs it up. Shared by the restore-db and zstd tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateMariadb } from './mariadb.ts';
import { initRepositoryOf } from './initialised-repository.ts';

/** Creates database `shop` on the server. */
export async function createShopDatabase(server: PrivateMariadb): Promise<void> {
  await server.createDatabase('shop');
  await server.rootQuery(`
    CREATE TABLE shop.products (id INT PRIMARY KEY AUTO_INCREMENT, title VARCHAR(200) CHARACTER SET utf8mb4, image BLOB);
    INSERT INTO shop.products (title, image) VALUES ('Kaffee ☕', UNHEX('000102FF')), ('Tee', NULL);
    CREATE VIEW shop.titles AS SELECT title FROM shop.products;
  `);
}

/** Writes `<root>/restorable.yml` backing up `shop` into `<root>/backups`; `extraYaml` is appended as is. */
export function writeShopConfig(root: string, server: PrivateMariadb, extraYaml = ''): string {
  const config = join(root, 'restorable.yml');
  writeFileSync(config, `app: shop\nrepository: ${join(root, 'backups')}\nsources:\n  db: { type: mysql, socket: ${server.socket}, user: root, database: shop }\nmonitor: { min_free: 1MB }\n${extraYaml}`);
  initRepositoryOf(config);
  return config;
}
