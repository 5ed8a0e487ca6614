/**
 * The live page's light and dark themes, taken from the charts' themes (`lib/charts`
 * `themeOf`), so the page and the notebook charts share their colours: CSS custom properties
 * per theme, the chart's colours per theme for the page script, and a small script run
 * before the page is drawn that picks the theme. The page follows `prefers-color-scheme`
 * unless the header's toggle chose the other theme (kept in `localStorage`; choosing what
 * the system prefers again goes back to following it). The chosen theme is the `data-theme`
 * attribute of `<html>`; a change dispatches an `alphapulse-theme` event on `window`.
 * @module
 */
import { type Theme, type ThemeName, themeOf } from "../lib/charts/mod.ts";

/** Status pill colours (background, text) that the chart themes do not have. */
const PILLS: Readonly<Record<ThemeName, { live: [string, string]; down: [string, string] }>> = {
  light: { live: ["#d7f5e9", "#0b7a55"], down: ["#fde2e1", "#b3261e"] },
  dark: { live: ["#123d30", "#66d9a8"], down: ["#4a1d1b", "#ff8a80"] },
};

function variables(theme: Theme): string {
  const pills = PILLS[theme.name];
  return [
    `color-scheme: ${theme.name};`,
    `--bg: ${theme.background};`,
    `--text: ${theme.text};`,
    `--muted: ${theme.mutedText};`,
    `--grid: ${theme.grid};`,
    `--border: ${theme.border};`,
    `--panel: ${theme.tableHeader};`,
    `--buy: ${theme.buy};`,
    `--sell: ${theme.sell};`,
    `--live-bg: ${pills.live[0]}; --live: ${pills.live[1]};`,
    `--down-bg: ${pills.down[0]}; --down: ${pills.down[1]};`,
  ].join(" ");
}

/** CSS custom properties of both themes (light by default, dark with `data-theme="dark"`). */
export const THEME_STYLE = `
:root { ${variables(themeOf("light"))} }
:root[data-theme="dark"] { ${variables(themeOf("dark"))} }
body { background: var(--bg); color: var(--text); }
#theme-toggle { margin-left: auto; background: var(--panel); color: var(--text);
  border: 1px solid var(--border); border-radius: 4px; padding: 2px 10px; cursor: pointer; }
`;

function chartColors(name: ThemeName): Record<string, string> {
  const t = themeOf(name);
  return {
    background: t.background,
    text: t.text,
    grid: t.grid,
    border: t.border,
    up: t.up,
    down: t.down,
    // The volume histogram: the candle colours at 60 % opacity.
    upVolume: `${t.up}99`,
    downVolume: `${t.down}99`,
  };
}

/** The chart's colours of each theme, for the page script (`lightweight-charts` options). */
export const CHART_THEMES: Readonly<Record<ThemeName, Record<string, string>>> = {
  light: chartColors("light"),
  dark: chartColors("dark"),
};

/**
 * Browser code run in `<head>`, before the page is drawn: sets `data-theme` from the
 * stored choice or `prefers-color-scheme`, follows the system's changes, and defines
 * `window.alphapulseTheme` (`{ name(), toggle() }`).
 */
export const THEME_SCRIPT = String.raw`
(function () {
  "use strict";
  var KEY = "alphapulse-theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");
  var root = document.documentElement;
  function stored() {
    try { var s = localStorage.getItem(KEY); return s === "dark" || s === "light" ? s : null; }
    catch (e) { return null; }
  }
  function system() { return media.matches ? "dark" : "light"; }
  function apply() {
    var name = stored() || system();
    if (root.dataset.theme === name) return;
    root.dataset.theme = name;
    window.dispatchEvent(new CustomEvent("alphapulse-theme", { detail: name }));
  }
  media.addEventListener("change", apply);
  window.alphapulseTheme = {
    name: function () { return root.dataset.theme; },
    toggle: function () {
      var next = root.dataset.theme === "dark" ? "light" : "dark";
      try {
        if (next === system()) localStorage.removeItem(KEY); else localStorage.setItem(KEY, next);
      } catch (e) { /* no storage: the choice lasts until the page is left */ }
      if (stored() !== next && next !== system()) {
        root.dataset.theme = next;
        window.dispatchEvent(new CustomEvent("alphapulse-theme", { detail: next }));
      } else apply();
    },
  };
  apply();
})();
`;
