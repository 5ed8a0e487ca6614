/**
 * `deno task lake:repair [--lake DIR] [--upgrade] [--dry-run] [--lock-wait 5m]`
 *
 * Removes rows the lake holds more than once (see `lib/lake/repair.ts`), holding the lake's
 * writer lock. Prints one line per repaired partition on stderr and, as its last line on
 * stdout, one JSON object: `{"dry_run","partitions_checked","partitions_repaired",
 * "duplicates_removed","by_table","journals_recovered"}` (`duplicates_found` instead of
 * `duplicates_removed` in a dry run). Exits 0 (a dry run that found duplicates exits 1).
 *
 * With `--upgrade`, rewrites instead the files written before a column was added to their
 * table, with the column's `absent` value (see `lib/lake/upgrade.ts`): one line per file on
 * stderr, then `{"mode":"upgrade","dry_run","partitions_checked","files_checked",
 * "files_rewritten","rows_rewritten","by_table","temps_removed","journals_recovered"}`
 * (`files_to_rewrite` and `rows_to_rewrite` in a dry run, which exits 1 when there are some).
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { waitingLock } from "../lib/cli/lake_lock.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { repairLake } from "../lib/lake/repair.ts";
import { upgradeLake } from "../lib/lake/upgrade.ts";
import type { WriterLockOptions } from "../lib/lake/writer_lock.ts";

const USAGE = `usage: deno task lake:repair [--lake DIR] [--upgrade] [--dry-run] [--lock-wait 5m]

  --lake DIR        Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --upgrade         instead of removing duplicates, rewrite the files that lack a column
                    added to their table since (the column gets its default value)
  --dry-run         count the duplicates (or files to upgrade) only (exit 1 when there are
                    some); change nothing
  --lock-wait 5m    wait this long for another writer of the lake to finish, then exit 75`;

if (import.meta.main) {
  await runMain(async () => {
    const { values } = parseArgs(Deno.args, {
      lake: { type: "string" },
      "dry-run": { type: "boolean" },
      upgrade: { type: "boolean" },
      "lock-wait": { type: "string", default: "5m" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const root = (values.lake as string | undefined) ?? defaultLakeRoot();
    const dryRun = values["dry-run"] === true;
    const lock = waitingLock("lake:repair", values["lock-wait"] as string);
    if (values.upgrade === true) return await upgrade(root, dryRun, lock);
    const report = await repairLake({ root, dryRun, lock });
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

/** `--upgrade`: rewrites the files that lack added columns (see `lib/lake/upgrade.ts`). */
async function upgrade(root: string, dryRun: boolean, lock: WriterLockOptions): Promise<void> {
  const report = await upgradeLake({ root, dryRun, lock });
  for (const f of report.files) {
    console.error(
      `${dryRun ? "to upgrade" : "upgraded"} ${f.kind}/exchange=${f.exchange}/symbol=${f.symbol}/` +
        `${f.folder}/${f.file}: ${f.rows} rows, added ${f.added.join(", ")}`,
    );
  }
  const rows = report.files.reduce((n, f) => n + f.rows, 0);
  console.log(JSON.stringify({
    mode: "upgrade",
    dry_run: dryRun,
    partitions_checked: report.partitionsChecked,
    files_checked: report.filesChecked,
    [dryRun ? "files_to_rewrite" : "files_rewritten"]: report.files.length,
    [dryRun ? "rows_to_rewrite" : "rows_rewritten"]: rows,
    by_table: report.byKind,
    temps_removed: report.tempsRemoved,
    journals_recovered: report.journalsRecovered,
  }));
  if (dryRun && report.files.length > 0) Deno.exit(1);
}
