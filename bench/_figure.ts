/**
 * The one output format of every benchmark: one JSON object per line.
 * @module
 */

/**
 * A measured figure. Where a peer (another library, or a physical limit) is measured in the
 * same run, `peer`, `peer_value` and `ratio` (how many times better ours is) go with it.
 */
export interface Figure {
  name: string;
  unit: string;
  value: number;
  peer?: string;
  peer_value?: number;
  ratio?: number;
  [extra: string]: unknown;
}

/** Prints a figure as one JSON line on stdout. */
export function emit(figure: Figure): void {
  console.log(JSON.stringify(figure));
}
