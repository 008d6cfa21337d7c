// Owns the lexer the portable-dump rewriter reads DDL lines with: a line of a
// dump (decoded as latin1, so the bytes round-trip exactly) becomes words,
// quoted identifiers, dots, strings and comments, with the state (inside a
// string, a block comment) carried from one line to the next. Names are
// compared in the same latin1 form (asDumpText / fromDumpText).

export type LexState = 'code' | 'single' | 'double' | 'backtick' | 'block';
type TokenKind = 'word' | 'quoted' | 'dot' | 'space' | 'string' | 'comment' | 'other';
export interface Token {
  kind: TokenKind;
  text: string;
}

const WORD_BYTE = /[A-Za-z0-9_$\x80-\xff]/;

/** Splits one line (latin1) into tokens, starting and ending in a lexer state. */
export function tokenize(line: string, start: LexState): { tokens: Token[]; end: LexState } {
  const tokens: Token[] = [];
  let state = start;
  let index = 0;
  const length = line.length;
  const closeOf = (quote: string, kind: TokenKind, escapes: boolean): void => {
    // From index (inside the quoted run) to its closing quote, or the line's end.
    let position = index;
    while (position < length) {
      const char = line[position]!;
      if (escapes && char === '\\') {
        position += 2;
        continue;
      }
      if (char === quote) {
        if (line[position + 1] === quote) {
          position += 2;
          continue;
        }
        tokens.push({ kind, text: line.slice(index, position + 1) });
        index = position + 1;
        state = 'code';
        return;
      }
      position++;
    }
    tokens.push({ kind, text: line.slice(index) });
    index = length;
  };
  // From index (at `/*`, or inside a comment continued from an earlier line) to its `*/`, or the line's end.
  const closeBlockComment = (searchFrom: number): void => {
    const end = line.indexOf('*/', searchFrom);
    if (end < 0) {
      tokens.push({ kind: 'comment', text: line.slice(index) });
      index = length;
      state = 'block';
    } else {
      tokens.push({ kind: 'comment', text: line.slice(index, end + 2) });
      index = end + 2;
      state = 'code';
    }
  };
  while (index < length) {
    if (state === 'single') {
      closeOf("'", 'string', true);
      continue;
    }
    if (state === 'double') {
      closeOf('"', 'string', true);
      continue;
    }
    if (state === 'backtick') {
      closeOf('`', 'quoted', false);
      continue;
    }
    if (state === 'block') {
      closeBlockComment(index);
      continue;
    }
    const char = line[index]!;
    if (char === "'" || char === '"' || char === '`') {
      state = char === "'" ? 'single' : char === '"' ? 'double' : 'backtick';
      // The opening quote belongs to the token closeOf() cuts.
      const opened = index;
      index++;
      const before = tokens.length;
      closeOf(char, char === '`' ? 'quoted' : 'string', char !== '`');
      tokens[before]!.text = line.slice(opened, opened + 1) + tokens[before]!.text;
      continue;
    }
    if (char === '/' && line[index + 1] === '*') {
      // `/*!50003 ... */` and `/*M!100000 ... */` are executed: their marker is code.
      const executable = /^\/\*M?!\d*/.exec(line.slice(index, index + 16));
      if (executable) {
        tokens.push({ kind: 'other', text: executable[0] });
        index += executable[0].length;
      } else {
        closeBlockComment(index + 2);
      }
      continue;
    }
    if ((char === '-' && line[index + 1] === '-' && (index + 2 >= length || /\s/.test(line[index + 2]!))) || char === '#') {
      tokens.push({ kind: 'comment', text: line.slice(index) });
      index = length;
      continue;
    }
    if (char === '.') {
      tokens.push({ kind: 'dot', text: '.' });
      index++;
      continue;
    }
    let end = index + 1;
    if (WORD_BYTE.test(char)) {
      while (end < length && WORD_BYTE.test(line[end]!)) end++;
      tokens.push({ kind: 'word', text: line.slice(index, end) });
    } else if (/\s/.test(char)) {
      while (end < length && /\s/.test(line[end]!)) end++;
      tokens.push({ kind: 'space', text: line.slice(index, end) });
    } else {
      tokens.push({ kind: 'other', text: char });
    }
    index = end;
  }
  return { tokens, end: state };
}

/** The identifier a word or quoted token stands for (latin1), or undefined. */
export function identifierOf(token: Token | undefined): string | undefined {
  if (!token) return undefined;
  if (token.kind === 'word') return token.text;
  if (token.kind === 'quoted' && token.text.length >= 2 && token.text.endsWith('`')) return token.text.slice(1, -1).replaceAll('``', '`');
  return undefined;
}

/** A name as it appears in the (latin1-decoded) dump bytes. */
export function asDumpText(name: string): string {
  return Buffer.from(name, 'utf8').toString('latin1');
}

export function fromDumpText(text: string): string {
  return Buffer.from(text, 'latin1').toString('utf8');
}

export function unquote(token: string): string {
  if (token.startsWith('`') && token.endsWith('`') && token.length >= 2) return token.slice(1, -1).replaceAll('``', '`');
  return token;
}

export function codeOf(tokens: Token[]): string {
  return tokens
    .filter((token) => token.kind !== 'string' && token.kind !== 'comment')
    .map((token) => token.text)
    .join('');
}
