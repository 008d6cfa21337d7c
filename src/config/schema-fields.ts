// Owns the field types the config schema is built from: durations (kept as
// written, parsed once into a `<field>_ms` twin), free-space sizes and ports.
// A duration is parsed here and nowhere else.

import { z } from 'zod';
import { FREE_SPACE_PATTERN } from '../core/free-space.ts';

export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `26h`, `90m`, `2d` -> milliseconds. */
export function parseDurationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * DURATION_UNIT_MS[match[2]!]!;
}

/**
 * Durations stay in the config as written (`26h`: messages quote them) and are
 * parsed once, here: the object holding them gains `<field>_ms` beside each one,
 * so callers read a number and a bad duration fails config loading with its field.
 */
export type WithMilliseconds<Written, Field extends string> = Written & { [Name in Field as `${Name}_ms`]: number };

export function withMilliseconds<Field extends string>(...fields: Field[]) {
  return <Written extends Record<Field, string>>(written: Written): WithMilliseconds<Written, Field> => {
    const parsed = Object.fromEntries(fields.map((field) => [`${field}_ms`, parseDurationMs(written[field])]));
    return { ...written, ...parsed } as WithMilliseconds<Written, Field>;
  };
}

export const duration = (example: string) =>
  z
    .string()
    .regex(DURATION_PATTERN, { message: `expected a duration such as "${example}" (units: ms, s, m, h, d, w)` })
    .describe(`A duration such as "${example}" (units: ms, s, m, h, d, w).`);

export const freeSpace = z
  .string()
  .regex(FREE_SPACE_PATTERN, { message: 'expected a size such as "10%" or "5GB"' })
  .describe('Free space as a percentage of the filesystem ("10%") or an absolute size ("5GB").');

export const port = z.number().int().min(1).max(65535);
