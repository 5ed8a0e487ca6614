/**
 * The client side of `server_queries`' `/health` figure, run as two processes of its own
 * (`deno run -A bench/_server_load_client.ts load|probe BASE_URL CONFIG_JSON`) so the figure
 * measures the server, not a client sharing its event loop with the server or with the
 * load: `load` runs `clients` loops of the heaviest allowed queries back to back until its
 * standard input closes, then prints `{ queries, refused, bytes }`; `probe` waits `warmupMs`,
 * prints `probing`, probes `/health` every 10 ms for `probeMs`, then prints `{ health }`
 * (probe times in ms).
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

/** The clients' result lines, together. */
export interface LoadResult {
  readonly health: number[];
  readonly queries: number;
  /** Body bytes received (of finished and unfinished queries). */
  readonly bytes: number;
  /** Queries answered 503 (the server's query cap). */
  readonly refused: number;
}

async function runLoad(
  base: string,
  config: LoadConfig,
  stop: AbortSignal,
): Promise<{ queries: number; refused: number; bytes: number }> {
  let queries = 0;
  let bytes = 0;
  const sink = () =>
    new WritableStream<Uint8Array>({
      write(chunk) {
        bytes += chunk.byteLength;
      },
    });
  let refused = 0;
  const clients = Array.from({ length: config.clients }, async (_, c) => {
    for (let round = 0; !stop.aborted; round++) {
      try {
        const res = await fetch(base + config.paths[(c + round) % config.paths.length], {
          signal: stop,
        });
        if (res.status === 503) refused++;
        await res.body?.pipeTo(sink(), { signal: stop });
        queries++;
      } catch (error) {
        if (!stop.aborted) throw error;
      }
    }
  });
  await Promise.all(clients);
  return { queries, refused, bytes };
}

async function probe(base: string, config: LoadConfig): Promise<{ health: number[] }> {
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
  return { health };
}

if (import.meta.main) {
  const [mode, base, text] = Deno.args;
  const config = JSON.parse(text) as LoadConfig;
  if (mode === "probe") console.log(JSON.stringify(await probe(base, config)));
  else {
    const stop = new AbortController();
    // Standard input closing (the benchmark done probing) stops the load.
    void Deno.stdin.readable.pipeTo(new WritableStream()).finally(() => stop.abort());
    console.log(JSON.stringify(await runLoad(base, config, stop.signal)));
  }
}
