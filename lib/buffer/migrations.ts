/**
 * The hot buffer's schema as versioned SQL migrations, in two layouts:
 *
 * - `plain` (PostgreSQL without extensions, what the tests exercise): event tables are
 *   natively range-partitioned by day on `ts`; partitions are created ahead by
 *   `buffer_ensure_partitions`, and `buffer_drop_expired` drops a day's partition only
 *   after the exporter recorded a verified export of exactly the rows it holds; since
 *   version 2 it also deletes the verified, expired days of `event_log` (not partitioned).
 * - `timescale` (when the `timescaledb` extension is available): hypertables with 1-day
 *   chunks, compression segmented by `exchange, symbol`, a 1-minute OHLCV+VWAP continuous
 *   aggregate (`bars_1m`) and a 7-day retention job that, like the plain one, drops chunks
 *   only up to the verified export watermark.
 *
 * Every event table has an idempotency key, so replaying or re-sending a batch never
 * duplicates rows: trades `(exchange, symbol, ts, id)` (the venue's trade id plus the
 * venue time, which also makes it a valid key of a time-partitioned table); other events
 * `(exchange, symbol, ts, recv_ts, digest)`, where `digest` is a 32-bit hash of the rest of
 * the row (computed by the writer): distinct events with identical times stay distinct, and
 * an identical event sent again collapses into the stored one.
 * @module
 */

/** The physical layout of the buffer. */
export type BufferLayout = "plain" | "timescale";

/** One schema version; `timescale` replaces `plain` in the TimescaleDB layout when given. */
export interface Migration {
  /** Increasing version number, starting at 1. */
  readonly version: number;
  /** Short snake_case name. */
  readonly name: string;
  /** SQL for plain PostgreSQL (several statements allowed). */
  readonly plain: string;
  /** SQL for the TimescaleDB layout; defaults to `plain`. */
  readonly timescale?: string;
}

/** Tables that hold events and are partitioned (plain) or hypertables (timescale) by `ts`. */
export const EVENT_TABLES = ["trades", "book_changes", "book_snapshots", "quotes"] as const;

