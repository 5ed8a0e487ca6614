/**
 * A throwaway PostgreSQL 15 cluster for tests and benchmarks: a temporary data directory,
 * a free port on 127.0.0.1, the unix socket inside the temporary directory, `fsync=off` by
 * default. PostgreSQL refuses to run as root, so as root every server command runs as the
 * `postgres` user (`runuser`); otherwise it runs as the current user. The directory is
 * removed by `stop()`, and at process exit if a test forgot.
 *
 * @example
 * ```ts
 * import { startPostgres } from "./postgres_cluster.ts";
 * await using pg = await startPostgres();
 * console.log(pg.url); // postgres://postgres@127.0.0.1:PORT/postgres
 * ```
 * @module
 */

/** Where Debian's PostgreSQL 15 server binaries live. */
export const POSTGRES_BIN = Deno.env.get("POSTGRES_BIN") ?? "/usr/lib/postgresql/15/bin";

/** Options for {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** Extra server settings (`-c name=value`), e.g. `{ shared_buffers: "256MB" }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Keep `fsync` on (default off: tests do not need crash safety of the OS cache). */
  readonly fsync?: boolean;
}

/** A running throwaway cluster. */
export interface PostgresCluster extends AsyncDisposable {
  /** Connection URL over TCP (`postgres://postgres@127.0.0.1:PORT/postgres`). */
  readonly url: string;
  /** The TCP port. */
  readonly port: number;
  /** Directory holding the unix socket (`psql -h socketDir`). */
  readonly socketDir: string;
  /** The data directory. */
  readonly dataDir: string;
  /** Runs `psql` against the cluster with the given arguments; resolves to its stdout. */
  psql(args: readonly string[]): Promise<string>;
  /** Stops the server (fast shutdown) and removes every file. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again after {@linkcode kill} or {@linkcode shutdown}, same port. */
  restart(): Promise<void>;
  /** Stops the server cleanly but keeps the data (to test a database that is down). */
  shutdown(): Promise<void>;
  /** Kills the postmaster with SIGKILL, as a crash would; the data stays. */
  kill(): Promise<void>;
}

const isRoot = Deno.uid() === 0;
const live = new Set<string>();

function cleanupSync(): void {
  for (const dir of live) {
    try {
      new Deno.Command(...asServerUser(`${POSTGRES_BIN}/pg_ctl`, [
        "stop",
        "-D",
        `${dir}/data`,
        "-m",
        "immediate",
      ])).outputSync();
    } catch { /* best effort at exit */ }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* best effort at exit */ }
  }
  live.clear();
}

globalThis.addEventListener("unload", cleanupSync);

function forget(root: string): void {
  if (live.delete(root) && live.size === 0) hookSignals(false);
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
const onSignal = () => {
  cleanupSync();
  Deno.exit(143);
};
/**
 * While clusters run, an interrupted test or benchmark (Ctrl-C, `timeout`) still removes
 * them; the listeners go away with the last cluster (they would keep the process alive).
 */
function hookSignals(on: boolean): void {
  if (Deno.build.os === "windows") return;
  for (const signal of SIGNALS) {
    if (on) Deno.addSignalListener(signal, onSignal);
    else Deno.removeSignalListener(signal, onSignal);
  }
}

function asServerUser(program: string, args: readonly string[]): [string, Deno.CommandOptions] {
  if (!isRoot) return [program, { args: [...args], stdin: "null" }];
  return ["runuser", { args: ["-u", "postgres", "--", program, ...args], stdin: "null" }];
}

async function run(program: string, args: readonly string[]): Promise<string> {
  const [cmd, opts] = asServerUser(program, args);
  const out = await new Deno.Command(cmd, { ...opts, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`${program} ${args.join(" ")} failed (${out.code}): ${err || text}`);
  }
  return text;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function serverUserIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run("id", ["-u"])).trim());
  const gid = Number((await run("id", ["-g"])).trim());
  return { uid, gid };
}

/**
 * Creates and starts a new cluster. Throws (never skips) when PostgreSQL is not installed.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresCluster> {
  try {
    await Deno.stat(`${POSTGRES_BIN}/initdb`);
  } catch {
    throw new Error(
      `PostgreSQL server binaries not found in ${POSTGRES_BIN} (apt-get install postgresql-15)`,
    );
  }
  const root = await Deno.makeTempDir({ prefix: "alphapulse-pg-" });
  if (live.size === 0) hookSignals(true);
  live.add(root);
  const dataDir = `${root}/data`;
  const socketDir = root;
  let logSeq = 0;
  try {
    if (isRoot) {
      const { uid, gid } = await serverUserIds();
      await Deno.chown(root, uid, gid);
    }
    await run(`${POSTGRES_BIN}/initdb`, [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ]);
  } catch (e) {
    forget(root);
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw e;
  }

  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: socketDir,
    fsync: options.fsync ? "on" : "off",
    // Kept on: a commit acknowledged to a client is then written to the OS before the
    // answer, so it survives kill() (fsync=off only risks an OS crash, not a process one).
    synchronous_commit: "on",
    full_page_writes: options.fsync ? "on" : "off",
    max_connections: "40",
    shared_buffers: "128MB",
    timezone: "UTC",
    log_min_messages: "warning",
    ...options.settings,
  };
  let port = 0;
  let running = false;

  const start = async (): Promise<void> => {
    const opts = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
    let lastError: unknown;
    // A crashed postmaster's children may still hold shared memory for a moment, and a
    // picked port can be taken by another process between probe and bind: retry a little.
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        await run(`${POSTGRES_BIN}/pg_ctl`, [
          "start",
          "-w",
          "-t",
          "60",
          "-D",
          dataDir,
          "-l",
          `${root}/server-${logSeq++}.log`,
          "-o",
          `-p ${port} ${opts}`,
        ]);
        running = true;
        return;
      } catch (e) {
        lastError = e;
        if (attempt >= 3) port = freePort();
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
      }
    }
    throw lastError;
  };

  port = freePort();
  try {
    await start();
  } catch (e) {
    forget(root);
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw e;
  }

  const pgCtlStop = async (mode: "fast" | "immediate"): Promise<void> => {
    if (!running) return;
    await run(`${POSTGRES_BIN}/pg_ctl`, ["stop", "-w", "-D", dataDir, "-m", mode]);
    running = false;
  };

  let stopped = false;
  const cluster: PostgresCluster = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    socketDir,
    dataDir,
    async psql(args) {
      const out = await new Deno.Command("psql", {
        args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), ...args],
        env: { PGUSER: "postgres", PGDATABASE: "postgres" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`psql failed: ${new TextDecoder().decode(out.stderr)}`);
      }
      return new TextDecoder().decode(out.stdout);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await pgCtlStop("fast").catch(() => pgCtlStop("immediate"));
      } finally {
        forget(root);
        await Deno.remove(root, { recursive: true });
      }
    },
    async restart() {
      if (stopped) throw new Error("cluster was stopped and removed");
      if (running) await pgCtlStop("fast");
      await start();
    },
    async shutdown() {
      await pgCtlStop("fast");
    },
    async kill() {
      if (!running) return;
      const pidText = await Deno.readTextFile(`${dataDir}/postmaster.pid`);
      const pid = Number(pidText.split("\n")[0]);
      await run("kill", ["-KILL", String(pid)]);
      // Wait until the postmaster is gone, so that a restart does not race it.
      for (let i = 0; i < 100; i++) {
        const probe = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
          .output();
        if (!probe.success) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      running = false;
    },
    [Symbol.asyncDispose]() {
      return cluster.stop();
    },
  };
  return cluster;
}
