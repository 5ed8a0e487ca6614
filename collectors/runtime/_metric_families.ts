/**
 * The per-feed metric families of the collector's Prometheus exposition, in the order they
 * are written: each a name (after the `alphapulse_collector_` prefix), a type, a help text
 * and its value for one feed (`undefined`: the feed has no such figure, no row).
 * @module
 */
import type { FeedMetrics } from "./metrics.ts";
import type { FeedSummary } from "./pipeline.ts";

/** One metric family with one row per feed. */
export interface FeedFamily {
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly help: string;
  /** The feed's value, from the feed and its summary taken for this exposition. */
  readonly value: (feed: FeedMetrics, summary: FeedSummary) => number | undefined;
}

/** Every per-feed family but the status counts and histograms. */
export const FEED_FAMILIES: readonly FeedFamily[] = [
  {
    name: "messages_total",
    type: "counter",
    help: "Frames received.",
    value: (_f, s) => s.messages,
  },
  {
    name: "trades_total",
    type: "counter",
    help: "Trades emitted.",
    value: (_f, s) => s.trades,
  },
  {
    name: "book_snapshots_total",
    type: "counter",
    help: "Book snapshots.",
    value: (_f, s) => s.snapshots,
  },
  {
    name: "book_updates_total",
    type: "counter",
    help: "Book changes.",
    value: (_f, s) => s.book_updates,
  },
  {
    name: "gaps_total",
    type: "counter",
    help: "Sequence or trade-id gaps.",
    value: (_f, s) => s.gaps,
  },
  {
    name: "checksum_ok_total",
    type: "counter",
    help: "Book checksums verified.",
    value: (_f, s) => s.checksum_ok,
  },
  {
    name: "checksum_failures_total",
    type: "counter",
    help: "Book checksum mismatches (each reset the book).",
    value: (_f, s) => s.checksum_failed,
  },
  {
    name: "crossed_books_total",
    type: "counter",
    help: "Crossed books (each reset).",
    value: (_f, s) => s.crossed,
  },
  {
    name: "bad_input_total",
    type: "counter",
    help: "Bad frames, lines and venue errors.",
    value: (_f, s) => s.errors,
  },
  {
    name: "rows_written_total",
    type: "counter",
    help: "Rows persisted by the sinks.",
    value: (_f, s) => s.rows_written,
  },
  {
    name: "trades_lost_total",
    type: "counter",
    help: "Trades whose ids never arrived (counted, venues with consecutive trade ids).",
    value: (_f, s) => s.trades_lost,
  },
  {
    name: "trades_duplicate_total",
    type: "counter",
    help: "Repeated trades dropped before the sinks.",
    value: (_f, s) => s.trades_duplicate,
  },
  {
    name: "trades_recovered_total",
    type: "counter",
    help: "Trades counted as lost that arrived later (venue trade snapshots, REST backfill).",
    value: (_f, s) => s.trades_recovered,
  },
  {
    name: "trades_backfilled_total",
    type: "counter",
    help: "Trades fetched from the venue's REST trade history after they were missed live.",
    value: (_f, s) => s.trades_backfilled ?? 0,
  },
  {
    name: "resyncs_total",
    type: "counter",
    help: "Book resyncs carried out.",
    value: (_f, s) => s.resyncs,
  },
  {
    name: "sink_dropped_events_total",
    type: "counter",
    help: "Events dropped because a sink could not keep up (bounded queue full).",
    value: (_f, s) => s.events_dropped,
  },
  {
    name: "sink_dropped_trades_total",
    type: "counter",
    help: "Trades among the dropped events: lost to the sink.",
    value: (_f, s) => s.trades_dropped,
  },
  {
    name: "connects_total",
    type: "counter",
    help: "Connections opened.",
    value: (f) => f.source.connection?.stats.connects,
  },
  {
    name: "reconnects_total",
    type: "counter",
    help: "Reconnections.",
    value: (f) => f.source.connection?.stats.reconnects,
  },
  {
    name: "watchdog_restarts_total",
    type: "counter",
    help: "Connections restarted for silence.",
    value: (f) => f.source.connection?.stats.watchdogRestarts,
  },
  {
    name: "read_pauses_total",
    type: "counter",
    help: "Times reading the venue was paused because the sink queue was full (raw transport).",
    value: (f) => f.source.connection?.stats.pauses,
  },
  {
    name: "read_paused_seconds_total",
    type: "counter",
    help: "Seconds reading the venue was paused for the sink queue (ended pauses).",
    value: (f) =>
      f.source.connection?.stats.pausedMs === undefined
        ? undefined
        : f.source.connection.stats.pausedMs / 1000,
  },
  {
    name: "connected",
    type: "gauge",
    help: "1 while the venue connection is open.",
    value: (f) =>
      f.source.connection === undefined ? undefined : f.source.connection.connected ? 1 : 0,
  },
  {
    name: "last_frame_age_seconds",
    type: "gauge",
    help: "Seconds since the last frame.",
    value: (f) =>
      Number.isNaN(f.lastFrameAt) ? undefined : (performance.now() - f.lastFrameAt) / 1000,
  },
  {
    name: "sink_queue_depth",
    type: "gauge",
    help: "Events handed to sinks and not yet persisted.",
    value: (f) => f.source.queueDepth?.(),
  },
  {
    name: "flush_errors_total",
    type: "counter",
    help: "Failed sink flushes.",
    value: (f) => f.source.flushErrors?.(),
  },
  {
    name: "recorded_lines_total",
    type: "counter",
    help: "Lines recorded.",
    value: (f) => f.source.recording?.lines,
  },
  {
    name: "recorded_bytes_total",
    type: "counter",
    help: "Compressed bytes of completed recording files.",
    value: (f) => f.source.recording?.bytes,
  },
  {
    name: "recording_errors_total",
    type: "counter",
    help: "Recording write failures.",
    value: (f) => f.source.recording?.errors,
  },
];
