// Owns masking a known secret value in a text meant for humans without
// pointing at it. Replacing every occurrence of the value is not enough, and
// can be worse than nothing: with the password `pass`, the server's
// "(using password: YES)" became "(using ***word: YES)", which tells every
// reader what the password is. So:
//  - an occurrence inside a longer ordinary word (`ssword:` in `password:`)
//    is that word, not the secret: it stays as it is. Glued to something that
//    is no ordinary word (`-pTr0ub4dor&3`), it is masked;
//  - a secret that is itself an ordinary word (`password`, `secret`, `laravel`)
//    stays where it stands as a word too: masking it in the fixed text around
//    it ("for user", "using password") would point at it. Such a value is
//    still removed where the text announces a secret (`password=...`, URL
//    credentials): the callers' shape rules do that, and there the mask
//    reveals nothing;
//  - anything else that stands on its own (`Tr0ub4dor&3`, `XkQzPvWmRt`) is
//    replaced wherever it appears.

import { inspect } from 'node:util';

const WORD_CHARACTER = /[\p{L}\p{N}_]/u;

/**
 * Letters only, written as words are (`pass`, `Laravel`, `YES`), and no
 * longer than ordinary words get: a random mixed-case string or a long
 * passphrase is not one.
 */
const ORDINARY_WORD = /^(?:\p{Lu}?\p{Ll}{1,19}|\p{Lu}{2,20})$/u;

export function looksLikeOrdinaryWord(secret: string): boolean {
  return ORDINARY_WORD.test(secret);
}

/** `text` with every stand-alone occurrence of `secret` replaced by `mask` (see the module comment for what stays). */
export function maskSecretValue(text: string, secret: string, mask: string): string {
  if (secret === '' || looksLikeOrdinaryWord(secret)) return text;
  const startsWithWordCharacter = WORD_CHARACTER.test(secret[0]!);
  const endsWithWordCharacter = WORD_CHARACTER.test(secret[secret.length - 1]!);
  let result = '';
  let copiedUpTo = 0;
  for (let index = text.indexOf(secret); index >= 0; index = text.indexOf(secret, index + 1)) {
    if (index < copiedUpTo) continue; // overlaps a replaced occurrence
    const end = index + secret.length;
    const insideOrdinaryWord =
      (startsWithWordCharacter && looksLikeOrdinaryWord(wordRunBefore(text, index) + wordRunAfter(text, index))) ||
      (endsWithWordCharacter && looksLikeOrdinaryWord(wordRunBefore(text, end) + wordRunAfter(text, end)));
    const glued = (startsWithWordCharacter && wordRunBefore(text, index) !== '') || (endsWithWordCharacter && wordRunAfter(text, end) !== '');
    if (glued && insideOrdinaryWord) continue;
    result += text.slice(copiedUpTo, index) + mask;
    copiedUpTo = index + secret.length;
  }
  return result + text.slice(copiedUpTo);
}

/** The letters, digits and `_` right before `position`. */
function wordRunBefore(text: string, position: number): string {
  let start = position;
  while (start > 0 && WORD_CHARACTER.test(text[start - 1]!)) start--;
  return text.slice(start, position);
}

/** The letters, digits and `_` from `position` on. */
function wordRunAfter(text: string, position: number): string {
  let end = position;
  while (end < text.length && WORD_CHARACTER.test(text[end]!)) end++;
  return text.slice(position, end);
}

/** A secret that prints as `***` in logs, JSON and util.inspect; `reveal()` is the only way in. */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'SecretValue(***)';
  }
}
