/**
 * Request bodies read with a size cap and a deadline, so a client can neither send an endless
 * body nor hold a handler by trickling one byte at a time.
 * @module
 */
import { HttpError } from "./router.ts";

/** Options of {@linkcode readBodyText}. */
export interface BodyLimits {
  /** Most bytes accepted (default 16 KiB); a longer body is answered 413. */
  readonly maxBytes?: number;
  /** Milliseconds the whole body may take to arrive (default 10,000); slower is answered 408. */
  readonly timeoutMs?: number;
}

/**
 * The body of `req` as UTF-8 text, at most `maxBytes` long and complete within `timeoutMs`.
 *
 * @example
 * ```ts
 * import { readBodyText } from "./body.ts";
 * const req = new Request("http://x/", { method: "POST", body: '{"reason":"test"}' });
 * console.assert(await readBodyText(req) === '{"reason":"test"}');
 * ```
 * @throws {HttpError} 413 past `maxBytes`, 408 past `timeoutMs`.
 */
export async function readBodyText(req: Request, limits: BodyLimits = {}): Promise<string> {
  const maxBytes = limits.maxBytes ?? 16 * 1024;
  const timeoutMs = limits.timeoutMs ?? 10_000;
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (timedOut) break;
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `the request body is over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof HttpError || !timedOut) throw error;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    throw new HttpError(408, `the request body did not arrive within ${timeoutMs / 1000} s`);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}
