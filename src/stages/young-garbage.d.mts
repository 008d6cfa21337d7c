// Types for young-garbage.mjs (plain JavaScript so worker threads load it without tsx).
/** Collects the young generation (a scavenge); a no-op where the collector is not reachable. */
export function collectYoungGarbage(): void;
