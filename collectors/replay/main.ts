/**
 * `deno task replay FILE... [--exchange NAME] [--format NAME] [--out DIR] [--dry-run]`
 *
 * Replays recorded sessions through the same collector code as live, writes trades to the
 * Parquet lake, shows progress on a terminal, and prints as its last line one JSON object:
 * `{"messages","trades","snapshots","book_updates","gaps","checksum_ok","checksum_failed",
 * "crossed","errors","rows_written"}`.
 * @module
 */
import { parseArgs, runMain } from "../../lib/cli/args.ts";
import { formatBytes, ProgressLine } from "../../lib/cli/progress.ts";
import { defaultLakeRoot } from "../../lib/config.ts";
import { LakeSink, ParquetLake } from "../../lib/lake/mod.ts";
import { BookKeeper } from "../../lib/book/mod.ts";
import { replayFiles } from "./replay.ts";
import { expandRecordingPaths } from "./formats.ts";

const USAGE =
  `usage: deno task replay FILE_OR_DIR... [--exchange NAME] [--format NAME] [--out LAKE_DIR] [--dry-run]

  --exchange NAME   venue of the recording (default: from the recording or file name)
  --format NAME     recording format (default: from the file name)
  --out DIR         Parquet lake to write (default: $ALPHAPULSE_LAKE or ./data/lake)
  --dry-run         parse, book and count only; write nothing`;

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals } = parseArgs(Deno.args, {
      exchange: { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) {
      console.log(USAGE);
      return;
    }
    if (positionals.length === 0) throw new SyntaxError(`no recording given\n\n${USAGE}`);
    const lake = values["dry-run"]
      ? undefined
      : await ParquetLake.open({ root: (values.out as string) ?? defaultLakeRoot() });
    const progress = new ProgressLine();
    const started = performance.now();
    const summary = await replayFiles({
      files: await expandRecordingPaths(positionals),
      exchange: values.exchange as string | undefined,
      format: values.format as string | undefined,
      sinks: lake ? [new LakeSink(lake)] : [],
      books: (exchange) => new BookKeeper({ exchange }),
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
    await lake?.close();
    console.log(JSON.stringify(summary));
  });
}
