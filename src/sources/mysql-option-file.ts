// Owns reading a MySQL option file (`~/.my.cnf`, `/etc/mysql/debian.cnf`) for
// `restore db --defaults-file FILE`: the [client] section's (and [mysql]'s,
// [mariadb-client]'s) user, password, host, port and socket, as the stock
// client reads them. The password stays in this process, wrapped in a
// SecretValue: it never goes on a command line.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.ts';
import { SecretValue } from '../core/secret-text.ts';
import type { MysqlAccountOverride } from './mysql-connection.ts';

/** The sections the mysql/mariadb client reads, later ones winning (as the client does). */
const CLIENT_SECTIONS = ['client', 'client-server', 'client-mariadb', 'mysql', 'mariadb-client'];

export function readClientOptionFile(path: string): MysqlAccountOverride {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`--defaults-file: ${absolute} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by restorable' : `cannot be read (${code})`}`, {
      where: { path: absolute },
      remedy: 'give the path of a MySQL option file with a [client] section (user, password, host/port or socket)',
      cause: error,
    });
  }
  const values = new Map<string, string>();
  let section = '';
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('!')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      continue;
    }
    if (!CLIENT_SECTIONS.includes(section)) continue;
    const pair = /^([A-Za-z0-9_-]+)\s*(?:=\s*(.*))?$/.exec(line);
    if (!pair) continue;
    // The client treats `-` and `_` in option names alike.
    values.set(pair[1]!.toLowerCase().replaceAll('-', '_'), unquote(pair[2] ?? ''));
  }
  const override: MysqlAccountOverride = {};
  if (values.has('user')) override.user = values.get('user');
  if (values.has('password')) override.password = new SecretValue(values.get('password')!);
  if (values.has('host')) override.host = values.get('host');
  if (values.has('socket')) override.socket = values.get('socket');
  if (values.has('port')) {
    const port = Number(values.get('port'));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`--defaults-file: port=${values.get('port')} in ${absolute} is not a port number`, { where: { path: absolute }, remedy: `fix port in ${absolute}` });
    }
    override.port = port;
  }
  if (override.user === undefined) {
    throw new ConfigError(`--defaults-file: ${absolute} names no user in its [client] section`, {
      where: { path: absolute },
      remedy: 'add `user = NAME` (and `password = ...`) under [client]',
    });
  }
  return override;
}

/** `"a b"` / `'a b'` with the client's backslash escapes; unquoted values lose a trailing comment. */
function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.length >= 2) {
    let result = '';
    for (let index = 1; index < value.length; index++) {
      const char = value[index]!;
      if (char === quote) break;
      if (char === '\\' && index + 1 < value.length) {
        const next = value[++index]!;
        result += next === 'n' ? '\n' : next === 't' ? '\t' : next === 's' ? ' ' : next;
      } else result += char;
    }
    return result;
  }
  return value.replace(/\s+#.*$/, '').trim();
}
