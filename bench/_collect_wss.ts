/**
 * The `wss://` side of `bench/collect.ts`, run as its own process with
 * `deno run -A --cert CA.pem bench/_collect_wss.ts --url wss://localhost:PORT --frames F`
 * (`--cert` so the runtime's `WebSocket` trusts the local test CA; {@linkcode RawWebSocket}
 * is handed the same CA through `caCerts`). In interleaved rounds it receives the whole
 * stream with each client, only counting frames, and prints one JSON line: the best frames
 * per second of each, by the wall clock and per CPU-second of this process (TLS decryption
 * included: it runs on this process's threads).
 * @module
 */
import { RawWebSocket } from "../collectors/runtime/raw_websocket.ts";
import { countFrames, type Rate } from "./_frame_rate.ts";

/** Receives `frames` frames with one client, counting them. */
async function receive(
  client: "raw" | "native",
  url: string,
  frames: number,
  caCert: string,
): Promise<Rate> {
  const socket = client === "raw"
    ? new RawWebSocket(url, { caCerts: [caCert] })
    : new WebSocket(url);
  return await countFrames(socket, frames, client);
}

if (import.meta.main) {
  const arg = (name: string) => Deno.args[Deno.args.indexOf(`--${name}`) + 1];
  const url = arg("url");
  const frames = Number(arg("frames"));
  const rounds = Number(arg("rounds") ?? 3);
  const caCert = await Deno.readTextFile(arg("ca"));
  const best = { raw: { wall: 0, cpu: 0 }, native: { wall: 0, cpu: 0 } };
  for (let r = 0; r < rounds; r++) {
    for (const client of ["native", "raw"] as const) {
      const rate = await receive(client, url, frames, caCert);
      best[client].wall = Math.max(best[client].wall, rate.wall);
      best[client].cpu = Math.max(best[client].cpu, rate.cpu);
    }
  }
  console.log(JSON.stringify(best));
}
