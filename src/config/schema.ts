// Owns the configuration schema: the single source of truth for validation,
// defaults, the JSON Schema export (`config schema`) and the reference docs.
// Keys are snake_case as users write them in YAML.
// Invariants: a duration is parsed here and nowhere else (the parsed config
// carries `<field>_ms` beside the text as written); the sources accept the
// built-in kinds and those registered since (sources/registry.ts); a
// registered kind is added to the JSON Schema after them, leaving theirs as is.

import { z } from 'zod';
import { SOURCE_NAME_PATTERN } from '../core/naming.ts';
import { COMPRESSION_ALGORITHMS, type CompressionAlgorithm } from '../core/manifest.ts';
import { duration, freeSpace, parseDurationMs, port, withMilliseconds } from './schema-fields.ts';
import { filesSource, mysqlSource, postgresSource, sqliteSource } from './source-schemas.ts';

export { parseDurationMs };
export { POSTGRES_SSL_MODES } from './source-schemas.ts';
import { scheduleSchema } from './schedule-schema.ts';

/**
 * The section of one source kind: a strict object whose `type` is the kind's
 * literal. The built-in kinds are below (they generate the reference docs); a
 * kind registered at run time (sources/registry.ts, a test's fake kind) brings
 * its own, and the config accepts it from then on.
 */
export type SourceSectionSchema = z.core.$ZodTypeDiscriminable;

const builtInSourceSections = [mysqlSource, postgresSource, sqliteSource, filesSource] as const;
const builtInSourceSchema = z.discriminatedUnion('type', builtInSourceSections);
const addedSourceSections: SourceSectionSchema[] = [];
/** The `type` literal(s) a section accepts. */
function typesOf(section: SourceSectionSchema): string[] {
  return [...(section._zod.propValues?.type ?? [])].map(String);
}
const sourceTypes = new Set(builtInSourceSections.flatMap(typesOf));

/** Makes configs accept `type: <type>` with this section; a type is registered once. */
export function registerSourceSection(type: string, section: SourceSectionSchema): void {
  if (sourceTypes.has(type)) throw new Error(`source kind "${type}" is registered already`);
  if (typesOf(section).join() !== type) throw new Error(`the section of source kind "${type}" must have \`type: z.literal('${type}')\``);
  sourceTypes.add(type);
  addedSourceSections.push(section);
  currentConfigSchema = undefined;
}

/**
 * Levels each algorithm accepts, and the ones used when the config sets none:
 * `default` for file archives (and restorable's own indexes), `databaseDefault`
 * for database artifacts (SQL dumps, SQLite files). A database is small next to
 * the uploads and its text pays for a higher level: on the Sakila and Lahman
 * dumps gzip level 4 came out 7-9 % larger than the seed's `gzip -9`, level 7
 * within 1 %, for 2-3 times the CPU of 4 (docs/benchmark.md, "Output size on
 * real dumps").
 */
export const COMPRESSION_LEVELS: Record<CompressionAlgorithm, { min: number; max: number; default: number; databaseDefault: number }> = {
  gzip: { min: 1, max: 9, default: 4, databaseDefault: 7 },
  zstd: { min: 1, max: 19, default: 3, databaseDefault: 3 },
};
const DEFAULT_MIN_SAVINGS = 0.03;

/** `compression` as the rest of the code reads it: one shape, whichever form the YAML used. */
export interface CompressionConfig {
  algorithm: CompressionAlgorithm;
  /** Every artifact but databases: file archives and indexes. */
  level: number;
  /** Database artifacts: SQL dumps, SQLite files. */
  database_level: number;
  /** Unset: min(2, cores), decided where the compressor starts. */
  workers?: number;
  /** gzip only. */
  store_incompressible: boolean;
  /** gzip only. */
  min_savings: number;
}

/** A level as written in the config; checked against the algorithm's range once the algorithm is known. */
function compressionLevel() {
  return z.number().int().min(1).max(COMPRESSION_LEVELS.zstd.max, { message: 'expected a level 1-9 for gzip, 1-19 for zstd' }).optional();
}

