/**
 * The shared memory of {@linkcode UnzstdPool} (`unzstd_pool.ts`) and its thread: control
 * words, a page table (per page of a job: where its compressed bytes are in the input, how
 * many, and its size once decompressed), the input (the job's compressed pages, back to
 * back) and a ring of output slots. The page table, input and ring are growable
 * `SharedArrayBuffer`s: a larger job grows them, and the thread sees the new length.
 * Either thread makes a page it claimed with {@linkcode makePage}.
 * @module
 */
import { zstdDecompressInto } from "./_zstd_into.ts";

/** What the pool hands its thread (`workerData`). */
export interface UnzstdLayout {
  readonly control: SharedArrayBuffer;
  readonly table: SharedArrayBuffer;
  readonly input: SharedArrayBuffer;
  readonly ring: SharedArrayBuffer;
}

/** Output slots in the ring: the page the reader holds and the ones decompressed ahead. */
export const RING_SLOTS = 8;

/** Indices into the control words. */
export const WORD = {
  /** Set to 1 by the thread once it waits for work. */
  ready: 0,
  /** Incremented (and notified) by the reader when a job starts or it takes a page. */
  wake: 1,
  /** Incremented by the thread after each page it finishes (the reader's sign of life). */
  beat: 2,
  /** Set to 1 by the thread when it ends on an error. */
  dead: 3,
  /** A fault tests ask the thread for after it claims its next page (`FAULT`); 0 for none. */
  fault: 4,
  /**
   * The next page nobody claimed: the thread and the reader (decompressing a page itself
   * rather than wait) claim page `i` by moving it from `i` to `i + 1` (compare-exchange);
   * set past every page to end a job.
   */
  next: 5,
  /** Pages in the job. */
  count: 6,
  /** Pages the reader no longer holds (their slots are free): the thread stays below +RING. */
  consumed: 7,
  /** 1 while the thread works on a page it claimed. */
  busy: 8,
  /** Bytes of an output slot (the job's largest page). */
  slotBytes: 9,
  /** The page whose output slot `s` holds (or `-2 - page` when it could not be made). */
  slotPage: (s: number): number => 10 + s,
  /** Words in all. */
  words: 10 + RING_SLOTS,
} as const;

/** Words of the page table per page: input offset, compressed bytes, decompressed bytes. */
export const TABLE_WORDS = 3;

/** Length-tracking views of a layout's memory. */
export interface UnzstdViews {
  readonly control: Int32Array;
  readonly table: Int32Array;
  readonly input: Uint8Array;
  readonly ring: Uint8Array;
}

/** Views of `layout`'s memory (they follow its growth). */
export function viewsOf(layout: UnzstdLayout): UnzstdViews {
  return {
    control: new Int32Array(layout.control),
    table: new Int32Array(layout.table),
    input: new Uint8Array(layout.input),
    ring: new Uint8Array(layout.ring),
  };
}

/**
 * Decompresses page `i` of the job (claimed by the caller) into its slot of the ring, then
 * records in the slot's page word `i` (or `-2 - i` when it could not: the reader then
 * decompresses it itself, and meets the error there) and wakes a reader waiting for it.
 */
export function makePage(v: UnzstdViews, i: number): void {
  const bytes = Atomics.load(v.control, WORD.slotBytes);
  const s = i % RING_SLOTS;
  const slot = v.ring.subarray(s * bytes, (s + 1) * bytes);
  const at = v.table[i * TABLE_WORDS];
  const length = v.table[i * TABLE_WORDS + 1];
  const raw = v.table[i * TABLE_WORDS + 2];
  let tag = -2 - i;
  if (raw + 1 <= slot.length) {
    try {
      const out = zstdDecompressInto(v.input.subarray(at, at + length), raw, slot);
      if (out.buffer !== slot.buffer) slot.set(out);
      tag = i;
    } catch {
      tag = -2 - i;
    }
  }
  Atomics.store(v.control, WORD.slotPage(s), tag);
  Atomics.notify(v.control, WORD.slotPage(s));
}
