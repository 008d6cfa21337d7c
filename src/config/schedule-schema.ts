// Owns the `schedule` section of the config: when `schedule install` (cron or
// systemd) and `daemon` run each job, and in which timezone. Optional: without
// it nothing is scheduled and the schedule check grades nothing.
// Invariants: every expression is parsed here with croner (the library the
// daemon and `schedule status` use), so a bad one fails config loading naming
// its field; 5 fields (minute precision, what cron takes) or 6 (a leading
// seconds field, for the daemon and systemd only); the timezone is one the
// runtime knows.

import { z } from 'zod';
import { Cron } from 'croner';

/** The jobs a schedule can run, in the order they are installed and shown. */
export const SCHEDULED_JOBS = ['backup', 'check', 'drill', 'report'] as const;
export type ScheduledJob = (typeof SCHEDULED_JOBS)[number];

/** Why croner refuses `expression`, or undefined when it parses (5 or 6 fields). */
export function cronExpressionProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `expected 5 fields (minute hour day month weekday) or 6 (seconds first), got ${fields}`;
  try {
    // No function given: croner only parses, it starts no timer.
    new Cron(expression, { mode: '5-or-6-parts', timezone });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function timezoneProblem(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return undefined;
  } catch {
    return `unknown timezone "${timezone}" (expected an IANA name such as Europe/Berlin)`;
  }
}

const cronExpression = (example: string, what: string) =>
  z
    .string()
    .superRefine((expression, context) => {
      const problem = cronExpressionProblem(expression);
      if (problem) context.addIssue({ code: 'custom', message: `not a cron expression ("${example}"): ${problem}` });
    })
    .optional()
    .describe(`${what}: a cron expression such as "${example}" (5 fields; 6 with seconds first for the daemon and systemd only).`);

export const scheduleSchema = z
  .strictObject({
    backup: cronExpression('0 3 * * *', 'When to back up'),
    check: cronExpression('0 * * * *', 'When to run the monitor (`check`), which notifies on state changes'),
    drill: cronExpression('30 4 * * 0', 'When to run the restore drill'),
    report: cronExpression('0 8 * * 1', 'When to send the weekly report'),
    timezone: z
      .string()
      .superRefine((timezone, context) => {
        const problem = timezoneProblem(timezone);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('The timezone the expressions are read in (default: the system\'s).'),
  })
  .describe('When each job runs: `restorable schedule install` writes it to cron or systemd, `restorable daemon` runs it itself.');

export type ScheduleConfig = z.infer<typeof scheduleSchema>;

/** What to do when a command needs a schedule and the config has none. */
export const ADD_SCHEDULE_REMEDY = 'add a `schedule:` section, e.g. schedule: { backup: "0 3 * * *", check: "0 * * * *", drill: "30 4 * * 0" }';

/** The configured jobs with their expressions, in SCHEDULED_JOBS order. */
export function scheduledJobs(schedule: ScheduleConfig | undefined): Array<{ job: ScheduledJob; expression: string }> {
  if (!schedule) return [];
  return SCHEDULED_JOBS.flatMap((job) => (schedule[job] ? [{ job, expression: schedule[job]! }] : []));
}
