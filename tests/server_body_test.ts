/**
 * `readBodyText` (`server/body.ts`): a body within the limits is read whole; a longer one is a
 * 413; one that trickles past the deadline is a 408, and the handler is not held.
 */
import assert from "node:assert/strict";
import { readBodyText } from "../server/body.ts";
import { HttpError } from "../server/router.ts";

const encoder = new TextEncoder();

function post(body: BodyInit | null): Request {
  return new Request("http://127.0.0.1/api/trading/kill", { method: "POST", body });
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
  return 200;
}

Deno.test("readBodyText: a body in several chunks is read whole, UTF-8 across chunk edges", async () => {
  const text = '{"reason":"stop ✓ now"}';
  const bytes = encoder.encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // Split inside the three-byte "✓".
      const cut = bytes.indexOf(0xe2) + 1;
      controller.enqueue(bytes.subarray(0, cut));
      controller.enqueue(bytes.subarray(cut));
      controller.close();
    },
  });
  assert.equal(await readBodyText(post(body)), text);
  assert.equal(await readBodyText(post(null)), "");
  assert.equal(await readBodyText(post("")), "");
});

Deno.test("readBodyText: a body past maxBytes is a 413", async () => {
  assert.equal(await statusOf(readBodyText(post("x".repeat(101)), { maxBytes: 100 })), 413);
  assert.equal(await readBodyText(post("x".repeat(100)), { maxBytes: 100 }), "x".repeat(100));
});

Deno.test("readBodyText: a body that does not finish within timeoutMs is a 408", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('{"rea')); // and then nothing more
    },
    cancel() {
      cancelled = true;
    },
  });
  assert.equal(await statusOf(readBodyText(post(body), { timeoutMs: 100 })), 408);
  assert.equal(cancelled, true, "the body stream was cancelled");
});
