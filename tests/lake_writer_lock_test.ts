/**
 * One writer per lake (issue 12): the writer lock, stale-lock take-over after SIGKILL,
 * concurrent `deno task replay` into one lake, and `deno task lake:repair`. Stored rows are
 * counted by DuckDB over the lake files, the expected trades read from the capture itself.
 */
import assert from "node:assert/strict";
import { duck } from "./support/duck.ts";
import { LakeLockedError, ParquetLake, WRITER_LOCK_FILE, WriterLock } from "../lib/lake/mod.ts";
import { syntheticTrades } from "./support/lake_trades.ts";
import { readCaptureFrames } from "./support/recorded.ts";
import { withTempDir } from "./support/temp_dir.ts";

const CAPTURE_NAME = "coinbase-exchange-ws-20210417.txt";
const CAPTURE = new URL(`../../shared/data/${CAPTURE_NAME}`, import.meta.url).pathname;
const REPLAY = new URL("../collectors/replay/main.ts", import.meta.url).pathname;
const REPAIR = new URL("../scripts/lake_repair.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Rows and distinct keys of each table of the lake, by DuckDB. */
async function rowsAndKeys(root: string): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  const tables = {
    trades: "symbol, id",
    quotes: "symbol, ts, recv_ts, digest",
    book_snapshots: "symbol, ts, recv_ts, digest",
    book_changes: "symbol, ts, recv_ts, digest",
  };
  for (const [table, key] of Object.entries(tables)) {
    if (!(await Deno.stat(`${root}/${table}`).catch(() => undefined))) continue;
    const [r] = await duck(
      `SELECT count(*) AS n, count(DISTINCT (${key})) AS k FROM read_parquet(
         '${root}/${table}/**/*.parquet', hive_partitioning = true)`,
    );
    out[table] = [r.n as number, r.k as number];
  }
  return out;
}

/** The capture's trades as `SYMBOL/id`, read from its match messages. */
async function captureTradeKeys(): Promise<string[]> {
  const keys = new Set<string>();
  for (const f of await readCaptureFrames(CAPTURE_NAME)) {
    const m = JSON.parse(f.text);
    if (m.type === "match" || m.type === "last_match") keys.add(`${m.product_id}/${m.trade_id}`);
  }
  return [...keys].sort();
}

async function lakeTradeKeys(root: string): Promise<string[]> {
  const rows = await duck(
    `SELECT symbol || '/' || id AS k FROM read_parquet('${root}/trades/**/*.parquet',
       hive_partitioning = true) ORDER BY k`,
  );
  return rows.map((r) => String(r.k));
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("lake_lock_test_", fn);

Deno.test("a second writer of a lake in the same process is refused until the first closes", async () => {
  await withDir(async (dir) => {
    const first = await ParquetLake.open({ root: dir });
    const refused = await ParquetLake.open({ root: dir }).catch((e) => e);
    assert.ok(refused instanceof LakeLockedError, String(refused));
    assert.equal(refused.holder.pid, Deno.pid);
    assert.equal(refused.exitCode, 75);
    assert.match(refused.message, /is being written by pid \d+/);
    await first.close();
    const second = await ParquetLake.open({ root: dir });
    await second.close();
    // Released: no lock file is left behind.
    await assert.rejects(() => Deno.stat(`${dir}/${WRITER_LOCK_FILE}`), Deno.errors.NotFound);
  });
});

Deno.test("a waiting writer gets the lake when the holder releases it", async () => {
  await withDir(async (dir) => {
    const first = await WriterLock.acquire(dir);
    let waited = 0;
    const second = WriterLock.acquire(dir, {
      waitMs: 60_000,
      pollMs: 20,
      onWait: (holder) => {
        assert.equal(holder.token, first.owner.token);
        waited++;
        // Release once the second is known to be waiting.
        queueMicrotask(() => first.release());
      },
    });
    const lock = await second;
    assert.equal(waited, 1);
    assert.equal((await WriterLock.holder(dir))?.token, lock.owner.token);
    await lock.release();
    assert.equal(await WriterLock.holder(dir), undefined);
  });
});

Deno.test("the lock of a writer killed with SIGKILL is taken over; a live one is not", async () => {
  await withDir(async (dir) => {
    const lockModule = new URL("../lib/lake/writer_lock.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { WriterLock } = await import(${JSON.stringify(lockModule)});
         await WriterLock.acquire(${JSON.stringify(dir)});
         console.log("locked");
         setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("locked")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    assert.match(text, /locked/);
    const refused = await WriterLock.acquire(dir).catch((e) => e);
    assert.ok(refused instanceof LakeLockedError, String(refused));
    assert.equal(refused.holder.pid, child.pid);
    child.kill("SIGKILL");
    // Not yet reaped (a zombie) or gone: either way the lock is stale.
    const lock = await WriterLock.acquire(dir, { waitMs: 30_000, pollMs: 50 });
    assert.equal(lock.owner.pid, Deno.pid);
    await lock.release();
    reader.releaseLock();
    await child.stdout.cancel();
    await child.status;
  });
});

Deno.test("deno task replay refuses a locked lake with one line and exit 75 when it may not wait", async () => {
  await withDir(async (dir) => {
    const lock = await WriterLock.acquire(dir);
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REPLAY, CAPTURE, "--out", dir, "--lock-wait", "0"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = decoder.decode(out.stderr).trim();
      assert.equal(out.code, 75, stderr);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, new RegExp(`^error: lake .* is being written by pid ${Deno.pid} `));
      assert.deepEqual(await rowsAndKeys(dir), {}, "nothing written");
    } finally {
      await lock.release();
    }
  });
});

