/**
 * A headless chromium for tests (Debian's, driven by `puppeteer-core`): load a page,
 * evaluate expressions, take screenshots. A missing chromium fails the test.
 * @module
 */
import puppeteer from "puppeteer-core";

/** Debian's chromium (`scripts/install_deps.sh` installs it). */
const CHROMIUM = "/usr/bin/chromium";

/** One page of a headless chromium. */
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

/**
 * Runs `fn` with one page of a headless Debian chromium driven by `puppeteer-core`.
 * A missing chromium fails the test, it never skips.
 */
export async function withChromium(fn: (page: BrowserPage) => Promise<void>): Promise<void> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage();
    await fn({
      // Returns once the document is parsed; tests poll for what the page builds later.
      navigate: async (url) => void await page.goto(url, { waitUntil: "domcontentloaded" }),
      evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
      screenshot: async () => new Uint8Array(await page.screenshot({ type: "png" })),
      colorScheme: (scheme) =>
        page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]),
      viewport: (width, height) => page.setViewport({ width, height, deviceScaleFactor: 1 }),
    });
  } finally {
    await browser.close();
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
