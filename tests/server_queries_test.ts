/**
 * The list routes' pushdown over a real MemoryRepository: pages followed through
 * `x-next-cursor` give every trade once, NDJSON and Arrow streams carry the whole range page
 * by page, bad cursors and impossible dates are 400s, and bar results are capped.
 */
import assert from "node:assert/strict";
import { tableFromIPC } from "apache-arrow";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { createApp, StreamHub } from "../server/mod.ts";
import { boundedBars, LIST_LIMITS } from "../server/queries.ts";

const T0 = Date.UTC(2024, 0, 1) * 1000;
const N = 25_000; // more than two stream pages

/** Trade `i` at `T0 + i` ms, two trades per millisecond; ids of one width (text = number order). */
function trade(i: number): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    id: String(100_000 + i),
    price: 100 + (i % 10),
    size: 1,
    side: "buy",
    ts: T0 + Math.floor(i / 2) * 1000,
    recvTs: T0 + Math.floor(i / 2) * 1000 + 3,
  };
}

function fixture() {
  const repository = new MemoryRepository(Array.from({ length: N }, (_, i) => trade(i)));
  const app = createApp({ repository, hub: new StreamHub() });
  const get = (path: string, headers: HeadersInit = {}) =>
    app(new Request(`http://localhost${path}`, { headers }));
  return { repository, get };
}

const IDS = Array.from({ length: N }, (_, i) => String(100_000 + i));
const Q = "exchange=coinbase&symbol=BTC-USD";

Deno.test("GET /api/trades: x-next-cursor pages through the range, both orders", async () => {
  const { get } = fixture();
  for (const order of ["asc", "desc"] as const) {
    const seen: string[] = [];
    let path: string | undefined = `/api/trades?${Q}&limit=7000&order=${order}`;
    let pages = 0;
    while (path !== undefined) {
      const res = await get(path);
      assert.equal(res.status, 200);
      const rows: Trade[] = await res.json();
      seen.push(...rows.map((t) => t.id));
      const cursor = res.headers.get("x-next-cursor");
      const link = res.headers.get("link");
      if (cursor) assert.match(link!, /rel="next"/);
      path = cursor ? link!.slice(1, link!.indexOf(">")) : undefined;
      pages++;
    }
    assert.equal(pages, 4, order); // 7000 + 7000 + 7000 + 4000
    assert.deepEqual(seen, order === "asc" ? IDS : [...IDS].reverse(), order);
  }
});

Deno.test("GET /api/trades streams NDJSON and Arrow IPC page by page", async () => {
  const { get } = fixture();
  let res = await get(`/api/trades?${Q}&format=ndjson`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-ndjson");
  const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as Trade);
  assert.deepEqual(lines.map((t) => t.id), IDS);
  assert.ok(N > 2 * LIST_LIMITS.streamPage, "several pages");

  res = await get(`/api/trades?${Q}&order=desc&limit=12345`, {
    accept: "application/x-ndjson",
  });
  const desc = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as Trade);
  assert.deepEqual(desc.map((t) => t.id), [...IDS].reverse().slice(0, 12345));

  res = await get(`/api/trades?${Q}&format=arrow`);
  assert.equal(res.status, 200);
  const table = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
  assert.equal(table.numRows, N);
  assert.deepEqual(table.getChild("id")!.toArray(), IDS);
  assert.equal(table.getChild("price")!.get(N - 1), 100 + ((N - 1) % 10));

  // An empty range: a valid stream with the schema and no rows; no NDJSON lines.
  res = await get(`/api/trades?${Q}&format=arrow&start=2025-01-01`);
  const empty = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
  assert.equal(empty.numRows, 0);
  assert.ok(empty.schema.fields.some((f) => f.name === "id"));
  res = await get(`/api/trades?${Q}&format=ndjson&start=2025-01-01`);
  assert.equal(await res.text(), "");
});

Deno.test("GET /api/trades: bad cursors, formats and impossible dates are 400s", async () => {
  const { get } = fixture();
  const first = await get(`/api/trades?${Q}&limit=2`);
  const cursor = first.headers.get("x-next-cursor")!;
  const cases: [string, string][] = [
    [`/api/trades?${Q}&cursor=%25%25`, "cursor"],
    [`/api/trades?${Q}&cursor=abc`, "cursor"],
    [`/api/trades?${Q}&cursor=${cursor}&order=desc`, "cursor"],
    [`/api/quotes?${Q}&cursor=${cursor}`, "cursor"],
    [`/api/trades?${Q}&format=csv`, "format"],
    [`/api/trades?${Q}&limit=100001`, "limit"],
    [`/api/trades?${Q}&start=2021-02-30`, "start"],
    [`/api/trades?${Q}&end=2021-04-31T10:00:00Z`, "end"],
    [`/api/trades?${Q}&start=2021-02-28T24:00:00Z`, "start"],
    [`/api/trades?${Q}&start=2021-13-01`, "start"],
    [`/api/bars?${Q}&interval=1000000d`, "interval"],
  ];
  for (const [path, param] of cases) {
    const res = await get(path);
    assert.equal(res.status, 400, path);
    assert.equal((await res.json()).param, param, path);
  }
  // A leap day is a date.
  assert.equal((await get(`/api/trades?${Q}&start=2024-02-29`)).status, 200);
});

Deno.test("bar results over the cap are a 400 naming the parameter", async () => {
  const { repository } = fixture();
  const ticks = { exchange: "coinbase", symbol: "BTC-USD", by: "ticks", threshold: 1 } as const;
  await assert.rejects(
    () => boundedBars(repository.activityBars(ticks), "threshold", N - 1),
    (error: Error & { status?: number }) =>
      error.status === 400 && /25000 bars, more than 24999/.test(error.message),
  );
  const bars = await boundedBars(repository.activityBars(ticks), "threshold", N);
  assert.equal(bars.length, N);
});

Deno.test("a streamed response holds its query slot until its body is read or cancelled", async () => {
  const repository = new MemoryRepository(Array.from({ length: N }, (_, i) => trade(i)));
  const app = createApp({ repository, hub: new StreamHub(), maxConcurrentQueries: 1 });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  const stream = await get(`/api/trades?${Q}&format=ndjson`);
  assert.equal(stream.status, 200);
  const busy = await get(`/api/trades?${Q}&limit=1`);
  assert.equal(busy.status, 503, "the unread stream still holds the only slot");
  assert.equal(busy.headers.get("retry-after"), "1");
  await busy.body?.cancel();
  const lines = (await stream.text()).trimEnd().split("\n");
  assert.equal(lines.length, N);
  const after = await get(`/api/trades?${Q}&limit=1`);
  assert.equal(after.status, 200, "read to the end: the slot is free again");
  await after.body?.cancel();
  const cancelled = await get(`/api/trades?${Q}&format=ndjson`);
  await cancelled.body?.cancel();
  const again = await get(`/api/trades?${Q}&limit=1`);
  assert.equal(again.status, 200, "a cancelled stream frees its slot");
  assert.equal((await again.json()).length, 1);
});