Deno.test({
  name: "concurrent replays into one lake, SIGKILLs in between: every trade stored exactly once",
  async fn() {
    await withDir(async (dir) => {
      const root = `${dir}/lake`;
      const expected = await captureTradeKeys();
      assert.equal(expected.length, 107);
      // Three rounds of three replays started together; one of each round is killed with
      // SIGKILL after a delay (mid-parse, mid-write or while waiting for the lock).
      for (const killAfterMs of [150, 700, 1500]) {
        const children = [0, 1, 2].map(() =>
          new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", REPLAY, CAPTURE, "--out", root],
            stdout: "piped",
            stderr: "piped",
          }).spawn()
        );
        const victim = children[killAfterMs % 3];
        const timer = setTimeout(() => {
          try {
            victim.kill("SIGKILL");
          } catch {
            // already finished
          }
        }, killAfterMs);
        const outputs = await Promise.all(children.map((c) => c.output()));
        clearTimeout(timer);
        outputs.forEach((out, i) => {
          if (children[i] === victim) return;
          assert.equal(out.code, 0, decoder.decode(out.stderr));
        });
      }
      const counts = await rowsAndKeys(root);
      for (const [table, [rows, keys]] of Object.entries(counts)) {
        assert.equal(rows, keys, `${table}: ${rows} rows for ${keys} keys`);
      }
      assert.deepEqual(await lakeTradeKeys(root), expected);
      // The repair finds nothing to remove.
      const repair = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REPAIR, "--lake", root, "--dry-run"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(repair.code, 0, decoder.decode(repair.stderr));
      const report = JSON.parse(decoder.decode(repair.stdout).trim().split("\n").at(-1)!);
      assert.equal(report.duplicates_found, 0);
    });
  },
});

Deno.test("deno task lake:repair removes the duplicates a lake already holds", async () => {
  await withDir(async (root) => {
    const start = Date.UTC(2024, 2, 9) * 1000;
    const trades = syntheticTrades({ start, count: 50, step: 60_000_000 });
    const quotes = trades.slice(0, 20).map((t) => ({
      kind: "quote" as const,
      exchange: t.exchange,
      symbol: t.symbol,
      ts: t.ts,
      recvTs: t.recvTs,
      bidPrice: t.price - 0.01,
      bidSize: 1,
      askPrice: t.price + 0.01,
      askSize: 2,
    }));
    const lake = await ParquetLake.open({ root });
    await lake.writeEvents([...trades.slice(0, 30), ...quotes]);
    await lake.writeTrades(trades.slice(30));
    await lake.close();
    // What two writers at once left behind: copies of stored files under other names.
    const copies: Record<string, number> = {};
    for (const table of ["trades", "quotes"]) {
      const dir = `${root}/${table}/exchange=coinbase/symbol=BTC-USD/date=2024-03-09`;
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        n.endsWith(".parquet")
      ).sort();
      await Deno.copyFile(`${dir}/${files[0]}`, `${dir}/part-zzzz-copy.parquet`);
      const [r] = await duck(`SELECT count(*) AS n FROM read_parquet('${dir}/${files[0]}')`);
      copies[table] = r.n as number;
    }
    assert.deepEqual(copies, { trades: 30, quotes: 20 });
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REPAIR, "--lake", root, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const last = (out: Deno.CommandOutput) =>
      JSON.parse(decoder.decode(out.stdout).trim().split("\n").at(-1)!);

    const dry = await run("--dry-run");
    assert.equal(dry.code, 1, "a dry run that finds duplicates exits 1");
    assert.equal(last(dry).duplicates_found, 50);
    assert.deepEqual((await rowsAndKeys(root)).trades, [80, 50], "a dry run changes nothing");

    const fixed = await run();
    assert.equal(fixed.code, 0, decoder.decode(fixed.stderr));
    assert.deepEqual(last(fixed).by_table, copies);
    assert.equal(last(fixed).duplicates_removed, 50);
    assert.match(decoder.decode(fixed.stderr), /removed 30 duplicate rows of 80 in trades\//);
    const after = await rowsAndKeys(root);
    assert.deepEqual(after.trades, [50, 50]);
    assert.deepEqual(after.quotes, [20, 20]);
    const stored = await duck(
      `SELECT id, price, size FROM read_parquet('${root}/trades/**/*.parquet') ORDER BY ts`,
    );
    assert.deepEqual(stored, trades.map((t) => ({ id: t.id, price: t.price, size: t.size })));

    const again = await run();
    assert.equal(last(again).duplicates_removed, 0);

    // A lake being written is not repaired behind its writer's back.
    const writer = await WriterLock.acquire(root);
    try {
      const locked = await run("--lock-wait", "0");
      assert.equal(locked.code, 75);
    } finally {
      await writer.release();
    }
  });
});
