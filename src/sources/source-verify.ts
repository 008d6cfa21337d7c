// Owns the verify side of the source-driver contract: how a kind judges the
// decompressed content of one of its artifacts (a tar read to its end, a dump
// with its trailer, an SQLite file that passes integrity_check).

// Filled in by the verify step of the architecture change.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface VerifySide {}
