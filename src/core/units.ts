// Owns how sizes and durations read in messages: "1.4 MB", "12.3 s".

// A number that is not a size or a duration (NaN, Infinity, negative, not a
// number at all: only a damaged manifest or history carries one) reads as
// "invalid size"/"invalid duration", never "NaN B" or "Infinity TB".

export function formatBytes(bytes: number): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return 'invalid size';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatSeconds(ms: number): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return 'invalid duration';
  return `${(ms / 1000).toFixed(1)} s`;
}
