/**
 * The backfillers' REST client on a fake clock: the token bucket spaces requests at the
 * configured rate after a burst, a 429/418 waits exactly its `Retry-After` and holds back
 * later requests too, server errors are retried with a doubling delay, retries are bounded,
 * and client errors are not retried. No wall-clock time is asserted: every wait is the fake
 * clock's.
 */
import assert from "node:assert/strict";
import { RestClient, type RestClock, RestError } from "../collectors/backfill/rest_client.ts";
import { TokenBucket } from "../collectors/backfill/token_bucket.ts";

/** A clock whose sleeps advance it at once, recording each. */
class FakeClock implements RestClock {
  t = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

/** A transport answering from a script, recording the fake time of every request. */
function scripted(clock: FakeClock, answers: Array<() => Response>) {
  const calls: number[] = [];
  let i = 0;
  const fetch = (_url: string, _init: RequestInit) => {
    calls.push(clock.t);
    const answer = answers[Math.min(i++, answers.length - 1)];
    return Promise.resolve(answer());
  };
  return { calls, fetch };
}

const ok = () => new Response("[]", { status: 200 });

Deno.test("token bucket: a burst of `capacity`, then one token per 1/rate seconds, in order", () => {
  let now = 0;
  const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 2, now: () => now });
  // Three at once; the 4th waits 0.5 s (one token at 2/s), the 5th 1 s.
  assert.deepEqual([1, 2, 3, 4, 5].map(() => bucket.reserve()), [0, 0, 0, 500, 1000]);
  now = 1000; // both reservations are now covered, nothing left over
  assert.equal(bucket.available, 0);
  now = 5000; // refill stops at the capacity
  assert.equal(bucket.available, 3);
  // A weighted request: 2 tokens of 3, then 2 more needs 1 token = 0.5 s.
  assert.equal(bucket.reserve(2), 0);
  assert.equal(bucket.reserve(2), 500);
  assert.throws(() => bucket.reserve(4), RangeError);
  assert.throws(() => new TokenBucket({ capacity: 0, refillPerSecond: 1 }), RangeError);
});

Deno.test("rest client: requests spaced by the bucket on the fake clock", async () => {
  const clock = new FakeClock();
  const { calls, fetch } = scripted(clock, [ok]);
  const client = new RestClient({
    baseUrl: "http://venue.test/",
    capacity: 2,
    refillPerSecond: 4,
    clock,
    fetch,
  });
  for (let i = 0; i < 5; i++) await client.get("/trades");
  // Two at t=0, then one per 250 ms.
  assert.deepEqual(calls, [0, 0, 250, 500, 750]);
  assert.equal(client.stats.requests, 5);
  assert.equal(client.stats.retries, 0);
});

Deno.test("rest client: 429 waits its Retry-After, and so does the next request", async () => {
  const clock = new FakeClock();
  const { calls, fetch } = scripted(clock, [
    () => new Response("slow down", { status: 429, headers: { "Retry-After": "3" } }),
    ok,
    ok,
  ]);
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    clock,
    fetch,
  });
  const response = await client.get("/a");
  assert.equal(response.status, 200);
  assert.deepEqual(calls, [0, 3000]);
  assert.equal(client.stats.rateLimited, 1);
  assert.equal(client.stats.retries, 1);
  await client.get("/b");
  assert.equal(calls.length, 3);
  assert.ok(calls[2] >= 3000);
});

Deno.test("rest client: 418 (IP ban) waits its Retry-After; a missing header the default", async () => {
  const clock = new FakeClock();
  const { calls, fetch } = scripted(clock, [
    () => new Response('{"code":-1003}', { status: 418, headers: { "Retry-After": "120" } }),
    () => new Response("", { status: 429 }),
    ok,
  ]);
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    defaultRetryAfterMs: 700,
    maxRetryAfterMs: 200_000,
    clock,
    fetch,
  });
  await client.get("/a");
  assert.deepEqual(calls, [0, 120_000, 120_700]);
  assert.equal(client.stats.rateLimited, 2);
  assert.equal(client.stats.retryAfterMs, 120_700);
});

Deno.test("rest client: server errors retried with a doubling delay, bounded", async () => {
  const clock = new FakeClock();
  const { calls, fetch } = scripted(clock, [() => new Response("oops", { status: 503 })]);
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 1000,
    maxRetries: 3,
    retryDelayMs: 100,
    clock,
    fetch,
  });
  const error = await client.get("/a").then(() => undefined, (e) => e);
  assert.ok(error instanceof RestError);
  assert.equal(error.status, 503);
  assert.equal(error.attempts, 4);
  // Waits 100, 200, 400 between the four attempts (the delay doubles after each wait).
  assert.deepEqual(calls, [0, 100, 300, 700]);
  assert.equal(client.stats.failures, 1);
});

Deno.test("rest client: a client error fails at once; a too-long Retry-After fails", async () => {
  const clock = new FakeClock();
  const notFound = scripted(clock, [() => new Response("no", { status: 404 })]);
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    clock,
    fetch: notFound.fetch,
  });
  await assert.rejects(client.get("/a"), (e) => e instanceof RestError && e.status === 404);
  assert.equal(notFound.calls.length, 1);

  const banned = scripted(clock, [
    () => new Response("", { status: 418, headers: { "Retry-After": "86400" } }),
  ]);
  const strict = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    clock,
    fetch: banned.fetch,
  });
  await assert.rejects(strict.get("/a"), (e) => e instanceof RestError && e.status === 418);
  assert.equal(banned.calls.length, 1);
});

Deno.test("rest client: network failures are retried, then reported", async () => {
  const clock = new FakeClock();
  let n = 0;
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    maxRetries: 1,
    retryDelayMs: 50,
    clock,
    fetch: () => {
      n++;
      return n === 1 ? Promise.reject(new TypeError("connection refused")) : Promise.resolve(ok());
    },
  });
  assert.equal((await client.get("/a")).status, 200);
  assert.deepEqual(clock.sleeps, [50]);
  assert.throws(() => new RestClient({ baseUrl: "", capacity: 1, refillPerSecond: 1 }), TypeError);
});

Deno.test("rest client: configured headers go with every request", async () => {
  const clock = new FakeClock();
  const seen: Array<string | null> = [];
  const client = new RestClient({
    baseUrl: "http://v",
    capacity: 10,
    refillPerSecond: 10,
    headers: { "X-MBX-APIKEY": "k" },
    clock,
    fetch: (_url, init) => {
      seen.push(new Headers(init.headers).get("x-mbx-apikey"));
      return Promise.resolve(ok());
    },
  });
  await client.get("/a");
  await client.get("/b");
  assert.deepEqual(seen, ["k", "k"]);
});
