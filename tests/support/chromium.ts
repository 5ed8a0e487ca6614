/**
 * A headless chromium for tests, driven over the DevTools protocol (no npm package): start it,
 * load a page, evaluate expressions, take screenshots. A missing chromium fails the test.
 * @module
 */
/** A headless chromium driven over the DevTools protocol (one page). */
export interface BrowserPage {
  navigate(url: string): Promise<void>;
  /** Evaluates an expression in the page and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the page's viewport. */
  screenshot(): Promise<Uint8Array>;
  /** Emulates `prefers-color-scheme` (for pages with a dark theme). */
  colorScheme(scheme: "light" | "dark"): Promise<void>;
  /** Sets the viewport size in CSS pixels. */
  viewport(width: number, height: number): Promise<void>;
}

export async function withChromium(fn: (page: BrowserPage) => Promise<void>): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "alphapulse-chromium-" });
  // A missing chromium throws NotFound here: that fails the test, it never skips.
  const child = new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let socket: WebSocket | undefined;
  try {
    let log = "";
    let endpoint: string | undefined;
    while (!endpoint) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`chromium exited before DevTools started:\n${log}`);
      log += value;
      endpoint = /DevTools listening on (ws:\/\/\S+)/.exec(log)?.[1];
    }
    (async () => {
      while (!(await lines.read()).done) { /* drain chromium's log */ }
    })().catch(() => {});
    const httpBase = endpoint.replace(/^ws:\/\/([^/]+)\/.*$/, "http://$1");
    const targets = await (await fetch(`${httpBase}/json/list`)).json();
    const target = targets.find((t: { type: string }) => t.type === "page");
    const ws = socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    let nextId = 0;
    const pending = new Map<number, (reply: Record<string, unknown>) => void>();
    ws.onmessage = (m) => {
      const reply = JSON.parse(m.data);
      if (reply.id) pending.get(reply.id)?.(reply);
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve) => {
        pending.set(++nextId, resolve);
        ws.send(JSON.stringify({ id: nextId, method, params }));
      });
    await fn({
      navigate: async (url) => void await send("Page.navigate", { url }),
      evaluate: async <T>(expression: string) => {
        const reply = await send("Runtime.evaluate", { expression, returnByValue: true });
        const result = reply.result as { result?: { value?: T }; exceptionDetails?: unknown };
        if (result.exceptionDetails) {
          throw new Error(`page error: ${JSON.stringify(result.exceptionDetails)}`);
        }
        return result.result?.value as T;
      },
      screenshot: async () => {
        const reply = await send("Page.captureScreenshot", { format: "png" });
        const data = (reply.result as { data: string }).data;
        return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      },
      colorScheme: async (scheme) =>
        void await send("Emulation.setEmulatedMedia", {
          features: [{ name: "prefers-color-scheme", value: scheme }],
        }),
      viewport: async (width, height) =>
        void await send("Emulation.setDeviceMetricsOverride", {
          width,
          height,
          deviceScaleFactor: 1,
          mobile: false,
        }),
    });
  } finally {
    socket?.close();
    child.kill();
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Polls `read` in the page until `check` accepts its value; bounded number of polls. */
export async function pageEventually<T>(
  page: BrowserPage,
  expression: string,
  check: (value: T) => boolean,
  what: string,
): Promise<T> {
  let value: T | undefined;
  for (let i = 0; i < 300; i++) {
    value = await page.evaluate<T>(expression);
    if (check(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
}
