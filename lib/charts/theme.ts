/**
 * Dark and light colour themes for charts and reports: page, axis, grid and text colours,
 * a palette for lines, and the colours of rising/falling bars, buys/sells and heatmaps.
 * Both palettes keep text and lines at a readable contrast against their background.
 * @module
 */

/** The name of a theme: every chart and `htmlReport` take `theme: "dark" | "light"`. */
export type ThemeName = "dark" | "light";

/** The colours of one theme (CSS colours, `#rrggbb` so an alpha suffix can be appended). */
export interface Theme {
  readonly name: ThemeName;
  readonly background: string;
  readonly text: string;
  /** Secondary text (subtitles, notes). */
  readonly mutedText: string;
  readonly grid: string;
  readonly border: string;
  /** Table header background in reports. */
  readonly tableHeader: string;
  /** Line colours, used in order. */
  readonly palette: readonly string[];
  readonly up: string;
  readonly down: string;
  /** Markers of buys and of sells. */
  readonly buy: string;
  readonly sell: string;
  /** Markers of signals without a side. */
  readonly signal: string;
  /** Heatmap cells of resting bids and of resting asks (drawn with size as opacity). */
  readonly bidHeat: string;
  readonly askHeat: string;
  /** Drawdown area. */
  readonly drawdown: string;
}

const LIGHT: Theme = {
  name: "light",
  background: "#ffffff",
  text: "#222222",
  mutedText: "#666666",
  grid: "#eef0f5",
  border: "#c8ccd6",
  tableHeader: "#f5f7fa",
  palette: ["#2962ff", "#e65100", "#2e7d32", "#8e24aa", "#c62828", "#00838f"],
  up: "#26a69a",
  down: "#ef5350",
  buy: "#0b8043",
  sell: "#d50000",
  signal: "#6a1b9a",
  bidHeat: "#00796b",
  askHeat: "#c62828",
  drawdown: "#d32f2f",
};

const DARK: Theme = {
  name: "dark",
  background: "#131722",
  text: "#d1d4dc",
  mutedText: "#9598a1",
  grid: "#232734",
  border: "#3a3f4f",
  tableHeader: "#1e2230",
  palette: ["#5b9cff", "#ffa726", "#66bb6a", "#ce93d8", "#ef5350", "#4dd0e1"],
  up: "#26a69a",
  down: "#ef5350",
  buy: "#4caf50",
  sell: "#ff5252",
  signal: "#e1bee7",
  bidHeat: "#26c6da",
  askHeat: "#ff7043",
  drawdown: "#ef5350",
};

/**
 * The theme of a name (default `"light"`).
 * @throws {RangeError} for a name other than `"dark"` or `"light"`.
 */
export function themeOf(name: ThemeName | undefined): Theme {
  if (name === undefined || name === "light") return LIGHT;
  if (name === "dark") return DARK;
  throw new RangeError(`theme must be "dark" or "light": ${String(name)}`);
}

/**
 * A colour that follows the theme: `themeColor("up")`, `themeColor("palette", 2)`, or with
 * an alpha suffix `themeColor("up", undefined, "99")`. Chart specs hold these tokens and
 * {@linkcode resolveThemeColors} turns them into the colours of the theme a chart is drawn in.
 */
export function themeColor(
  key: Exclude<keyof Theme, "name" | "palette"> | "palette",
  index = 0,
  alpha = "",
): string {
  return `theme:${key === "palette" ? `palette${index}` : key}${alpha ? `:${alpha}` : ""}`;
}

const TOKEN = /^theme:([a-zA-Z]+?)(\d*)(?::([0-9a-fA-F]{2}))?$/;

/** Replaces theme colour tokens anywhere in plain data (objects, arrays) by `theme`'s colours. */
export function resolveThemeColors<T>(value: T, theme: Theme): T {
  if (typeof value === "string") {
    const m = TOKEN.exec(value);
    if (!m) return value;
    const [, key, index, alpha] = m;
    const color = key === "palette"
      ? theme.palette[Number(index || 0) % theme.palette.length]
      : (theme as unknown as Record<string, unknown>)[key];
    if (typeof color !== "string") throw new RangeError(`unknown theme colour: ${value}`);
    return (color + (alpha ?? "")) as T;
  }
  if (Array.isArray(value)) {
    // Columns of numbers hold no tokens: skip them quickly.
    if (value.length > 0 && typeof value[0] === "number") return value;
    return value.map((v) => resolveThemeColors(v, theme)) as T;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveThemeColors(v, theme);
    return out as T;
  }
  return value;
}
