// A PostgreSQL database with every object kind a Laravel app's database can
// hold, under awkward names and with awkward data, for the round-trip tests:
// schemas, tables (one partitioned, one with an identity, a generated column,
// foreign keys), views, a materialized view, sequences (one advanced), SQL and
// plpgsql functions, a procedure, triggers, enum/composite/domain/range types,
// the extensions an app uses (pgcrypto, uuid-ossp, citext) and large objects.
// Names carry spaces, double quotes, semicolons and unicode; data carries
// bytea with every byte value, NaN/±Infinity, timestamptz written in several
// time zones, ±infinity timestamps, arrays, jsonb, and text that looks like
// the dump's own trailer and COPY's end marker. Everything is created by the
// app's role (it owns the database, as Laravel's does), never by a superuser:
// the three extensions are trusted ones on PostgreSQL 13+.

import type { PrivatePostgres } from './private-postgres.ts';

export const AWKWARD_TABLE = '"Billing Dept"."Customer ""Quoted"" Table"';
export const APP_EXTENSIONS = ['citext', 'pgcrypto', 'uuid-ossp'] as const;

/** The dump's own trailer as a line inside a function body: a completeness check must look at the real end. */
export const TRAILER_LOOKALIKE = '-- PostgreSQL database dump complete';

/** Creates `database` owned by `owner` (a LOGIN role with `password`) and fills it as that role. */
export async function createAwkwardDatabase(server: PrivatePostgres, database: string, owner: { user: string; password: string }): Promise<void> {
  await server.createDatabase(database, owner.user);
  // The app role creates its own extensions (trusted) in a schema it owns: REVOKE CREATE ON public is PG15's default.
  await server.query({ ...owner, database }, AWKWARD_SCHEMA_SQL);
  await server.query({ ...owner, database }, AWKWARD_DATA_SQL);
}

const AWKWARD_SCHEMA_SQL = `
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS citext;

CREATE SCHEMA "Billing Dept";
CREATE SCHEMA ünïcødé_スキーマ;
COMMENT ON SCHEMA "Billing Dept" IS 'Kunden & Rechnungen — "quoted"; it''s fine';

CREATE TYPE "Billing Dept"."order state" AS ENUM ('new', 'paid', 'shipped', 'it''s "done"', 'ünï 🚀');
CREATE TYPE public.money_pair AS (amount numeric(12,2), currency char(3));
CREATE DOMAIN public.positive_int AS integer CONSTRAINT "must be > 0" CHECK (VALUE > 0);
CREATE TYPE public.float_range AS RANGE (subtype = float8);

CREATE SEQUENCE "Billing Dept"."invoice numbers; 2024" START 1000 INCREMENT 7;
CREATE SEQUENCE public.never_used START 5;

CREATE TABLE ${AWKWARD_TABLE} (
  id bigserial PRIMARY KEY,
  "e-mail" citext NOT NULL UNIQUE,
  uuid uuid NOT NULL DEFAULT uuid_generate_v4(),
  name text NOT NULL,
  "Ünïcødé 名前" text,
  secret bytea,
  password_hash text DEFAULT crypt('x', gen_salt('bf', 4)),
  state "Billing Dept"."order state" NOT NULL DEFAULT 'new',
  created timestamptz NOT NULL,
  score double precision,
  amount numeric,
  tags text[],
  matrix integer[][],
  doc jsonb,
  pair public.money_pair,
  qty public.positive_int,
  span public.float_range,
  invoice_no bigint DEFAULT nextval('"Billing Dept"."invoice numbers; 2024"'),
  shouted text GENERATED ALWAYS AS (upper(name)) STORED
);
CREATE INDEX "by created, desc" ON ${AWKWARD_TABLE} (created DESC) WHERE score IS NOT NULL;
COMMENT ON COLUMN ${AWKWARD_TABLE}."e-mail" IS 'case-insensitive (citext)';

CREATE TABLE public.all_bytes (id integer PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE public.audit_log (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint REFERENCES ${AWKWARD_TABLE} (id) ON DELETE CASCADE,
  what text NOT NULL
);
CREATE TABLE public.measurements (taken date NOT NULL, value real) PARTITION BY RANGE (taken);
CREATE TABLE public.measurements_2023 PARTITION OF public.measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE public.measurements_2024 PARTITION OF public.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.attachments (id integer PRIMARY KEY, content oid NOT NULL);
CREATE TABLE ünïcødé_スキーマ."テーブル ☕" ("列" text PRIMARY KEY);
CREATE UNLOGGED TABLE public.cache_entries (key text PRIMARY KEY, value text);

CREATE FUNCTION "Billing Dept".gross(amount numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
  AS $$ SELECT round(amount * 1.19, 2) $$;
CREATE FUNCTION public.log_customer() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  INSERT INTO public.audit_log (customer_id, what) VALUES (NEW.id, TG_OP || ' ' || NEW.name);
  RETURN NEW;
END
$body$;
CREATE FUNCTION public.looks_like_the_end() RETURNS text LANGUAGE sql AS $body$
SELECT 'a body with the trailer on its own line'
${TRAILER_LOOKALIKE}
$body$;
CREATE PROCEDURE public.rename_customer(IN customer bigint, IN new_name text) LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ${AWKWARD_TABLE} SET name = new_name WHERE id = customer;
END
$$;
CREATE TRIGGER "after insert; log it" AFTER INSERT ON ${AWKWARD_TABLE} FOR EACH ROW EXECUTE FUNCTION public.log_customer();

CREATE VIEW "Billing Dept"."paying customers" AS
  SELECT id, "e-mail", "Billing Dept".gross(amount) AS gross FROM ${AWKWARD_TABLE} WHERE state = 'paid';
CREATE MATERIALIZED VIEW public.customers_by_state AS
  SELECT state, count(*) AS customers FROM ${AWKWARD_TABLE} GROUP BY state;
CREATE UNIQUE INDEX customers_by_state_state ON public.customers_by_state (state);
`;

