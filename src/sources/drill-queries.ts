// Owns the drill's smoke queries (`drill.queries`): which apply to a source,
// and how a query's number is judged against its bounds. Each database kind
// runs them its own way and hands the number (or the error) here, so every
// kind words a failed query the same.

import type { DrillConfig } from '../config/schema.ts';

export type DrillQuery = DrillConfig['queries'][number];

/** The queries for this source: those naming it, and those naming none. */
export function queriesFor(drill: DrillConfig, source: string): DrillQuery[] {
  return drill.queries.filter((query) => query.source === undefined || query.source === source);
}

/** The differences a query's answer makes: none when it is a number within the bounds. */
export function judgeQuery(query: DrillQuery, value: number | Error): string[] {
  if (value instanceof Error) return [`query "${query.sql}" failed: ${value.message}`];
  if (Number.isNaN(value)) return [`query "${query.sql}" returned no number`];
  if (query.min !== undefined && value < query.min) return [`query "${query.sql}" returned ${value}, expected at least ${query.min}`];
  if (query.max !== undefined && value > query.max) return [`query "${query.sql}" returned ${value}, expected at most ${query.max}`];
  return [];
}
