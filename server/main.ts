/**
 * `deno task serve`: serves the Parquet lake's history, the live streams and the live chart
 * page; with `--exchange` and `--symbols` it also runs that venue's collector in-process
 * (assembled like `collect`'s, `collectors/runtime/feed.ts`), writing the lake (with
 * `DATABASE_URL`: the PostgreSQL hot buffer) and pushing every normalised event to `/ws`
 * and `/sse` as it arrives.
 *
 * ```sh
 * deno task serve [--port 8787] [--hostname 127.0.0.1] [--lake ./data/lake]
 * deno task serve --exchange coinbase --symbols BTC-USD,ETH-USD [--url wss://...]
 * ```
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { databaseUrl, defaultLakeRoot } from "../lib/config.ts";
import { openRepository, type RepositoryKind } from "../lib/open_repository.ts";
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { QueryPool } from "./query_pool.ts";
import { assembleFeed, bookChangesFlag, type Feed } from "../collectors/runtime/feed.ts";
import { VENUES } from "../collectors/venues/mod.ts";
import {
  loadServerSecurity,
  SECURITY_FLAGS,
  SECURITY_USAGE,
  securityOptions,
  type ServerSecurity,
} from "./config.ts";
import { StreamHub } from "./hub.ts";
import { startServer } from "./start.ts";

const USAGE = `usage: deno task serve [options]

  --port N           TCP port (default 8787; 0 picks a free one)
  --hostname HOST    interface to listen on (default 127.0.0.1)
  --lake DIR         Parquet lake (default $ALPHAPULSE_LAKE or ./data/lake)
  --store KIND       what /api reads: lake (default), buffer (the PostgreSQL buffer at
                     DATABASE_URL) or unified (lake history plus the buffer's recent days)
  --exchange NAME    also collect this venue live (${Object.keys(VENUES).join(", ")})
  --symbols A,B      symbols to collect with --exchange
  --url WS_URL       venue websocket URL (default: the venue's public feed)
  --book-changes     with --exchange: store every book change in the lake (the default
                     for venues whose feed sends them; --no-book-changes leaves them out)
                     (with DATABASE_URL set, --exchange writes the PostgreSQL buffer instead
                     of the lake, like deno task collect)

Security (required on any interface other than loopback; see README "Serving on a network"):
${SECURITY_USAGE}`;

if (import.meta.main) await runMain(serve);

async function serve(): Promise<void> {
  const { values } = parseArgs(Deno.args, {
    port: { type: "string", default: "8787" },
    hostname: { type: "string", default: "127.0.0.1" },
    lake: { type: "string" },
    store: { type: "string", default: "lake" },
    exchange: { type: "string" },
    symbols: { type: "string" },
    url: { type: "string" },
    "book-changes": { type: "boolean" },
    "no-book-changes": { type: "boolean" },
    help: { type: "boolean", short: "h" },
    ...SECURITY_FLAGS,
  }, USAGE);
  if (values.help) return console.log(USAGE);
  const bookChanges = bookChangesFlag(values);
  const { port, exchange, symbols, root } = listenAndFeed(values);
  const security = await loadServerSecurity(values);
  const { kind, repository, queryPool } = await openStore(values.store as string, root, security);
  const hub = new StreamHub();
  const server = await startServer({
    repository,
    hub,
    port,
    hostname: values.hostname as string,
    ...securityOptions(security),
    queryPool,
  }).catch(async (error) => {
    queryPool.close();
    await repository.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(
        `cannot listen on ${values.hostname}:${port}: the address is in use ` +
          `(another server running? use --port)`,
      );
    }
    throw error;
  });
  let feed: Feed | undefined;
  if (exchange !== undefined) {
    feed = await assembleFeed({
      venues: [{ exchange, symbols, ...(values.url ? { url: values.url as string } : {}) }],
      lake: root,
      bookChanges,
      extraSinks: [hub],
    }).catch(async (error) => {
      await server.shutdown();
      queryPool.close();
      await repository.close();
      throw error;
    });
    feed.start();
  }
  console.log(
    `AlphaPulse server on ${server.url} (${kind === "buffer" ? "buffer" : `lake: ${root}`}${
      kind === "unified" ? " + buffer" : ""
    })`,
  );
  console.log(`  ${security.summary}`);
  console.log(`  live chart ${server.url}   health ${server.url}health   API ${server.url}api/…`);
  if (feed) {
    const store = feed.store === "buffer" ? "the PostgreSQL buffer" : "the lake";
    console.log(`  collecting ${exchange} ${symbols.join(",")} into ${store} and /ws`);
  }

  await untilStopped(server.finished);
  console.log("shutting down");
  if (feed) console.log(JSON.stringify((await feed.stop())[0]));
  await server.shutdown();
  queryPool.close();
  await hub.close();
  await repository.close();
}

/** Resolves on SIGINT or SIGTERM, or when the server has stopped by itself. */
async function untilStopped(finished: Promise<void>): Promise<void> {
  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  await Promise.race([stopped.promise, finished]);
}

/**
 * Opens what `/api` reads (`--store`) and starts the query workers over it, so the
 * market-data routes run off the event loop that answers `/health`.
 * @throws {RangeError} for an unknown store; {TypeError} for a PostgreSQL one without
 * `DATABASE_URL`.
 */
async function openStore(
  store: string,
  root: string,
  security: ServerSecurity,
): Promise<{ kind: RepositoryKind; repository: MarketDataRepository; queryPool: QueryPool }> {
  const kind = store as RepositoryKind;
  if (kind !== "lake" && kind !== "buffer" && kind !== "unified") {
    throw new RangeError(`--store must be lake, buffer or unified, got "${kind}"`);
  }
  const url = databaseUrl();
  if (kind !== "lake" && !url) throw new TypeError(`--store ${kind} needs DATABASE_URL`);
  const repository = await openRepository({ kind, lake: root, databaseUrl: url });
  const queryPool = new QueryPool({
    root,
    kind,
    databaseUrl: url,
    size: security.maxConcurrentQueries ?? 8,
    timeoutMs: security.timeouts.queryMs,
  });
  await queryPool.start();
  return { kind, repository, queryPool };
}

/**
 * The port, the live feed (`--exchange` with `--symbols`, or neither) and the lake root of
 * the command line.
 * @throws {RangeError} for a bad port; {SyntaxError} for `--exchange` without `--symbols`.
 */
function listenAndFeed(values: Record<string, unknown>): {
  port: number;
  exchange: string | undefined;
  symbols: string[];
  root: string;
} {
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
  }
  const exchange = values.exchange as string | undefined;
  const symbols = (values.symbols as string | undefined)?.split(",").filter(Boolean) ?? [];
  if ((exchange === undefined) !== (symbols.length === 0)) {
    throw new SyntaxError(`--exchange and --symbols go together\n\n${USAGE}`);
  }
  const root = (values.lake as string | undefined) ?? defaultLakeRoot();
  return { port, exchange, symbols, root };
}
