// Owns the free-space setting's values (`monitor.min_free`): a percentage of
// a filesystem ("10%") or an absolute size ("5GB", "500MiB"). Pure, so that
// the config validates it and storage and checks read it without importing
// the config layer.

export const FREE_SPACE_PATTERN = /^(\d+(?:\.\d+)?)\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

export type FreeSpace = { percent: number } | { bytes: number };

const SIZE_UNIT_BYTES: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** `10%` -> { percent: 10 }; `5GB` -> { bytes: 5e9 }. */
export function parseFreeSpace(text: string): FreeSpace {
  const match = FREE_SPACE_PATTERN.exec(text.trim());
  if (!match) throw new Error(`not a size: ${text}`);
  const value = Number(match[1]);
  return match[2] === '%' ? { percent: value } : { bytes: value * SIZE_UNIT_BYTES[match[2]!.toLowerCase()]! };
}
