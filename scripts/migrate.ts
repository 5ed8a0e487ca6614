/**
 * `deno task db:migrate [--layout=auto|plain|timescale]`: applies the buffer's schema
 * migrations to `DATABASE_URL` (see `lib/buffer/migrate.ts`).
 * @module
 */
import postgres from "postgres";
import { migrate } from "../lib/buffer/migrate.ts";
import { runMain } from "../lib/cli/args.ts";
import type { BufferLayout } from "../lib/buffer/migrations.ts";

if (import.meta.main) {
  await runMain(async () => {
    const url = Deno.env.get("DATABASE_URL");
    if (!url) {
      throw new RangeError(
        "DATABASE_URL is not set: nothing to migrate (the embedded lake needs none)",
      );
    }
    const layoutArg = Deno.args.find((a) => a.startsWith("--layout="))?.slice(9);
    if (layoutArg && !["auto", "plain", "timescale"].includes(layoutArg)) {
      throw new RangeError(`--layout must be auto, plain or timescale, got ${layoutArg}`);
    }
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const layout = layoutArg as BufferLayout | "auto" | undefined;
      const result = await migrate(sql, { layout });
      console.log(
        result.applied.length
          ? `applied migrations ${result.applied.join(", ")} (${result.layout} layout)`
          : `schema is current (${result.layout} layout)`,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
}