const AWKWARD_DATA_SQL = `
-- One row with every byte value in order, then one row per byte value.
INSERT INTO public.all_bytes
  SELECT 0, string_agg(set_byte('\\x00'::bytea, 0, b), ''::bytea ORDER BY b) FROM generate_series(0, 255) AS b;
INSERT INTO public.all_bytes SELECT b + 1, set_byte('\\x00'::bytea, 0, b) FROM generate_series(0, 255) AS b;

SET TIME ZONE 'Pacific/Chatham';
INSERT INTO ${AWKWARD_TABLE} ("e-mail", name, "Ünïcødé 名前", secret, state, created, score, amount, tags, matrix, doc, pair, qty, span)
VALUES
  ('Zoe@Example.com', 'Zoë 🚀', '名前 with a "quote" and a '' and a \\ backslash', '\\x00ff0a0d5c27',
   'paid', '2024-03-31 02:30:00', 'NaN', 'NaN', ARRAY['a,b', 'c"d', NULL, '', 'e''f'], '{{1,2},{3,4}}',
   '{"k": "v", "nested": {"a": [1, 2.5, null, true]}, "ünï": "🚀", "esc": "line\\nbreak"}', ROW(12.34, 'EUR'), 3, '[1.5,2.5)');
SET TIME ZONE 'America/St_Johns';
INSERT INTO ${AWKWARD_TABLE} ("e-mail", name, "Ünïcødé 名前", secret, state, created, score, amount, tags, doc, qty, span)
VALUES
  ('jurgen@example.com', 'Jürgen', E'tab\\there\\nnewline\\r\\nand \\\\. alone', '\\x', 'shipped', '1969-12-31 23:59:59.999999', 'Infinity', 'Infinity', '{}', '[]', 1, 'empty'),
  ('neg@example.com', 'Negative', E'\\\\.', NULL, 'it''s "done"', 'infinity', '-Infinity', '-Infinity', NULL, 'null', NULL, '(,0]'),
  ('old@example.com', 'Caesar', 'ünï 🚀', NULL, 'ünï 🚀', '-infinity', -0.0, -1e-20, ARRAY['${TRAILER_LOOKALIKE}'], '"${TRAILER_LOOKALIKE}"', 2, NULL);
SET TIME ZONE 'Asia/Kolkata';
INSERT INTO ${AWKWARD_TABLE} ("e-mail", name, created, score, amount)
  SELECT 'bulk' || i || '@example.com', 'bulk ' || i, timestamptz '2000-01-01 00:00:00' + i * interval '1 hour 7 minutes', i / 7.0, i * 1.01
  FROM generate_series(1, 2000) AS i;
RESET TIME ZONE;
SELECT nextval('"Billing Dept"."invoice numbers; 2024"') FROM generate_series(1, 3);

INSERT INTO public.measurements VALUES ('2023-06-01', 1.5), ('2024-02-29', 'NaN'), ('2024-12-31', '-Infinity');
INSERT INTO ünïcødé_スキーマ."テーブル ☕" VALUES ('☕'), ('日本語'), ('');
INSERT INTO public.cache_entries VALUES ('k', 'v');

-- Large objects: one with a fixed OID holding every byte value, one from lo_create, referenced from a table.
SELECT lo_from_bytea(424242, (SELECT data FROM public.all_bytes WHERE id = 0));
INSERT INTO public.attachments VALUES (1, 424242), (2, lo_from_bytea(0, convert_to(repeat('Große Datei ', 5000), 'UTF8')));

REFRESH MATERIALIZED VIEW public.customers_by_state;
CALL public.rename_customer(1, 'Zoë "renamed" 🚀');
`;
