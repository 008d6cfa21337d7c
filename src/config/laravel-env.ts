// Owns reading a Laravel `.env` the way Laravel (vlucas/phpdotenv) reads it:
// `KEY=value`, optional `export `, `#` comments (in unquoted values only after
// whitespace), single quotes literal, double quotes with escapes and ${VAR}
// expansion, unquoted values trimmed with ${VAR} expansion.

export type EnvValues = Record<string, string>;

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/;

export function parseLaravelEnv(text: string): EnvValues {
  const values: EnvValues = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (/^\s*(#|$)/.test(line)) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const key = match[1]!;
    let raw = match[2]!;
    const quote = raw[0];
    if (quote === '"' || quote === "'") {
      // A quoted value may span lines until its closing quote.
      let body = raw.slice(1);
      let end = findClosingQuote(body, quote);
      while (end < 0 && index + 1 < lines.length) {
        body += '\n' + lines[++index]!;
        end = findClosingQuote(body, quote);
      }
      const inner = end < 0 ? body : body.slice(0, end);
      values[key] = quote === "'" ? inner : expand(unescapeDoubleQuoted(inner), values);
    } else {
      const comment = raw.search(/\s#/);
      if (comment >= 0) raw = raw.slice(0, comment);
      if (raw.startsWith('#')) raw = '';
      values[key] = expand(raw.trim(), values);
    }
  }
  return values;
}

function findClosingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDoubleQuoted(text: string): string {
  return text.replace(/\\([\\"nrt$])/g, (_, char: string) => ({ n: '\n', r: '\r', t: '\t' })[char] ?? char);
}

function expand(text: string, known: EnvValues): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => known[name] ?? process.env[name] ?? '');
}
