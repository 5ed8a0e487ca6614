/**
 * `deno task lake:repair [--lake DIR] [--dry-run] [--lock-wait 5m]`
 *
 * Removes rows the lake holds more than once (see `lib/lake/repair.ts`), holding the lake's
 * writer lock. Prints one line per repaired partition on stderr and, as its last line on
 * stdout, one JSON object: `{"dry_run","partitions_checked","partitions_repaired",
 * "duplicates_removed","by_table","journals_recovered"}` (`duplicates_found` instead of
 * `duplicates_removed` in a dry run). Exits 0 (a dry run that found duplicates exits 1).
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { waitingLock } from "../lib/cli/lake_lock.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { repairLake } from "../lib/lake/repair.ts";

const USAGE = `usage: deno task lake:repair [--lake DIR] [--dry-run] [--lock-wait 5m]

  --lake DIR        Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --dry-run         count the duplicates only (exit 1 when there are some); change nothing
  --lock-wait 5m    wait this long for another writer of the lake to finish, then exit 75`;

if (import.meta.main) {
  await runMain(async () => {
    const { values } = parseArgs(Deno.args, {
      lake: { type: "string" },
      "dry-run": { type: "boolean" },
      "lock-wait": { type: "string", default: "5m" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const root = (values.lake as string | undefined) ?? defaultLakeRoot();
    const dryRun = values["dry-run"] === true;
    const report = await repairLake({
      root,
      dryRun,
      lock: waitingLock("lake:repair", values["lock-wait"] as string),
    });
    for (const p of report.partitions) {
      console.error(
        `${dryRun ? "found" : "removed"} ${p.duplicates} duplicate rows of ${p.rows} in ` +
          `${p.kind}/exchange=${p.exchange}/symbol=${p.symbol}/${p.folder}` +
          (dryRun ? "" : ` (${p.files} files rewritten as one)`),
      );
    }
    const total = report.partitions.reduce((n, p) => n + p.duplicates, 0);
    console.log(JSON.stringify({
      dry_run: dryRun,
      partitions_checked: report.partitionsChecked,
      partitions_repaired: dryRun ? 0 : report.partitions.length,
      [dryRun ? "duplicates_found" : "duplicates_removed"]: total,
      by_table: report.duplicatesByKind,
      journals_recovered: report.journalsRecovered,
    }));
    if (dryRun && total > 0) Deno.exit(1);
  });
}
