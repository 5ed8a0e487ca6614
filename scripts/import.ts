/**
 * `deno task import FILE --table bars|trades --exchange NAME --symbol SYM [--interval 1d]
 * [--lake DIR] [--format csv|parquet] [--lock-wait 5m]`
 *
 * Brings CSV or Parquet bars or trades made elsewhere into the lake (see
 * `lib/importers/import.ts` for the columns it reads). Every row is checked before anything
 * is written: bad input prints `error: FILE:LINE: column "NAME": what is wrong` and exits 65
 * with the lake unchanged. On success the last line on stdout is one JSON object:
 * `{"table","exchange","symbol","rows","written","existing","first","last","interval_us"}`.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { waitingLock } from "../lib/cli/lake_lock.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { importFile } from "../lib/importers/mod.ts";
import { microsToIso, parseDuration } from "../lib/market/time.ts";

const USAGE =
  `usage: deno task import FILE --table bars|trades --exchange NAME --symbol SYM [options]

  --table bars|trades   the lake table to fill
  --exchange NAME       exchange of the data (e.g. nyse)
  --symbol SYM          symbol of the data (e.g. SPY)
  --interval 1d         bar length (bars; default: the smallest gap between two bars)
  --format csv|parquet  default: by the file name (.parquet/.pq is Parquet)
  --lake DIR            Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --lock-wait 5m        wait this long for another writer of the lake, then exit 75`;

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals } = parseArgs(Deno.args, {
      table: { type: "string" },
      exchange: { type: "string" },
      symbol: { type: "string" },
      interval: { type: "string" },
      format: { type: "string" },
      lake: { type: "string" },
      "lock-wait": { type: "string", default: "5m" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const table = values.table;
    const format = values.format as string | undefined;
    if (positionals.length !== 1) throw new SyntaxError(`give one FILE\n\n${USAGE}`);
    if (table !== "bars" && table !== "trades") {
      throw new SyntaxError(`--table must be bars or trades\n\n${USAGE}`);
    }
    if (!values.exchange || !values.symbol) {
      throw new SyntaxError(`--exchange and --symbol are needed\n\n${USAGE}`);
    }
    if (format !== undefined && format !== "csv" && format !== "parquet") {
      throw new SyntaxError(`--format must be csv or parquet\n\n${USAGE}`);
    }
    let interval: number | undefined;
    if (values.interval !== undefined) {
      try {
        interval = parseDuration(values.interval as string);
      } catch (error) {
        throw new RangeError(`--interval: ${(error as Error).message}`);
      }
    }
    const report = await importFile({
      root: (values.lake as string | undefined) ?? defaultLakeRoot(),
      file: positionals[0],
      table,
      exchange: values.exchange as string,
      symbol: values.symbol as string,
      interval,
      format,
      lock: waitingLock("import", values["lock-wait"] as string),
    });
    console.error(
      `imported ${report.rows} ${table} of ${report.exchange} ${report.symbol} ` +
        `(${microsToIso(report.first)} .. ${microsToIso(report.last)}): ` +
        `${report.written} new, ${report.existing} already stored`,
    );
    console.log(JSON.stringify({
      table: report.table,
      exchange: report.exchange,
      symbol: report.symbol,
      rows: report.rows,
      written: report.written,
      existing: report.existing,
      first: microsToIso(report.first),
      last: microsToIso(report.last),
      ...(report.interval === undefined ? {} : { interval_us: report.interval }),
    }));
  });
}
