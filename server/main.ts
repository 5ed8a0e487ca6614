/**
 * `deno task serve`: serves the Parquet lake's history and the live chart page.
 *
 * ```sh
 * deno task serve [--port 8787] [--hostname 127.0.0.1] [--lake ./data/lake]
 * ```
 * The lake directory can also be set with `ALPHAPULSE_LAKE`. Live streams (`/ws`, `/sse`)
 * carry whatever is written to the stream hub; run the demo to have a collector feed it.
 * @module
 */
import { parseArgs } from "node:util";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { StreamHub } from "./hub.ts";
import { startServer } from "./start.ts";

const USAGE = `Usage: deno task serve [--port 8787] [--hostname 127.0.0.1] [--lake DIR]

  --port N         TCP port (default 8787; 0 picks a free one)
  --hostname HOST  interface to listen on (default 127.0.0.1)
  --lake DIR       Parquet lake directory (default $ALPHAPULSE_LAKE or ./data/lake)
`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "8787" },
        hostname: { type: "string", default: "127.0.0.1" },
        lake: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer from 0 to 65535, got "${values.port}"\n\n${USAGE}`);
    return 2;
  }
  const root = values.lake ?? Deno.env.get("ALPHAPULSE_LAKE") ?? "./data/lake";
  const repository = await LakeRepository.open({ root });
  const hub = new StreamHub();
  const server = await startServer({ repository, hub, port, hostname: values.hostname });
  console.log(`AlphaPulse server on ${server.url} (lake: ${root})`);
  console.log(`  live chart ${server.url}   health ${server.url}health   API ${server.url}api/…`);

  const stop = async () => {
    console.log("shutting down");
    await server.shutdown();
    await hub.close();
    await repository.close();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => void stop());
  }
  await server.finished;
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