const compressionSettings = z
  .strictObject({
    algorithm: z
      .enum(COMPRESSION_ALGORITHMS)
      .default('gzip')
      .describe('gzip: `.gz` artifacts, readable by gunzip, tar -z and the seed\'s restore commands. zstd: `.zst` artifacts (`zstd -dc x.sql.zst | mysql DB`), made by the `zstd` program (Debian package zstd), which must be installed where backups, verify, restores and drills run.'),
    level: compressionLevel()
      .describe(
        'The level of every artifact; set, it applies to database artifacts too (unless `database_level` is set). ' +
          'Unset: gzip 4 for file archives and 7 for databases, zstd 3 for both. Lower is faster, higher is smaller. ' +
          'gzip 4 suits uploads: mostly media, which is stored rather than deflated, so the level only touches their text.',
      ),
    database_level: compressionLevel()
      .describe(
        'The level of database artifacts (mysql dumps, sqlite files); default `level` when that is set, else gzip 7 (zstd 3). ' +
          'On real dumps (Sakila, Chinook, the Lahman baseball database) gzip 7 came within 1 % of the seed\'s `gzip -9` (0.992-1.008x), where 4 was 1.015-1.092x, for 2-3 times the CPU of 4 (docs/benchmark.md).',
      ),
    workers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe('Threads that compress, for both algorithms (zstd gets `-T<workers>`); default 2, or 1 on a single core.'),
    store_incompressible: z
      .boolean()
      .default(true)
      .describe('gzip only: store (not deflate) stretches that would not compress: photos, videos, archives. Decided by content, never by file name. The file stays one standard gzip. zstd detects incompressible blocks itself.'),
    min_savings: z
      .number()
      .min(0)
      .max(1)
      .default(DEFAULT_MIN_SAVINGS)
      .describe('gzip only: a 64 KiB stretch is deflated only when it is estimated to shrink by at least this fraction. zstd decides by itself.'),
  })
  .superRefine((settings, context) => {
    // The field's own bounds admit every zstd level; 10-19 with gzip is the mistake left to catch.
    const allowed = COMPRESSION_LEVELS[settings.algorithm];
    for (const field of ['level', 'database_level'] as const) {
      const level = settings[field];
      if (level !== undefined && level <= COMPRESSION_LEVELS.zstd.max && level > allowed.max) {
        context.addIssue({
          code: 'custom',
          path: [field],
          input: level,
          message: `expected a ${settings.algorithm} level ${allowed.min}-${allowed.max} (levels up to ${COMPRESSION_LEVELS.zstd.max} are zstd's: set algorithm: zstd to use one)`,
        });
      }
    }
  })
  .describe('The long form: algorithm and its settings.');

const compressionSchema = z
  .union([z.enum(COMPRESSION_ALGORITHMS).describe('The short form: `compression: zstd` is the algorithm with its defaults.'), compressionSettings], {
    error: (issue) => `expected "gzip", "zstd" or { algorithm, level, database_level, workers, store_incompressible, min_savings }, got ${JSON.stringify(issue.input)}`,
  })
  // The default is written in the input's own form, so the reference shows it.
  .default({
    algorithm: 'gzip',
    level: COMPRESSION_LEVELS.gzip.default,
    database_level: COMPRESSION_LEVELS.gzip.databaseDefault,
    store_incompressible: true,
    min_savings: DEFAULT_MIN_SAVINGS,
  })
  .transform((written): CompressionConfig => {
    const settings = typeof written === 'string' ? { algorithm: written, store_incompressible: true, min_savings: DEFAULT_MIN_SAVINGS } : written;
    const defaults = COMPRESSION_LEVELS[settings.algorithm];
    const level = 'level' in settings ? settings.level : undefined;
    const databaseLevel = 'database_level' in settings ? settings.database_level : undefined;
    // A `level` the operator wrote applies to every artifact, as it did before database_level existed.
    return { ...settings, level: level ?? defaults.default, database_level: databaseLevel ?? level ?? defaults.databaseDefault };
  })
  .describe('Compression of artifacts: `gzip` (the default; gzip members made in parallel, as pigz does) or `zstd` (`.sql.zst`, `.tar.zst`).');

const count = z.number().int().min(0);

export const retentionSchema = z
  .strictObject({
    last: count.optional().describe('Keep the N newest sets.'),
    daily: count.optional().describe('Keep the newest set of each of the N most recent days that have one.'),
    weekly: count.optional().describe('Same, per ISO week (starting Monday).'),
    monthly: count.optional().describe('Same, per calendar month.'),
    yearly: count.optional().describe('Same, per year.'),
    timezone: z.string().default('UTC').describe('Timezone in which days, weeks, months and years are counted.'),
    make_space: z
      .boolean()
      .default(false)
      .describe('When a new set would not fit, delete the sets this policy would delete next (never others) before the run.'),
    within: duration('48h').optional().describe('Keep every set made at most this long before the newest set (restic --keep-within), e.g. a manual backup before a deploy.'),
  })
  // `within` is optional, so not withMilliseconds: its twin `within_ms` is absent with it.
  .transform((retention): typeof retention & { within_ms?: number } => (retention.within === undefined ? retention : { ...retention, within_ms: parseDurationMs(retention.within) }))
  .describe('Which complete sets to keep (restic semantics), per source. The newest complete set and pinned sets are always kept.');

