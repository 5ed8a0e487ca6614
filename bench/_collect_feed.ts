/**
 * The feed side of `bench/collect.ts`, run as its own process:
 * `deno run -A bench/_collect_feed.ts --messages N --products P --depth D` generates a
 * Coinbase Exchange stream (per product a `snapshot` of `D` levels a side, then `l2update`s
 * inside the book and ~2% `match`es with consecutive trade ids), encodes it once as
 * websocket frames, prints `{"port": PORT, "frames": F}` and serves it: every websocket
 * client gets the whole stream, written in 1 MiB chunks as fast as TCP takes it, after its
 * first message (the subscribe). The server is a raw TCP listener doing the RFC 6455
 * handshake itself, so its own cost per frame is a memory copy and the figure measures the
 * client side. With `--tls-cert FILE --tls-key FILE` (PEM) it serves `wss://` instead.
 * @module
 */

/** Options for {@linkcode generateCoinbaseStream}. */
export interface StreamOptions {
  /** Messages after the snapshots. */
  readonly messages: number;
  /** Products (`P0-USD`, ...). */
  readonly products: number;
  /** Levels per side in each snapshot. */
  readonly depth: number;
  /** Share of messages that are trades (default 0.02). */
  readonly tradeShare?: number;
  readonly seed?: number;
}

/** Product names of a generated stream. */
export function streamProducts(products: number): string[] {
  return Array.from({ length: products }, (_, i) => `P${i}-USD`);
}

/** The frames: snapshots first, then updates and trades. Deterministic for a seed. */
export function generateCoinbaseStream(options: StreamOptions): string[] {
  let state = options.seed ?? 42;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const products = streamProducts(options.products);
  const tradeShare = options.tradeShare ?? 0.02;
  const depth = options.depth;
  const frames: string[] = [];
  const mids = products.map((_, i) => 100 * (i + 1));
  const price = (p: number, side: "bid" | "ask", level: number) =>
    (mids[p] + (side === "bid" ? -level : level) * 0.01).toFixed(2);
  const size = () => (random() * 10 + 0.001).toFixed(8);
  // Venue times from now on, so the exchange-to-local lag looks like a live feed's.
  const start = Date.now() * 1000;
  let clock = start;
  const time = () => {
    clock += 37;
    const ms = Math.floor(clock / 1000);
    return new Date(ms).toISOString().slice(0, 23) + String(clock % 1000).padStart(3, "0") + "Z";
  };
  products.forEach((product, p) => {
    const side = (s: "bid" | "ask") =>
      Array.from({ length: depth }, (_, k) => [price(p, s, k + 1), size()]);
    frames.push(JSON.stringify({
      type: "snapshot",
      product_id: product,
      bids: side("bid"),
      asks: side("ask"),
    }));
  });
  const tradeIds = products.map(() => 1_000_000);
  for (let i = 0; i < options.messages; i++) {
    const p = Math.floor(random() * products.length);
    const product = products[p];
    if (random() < tradeShare) {
      frames.push(
        `{"type":"match","trade_id":${++tradeIds[
          p
        ]},"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8",` +
          `"taker_order_id":"d9d4b7c6-ebd5-4bd1-b3d4-2b3e0b6f3e1a","side":"${
            random() < 0.5 ? "buy" : "sell"
          }",` +
          `"size":"${size()}","price":"${price(p, "ask", 1)}","product_id":"${product}",` +
          `"sequence":${1000 + i},"time":"${time()}"}`,
      );
      continue;
    }
    const changes: string[] = [];
    const n = random() < 0.8 ? 1 : 2;
    for (let c = 0; c < n; c++) {
      const side = random() < 0.5 ? "bid" : "ask";
      // Most activity near the top, some deep; deletes leave room that later updates refill.
      const level = 1 + Math.floor(depth * random() ** 3);
      const s = random() < 0.1 ? "0" : size();
      changes.push(`["${side === "bid" ? "buy" : "sell"}","${price(p, side, level)}","${s}"]`);
    }
    frames.push(
      `{"type":"l2update","product_id":"${product}","changes":[${
        changes.join(",")
      }],"time":"${time()}"}`,
    );
  }
  return frames;
}

/** Server-to-client websocket frames (text, unmasked), concatenated. */
export function encodeFrames(frames: readonly string[]): Uint8Array {
  const encoder = new TextEncoder();
  const payloads = frames.map((f) => encoder.encode(f));
  let total = 0;
  for (const p of payloads) total += p.length + (p.length < 126 ? 2 : p.length < 65_536 ? 4 : 10);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of payloads) {
    out[off++] = 0x81;
    if (p.length < 126) {
      out[off++] = p.length;
    } else if (p.length < 65_536) {
      out[off++] = 126;
      out[off++] = p.length >> 8;
      out[off++] = p.length & 255;
    } else {
      out[off++] = 127;
      new DataView(out.buffer, off, 8).setBigUint64(0, BigInt(p.length));
      off += 8;
    }
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const encoder = new TextEncoder();

async function serve(conn: Deno.Conn, stream: Uint8Array): Promise<void> {
  const buf = new Uint8Array(65_536);
  try {
    let request = "";
    while (!request.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      request += new TextDecoder().decode(buf.subarray(0, n));
    }
    const key = /sec-websocket-key: *(\S+)/i.exec(request)?.[1];
    if (key === undefined) {
      await conn.write(encoder.encode("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
      return;
    }
    const digest = await crypto.subtle.digest(
      "SHA-1",
      encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await conn.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    if ((await conn.read(buf)) === null) return; // the subscribe
    for (let off = 0; off < stream.length; off += 1 << 20) {
      let chunk = stream.subarray(off, Math.min(stream.length, off + (1 << 20)));
      while (chunk.length > 0) chunk = chunk.subarray(await conn.write(chunk));
    }
    // Whatever the client sends next is its close frame: answer it and hang up.
    if ((await conn.read(buf)) !== null) await conn.write(new Uint8Array([0x88, 0x00]));
  } catch {
    // The client went away.
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i < 0 ? fallback : Number(Deno.args[i + 1]);
  };
  const frames = generateCoinbaseStream({
    messages: arg("messages", 300_000),
    products: arg("products", 10),
    depth: arg("depth", 1000),
  });
  const stream = encodeFrames(frames);
  const certFile = Deno.args[Deno.args.indexOf("--tls-cert") + 1];
  const keyFile = Deno.args[Deno.args.indexOf("--tls-key") + 1];
  const listener = Deno.args.includes("--tls-cert")
    ? Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
    })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(JSON.stringify({ port: listener.addr.port, frames: frames.length }));
  for await (const conn of listener) serve(conn, stream);
}
