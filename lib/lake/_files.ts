/**
 * File helpers of the lake's writer and compactor: the visible Parquet files of a
 * partition folder, unique file stems, and removal that tolerates a missing file.
 * @module
 */
/** How every lake file is written. */
export const PARQUET_OPTIONS = { compression: "zstd", rowGroupSize: 131_072 } as const;

/** A visible Parquet file of a partition folder. */
export interface PartitionFile {
  readonly name: string;
  readonly path: string;
  readonly size: number;
}

/** Time-ordered, collision-resistant file stem. */
export function uniqueName(): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const random = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return `${time}-${random}`;
}

/** The visible `*.parquet` files of `dir` with their sizes, by name; `[]` if it is missing. */
export async function listPartitionFiles(dir: string): Promise<PartitionFile[]> {
  const out: PartitionFile[] = [];
  for await (const e of readDirOrEmpty(dir)) {
    if (!e.isFile || !e.name.endsWith(".parquet") || e.name.startsWith(".")) continue;
    const path = `${dir}/${e.name}`;
    try {
      out.push({ name: e.name, path, size: (await Deno.stat(path)).size });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The entries of `dir`, none when it is missing. */
export async function* readDirOrEmpty(dir: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Removes `path`; a missing file is fine. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