export const monitorSchema = z
  .strictObject({
    warn_after: duration('26h').default('26h').describe('WARNING when the newest set is older than this.'),
    critical_after: duration('48h').default('48h').describe('CRITICAL when the newest set is older than this.'),
    min_free: freeSpace
      .default('10%')
      .describe('Minimum free space on the repository filesystem: `check` warns below it and is critical below half of it; `backup` refuses to start when the next set would leave less.'),
    drill_max_age: duration('8d').default('8d').describe('Once drills are in use, `check` warns when the newest one is older than this.'),
    prometheus_textfile: z
      .string()
      .regex(/^\/.*\.prom$/, { message: 'expected an absolute path ending in .prom (node_exporter reads only those)' })
      .optional()
      .describe("Write the metrics exposition here after each run (atomically) for node_exporter's textfile collector, e.g. /var/lib/prometheus/node-exporter/restorable.prom."),
  })
  .describe('What `check` grades.')
  .transform(withMilliseconds('warn_after', 'critical_after', 'drill_max_age'));

const secretSource = {
  password_file: z.string().optional().describe('A file holding the password (first line).'),
  password_env: z.string().optional().describe('An environment variable holding the password.'),
};

export const notifyEventNames = ['backup_failed', 'backup_recovered', 'backup_succeeded', 'check_state_changed', 'drill_failed', 'report'] as const;

