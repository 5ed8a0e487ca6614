/**
 * A query worker: runs the market-data routes ({@linkcode marketResponse}) over its own
 * {@linkcode LakeRepository} off the server's event loop and hands the response body back as
 * transferred byte buffers, one per `pull` (one chunk read ahead). Protocol in
 * `query_pool.ts`.
 * @module
 */
/// <reference lib="deno.worker" />
import { LakeRepository } from "../lib/repositories/mod.ts";
import { marketResponse } from "./market_routes.ts";
import type { FromWorker, ToWorker } from "./query_pool.ts";

let repository: LakeRepository | undefined;
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

async function pull(id: number): Promise<void> {
  if (id !== current || reader === undefined || ahead === undefined) return;
  try {
    const { done, value } = await ahead;
    if (done) {
      finish(id);
      send({ type: "end", id });
      return;
    }
    ahead = reader.read();
    // A view over part of a larger buffer is copied, so exactly its bytes are transferred.
    const bytes = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength
      ? value
      : value.slice();
    const buffer = bytes.buffer as ArrayBuffer;
    send({ type: "chunk", id, bytes: buffer }, [buffer]);
  } catch (error) {
    finish(id);
    send({ type: "fail", id, message: String(error) });
  }
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
    repository = new LakeRepository({ root: message.root, threads: message.threads });
  } else if (message.type === "request") {
    start(message.id, message.url, message.accept).catch((error) => {
      finish(message.id);
      send({ type: "fail", id: message.id, message: String(error) });
    });
  } else if (message.type === "pull") void pull(message.id);
  else if (message.type === "cancel") void cancel(message.id);
};
