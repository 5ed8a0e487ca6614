/**
 * The runtime's two rate limits on their own: reconnect delays ({@linkcode Backoff}: full
 * jitter under a doubling ceiling, capped) and book resyncs ({@linkcode ResyncScheduler}: an
 * interval doubling while resyncs keep failing, capped, waits measured from the last run).
 * Every expected delay is worked out by hand from the documented rule; the scheduler's
 * timers are recorded instead of run, so each wait is read exactly, not measured.
 */
import assert from "node:assert/strict";
import { Backoff } from "../collectors/runtime/backoff.ts";
import { ResyncScheduler } from "../collectors/runtime/resync.ts";

Deno.test("backoff: the ceiling doubles from initialMs and stops at maxMs, however long it fails", () => {
  // random() = 0.5: each delay is half its ceiling. Ceilings 100, 200, 400, 800, then the
  // cap 1000 for ever (attempt 40 would be 100 * 2^40 without it).
  const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0.5 });
  const delays = Array.from({ length: 45 }, () => backoff.next());
  assert.deepEqual(delays.slice(0, 6), [50, 100, 200, 400, 500, 500]);
  assert.ok(delays.slice(4).every((d) => d === 500), `capped: ${delays.slice(4)}`);
  assert.equal(backoff.attempt, 45);
});

Deno.test("backoff: full jitter spans [0, ceiling) and never reaches the ceiling", () => {
  const high = 1 - 2 ** -52; // the largest value below 1 Math.random can return
  const top = new Backoff({ initialMs: 8, maxMs: 64, random: () => high });
  // floor(ceiling * (1 - 2^-52)) = ceiling - 1 for these small ceilings.
  assert.deepEqual(Array.from({ length: 6 }, () => top.next()), [7, 15, 31, 63, 63, 63]);
  const low = new Backoff({ initialMs: 8, maxMs: 64, random: () => 0 });
  assert.deepEqual(Array.from({ length: 4 }, () => low.next()), [0, 0, 0, 0]);
  // Varied draws: each delay is floor(r * ceiling) of its own draw and ceiling.
  const draws = [0.9, 0.1, 0.75, 0.3, 0.6];
  let k = 0;
  const varied = new Backoff({ initialMs: 10, maxMs: 50, random: () => draws[k++] });
  assert.deepEqual(Array.from({ length: 5 }, () => varied.next()), [9, 2, 30, 15, 30]);
});

Deno.test("backoff: defaults 1 s to 32 s; reset starts over; bad bounds are refused", () => {
  const backoff = new Backoff({ random: () => 0.5 });
  const delays = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(delays, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000]);
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 500);
  assert.equal(backoff.next(), 1_000);
  assert.throws(() => new Backoff({ initialMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => new Backoff({ initialMs: NaN }), RangeError);
});

/** Timers the scheduler sets, recorded (not run) until `fire`. */
function recordTimers() {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let nextId = 1;
  const waits: number[] = [];
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    const id = nextId++;
    timers.set(id, { fn, ms });
    waits.push(ms);
    return id;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id?: number) => {
    if (id !== undefined) timers.delete(id);
  }) as unknown as typeof clearTimeout;
  return {
    /** Every wait asked for, in order. */
    waits,
    /** Runs the pending timers (the clock is the test's to set first). */
    fire() {
      const due = [...timers.values()];
      timers.clear();
      for (const t of due) t.fn();
    },
    get pending() {
      return timers.size;
    },
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

Deno.test("resync scheduler: first at once, then rate-limited with doubling up to the cap, coalesced, cancellable", () => {
  const timers = recordTimers();
  try {
    let now = 0;
    const runs: Array<[string, number, string]> = [];
    const scheduler = new ResyncScheduler({
      run: (symbol, reason) => runs.push([symbol, now, reason]),
      minIntervalMs: 10,
      maxIntervalMs: 40,
      now: () => now,
    });
    scheduler.request("A", "checksum");
    scheduler.request("B", "crossed"); // symbols are independent
    assert.deepEqual(runs, [["A", 0, "checksum"], ["B", 0, "crossed"]]);
    assert.deepEqual(timers.waits, []);

    // Failed again 1 ms after its resync: the interval doubles to 20, measured from the
    // last run at 0: wait 20 - 1 = 19. A second request folds into it.
    now = 1;
    scheduler.request("A", "again");
    scheduler.request("A", "and again");
    assert.deepEqual(timers.waits, [19]);
    assert.equal(scheduler.pending, 1);
    assert.equal(scheduler.stats.coalesced, 1);
    now = 20;
    timers.fire();
    assert.deepEqual(runs[2], ["A", 20, "again"]);

    // Failed again at 21: doubles to 40 (the cap): wait 20 + 40 - 21 = 39.
    now = 21;
    scheduler.request("A", "storm");
    assert.deepEqual(timers.waits, [19, 39]);
    now = 60;
    timers.fire();
    assert.deepEqual(runs[3], ["A", 60, "storm"]);

    // And again at 61, within 2 x 40 of the run at 60: the interval would double to 80 but
    // stays at the cap 40: wait 60 + 40 - 61 = 39, not 79.
    now = 61;
    scheduler.request("A", "storm");
    assert.deepEqual(timers.waits, [19, 39, 39]);
    now = 62;
    scheduler.cancel("A"); // a reconnect brings snapshots: nothing waits
    assert.equal(scheduler.pending, 0);
    assert.equal(timers.pending, 0);

    // A long quiet spell (at least 2 x the interval since the last run): back to the
    // minimum, at once.
    now = 1_000;
    scheduler.request("A", "later");
    assert.deepEqual(runs.at(-1), ["A", 1_000, "later"]);
    assert.equal(scheduler.stats.run, 5);
    assert.equal(scheduler.stats.requested, 7);
    // Back at the minimum: a failure right after waits 2 x 10 - 1 = 19 again.
    now = 1_001;
    scheduler.request("A", "again");
    assert.deepEqual(timers.waits, [19, 39, 39, 19]);
    scheduler.cancel();
  } finally {
    timers.restore();
  }
  assert.throws(() => new ResyncScheduler({ run: () => {}, minIntervalMs: 5, maxIntervalMs: 1 }));
});

Deno.test("resync scheduler: the cap holds however many resyncs fail in a row", () => {
  const timers = recordTimers();
  try {
    let now = 0;
    let runs = 0;
    const scheduler = new ResyncScheduler({
      run: () => runs++,
      minIntervalMs: 100,
      maxIntervalMs: 1_000,
      now: () => now,
    });
    scheduler.request("X", "first");
    // Each resync fails 1 ms after it ran: intervals 200, 400, 800, then 1000 for ever.
    for (let i = 0; i < 12; i++) {
      now += 1;
      scheduler.request("X", "fails again");
      now += timers.waits.at(-1)!;
      timers.fire();
    }
    assert.deepEqual(timers.waits, [199, 399, 799, 999, 999, 999, 999, 999, 999, 999, 999, 999]);
    assert.equal(runs, 13);
    // A request exactly 2 x 1000 after the last run is a quiet spell: at once.
    const last = now;
    now = last + 2_000;
    scheduler.request("X", "quiet");
    assert.equal(runs, 14);
    assert.equal(timers.pending, 0);
    // ... and the interval started over at the minimum: a failure 1 ms later waits
    // 2 x 100 - 1 = 199, not 999.
    now += 1;
    scheduler.request("X", "fails again");
    assert.equal(timers.waits.at(-1), 199);
    scheduler.cancel();
  } finally {
    timers.restore();
  }
});