export const notifySchema = z
  .strictObject({
    email: z
      .strictObject({
        to: z.union([z.email(), z.array(z.email()).min(1)]).describe('Recipient(s).'),
        from: z.email().describe('Sender address.'),
        smtp: z.strictObject({
          host: z.string().min(1).describe('SMTP server.'),
          port: port.default(587).describe('SMTP port (587 STARTTLS, 465 TLS, 25 plain).'),
          secure: z.boolean().default(false).describe('TLS from the first byte (port 465); otherwise STARTTLS when offered.'),
          user: z.string().optional().describe('SMTP user, when the server wants AUTH.'),
          ...secretSource,
          ca_file: z.string().optional().describe('A PEM CA to trust for this server (self-signed relays).'),
          timeout: duration('30s').default('30s').describe('Deadline for one message.'),
        }).transform(withMilliseconds('timeout')),
        events: z.array(z.enum(notifyEventNames)).optional().describe('Which events to mail (default: all but backup_succeeded).'),
      })
      .optional()
      .describe('Mail alerts and the weekly report.'),
    webhooks: z
      .array(
        z.strictObject({
          url: z.url().describe('Where to POST.'),
          format: z.enum(['json', 'slack', 'discord', 'ntfy']).default('json').describe('Body format.'),
          events: z.array(z.enum(notifyEventNames)).optional().describe('Which events to send (default: all but backup_succeeded and report).'),
          timeout: duration('10s').default('10s').describe('Deadline for one request.'),
        }),
      )
      .default([])
      .describe('HTTP webhooks (Slack, Discord, ntfy or plain JSON).'),
    healthchecks: z
      .strictObject({
        url: z.url().describe('Ping URL (healthchecks.io / Uptime Kuma style): /start, success, /fail.'),
        timeout: duration('10s').default('10s').describe('Deadline for one ping.'),
      })
      .transform(withMilliseconds('timeout'))
      .optional()
      .describe('Dead-man switch pings around each backup.'),
    repeat_after: duration('24h').default('24h').describe('Do not repeat the same check state more often than this.'),
    report_day: z
      .enum(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'])
      .default('sunday')
      .describe('Day of the weekly report (sent after the first successful backup that day).'),
  })
  .describe('Notifications. A notifier that fails is logged and recorded; it never changes a backup outcome.')
  // The webhooks' milliseconds are added here: a transform inside the list would drop its default from the JSON Schema.
  .transform((notify) => ({ ...withMilliseconds('repeat_after')(notify), webhooks: notify.webhooks.map(withMilliseconds('timeout')) }));

export const drillSchema = z
  .strictObject({
    queries: z
      .array(
        z.strictObject({
          source: z.string().optional().describe('Database source to run it on (default: every database source).'),
          sql: z.string().min(1).describe('A query returning one number in its first column, e.g. SELECT COUNT(*) FROM users.'),
          min: z.number().optional().describe('The drill fails when the number is below this.'),
          max: z.number().optional().describe('The drill fails when the number is above this.'),
        }),
      )
      .default([])
      .describe('Smoke queries run on each restored database.'),
    mysql: z
      .strictObject({
        host: z.string().optional(),
        port: port.optional(),
        socket: z.string().optional(),
        user: z.string().optional().describe('An account that may CREATE and DROP databases named restorable_drill_*.'),
        ...secretSource,
      })
      .optional()
      .describe('Where scratch databases are made (default: the source\'s own server and account).'),
  })
  .describe('Restore drills: every database restored into a scratch database, every file source into a scratch directory, compared with the facts recorded at backup time.');

export const restoreSchema = z
  .strictObject({
    mysql: z
      .strictObject({
        host: z.string().optional(),
        port: port.optional(),
        socket: z.string().optional(),
        user: z
          .string()
          .optional()
          .describe('An account that may create the restored objects: CREATE, DROP, INSERT, ALTER, INDEX, LOCK TABLES, CREATE VIEW, CREATE ROUTINE, ALTER ROUTINE, TRIGGER, EVENT on the target, and SET USER when the dump\'s definers are other accounts.'),
        ...secretSource,
      })
      .optional()
      .describe('The server and account `restore db` uses for mysql sources (default: the source\'s own). `restore db --defaults-file FILE` wins over this.'),
    keep_safety: duration('7d')
      .default('7d')
      .describe('How long a safety set (the dump of a non-empty database taken before `restore db` writes over it) is kept; retention removes it afterwards.'),
  })
  .describe('`restore db`: the account it restores as, and how long the safety copy of an overwritten database is kept.')
  .transform(withMilliseconds('keep_safety'));

/** The whole config, its sources validated by `sources` (the built-in kinds, or those and the registered ones). */
function buildConfigSchema(sources: typeof builtInSourceSchema) {
  return z
    .strictObject({
      app: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'expected a name of letters, digits, dot, dash or underscore' })
        .describe('Name of the application (the job); used in messages and the default repository path.'),
      repository: z.string().min(1).optional().describe('The local repository (default /var/backups/<app>).'),
      sources: z
        .record(
          z.string().regex(SOURCE_NAME_PATTERN, { message: 'expected a source name of lowercase letters, digits, - and _' }),
          sources,
        )
        .refine((sources) => Object.keys(sources).length > 0, { message: 'expected at least one source' })
        .describe('What to back up, by name. Each name becomes a directory of the repository (db, files, config).'),
      compression: compressionSchema,
      parallel: z.number().int().min(1).max(16).default(2).describe('How many sources run at once.'),
      retention: retentionSchema.default({ daily: 14, weekly: 4, monthly: 3, timezone: 'UTC', make_space: false }),
      // prefault, not default: the default is parsed too, so the transforms add the milliseconds.
      monitor: monitorSchema.prefault({ warn_after: '26h', critical_after: '48h', min_free: '10%', drill_max_age: '8d' }),
      notify: notifySchema.prefault({ webhooks: [], repeat_after: '24h', report_day: 'sunday' }),
      drill: drillSchema.default({ queries: [] }),
      restore: restoreSchema.prefault({ keep_safety: '7d' }),
      schedule: scheduleSchema.optional(),
    })
    .describe('restorable configuration');
}

const builtInConfigSchema = buildConfigSchema(builtInSourceSchema);
let currentConfigSchema: typeof builtInConfigSchema | undefined;

/** The schema a config is validated against: the built-in source kinds and every kind registered since. */
export function configSchema(): typeof builtInConfigSchema {
  // A registered kind's section is typed by its own schema and reaches its own
  // `prepare` (sources/registry.ts); to the rest of the code it is an opaque SourceConfig.
  currentConfigSchema ??=
    addedSourceSections.length === 0
      ? builtInConfigSchema
      : buildConfigSchema(z.discriminatedUnion('type', [...builtInSourceSections, ...addedSourceSections]) as unknown as typeof builtInSourceSchema);
  return currentConfigSchema;
}

export type Config = z.infer<typeof builtInConfigSchema>;
export type SourceConfig = z.infer<typeof builtInSourceSchema>;
export type MysqlSourceConfig = z.infer<typeof mysqlSource>;
export type PostgresSourceConfig = z.infer<typeof postgresSource>;
export type SqliteSourceConfig = z.infer<typeof sqliteSource>;
export type FilesSourceConfig = z.infer<typeof filesSource>;
export type NotifyConfig = z.infer<typeof notifySchema>;
export type DrillConfig = z.infer<typeof drillSchema>;
export type RestoreConfig = z.infer<typeof restoreSchema>;
export type NotifyEventName = (typeof notifyEventNames)[number];

/** The JSON Schema for editors (`restorable config schema`). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
