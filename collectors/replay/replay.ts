/**
 * Replays recorded sessions through the same adapter, books and sinks as the live path.
 * @module
 */
import type { EventSink } from "../../lib/market/mod.ts";
import { FeedDiagnostics } from "../runtime/diagnostics.ts";
import { type BookStage, FeedPipeline, type FeedSummary } from "../runtime/pipeline.ts";
import { createAdapter } from "../venues/mod.ts";
import { formatFor, formatNames } from "./formats.ts";
import { detectVenue, KNOWN_RECORDINGS, type VenueDetection } from "./detect.ts";
import { UsableEvents } from "./usable_events.ts";
import type { StreamDamage } from "./_lines.ts";

/** A recording so damaged that nothing could be read from it (exit code 3 in programs). */
export class DamagedRecordingError extends Error {
  /** The exit code of a replay that read a damaged file. */
  readonly exitCode = 3;
  constructor(message: string) {
    super(message);
    this.name = "DamagedRecordingError";
  }
}

/** A compressed recording that is damaged: what was before `offset` was replayed. */
export interface DamagedFile {
  readonly file: string;
  /** Byte offset of the damage in the (compressed) file. */
  readonly offset: number;
  readonly reason: string;
}

/**
 * What a replay read: the feed's summary, plus the damaged files and `not_understood` when
 * most messages were rejected or none gave an event (other than feed statuses).
 */
export type ReplaySummary = FeedSummary & {
  damaged?: DamagedFile[];
  not_understood?: {
    /** The venue the recording was read as. */
    exchange: string;
    /** Events (not statuses) the replay produced. */
    usable_events: number;
    /** The venue its URLs and frames point to, when another. */
    likely?: string;
  };
};

/** Progress of a replay, reported about every 100 ms. */
export interface ReplayProgress {
  readonly file: string;
  readonly fileIndex: number;
  readonly files: number;
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly summary: FeedSummary;
}

/** Options for {@linkcode replayFiles}. */
export interface ReplayOptions {
  /** Recording files, replayed in this order as one session. */
  readonly files: readonly string[];
  /** Venue; guessed from the first connection URL or the file name when omitted. */
  readonly exchange?: string;
  /** Recording format; by file name when omitted. */
  readonly format?: string;
  /** Where events go (lake, buffer, hub). */
  readonly sinks?: readonly EventSink[];
  /** Builds the book stage for the venue (integrity checks). */
  readonly books?: (exchange: string) => BookStage | undefined;
  /** Flush the sinks after this many frames (bounds memory; default 200,000). */
  readonly flushEvery?: number;
  /** Progress callback. */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Diagnostics (default: a new one logging to stderr). */
  readonly diagnostics?: FeedDiagnostics;
}

/**
 * Replays files and resolves to the summary. Bad lines and frames are counted in `errors`.
 * @throws {RangeError} when the venue cannot be determined or has no adapter.
 */
export async function replayFiles(options: ReplayOptions): Promise<ReplaySummary> {
  if (options.files.length === 0) throw new RangeError("no files to replay");
  const diagnostics = options.diagnostics ?? new FeedDiagnostics({ context: { task: "replay" } });
  const exchange = await exchangeOf(options);
  const usable = new UsableEvents();
  const pipeline = new FeedPipeline({
    adapter: createAdapter(exchange, { diagnostics }),
    diagnostics,
    books: options.books?.(exchange),
    sinks: [...(options.sinks ?? []), usable],
  });
  const flushEvery = options.flushEvery ?? 200_000;
  let sinceFlush = 0;
  // Files replay as one session: a connect in a later file is a reconnect.
  let connections = 0;
  const damaged: DamagedFile[] = [];
  for (let i = 0; i < options.files.length; i++) {
    const file = options.files[i];
    const bytesTotal = (await Deno.stat(file)).size;
    let bytesRead = 0;
    let lastReport = 0;
    const report = () =>
      options.onProgress?.({
        file,
        fileIndex: i,
        files: options.files.length,
        bytesRead,
        bytesTotal,
        summary: pipeline.summary(),
      });
    const format = formatFor(file, options.format);
    const items = format.read(file, {
      onBytes: (n) => {
        bytesRead = n;
        const now = performance.now();
        if (now - lastReport > 100) {
          lastReport = now;
          report();
        }
      },
      onDamage: (d) => damaged.push(damage(diagnostics, file, d)),
    });
    for await (const item of items) {
      switch (item.kind) {
        case "recv":
          pipeline.handleFrame(item.data, item.recvTs);
          if (++sinceFlush >= flushEvery) {
            sinceFlush = 0;
            await pipeline.flush();
          }
          break;
        case "connect":
          // A new connection in the recording: per-connection state starts afresh.
          if (connections++ > 0) pipeline.handleReconnect(item.recvTs, `reconnect to ${item.data}`);
          break;
        case "unreadable":
          diagnostics.error(`unreadable recording line: ${item.reason}`, item.text, {
            file,
            line: item.line,
          });
          break;
        case "send":
        case "rest":
          break;
      }
    }
    report();
  }
  await pipeline.close();
  const summary: ReplaySummary = pipeline.summary();
  if (damaged.length > 0) summary.damaged = damaged;
  const notUnderstood = await notUnderstoodOf(summary, usable.count, exchange, options);
  if (notUnderstood !== undefined) summary.not_understood = notUnderstood;
  return summary;
}

/** A damaged stretch of `file`: counted as bad input and returned for the summary. */
function damage(diagnostics: FeedDiagnostics, file: string, d: StreamDamage): DamagedFile {
  diagnostics.error(`damaged recording: ${d.reason}`, `byte ${d.offset}`, {
    file,
    offset: d.offset,
  });
  return { file, ...d };
}

/**
 * The venue of the replay: the option, or the one the first file's URLs and frames show.
 * @throws {RangeError} when neither names one.
 */
async function exchangeOf(options: ReplayOptions): Promise<string> {
  const exchange = options.exchange ??
    (await detectExchange(options.files[0], options.format)).exchange;
  if (exchange === undefined) {
    throw new RangeError(
      `cannot tell the venue of ${options.files[0]}: its URLs and frames match none we know. ` +
        `Venues: ${KNOWN_RECORDINGS.join("; ")}. Formats: ${formatNames()}. ` +
        `Pass --exchange NAME (and --format NAME) if it is one of them`,
    );
  }
  return exchange;
}

/**
 * Whether the adapter of `exchange` did not understand the frames (no usable event, or more
 * errors than half the messages), with the venue the files look like instead.
 */
async function notUnderstoodOf(
  summary: ReplaySummary,
  usable: number,
  exchange: string,
  options: ReplayOptions,
): Promise<ReplaySummary["not_understood"]> {
  const rejected = summary.errors * 2 > summary.messages;
  if (!((summary.messages > 0 || summary.errors > 0) && (usable === 0 || rejected))) {
    return undefined;
  }
  // A file damaged before its first frame suggests no venue; its damage is reported above.
  const likely = await detectExchange(options.files[0], options.format)
    .then((d) => d.exchange, () => undefined);
  return { exchange, usable_events: usable, likely: likely !== exchange ? likely : undefined };
}

async function detectExchange(file: string, format?: string): Promise<VenueDetection> {
  let damage: StreamDamage | undefined;
  const items = formatFor(file, format).read(file, { onDamage: (d) => (damage = d) });
  const detection = await detectVenue(items, file.split("/").pop() ?? file);
  if (detection.frames === 0 && damage) {
    throw new DamagedRecordingError(
      `${file} is damaged at byte ${damage.offset}: ${damage.reason}`,
    );
  }
  return detection;
}
