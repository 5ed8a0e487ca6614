/**
 * One writer per lake: an exclusive lock every writer of a lake holds while it writes
 * (replay, collect, serve --exchange, export, compaction and repair all open the lake
 * through `ParquetLake.open`, which takes it).
 *
 * The lock is the file `ROOT/.writer.lock`, holding its owner as JSON (pid, host, process
 * start time, command, since when). It is created, taken over and removed only while the
 * short-lived advisory lock (`flock`) on `ROOT/.writer.lock.guard` is held, so two
 * processes never both take it. A lock whose owner is gone is stale and taken over: the
 * pid no longer runs (or is a zombie) or now belongs to a process started at another time.
 * An owner on another host cannot be checked and is taken as alive. No file handle stays
 * open while the lock is held, so a process killed with SIGKILL only leaves a stale file.
 * @module
 */

/** The lock file's name in the lake root. */
export const WRITER_LOCK_FILE = ".writer.lock";
const GUARD_FILE = ".writer.lock.guard";

/** Who holds a lake's writer lock (the lock file's content). */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process' start time in clock ticks since boot (Linux `/proc/PID/stat`), if known. */
  readonly started?: string;
  /** The owner's command line (program and arguments). */
  readonly command: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
  /** Unique per acquisition. */
  readonly token: string;
}

/** Options of {@linkcode WriterLock.acquire}. */
export interface WriterLockOptions {
  /**
   * How long to wait for another writer to finish, in milliseconds (default 0: refuse at
   * once with {@linkcode LakeLockedError}).
   */
  readonly waitMs?: number;
  /** Called once when the lock is held by another writer and the caller waits for it. */
  readonly onWait?: (holder: LockOwner, lockPath: string) => void;
  /** Milliseconds between attempts while waiting (default 200). */
  readonly pollMs?: number;
}

/** The lake is being written by another process (or another open lake of this process). */
export class LakeLockedError extends Error {
  /** The exit code a program should end with: 75 (`EX_TEMPFAIL`, try again later). */
  readonly exitCode = 75;
  /** The lock file. */
  readonly lockPath: string;
  /** Its owner. */
  readonly holder: LockOwner;

  constructor(lockPath: string, holder: LockOwner, waitedMs: number) {
    const waited = waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : "";
    super(
      `lake ${lockPath.slice(0, -WRITER_LOCK_FILE.length - 1) || "."} is being written by ` +
        `${describeOwner(holder)}${waited}; one writer per lake: stop it or use another ` +
        `lake (delete ${lockPath} only if that process is gone)`,
    );
    this.name = "LakeLockedError";
    this.lockPath = lockPath;
    this.holder = holder;
  }
}

/** Tokens of the locks this process holds (an in-process second writer is refused too). */
const held = new Set<string>();

