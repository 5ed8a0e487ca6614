/**
 * The Coinbase book fast paths (no JSON.parse) must produce exactly what the adapter's JSON
 * path produces, or step aside.
 */
import assert from "node:assert/strict";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import {
  L2UPDATE_PREFIX,
  scanBookFrame,
  SNAPSHOT_PREFIX,
} from "../collectors/venues/_coinbase_fast.ts";
import type { MarketEvent } from "../lib/market/types.ts";

const CAPTURE = new URL("../../shared/data/coinbase-exchange-ws-20210417.txt", import.meta.url)
  .pathname;

/** The adapter's JSON path: a leading space keeps the frame off the fast path. */
function viaJson(frame: string): { events: MarketEvent[]; errors: number } {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const events: MarketEvent[] = [];
  new CoinbaseExchangeAdapter({ diagnostics }).parse(" " + frame, 7, events);
  return { events, errors: diagnostics.errors };
}

function viaScan(frame: string): MarketEvent[] | undefined {
  const events: MarketEvent[] = [];
  return scanBookFrame(frame, "coinbase", 7, events) ? events : undefined;
}

Deno.test("every book message of the recorded session: fast path equals the JSON path", () => {
  const frames = Deno.readTextFileSync(CAPTURE).split("\n").filter((l) => /^\d/.test(l))
    .map((l) => l.slice(l.indexOf(": ") + 2));
  let l2updates = 0;
  let snapshots = 0;
  for (const frame of frames) {
    const fast = viaScan(frame);
    if (frame.startsWith(L2UPDATE_PREFIX)) l2updates++;
    else if (frame.startsWith(SNAPSHOT_PREFIX)) snapshots++;
    else {
      assert.equal(fast, undefined, frame);
      continue;
    }
    assert.ok(fast !== undefined, frame.slice(0, 200));
    assert.deepEqual(fast, viaJson(frame).events, frame.slice(0, 200));
  }
  assert.equal(l2updates, 9_719);
  assert.equal(snapshots, 10);
});

Deno.test("mutated book frames: the fast path agrees or steps aside", () => {
  const l2update =
    '{"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"],' +
    '["buy","0.00001300","0"]],"time":"2021-04-17T16:43:37.075687Z"}';
  const snapshot = '{"type":"snapshot","product_id":"BAND-GBP","asks":[["14.8024","12.77"],' +
    '["14.9","0.5"]],"bids":[["14.7","1"],["1.1","2000.000000"]]}';
  const alphabet = '0123456789.-"[],:ZTe +\\x';
  let seed = 11;
  const rnd = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  let agreed = 0;
  let aside = 0;
  const base = l2update;
  const cases = [
    snapshot,
    snapshot.replace('[["14.8024","12.77"],["14.9","0.5"]]', "[]"),
    snapshot.replace('[["14.7","1"],["1.1","2000.000000"]]', "[]"),
    snapshot.replace("}", ',"time":"2021-04-17T16:43:37.075687Z"}'),
    snapshot.replace('"12.77"]', '"12.77","x"]'),
    base,
    base.replace("0.00001306", "0.000013060000000000000000"), // long trailing zeros
    base.replace("660.5", "1234567890123456"), // 16 significant digits
    base.replace("660.5", "0.-10000"),
    base.replace("660.5", "660."),
    base.replace("660.5", ".5"),
    base.replace("T16:43:37.075687Z", "T16:43:37Z"),
    base.replace("T16:43:37.075687Z", "T16:43:37.0756871234Z"),
    base.replace("2021-04-17", "2021-02-29"),
    base.replace("2021-04-17", "0001-01-01"),
    base.replace('"sell"', '"hold"'),
  ];
  for (let k = 0; k < 30_000; k++) {
    const from = k % 3 === 0 ? snapshot : base;
    const chars = [...from];
    const edits = 1 + rnd(3);
    for (let e = 0; e < edits; e++) {
      const at = L2UPDATE_PREFIX.length + rnd(chars.length - L2UPDATE_PREFIX.length);
      const c = alphabet[rnd(alphabet.length)];
      const op = rnd(3);
      if (op === 0) chars[at] = c;
      else if (op === 1) chars.splice(at, 0, c);
      else chars.splice(at, 1);
    }
    cases.push(chars.join(""));
  }
  for (const frame of cases) {
    const fast = viaScan(frame);
    if (fast === undefined) {
      aside++;
      continue;
    }
    const json = viaJson(frame);
    assert.equal(json.errors, 0, frame);
    assert.deepEqual(fast, json.events, frame);
    agreed++;
  }
  assert.ok(agreed > 1000 && aside > 1000, `agreed ${agreed}, aside ${aside}`);
});
