// Owns the restore side of the source-driver contract: how a kind restores one
// of its artifacts into a target, and how a drill restores it into scratch and
// compares it with what the manifest recorded.

// Filled in by the restore step of the architecture change.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RestoreSide {}