/**
 * A lake's writer lock, held from {@linkcode WriterLock.acquire} to
 * {@linkcode WriterLock.release}.
 *
 * @example
 * ```ts ignore
 * const lock = await WriterLock.acquire("data/lake", { waitMs: 60_000 });
 * try {
 *   // write the lake
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export class WriterLock {
  /** The lock file. */
  readonly path: string;
  /** This process' entry in it. */
  readonly owner: LockOwner;
  readonly #root: string;
  #released = false;

  private constructor(root: string, owner: LockOwner) {
    this.#root = root;
    this.path = `${root}/${WRITER_LOCK_FILE}`;
    this.owner = owner;
  }

  /**
   * Takes the writer lock of the lake at `root` (an existing folder), waiting up to
   * `options.waitMs` for another writer to release it.
   * @throws {LakeLockedError} when another live writer still holds it.
   */
  static async acquire(root: string, options: WriterLockOptions = {}): Promise<WriterLock> {
    const waitMs = options.waitMs ?? 0;
    if (!(waitMs >= 0)) throw new RangeError(`WriterLock: waitMs must be >= 0, got ${waitMs}`);
    const pollMs = options.pollMs ?? 200;
    const started = Date.now();
    let told = false;
    while (true) {
      const owner = newOwner();
      const holder = await withGuard(root, async () => {
        const current = await readOwner(`${root}/${WRITER_LOCK_FILE}`);
        if (current && await isAlive(current)) return current;
        const temporary = `${root}/${WRITER_LOCK_FILE}.${owner.token}.tmp`;
        await Deno.writeTextFile(temporary, JSON.stringify(owner) + "\n");
        await Deno.rename(temporary, `${root}/${WRITER_LOCK_FILE}`);
        held.add(owner.token);
        return undefined;
      });
      if (holder === undefined) return new WriterLock(root, owner);
      const waited = Date.now() - started;
      if (waited >= waitMs) {
        throw new LakeLockedError(`${root}/${WRITER_LOCK_FILE}`, holder, waited);
      }
      if (!told) {
        told = true;
        options.onWait?.(holder, `${root}/${WRITER_LOCK_FILE}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, waitMs - waited)));
    }
  }

  /** Who holds the lake's writer lock now, if a live writer does. */
  static async holder(root: string): Promise<LockOwner | undefined> {
    const current = await readOwner(`${root}/${WRITER_LOCK_FILE}`);
    return current && await isAlive(current) ? current : undefined;
  }

  /** Releases the lock (removes the lock file if it is still this one). Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    held.delete(this.owner.token);
    await withGuard(this.#root, async () => {
      const current = await readOwner(this.path);
      if (current?.token !== this.owner.token) return;
      try {
        await Deno.remove(this.path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    });
  }
}

/** One line naming a lock's owner, for messages. */
export function describeOwner(owner: LockOwner): string {
  const command = owner.command.length > 120 ? owner.command.slice(0, 117) + "..." : owner.command;
  return `pid ${owner.pid} on ${owner.host} (${command}) since ${owner.since}`;
}

/** Runs `fn` holding the guard file's exclusive advisory lock. */
async function withGuard<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const guard = await Deno.open(`${root}/${GUARD_FILE}`, {
    read: true,
    write: true,
    create: true,
  });
  try {
    await guard.lock(true);
    return await fn();
  } finally {
    guard.close(); // closing releases the advisory lock
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner?.pid === "number" && typeof owner.token === "string") return owner;
  } catch {
    // Unreadable: never written by a live writer (it is renamed into place whole).
  }
  return undefined;
}

/** Whether the owner may still be running (unknown counts as alive). */
async function isAlive(owner: LockOwner): Promise<boolean> {
  if (owner.host !== hostname()) return true;
  if (owner.pid === Deno.pid) return held.has(owner.token);
  const stat = await procStat(owner.pid);
  if (stat === null) return Deno.build.os !== "linux"; // no /proc: cannot tell
  if (stat === undefined) return false;
  if (stat.state === "Z" || stat.state === "X") return false;
  return owner.started === undefined || owner.started === stat.started;
}

/**
 * State and start time of a process from `/proc/PID/stat`: `undefined` when there is no
 * such process, `null` when `/proc` cannot be read here.
 */
async function procStat(
  pid: number,
): Promise<{ state: string; started: string } | undefined | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return Deno.build.os === "linux" ? undefined : null;
    }
    return null;
  }
  // "pid (comm) state ppid ... starttime(22nd field) ...": comm may hold spaces and ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], started: fields[19] };
}

function newOwner(): LockOwner {
  return {
    pid: Deno.pid,
    host: hostname(),
    started: procStatSync(Deno.pid),
    command: [programName(), ...Deno.args].join(" "),
    since: new Date().toISOString(),
    token: crypto.randomUUID(),
  };
}

/** The main module, relative to the working folder when inside it. */
function programName(): string {
  const main = Deno.mainModule.startsWith("file://")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : Deno.mainModule;
  const cwd = Deno.cwd() + "/";
  return main.startsWith(cwd) ? main.slice(cwd.length) : main;
}

function procStatSync(pid: number): string | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
