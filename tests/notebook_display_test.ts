/**
 * The library's notebook front door: `openRepository()` from the environment, frames as
 * HTML with shape and types, `summary`, rich bundles, and the chart library sent once.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { candlestickChart, chartLibrary, loadChartLibrary } from "../lib/charts/mod.ts";
import { frameHtml, mimeBundle, summary } from "../lib/notebook/mod.ts";
import { openRepository } from "../lib/open_repository.ts";
import { LakeRepository, PostgresRepository, UnifiedRepository } from "../lib/repositories/mod.ts";

/** Runs `task` with environment variables set (or removed, for `undefined`), then restores. */
async function withEnv(vars: Record<string, string | undefined>, task: () => Promise<void>) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  };
  apply(vars);
  try {
    await task();
  } finally {
    apply(saved);
  }
}

Deno.test("openRepository: the lake by default, lake + buffer with DATABASE_URL", async () => {
  await withEnv(
    { DATABASE_URL: undefined, ALPHAPULSE_LAKE: "/tmp/alphapulse-no-lake" },
    async () => {
      const repo = await openRepository();
      assert.ok(repo instanceof LakeRepository);
      assert.equal(repo.root, "/tmp/alphapulse-no-lake");
      assert.deepEqual(await repo.instruments(), []); // a missing lake reads as empty
      await repo.close();
      await assert.rejects(() => openRepository({ kind: "buffer" }), TypeError);
      await assert.rejects(() => openRepository({ kind: "unified" }), /DATABASE_URL/);
      await assert.rejects(
        () => openRepository({ kind: "sql" as unknown as "lake" }),
        /unknown repository kind/,
      );
    },
  );
  // The PostgreSQL client connects on first query: opening and closing need no server.
  const url = "postgres://nobody@127.0.0.1:1/none";
  await withEnv({ DATABASE_URL: url, ALPHAPULSE_LAKE: undefined }, async () => {
    const unified = await openRepository();
    assert.ok(unified instanceof UnifiedRepository);
    await unified.close();
    const buffer = await openRepository({ kind: "buffer" });
    assert.ok(buffer instanceof PostgresRepository);
    await buffer.close();
    const lake = await openRepository({ kind: "lake", lake: "/tmp/elsewhere" });
    assert.equal(lake.root, "/tmp/elsewhere");
    await lake.close();
  });
});

Deno.test("frameHtml: shape, column types, microsecond times, escaped text", () => {
  const ts = [1_723_075_200_000_001, 1_723_075_200_500_000];
  const frame = pl.DataFrame([
    pl.Series("ts", ts, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us")),
    pl.Series("price", [61_000.5, 1 / 3], pl.Float64),
    pl.Series("side", ["buy", "<sell>"], pl.Utf8),
    pl.Series("n", [1, null], pl.Int64),
  ]);
  const html = frameHtml(frame, { title: "Trades" });
  assert.ok(html.startsWith("<table"));
  assert.ok(html.includes("<strong>Trades</strong> shape: (2, 4)"));
  assert.ok(html.includes("<th>ts</th><th>price</th><th>side</th><th>n</th>"));
  assert.ok(html.includes("<td>Datetime(us)</td><td>Float64</td><td>String</td><td>Int64</td>"));
  assert.ok(html.includes("<td>2024-08-08 00:00:00.000001</td>"));
  assert.ok(html.includes("<td>0.3333333333</td>"));
  assert.ok(html.includes("<td>&#60;sell&#62;</td>"));
  assert.ok(html.includes("<td>null</td>"));
  assert.equal(html.match(/<tr>/g)?.length, 1 + 2);
});

Deno.test("frameHtml: a long frame shows its first and last rows around an ellipsis", () => {
  const frame = pl.DataFrame({ i: Array.from({ length: 100 }, (_, i) => i) });
  const html = frameHtml(frame, { maxRows: 6 });
  const cells = [...html.matchAll(/<tr><td>(\d+)<\/td><\/tr>/g)].map((m) => Number(m[1]));
  assert.deepEqual(cells, [0, 1, 2, 97, 98, 99]);
  assert.ok(html.includes('class="ellipsis"'));
  assert.ok(html.includes("shape: (100, 1)"));
  assert.throws(() => frameHtml(frame, { maxRows: 1 }), RangeError);
});

Deno.test("summary: types, counts, nulls, NaNs and ranges per column", () => {
  const frame = pl.DataFrame([
    pl.Series("x", [3, 1, NaN, null, 2], pl.Float64),
    pl.Series("s", ["b", "a", null, "c", "a"], pl.Utf8),
  ]);
  const s = summary(frame);
  assert.deepEqual(s.columns, ["column", "dtype", "count", "nulls", "nans", "min", "max", "mean"]);
  // x: 4 non-null values (one NaN): min 1, max 3 over finite values; the mean is NaN.
  assert.deepEqual(s.row(0), ["x", "Float64", 4, 1, 1, "1", "3", "NaN"]);
  assert.deepEqual(s.row(1), ["s", "String", 4, 1, 0, "a", "c", ""]);
  const ints = summary(pl.DataFrame({ n: [2, 4, 9] }));
  assert.deepEqual(ints.row(0).slice(5), ["2", "9", "5"]);
});

Deno.test("mimeBundle: frames, series and rows as tables", () => {
  const rows = [{ a: 1, b: "x" }, { a: 2, b: "y" }];
  const fromRows = mimeBundle(rows)!;
  assert.ok(fromRows["text/html"].includes("shape: (2, 2)"));
  const fromSeries = mimeBundle(pl.Series("v", [1.5, 2.5]))!;
  assert.ok(fromSeries["text/html"].includes("<th>v</th>"));
  assert.equal(mimeBundle(42), undefined);
});

Deno.test("the chart library goes out with the first chart of a kernel only", () => {
  const bars = [
    { ts: 1_723_075_200_000_000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3 },
    { ts: 1_723_075_260_000_000, open: 1.5, high: 2, low: 1, close: 1.8, volume: 4 },
  ];
  const display = (value: unknown) =>
    (value as { [k: symbol]: () => Record<string, string> })[Symbol.for("Jupyter.display")]();
  // A piece of the library's own source marks an inlined library.
  const marker = loadChartLibrary().source.slice(2_000, 2_080);
  const first = display(candlestickChart(bars))["text/html"];
  const second = display(candlestickChart(bars))["text/html"];
  assert.ok(first.includes(marker), "the first chart inlines the library");
  assert.ok(!second.includes(marker), "the second chart does not");
  assert.ok(second.includes("__alphapulseCharts.render"), "but still draws");
  assert.ok(first.length > second.length + 100_000);
  assert.ok(display(chartLibrary())["text/html"].includes(marker));
  // Pages and reports (toHTML) stay self-contained.
  assert.ok(candlestickChart(bars).toHTML().includes(marker));
});
