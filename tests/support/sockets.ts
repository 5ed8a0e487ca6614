/**
 * Raw-socket helpers of the server tests.
 * @module
 */

/** What {@linkcode readUntilClosed} read. */
export interface ReadUntilClosed {
  /** Bytes read before the server ended the connection. */
  readonly bytes: number;
  /** Those bytes as text, when `text` was asked for (else `""`). */
  readonly text: string;
}

/**
 * Reads `conn` until the server ends it (EOF or a reset); rejects with "the server never
 * closed the connection" if it is still open after `limitMs` (the socket is closed then).
 */
export async function readUntilClosed(
  conn: Deno.Conn,
  options: { readonly limitMs?: number; readonly text?: boolean } = {},
): Promise<ReadUntilClosed> {
  const buf = new Uint8Array(options.text ? 64 * 1024 : 1 << 20);
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close(); // ends the pending read
  }, options.limitMs ?? 20_000);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return { bytes, text };
      bytes += n;
      if (options.text) text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
  } catch (error) {
    if (timedOut) throw new Error("the server never closed the connection");
    if (error instanceof Deno.errors.ConnectionReset) return { bytes, text };
    throw error;
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
}
