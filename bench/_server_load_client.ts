/**
 * The load side of `server_queries`' `/health` figure, run as its own process
 * (`deno run -A bench/_server_load_client.ts BASE_URL CONFIG_JSON`) so the figure measures the
 * server, not a client sharing its event loop: `clients` loops run the heaviest allowed
 * queries back to back while `/health` is probed every 10 ms. Prints `probing` when the
 * probes start, then one JSON line `{ health, queries, refused }` (probe times in ms).
 * @module
 */

/** What the client runs. */
export interface LoadConfig {
  /** Query paths (with their query strings) the clients cycle through. */
  readonly paths: readonly string[];
  /** Concurrent query loops. */
  readonly clients: number;
  /** Time to let the load build up before probing (ms). */
  readonly warmupMs: number;
  /** How long to probe (ms). */
  readonly probeMs: number;
}

/** The client's result line. */
export interface LoadResult {
  readonly health: number[];
  readonly queries: number;
  /** Queries answered 503 (the server's query cap). */
  readonly refused: number;
}

async function runLoad(base: string, config: LoadConfig): Promise<LoadResult> {
  const stop = new AbortController();
  let queries = 0;
  let refused = 0;
  const clients = Array.from({ length: config.clients }, async (_, c) => {
    for (let round = 0; !stop.signal.aborted; round++) {
      try {
        const res = await fetch(base + config.paths[(c + round) % config.paths.length], {
          signal: stop.signal,
        });
        if (res.status === 503) refused++;
        await res.body?.pipeTo(new WritableStream(), { signal: stop.signal });
        queries++;
      } catch (error) {
        if (!stop.signal.aborted) throw error;
      }
    }
  });
  await new Promise((r) => setTimeout(r, config.warmupMs));
  console.log("probing");
  const health: number[] = [];
  const until = performance.now() + config.probeMs;
  while (performance.now() < until) {
    const t0 = performance.now();
    const res = await fetch(`${base}/health`);
    await res.body?.cancel();
    health.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  stop.abort();
  await Promise.all(clients);
  return { health, queries, refused };
}

if (import.meta.main) {
  const [base, config] = Deno.args;
  const result = await runLoad(base, JSON.parse(config) as LoadConfig);
  console.log(JSON.stringify(result));
}
