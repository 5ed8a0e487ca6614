/**
 * `deno task replay FILE... [--exchange NAME] [--format NAME] [--out DIR] [--dry-run]`
 *
 * Replays recorded sessions through the same collector code as live, writes trades to the
 * Parquet lake, shows progress on a terminal, and prints as its last line one JSON object:
 * `{"messages","trades","snapshots","book_updates","gaps","checksum_ok","checksum_failed",
 * "crossed","errors","rows_written"}` (plus `"damaged":[{"file","offset","reason"}]` when a
 * compressed file is truncated, has garbage after its end or is empty: everything before the
 * damage is replayed, and the exit code is 3), and `"not_understood"` when most messages
 * were rejected (exit code 4 when no event at all was read).
 * @module
 */
import { parseArgs, runMain } from "../../lib/cli/args.ts";
import { formatBytes, ProgressLine } from "../../lib/cli/progress.ts";
import { waitingLock } from "../../lib/cli/lake_lock.ts";
import { venueBookKeeper } from "../venues/mod.ts";
import { assembleFeed } from "../runtime/feed.ts";
import { replayFiles } from "./replay.ts";
import { expandRecordingPaths } from "./formats.ts";

const USAGE =
  `usage: deno task replay FILE_OR_DIR... [--exchange NAME] [--format NAME] [--out LAKE_DIR] [--dry-run]

  --exchange NAME   venue of the recording (default: from the recording or file name)
  --format NAME     recording format (default: from the file name)
  --out DIR         Parquet lake to write (default: $ALPHAPULSE_LAKE or ./data/lake)
  --dry-run         parse, book and count only; write nothing
  --lock-wait 5m    wait this long for another writer of the lake to finish (one writer
                    per lake), then exit 75`;

/** Exit code of a replay that read a damaged file (what was before the damage is stored). */
export const EXIT_DAMAGED = 3;
/** Exit code of a replay that read nothing usable (every message rejected). */
export const EXIT_NOT_UNDERSTOOD = 4;

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals } = parseArgs(Deno.args, {
      exchange: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      "dry-run": { type: "boolean" },
      "lock-wait": { type: "string", default: "5m" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) {
      console.log(USAGE);
      return;
    }
    if (positionals.length === 0) throw new SyntaxError(`no recording given\n\n${USAGE}`);
    // The lake is the store (every kind), whatever DATABASE_URL says.
    const feed = values["dry-run"] ? undefined : await assembleFeed({
      databaseUrl: false,
      lake: values.out as string | undefined,
      lakeLock: waitingLock("replay", values["lock-wait"] as string),
      bookChanges: true,
    });
    const progress = new ProgressLine();
    const started = performance.now();
    const summary = await replayFiles({
      files: await expandRecordingPaths(positionals),
      exchange: values.exchange as string | undefined,
      format: values.format as string | undefined,
      sinks: feed ? feed.sinks("replay") : [],
      books: (exchange) => venueBookKeeper(exchange),
      onProgress: (p) => {
        const seconds = (performance.now() - started) / 1000;
        progress.update(
          (p.fileIndex + (p.bytesTotal ? p.bytesRead / p.bytesTotal : 1)) / p.files,
          `${p.file.split("/").pop()} ${formatBytes(p.bytesRead)}/${formatBytes(p.bytesTotal)} ` +
            `${p.summary.messages.toLocaleString("en-US")} msgs ` +
            `${Math.round(p.summary.messages / Math.max(seconds, 1e-3)).toLocaleString("en-US")}/s`,
        );
      },
    });
    progress.done();
    await feed?.stop();
    console.log(JSON.stringify(summary));
    for (const d of summary.damaged ?? []) {
      console.error(
        `replay: ${d.file} is damaged at byte ${d.offset} (${d.reason}); ` +
          `everything before it was replayed`,
      );
    }
    const lost = summary.not_understood;
    if (lost) {
      console.error(
        `replay: the input was not understood as ${lost.exchange}: ` +
          `${summary.errors} of ${summary.messages} messages rejected, ` +
          `${lost.usable_events} events read. ` +
          (lost.likely
            ? `The recording looks like ${lost.likely}: try --exchange ${lost.likely}`
            : `Check --exchange and --format`),
      );
    }
    if (summary.damaged) Deno.exit(EXIT_DAMAGED);
    if (lost && lost.usable_events === 0) Deno.exit(EXIT_NOT_UNDERSTOOD);
  });
}
