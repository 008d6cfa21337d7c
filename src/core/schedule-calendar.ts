// Owns turning a cron expression (5 fields, or 6 with seconds first) into
// systemd OnCalendar= values, for `schedule install --systemd`.
// Invariants: the result fires at the same times croner (and cron) would;
// what has no faithful OnCalendar form (L, W, #, ?, a step over weekdays) is
// refused with a remedy rather than approximated. Cron fires when the day of
// month OR the weekday matches if both are restricted; OnCalendar ANDs them,
// so that case becomes two OnCalendar= values (a timer fires on either).

import { RestorableError } from './errors.ts';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function refuse(expression: string, why: string): RestorableError {
  return new RestorableError(`the cron expression "${expression}" has no systemd OnCalendar equivalent: ${why}`, {
    code: 'SCHEDULE_NOT_SYSTEMD',
    remedy: 'write it with numbers, ranges (1-5), lists (1,15) and steps (*/15) only, or use cron (`schedule install`) or `restorable daemon`',
  });
}

/** One numeric field: `*`, `5`, `1,15`, `1-5`, `*\/15`, `1-30/5` -> `*`, `05`, `01,15`, `01..05`, `00/15`, `01..30/5`. */
function numericField(field: string, lowest: number, expression: string, names: string[] = []): string {
  return field
    .split(',')
    .map((part) => {
      if (/[LW#?]/i.test(part)) throw refuse(expression, `"${part}" (L, W, # and ? are croner/Quartz extensions)`);
      const [range, step] = part.split('/');
      if (step !== undefined && !/^\d+$/.test(step)) throw refuse(expression, `the step in "${part}"`);
      const value = (text: string) => {
        const named = names.indexOf(text.toLowerCase());
        const number = named >= 0 ? named + 1 : Number(text);
        if (!Number.isInteger(number)) throw refuse(expression, `"${text}" is not a number`);
        return String(number).padStart(2, '0');
      };
      let written: string;
      if (range === '*') written = step === undefined ? '*' : String(lowest).padStart(2, '0');
      else if (range!.includes('-')) written = range!.split('-').map(value).join('..');
      else written = value(range!);
      return step === undefined ? written : `${written}/${step}`;
    })
    .join(',');
}

/** The weekday field as systemd names: `1-5` -> `Mon..Fri`, `0,6` -> `Sun,Sat`; undefined for `*`. */
function weekdayField(field: string, expression: string): string | undefined {
  if (field === '*' || field === '?') return undefined;
  const day = (text: string) => {
    const byName = WEEKDAYS.findIndex((name) => name.toLowerCase() === text.toLowerCase());
    const number = byName >= 0 ? byName : Number(text);
    if (!Number.isInteger(number) || number < 0 || number > 7) throw refuse(expression, `"${text}" is not a weekday`);
    return number;
  };
  return field
    .split(',')
    .map((part) => {
      if (part.includes('/') || /[LW#]/i.test(part)) throw refuse(expression, `the weekday "${part}"`);
      if (!part.includes('-')) return WEEKDAYS[day(part) % 7]!;
      const [from, to] = part.split('-').map(day) as [number, number];
      if (to === 7 && from === 0) return 'Sun..Sat';
      // 5-7 (Fri..Sun) crosses the week's end in systemd's Mon-first order; list those days instead.
      if (to === 7 || from > to) {
        const days: string[] = [];
        for (let index = from; index !== (to + 1) % 7 || days.length === 0; index = (index + 1) % 7) days.push(WEEKDAYS[index]!);
        return days.join(',');
      }
      return from === 0 ? `Sun,${WEEKDAYS[1]}..${WEEKDAYS[to]}` : `${WEEKDAYS[from]}..${WEEKDAYS[to]}`;
    })
    .join(',');
}

/** The OnCalendar= values for `expression` (one, or two when both day fields are restricted), with the timezone appended. */
export function onCalendarValues(expression: string, timezone?: string): string[] {
  const fields = expression.trim().split(/\s+/);
  const [second, minute, hour, dayOfMonth, month, weekday] = fields.length === 6 ? fields : ['0', ...fields];
  if (fields.length !== 5 && fields.length !== 6) throw refuse(expression, 'expected 5 or 6 fields');
  const time = `${numericField(hour!, 0, expression)}:${numericField(minute!, 0, expression)}:${numericField(second!, 0, expression)}`;
  const monthPart = numericField(month!, 1, expression, MONTHS);
  const dayPart = dayOfMonth === '?' ? '*' : numericField(dayOfMonth!, 1, expression);
  const weekdays = weekdayField(weekday!, expression);
  const zone = timezone ? ` ${timezone}` : '';
  if (weekdays && dayPart !== '*') {
    return [`${weekdays} *-${monthPart}-* ${time}${zone}`, `*-${monthPart}-${dayPart} ${time}${zone}`];
  }
  return [`${weekdays ? `${weekdays} ` : ''}*-${monthPart}-${dayPart} ${time}${zone}`];
}
