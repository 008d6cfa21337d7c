// Owns the postgres kind's read side as the driver presents it: verify's
// content check (postgres-check.ts), `restore db` into a database
// (postgres-restore-target.ts), the drill into a scratch database
// (postgres-drill.ts) and the sweep of scratch databases killed drills left,
// and the stock commands that load an artifact by hand.

import type { ArtifactRecord } from '../core/manifest.ts';
import { decompressCommand } from '../stages/codec.ts';
import { PostgresDumpCheck } from './postgres-check.ts';
import { drillPostgres, sweepPostgresScratchDatabases } from './postgres-drill.ts';
import { restorePostgres } from './postgres-restore-target.ts';
import { wrongTarget, type RestoreSide } from './source-restore.ts';
import type { VerifySide } from './source-verify.ts';

export const postgresReadSide: RestoreSide & VerifySide = {
  checkContent: (artifact) => new PostgresDumpCheck(artifact),
  restore: (context, target) => (target.content === 'database' ? restorePostgres(context, target) : wrongTarget(context.artifact, target)),
  drill: drillPostgres,
  restoreByHand: (artifact: ArtifactRecord) => `createdb NEWDB && ${decompressCommand(artifact.compression, 'artifact')} | psql -X -v ON_ERROR_STOP=1 --single-transaction -d NEWDB`,
  sweepDrillLeftovers: sweepPostgresScratchDatabases,
};
