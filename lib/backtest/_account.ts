/**
 * Average-cost position accounting for one instrument.
 * @module
 */

/**
 * `a + b`, snapped to 0 when the sum is a rounding residue (below 1e-9 of the operands):
 * `0.3 - 0.1 - 0.1 - 0.1` is a closed position, not 5.6e-17.
 */
export function addSize(a: number, b: number): number {
  const r = a + b;
  return Math.abs(r) < 1e-9 * (Math.abs(a) + Math.abs(b)) ? 0 : r;
}

/** Position and average entry price of one instrument. */
export class PositionBook {
  position = 0;
  avgPrice = 0;

  /**
   * Applies a signed fill; returns the profit it realises (closing part only, before fees).
   */
  apply(signedSize: number, price: number): number {
    const pos = this.position;
    let realized = 0;
    if (pos === 0 || Math.sign(pos) === Math.sign(signedSize)) {
      const next = addSize(pos, signedSize);
      this.avgPrice = (this.avgPrice * Math.abs(pos) + price * Math.abs(signedSize)) /
        Math.abs(next);
      this.position = next;
      return 0;
    }
    const closing = Math.min(Math.abs(signedSize), Math.abs(pos));
    realized = closing * (price - this.avgPrice) * Math.sign(pos);
    const next = addSize(pos, signedSize);
    if (next === 0 || Math.abs(signedSize) <= Math.abs(pos)) {
      this.position = next;
      if (next === 0) this.avgPrice = 0;
    } else {
      this.position = next;
      this.avgPrice = price;
    }
    return realized;
  }
}
