/**
 * Notebook display without boilerplate: {@linkcode show} (frames as tables with shape and
 * column types, charts inline with the chart library sent once per kernel, Markdown text),
 * {@linkcode say} (Markdown), {@linkcode summary} (a frame describing a frame), and
 * {@linkcode frameHtml} for pages and reports.
 *
 * @example
 * ```ts ignore
 * import { openRepository, say, show, summary } from "@alphapulse/lib";
 * const repo = await openRepository();
 * const [first] = await repo.instruments();
 * const trades = await repo.trades(first).polars();
 * await say(`**${first.symbol}**: ${trades.height} trades`);
 * await show(trades.head(10));
 * await show(summary(trades));
 * ```
 * @module
 */
export { type MimeBundle, mimeBundle, say, show, type ShowOptions } from "./display.ts";
export {
  dtypeName,
  escapeHtml,
  formatValue,
  frameHtml,
  type FrameHtmlOptions,
} from "./frame_html.ts";
export { summary } from "./summary.ts";
