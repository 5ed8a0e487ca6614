/**
 * A query worker: runs the market-data routes ({@linkcode marketResponse}) over its own
 * repository (a {@linkcode LakeRepository}, or the PostgreSQL buffer, or both) off the
 * server's event loop and hands the response body back as transferred byte buffers, up to
 * 1 MiB per `pull` (one body chunk read ahead). Protocol in `query_pool.ts`.
 * @module
 */
/// <reference lib="deno.worker" />
import { openRepository } from "../lib/open_repository.ts";
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { niceThisThread } from "./_thread_priority.ts";
import { marketResponse } from "./market_routes.ts";
import type { FromWorker, ToWorker } from "./query_pool.ts";

let repository: MarketDataRepository | undefined;
let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
let ahead: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
let current = -1;

function send(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

async function start(id: number, url: string, accept: string | null): Promise<void> {
  current = id;
  const res = await marketResponse(repository!, new URL(url), accept);
  if (current !== id) return void res.body?.cancel();
  send({ type: "head", id, status: res.status, headers: [...res.headers] });
  if (res.body === null) {
    send({ type: "end", id });
    return;
  }
  reader = res.body.getReader();
  ahead = reader.read();
}

/** Bytes gathered into one message (fewer, larger messages wake the event loop less). */
const MESSAGE_BYTES = 1 << 20;

async function pull(id: number): Promise<void> {
  if (id !== current || reader === undefined) return;
  try {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (ahead !== undefined && size < MESSAGE_BYTES) {
      const { done, value } = await ahead;
      if (id !== current) return;
      if (done) ahead = undefined;
      else {
        ahead = reader.read();
        parts.push(value);
        size += value.byteLength;
      }
    }
    if (parts.length === 0) {
      finish(id);
      send({ type: "end", id });
      return;
    }
    const bytes = join(parts, size);
    const buffer = bytes.buffer as ArrayBuffer;
    send({ type: "chunk", id, bytes: buffer }, [buffer]);
  } catch (error) {
    finish(id);
    send({ type: "fail", id, message: String(error) });
  }
}

/** The parts as one buffer of its own (a view over part of a larger buffer is copied). */
function join(parts: Uint8Array[], size: number): Uint8Array {
  const [first] = parts;
  if (
    parts.length === 1 && first.byteOffset === 0 && first.byteLength === first.buffer.byteLength
  ) {
    return first;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function finish(id: number): void {
  if (id !== current) return;
  current = -1;
  reader = undefined;
  ahead = undefined;
}

async function cancel(id: number): Promise<void> {
  const open = id === current ? reader : undefined;
  finish(id);
  await open?.cancel().catch(() => {});
  send({ type: "end", id });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    if (message.nice !== undefined) niceThisThread(message.nice);
    const kind = message.kind ?? "lake";
    if (kind === "lake") {
      repository = new LakeRepository({ root: message.root, threads: message.threads });
      send({ type: "ready", id: -1 });
    } else {
      // A failure to open (a bad URL) is an uncaught error: the pool sees the worker die.
      void openRepository({ kind, lake: message.root, databaseUrl: message.databaseUrl })
        .then((opened) => {
          repository = opened;
          send({ type: "ready", id: -1 });
        });
    }
  } else if (message.type === "request") {
    start(message.id, message.url, message.accept).catch((error) => {
      finish(message.id);
      send({ type: "fail", id: message.id, message: String(error) });
    });
  } else if (message.type === "pull") void pull(message.id);
  else if (message.type === "cancel") void cancel(message.id);
};
