// Owns keeping secrets out of everything the notifier writes or sends: alert
// texts, webhook bodies, log lines and notifications.jsonl. Two nets, because an
// error text can carry a secret in ways no single rule sees:
//  - known values (the SMTP password, URL credentials, passwords the caller
//    hands in) are replaced wherever they stand on their own, also
//    percent-encoded; never cut out of an ordinary word, which would point at
//    them (`pass` once turned "using password: YES" into "using ***word: YES",
//    see core/secret-text.ts);
//  - shapes that announce a secret (`--password=…`, `DB_PASSWORD=…`,
//    `https://user:pw@…`, `?token=…`, `Authorization: Bearer …`) lose their value.
// What is left reads the same, with `[redacted]` where a secret was.

import { maskSecretValue } from '../core/secret-text.ts';

export const REDACTED = '[redacted]';

/** Shorter known values are not replaced: a 2-letter "secret" would shred every message. */
const MIN_KNOWN_SECRET_LENGTH = 4;

const SECRET_WORD = '(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)';

const SECRET_SHAPES: Array<[RegExp, string]> = [
  // scheme://user:password@host -> scheme://user:[redacted]@host
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  // ?token=…, &auth=…, &X-Amz-Signature=…
  [new RegExp(`([?&][a-z0-9_.-]*(?:${SECRET_WORD}|auth|sig|signature)[a-z0-9_.-]*=)[^&\\s#"'<>]+`, 'gi'), `$1${REDACTED}`],
  // --password=…, DB_PASSWORD=…, PGPASSWORD=…, MYSQL_PWD=… (quoted or not)
  [new RegExp(`(\\b[a-z0-9_.-]*${SECRET_WORD}[a-z0-9_]*[ \\t]*=[ \\t]*)("[^"]*"|'[^']*'|[^\\s,;&]+)`, 'gi'), `$1${REDACTED}`],
  // "password": "…" in JSON text
  [new RegExp(`("[a-z0-9_.-]*${SECRET_WORD}[a-z0-9_.-]*"\\s*:\\s*)"[^"]*"`, 'gi'), `$1"${REDACTED}"`],
  // Authorization: Bearer …, authorization=Basic …
  [/(\bauthorization\s*[:=]\s*(?:bearer\s+|basic\s+|token\s+)?)[^\s,;]+/gi, `$1${REDACTED}`],
];

export interface Redactor {
  /** The text with every known secret and every secret-shaped value replaced. */
  text(value: string): string;
  /** A copy of plain data (objects, arrays, strings) with every string redacted. */
  deep<T>(value: T): T;
}

export function createRedactor(knownSecrets: Iterable<string | undefined>): Redactor {
  const values = new Set<string>();
  for (const secret of knownSecrets) {
    if (secret === undefined || secret.trim().length < MIN_KNOWN_SECRET_LENGTH) continue;
    values.add(secret);
    values.add(encodeURIComponent(secret));
  }
  // Longest first, so a secret that contains another is replaced whole.
  const ordered = [...values].sort((a, b) => b.length - a.length);

  const text = (value: string): string => {
    let result = value;
    for (const secret of ordered) result = maskSecretValue(result, secret, REDACTED);
    for (const [shape, replacement] of SECRET_SHAPES) result = result.replace(shape, replacement);
    return result;
  };

  const deep = <T>(value: T): T => {
    if (typeof value === 'string') return text(value) as T;
    if (Array.isArray(value)) return value.map((item) => deep(item)) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, deep(item)])) as T;
    }
    return value;
  };

  return { text, deep };
}