const eventTables = (partition: string) => `
CREATE TABLE trades (
  exchange text NOT NULL,
  symbol text NOT NULL,
  id text NOT NULL,
  price double precision NOT NULL,
  size double precision NOT NULL,
  side text NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  PRIMARY KEY (exchange, symbol, ts, id)
)${partition};

CREATE TABLE book_changes (
  exchange text NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  digest integer NOT NULL,
  bid_prices double precision[] NOT NULL,
  bid_sizes double precision[] NOT NULL,
  ask_prices double precision[] NOT NULL,
  ask_sizes double precision[] NOT NULL,
  first_sequence bigint,
  sequence bigint,
  checksum bigint,
  PRIMARY KEY (exchange, symbol, ts, recv_ts, digest)
)${partition};

CREATE TABLE book_snapshots (
  exchange text NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  digest integer NOT NULL,
  bid_prices double precision[] NOT NULL,
  bid_sizes double precision[] NOT NULL,
  ask_prices double precision[] NOT NULL,
  ask_sizes double precision[] NOT NULL,
  sequence bigint,
  checksum bigint,
  PRIMARY KEY (exchange, symbol, ts, recv_ts, digest)
)${partition};

CREATE TABLE quotes (
  exchange text NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  digest integer NOT NULL,
  bid_price double precision NOT NULL,
  bid_size double precision NOT NULL,
  ask_price double precision NOT NULL,
  ask_size double precision NOT NULL,
  PRIMARY KEY (exchange, symbol, ts, recv_ts, digest)
)${partition};

CREATE TABLE bars (
  exchange text NOT NULL,
  symbol text NOT NULL,
  interval_us bigint NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  open double precision NOT NULL,
  high double precision NOT NULL,
  low double precision NOT NULL,
  close double precision NOT NULL,
  volume double precision NOT NULL,
  vwap double precision,
  trades bigint NOT NULL,
  PRIMARY KEY (exchange, symbol, interval_us, ts)
);

CREATE TABLE event_log (
  exchange text NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  recv_ts timestamptz NOT NULL,
  digest integer NOT NULL,
  status text NOT NULL,
  reason text NOT NULL,
  PRIMARY KEY (exchange, symbol, ts, recv_ts, digest)
);
CREATE INDEX event_log_recv_ts ON event_log (recv_ts);

-- What the exporter wrote to the lake: one row per table and UTC day, with the row counts
-- it read from the buffer and verified in the lake. Retention drops nothing without it.
CREATE TABLE export_days (
  kind text NOT NULL,
  day date NOT NULL,
  buffer_rows bigint NOT NULL,
  lake_rows bigint NOT NULL,
  verified_at timestamptz,
  PRIMARY KEY (kind, day)
);

-- The exporter's watermark per table: everything before it is in the lake.
CREATE TABLE export_watermarks (
  kind text PRIMARY KEY,
  watermark timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;

const plainFunctions = `
-- Creates the daily partitions of an event table that cover [from_ts, to_ts].
CREATE FUNCTION buffer_ensure_partitions(parent text, from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  day date := (from_ts AT TIME ZONE 'UTC')::date;
  last_day date := (to_ts AT TIME ZONE 'UTC')::date;
  part text;
  created integer := 0;
BEGIN
  IF last_day - day > 3660 THEN
    RAISE EXCEPTION 'refusing to create % partitions of %', last_day - day, parent;
  END IF;
  WHILE day <= last_day LOOP
    part := parent || '_p' || to_char(day, 'YYYYMMDD');
    IF to_regclass(part) IS NULL THEN
      BEGIN
        EXECUTE format(
          'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
          part, parent,
          (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
        created := created + 1;
      EXCEPTION WHEN duplicate_table THEN
        NULL; -- created concurrently
      END;
    END IF;
    day := day + 1;
  END LOOP;
  RETURN created;
END $$;

-- Lists the daily partitions of an event table with their UTC day.
CREATE FUNCTION buffer_partitions(parent text)
RETURNS TABLE (partition text, day date) LANGUAGE sql STABLE AS $$
  SELECT c.relname::text, to_date(right(c.relname, 8), 'YYYYMMDD')
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = parent::regclass AND c.relname ~ '_p[0-9]{8}$'
  ORDER BY 2
$$;

-- Retention: drops the partitions of days that ended more than 'retain' ago, but only
-- those the exporter verified, and only if the partition still holds exactly the rows
-- that were exported (rows that arrived later keep the day until it is exported again).
-- Returns the dropped partitions.
CREATE FUNCTION buffer_drop_expired(retain interval DEFAULT interval '7 days')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t text;
  p record;
  n bigint;
  verified bigint;
BEGIN
  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP
    FOR p IN SELECT * FROM buffer_partitions(t)
             WHERE ((day + 1)::timestamp AT TIME ZONE 'UTC') <= now() - retain LOOP
      SELECT e.buffer_rows INTO verified FROM export_days e
       WHERE e.kind = t AND e.day = p.day AND e.verified_at IS NOT NULL
         AND e.lake_rows = e.buffer_rows;
      IF verified IS NULL THEN
        CONTINUE;
      END IF;
      EXECUTE format('SELECT count(*) FROM %I', p.partition) INTO n;
      IF n = verified THEN
        EXECUTE format('DROP TABLE %I', p.partition);
        RETURN NEXT p.partition;
      END IF;
    END LOOP;
  END LOOP;
END $$;
`;

const timescaleSetup = `
CREATE EXTENSION IF NOT EXISTS timescaledb;
${eventTables("")}
SELECT create_hypertable('trades', 'ts', chunk_time_interval => interval '1 day');
SELECT create_hypertable('book_changes', 'ts', chunk_time_interval => interval '1 day');
SELECT create_hypertable('book_snapshots', 'ts', chunk_time_interval => interval '1 day');
SELECT create_hypertable('quotes', 'ts', chunk_time_interval => interval '1 day');

ALTER TABLE trades SET (timescaledb.compress,
  timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts, id');
ALTER TABLE book_changes SET (timescaledb.compress,
  timescaledb.compress_segmentby = 'exchange, symbol');
ALTER TABLE book_snapshots SET (timescaledb.compress,
  timescaledb.compress_segmentby = 'exchange, symbol');
ALTER TABLE quotes SET (timescaledb.compress,
  timescaledb.compress_segmentby = 'exchange, symbol');
SELECT add_compression_policy('trades', interval '1 day');
SELECT add_compression_policy('book_changes', interval '1 day');
SELECT add_compression_policy('book_snapshots', interval '1 day');
SELECT add_compression_policy('quotes', interval '1 day');

CREATE MATERIALIZED VIEW bars_1m WITH (timescaledb.continuous) AS
SELECT exchange, symbol, time_bucket(interval '1 minute', ts) AS ts,
  first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close,
  sum(size) AS volume, sum(price * size) / nullif(sum(size), 0) AS vwap, count(*) AS trades
FROM trades GROUP BY exchange, symbol, time_bucket(interval '1 minute', ts)
WITH NO DATA;
SELECT add_continuous_aggregate_policy('bars_1m',
  start_offset => interval '2 hours', end_offset => interval '1 minute',
  schedule_interval => interval '1 minute');

-- Compatibility with the plain layout: chunks are created by TimescaleDB itself.
CREATE FUNCTION buffer_ensure_partitions(parent text, from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;

-- Retention (a 7-day policy by default): drops chunks older than 'retain', but never past
-- the verified export watermark of the table.
CREATE FUNCTION buffer_drop_expired(retain interval DEFAULT interval '7 days')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t text;
  verified timestamptz;
  cutoff timestamptz;
BEGIN
  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP
    SELECT ((max(day) + 1)::timestamp AT TIME ZONE 'UTC') INTO verified FROM export_days e
     WHERE e.kind = t AND e.verified_at IS NOT NULL AND e.lake_rows = e.buffer_rows
       AND NOT EXISTS (SELECT 1 FROM export_days u WHERE u.kind = t AND u.day < e.day
                       AND (u.verified_at IS NULL OR u.lake_rows <> u.buffer_rows));
    IF verified IS NULL THEN
      CONTINUE;
    END IF;
    cutoff := least(now() - retain, verified);
    RETURN QUERY SELECT drop_chunks(t::regclass, older_than => cutoff)::text;
  END LOOP;
END $$;

CREATE PROCEDURE buffer_retention_job(job_id integer, config jsonb) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM buffer_drop_expired(coalesce((config ->> 'retain')::interval, interval '7 days'));
END $$;
SELECT add_job('buffer_retention_job', interval '1 hour', config => '{"retain": "7 days"}');
`;

/**
 * Version 2: retention of `event_log`, which is a plain table in both layouts (feed
 * statuses are few). `buffer_delete_expired_event_log(retain)` deletes the rows of each
 * expired day that the exporter verified, in a subtransaction that is rolled back unless it
 * deleted exactly the verified number of rows (a late row keeps the day until it is
 * exported too); an index on `ts` serves the exporter's day probes and these deletes.
 * `buffer_drop_expired` then calls it after dropping the event tables' partitions (plain) or
 * chunks (TimescaleDB), and returns `event_log_pYYYYMMDD` for each day it deleted.
 */
const eventLogRetention = `
CREATE INDEX event_log_ts ON event_log (ts);

CREATE FUNCTION buffer_delete_expired_event_log(retain interval DEFAULT interval '7 days')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  d record;
  n bigint;
BEGIN
  FOR d IN SELECT e.day, e.buffer_rows,
                  (e.day::timestamp AT TIME ZONE 'UTC') AS day_start,
                  ((e.day + 1)::timestamp AT TIME ZONE 'UTC') AS day_end
           FROM export_days e
           WHERE e.kind = 'event_log' AND e.verified_at IS NOT NULL
             AND e.lake_rows = e.buffer_rows
             AND ((e.day + 1)::timestamp AT TIME ZONE 'UTC') <= now() - retain
           ORDER BY e.day LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM event_log l
                              WHERE l.ts >= d.day_start AND l.ts < d.day_end);
    BEGIN
      DELETE FROM event_log WHERE ts >= d.day_start AND ts < d.day_end;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n <> d.buffer_rows THEN
        -- Rows arrived after the verification (or went missing): undo, keep the day.
        RAISE EXCEPTION 'event_log % holds % rows, % verified', d.day, n, d.buffer_rows;
      END IF;
      RETURN NEXT 'event_log_p' || to_char(d.day, 'YYYYMMDD');
    EXCEPTION WHEN raise_exception THEN
      NULL;
    END;
  END LOOP;
END $$;
`;

const plainRetentionV2 = eventLogRetention + `
CREATE OR REPLACE FUNCTION buffer_drop_expired(retain interval DEFAULT interval '7 days')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t text;
  p record;
  n bigint;
  verified bigint;
BEGIN
  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP
    FOR p IN SELECT * FROM buffer_partitions(t)
             WHERE ((day + 1)::timestamp AT TIME ZONE 'UTC') <= now() - retain LOOP
      SELECT e.buffer_rows INTO verified FROM export_days e
       WHERE e.kind = t AND e.day = p.day AND e.verified_at IS NOT NULL
         AND e.lake_rows = e.buffer_rows;
      IF verified IS NULL THEN
        CONTINUE;
      END IF;
      -- No row may arrive between the count and the drop: writers wait on the parent's
      -- lock (readers do not) until this transaction ends, then go to the remaining days.
      EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', t);
      EXECUTE format('SELECT count(*) FROM %I', p.partition) INTO n;
      IF n = verified THEN
        EXECUTE format('DROP TABLE %I', p.partition);
        RETURN NEXT p.partition;
      END IF;
    END LOOP;
  END LOOP;
  RETURN QUERY SELECT buffer_delete_expired_event_log(retain);
END $$;
`;

const timescaleRetentionV2 = eventLogRetention + `
CREATE OR REPLACE FUNCTION buffer_drop_expired(retain interval DEFAULT interval '7 days')
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  t text;
  verified timestamptz;
  cutoff timestamptz;
BEGIN
  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP
    SELECT ((max(day) + 1)::timestamp AT TIME ZONE 'UTC') INTO verified FROM export_days e
     WHERE e.kind = t AND e.verified_at IS NOT NULL AND e.lake_rows = e.buffer_rows
       AND NOT EXISTS (SELECT 1 FROM export_days u WHERE u.kind = t AND u.day < e.day
                       AND (u.verified_at IS NULL OR u.lake_rows <> u.buffer_rows));
    IF verified IS NULL THEN
      CONTINUE;
    END IF;
    cutoff := least(now() - retain, verified);
    RETURN QUERY SELECT drop_chunks(t::regclass, older_than => cutoff)::text;
  END LOOP;
  RETURN QUERY SELECT buffer_delete_expired_event_log(retain);
END $$;
`;

/**
 * Version 3: the action log of runs (`actions`, see `lib/schema/tables.ts`): one row per
 * action, keyed by source (`exchange`), run (`symbol`) and sequence number. Not partitioned
 * and never dropped by retention (an audit log is kept); the exporter copies it to the lake
 * by run. `IF NOT EXISTS`, so a database where the table was made by hand migrates too.
 */
const actionLog = `
CREATE TABLE IF NOT EXISTS actions (
  exchange text NOT NULL,
  symbol text NOT NULL,
  seq bigint NOT NULL,
  ts timestamptz NOT NULL,
  action text NOT NULL,
  payload text NOT NULL,
  prev text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (exchange, symbol, seq)
);
`;

/**
 * Version 4: trades fetched from a venue's REST history after being missed live are marked
 * (`backfilled`, see `lib/schema/tables.ts`). Rows stored before read as not backfilled. The
 * key is unchanged: a trade stored live and the same trade backfilled are one row, and
 * `ON CONFLICT DO NOTHING` keeps the one stored first. The same statement serves the
 * partitioned table (partitions inherit the column) and the TimescaleDB hypertable (a
 * column with a constant default is allowed on compressed chunks).
 */
const backfilledTrades = `
ALTER TABLE trades ADD COLUMN IF NOT EXISTS backfilled boolean NOT NULL DEFAULT false;
`;

/** All migrations, in order. Append new versions; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "event_tables",
    plain: eventTables(" PARTITION BY RANGE (ts)") + plainFunctions + `
SELECT buffer_ensure_partitions(t, now(), now() + interval '2 days')
FROM unnest(ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes']) AS t;
`,
    timescale: timescaleSetup,
  },
  {
    version: 2,
    name: "event_log_retention",
    plain: plainRetentionV2,
    timescale: timescaleRetentionV2,
  },
  { version: 3, name: "action_log", plain: actionLog },
  { version: 4, name: "backfilled_trades", plain: backfilledTrades },
];
