/**
 * What the lake's one writer knows of the keys stored in the partitions it wrote in this
 * process, without reading a file: per partition folder, the files it wrote (and those its
 * compactions made of them) and the largest key in them (`_row_keys.ts` order). A partition
 * holding a file it does not know (written before this process, or by a repair) is unknown
 * until it holds none.
 * @module
 */
import type { PartitionFile } from "./_files.ts";
import { compareKeys, type RowKey } from "./_row_keys.ts";

interface Known {
  readonly files: Set<string>;
  high: RowKey | undefined;
}

/** Stored keys per partition folder (see the module documentation). */
export class StoredKeys {
  readonly #parts = new Map<string, Known>();

  /**
   * The largest key stored in `dir`, which holds `existing`: `undefined` when it holds no
   * file, `null` when a file there is not known (see the module documentation).
   */
  high(dir: string, existing: readonly PartitionFile[]): RowKey | undefined | null {
    if (existing.length === 0) return undefined;
    const known = this.#knownAll(dir, existing);
    return known === undefined ? null : known.high;
  }

  /** Notes that file `name`, whose largest key is `high` at most, was added to `dir`. */
  wrote(dir: string, existing: readonly PartitionFile[], name: string, high: RowKey): void {
    const known = existing.length === 0
      ? { files: new Set<string>(), high: undefined }
      : this.#knownAll(dir, existing);
    if (known === undefined) {
      this.#parts.delete(dir);
      return;
    }
    known.files.add(name);
    if (known.high === undefined || compareKeys(high, known.high) > 0) known.high = high;
    this.#parts.set(dir, known);
  }

  /** Notes that the files `inputs` of `dir` were merged into `output`. */
  merged(dir: string, inputs: readonly string[], output: string): void {
    const known = this.#parts.get(dir);
    if (known === undefined) return;
    if (!inputs.every((name) => known.files.has(name))) {
      this.#parts.delete(dir);
      return;
    }
    for (const name of inputs) known.files.delete(name);
    known.files.add(output);
  }

  /** The partition's knowledge if it knows every file of `existing`. */
  #knownAll(dir: string, existing: readonly PartitionFile[]): Known | undefined {
    const known = this.#parts.get(dir);
    if (known === undefined) return undefined;
    return existing.every((f) => known.files.has(f.name)) ? known : undefined;
  }
}
