// Owns the mysql kind's read side as the driver presents it: `restore db`
// into a database (mysql-restore-target.ts), the drill into a scratch
// database (mysql-drill.ts) and the sweep of scratch databases killed drills
// left, and the stock command that loads an artifact by hand.

import type { ArtifactRecord } from '../core/manifest.ts';
import { decompressCommand } from '../stages/codec.ts';
import { drillMysql, sweepScratchDatabases } from './mysql-drill.ts';
import { restoreMysql } from './mysql-restore-target.ts';
import { wrongTarget, type RestoreSide } from './source-restore.ts';

export const mysqlRestoreSide: RestoreSide = {
  restore: (context, target) => (target.content === 'database' ? restoreMysql(context, target) : wrongTarget(context.artifact, target)),
  drill: drillMysql,
  restoreByHand: (artifact: ArtifactRecord) => `${decompressCommand(artifact.compression, 'artifact')} | mysql DB`,
  sweepDrillLeftovers: sweepScratchDatabases,
};
