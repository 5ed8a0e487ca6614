/**
 * A pool of query workers (`query_worker.ts`): the market-data routes run over the lake off
 * the server's event loop (Polars and DuckDB calls, row conversion, JSON and Arrow
 * encoding), and the main thread only copies the encoded bytes to the response. One request
 * per worker at a time; the app's query cap (`maxConcurrentQueries`, 503 beyond it) bounds
 * how many run, and the pool has as many workers.
 *
 * A worker that crashes fails its request (a 500 before the response started, an errored
 * body after) and is replaced by a fresh one on the next request. A worker that does not
 * answer within the query deadline (`timeoutMs`: for the response's head, and for each body
 * chunk asked for) is terminated and replaced at once; its request gets a 504 with a JSON
 * error (or an errored body once the response has started).
 * @module
 */

import type { RepositoryKind } from "../lib/open_repository.ts";

/** Messages to a worker. */
export type ToWorker =
  | {
    readonly type: "init";
    readonly root: string;
    readonly threads?: number;
    readonly nice?: number;
    readonly kind?: RepositoryKind;
    readonly databaseUrl?: string;
  }
  | {
    readonly type: "request";
    readonly id: number;
    readonly url: string;
    readonly accept: string | null;
  }
  | { readonly type: "pull"; readonly id: number }
  | { readonly type: "cancel"; readonly id: number };

/** Messages from a worker. */
export type FromWorker =
  | {
    readonly type: "head";
    readonly id: number;
    readonly status: number;
    readonly headers: [string, string][];
  }
  | { readonly type: "chunk"; readonly id: number; readonly bytes: ArrayBuffer }
  | { readonly type: "end"; readonly id: number }
  | { readonly type: "ready"; readonly id: -1 }
  | { readonly type: "fail"; readonly id: number; readonly message: string };

/** Options of {@linkcode QueryPool}. */
export interface QueryPoolOptions {
  /** The lake root each worker opens a `LakeRepository` on (unused for `kind: "buffer"`). */
  readonly root: string;
  /**
   * The store each worker reads (default `lake`): `buffer` opens a `PostgresRepository`,
   * `unified` a `UnifiedRepository` (lake plus buffer), both over `databaseUrl`. Every worker
   * holds its own PostgreSQL connections (up to 2 for `buffer`, 4 for `unified`).
   */
  readonly kind?: RepositoryKind;
  /** The buffer's PostgreSQL URL, for `kind` `buffer` or `unified`. */
  readonly databaseUrl?: string;
  /** Most workers (default 8, the app's default query cap). */
  readonly size?: number;
  /** DuckDB threads per worker's repository (default: DuckDB's choice). */
  readonly threads?: number;
  /**
   * The workers' thread priority, a Linux nice value (default 10; 0 leaves it): their
   * JavaScript (row conversion, JSON and Arrow encoding) then yields the CPU to the event loop
   * that answers `/health` and copies bytes. Polars' and DuckDB's own threads are shared by
   * the process and keep its priority. Needs FFI permission (without it, or off Linux,
   * workers run at the process's priority).
   */
  readonly nice?: number;
  /** The worker module (default `./query_worker.ts`). */
  readonly workerUrl?: URL;
  /**
   * How long a worker may take to answer, in milliseconds (default 30,000): to start the
   * response (run the query and produce the head), and to deliver each body chunk once asked
   * for. Past it the worker is terminated and replaced, and the request fails with 504.
   */
  readonly timeoutMs?: number;
}

/** A worker did not answer within the pool's deadline (the request is answered 504). */
export class QueryTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryTimeoutError";
  }
}

/** What the pool waits for from a worker for the request it runs. */
interface Job {
  readonly id: number;
  head?: (res: Response) => void;
  chunk?: (bytes: Uint8Array | undefined) => void;
  fail: (error: Error) => void;
}

/** One worker and the job it runs. */
class PooledWorker {
  readonly worker: Worker;
  job: Job | undefined;
  dead = false;
  /** Settles once the worker has loaded its modules and opened its repository. */
  readonly ready: Promise<void>;
  #ready!: () => void;

  constructor(
    url: URL,
    init: ToWorker,
    onDeath: (w: PooledWorker) => void,
    onEnd: (w: PooledWorker) => void,
  ) {
    this.ready = new Promise((resolve) => this.#ready = resolve);
    this.worker = new Worker(url, { type: "module" });
    this.worker.postMessage(init);
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "ready") return this.#ready();
      const job = this.job;
      if (job === undefined || message.id !== job.id) return;
      if (message.type === "head") {
        job.head?.(new Response(null, { status: message.status, headers: message.headers }));
      } else if (message.type === "chunk") job.chunk?.(new Uint8Array(message.bytes));
      else if (message.type === "fail") {
        job.fail(new Error(message.message));
        this.job = undefined;
        onEnd(this);
      } else if (message.type === "end") {
        job.chunk?.(undefined);
        this.job = undefined;
        onEnd(this);
      }
    };
    const die = (event: Event) => {
      event.preventDefault();
      const message = event instanceof ErrorEvent ? event.message : "message error";
      if (this.kill(new Error(`query worker failed: ${message}`))) onDeath(this);
    };
    this.worker.onerror = die;
    this.worker.onmessageerror = die;
  }

  /** Terminates the worker and fails its job; false when it was dead already. */
  kill(error: Error): boolean {
    if (this.dead) return false;
    this.dead = true;
    this.worker.terminate();
    this.job?.fail(error);
    this.job = undefined;
    this.#ready();
    return true;
  }
}

/**
 * Runs market-data requests in workers.
 *
 * @example
 * ```ts ignore
 * import { QueryPool } from "./query_pool.ts";
 * const pool = new QueryPool({ root: "data/lake" });
 * const res = await pool.fetch(new URL("http://x/api/trades?exchange=coinbase&symbol=BTC-USD"), null);
 * pool.close();
 * ```
 */
export class QueryPool {
  /** Most workers. */
  readonly size: number;
  readonly #url: URL;
  readonly #init: ToWorker;
  #idle: PooledWorker[] = [];
  #all = new Set<PooledWorker>();
  #waiting: ((w: PooledWorker) => void)[] = [];
  #nextId = 0;
  #closed = false;
  #crashes = 0;
  #timeouts = 0;
  readonly #timeoutMs: number;

  constructor(options: QueryPoolOptions) {
    const kind = options?.kind ?? "lake";
    if (kind !== "lake" && kind !== "buffer" && kind !== "unified") {
      throw new TypeError(`unknown repository kind "${kind}": lake, buffer or unified`);
    }
    if (kind !== "buffer" && (typeof options?.root !== "string" || options.root.length === 0)) {
      throw new TypeError("QueryPool needs a lake root folder");
    }
    if (kind !== "lake" && !options.databaseUrl) {
      throw new TypeError(`a ${kind} query pool needs databaseUrl`);
    }
    this.size = options.size ?? 8;
    if (!Number.isInteger(this.size) || this.size < 1) {
      throw new RangeError(`size must be a positive integer: ${this.size}`);
    }
    this.#url = options.workerUrl ?? new URL("./query_worker.ts", import.meta.url);
    const nice = options.nice ?? 10;
    if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
      throw new RangeError(`nice must be an integer from 0 to 19: ${nice}`);
    }
    this.#init = {
      type: "init",
      root: options.root,
      threads: options.threads,
      nice,
      kind,
      databaseUrl: options.databaseUrl,
    };
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number: ${this.#timeoutMs}`);
    }
  }

  /** The deadline for a worker's answer, in milliseconds. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Workers running a request now (a cancelled one until its worker has let go). */
  get busy(): number {
    return this.#all.size - this.#idle.length;
  }

  /** Workers started and alive. */
  get workers(): number {
    return this.#all.size;
  }

  /** Workers that crashed so far. */
  get crashes(): number {
    return this.#crashes;
  }

  /** Workers terminated so far because they missed the deadline. */
  get timeouts(): number {
    return this.#timeouts;
  }

  /**
   * The response of a market-data route, computed in a worker: its body streams the
   * worker's bytes as they are read (cancelling it cancels the worker's query).
   */
  async fetch(url: URL, accept: string | null): Promise<Response> {
    if (this.#closed) throw new Error("QueryPool is closed");
    const pooled = await this.#acquire();
    // The deadline runs from when the worker can take the request (a fresh one loads first).
    await pooled.ready;
    if (pooled.dead) {
      console.error(`GET ${url.pathname}${url.search}: its query worker failed to start`);
      return jsonError(500, "internal server error");
    }
    const id = this.#nextId++;
    const queued: (Uint8Array | undefined)[] = [];
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Kills the worker unless it answers (head, chunk, end or fail) within the deadline. */
    const expect = (what: string) => {
      timer = setTimeout(() => this.#expire(pooled, id, url, what), this.#timeoutMs);
    };
    const answered = () => clearTimeout(timer);
    const head = new Promise<Response>((resolve, reject) => {
      pooled.job = {
        id,
        head: (res) => {
          answered();
          resolve(res);
        },
        chunk: (bytes) => {
          answered();
          queued.push(bytes);
          wake?.();
        },
        fail: (error) => {
          answered();
          failure = error;
          reject(error);
          wake?.();
        },
      };
    });
    expect("to start its response");
    pooled.worker.postMessage({ type: "request", id, url: url.href, accept } satisfies ToWorker);
    let res: Response;
    try {
      res = await head;
    } catch (error) {
      if (error instanceof QueryTimeoutError) {
        return jsonError(504, error.message);
      }
      console.error(`GET ${url.pathname}${url.search} failed in a query worker:`, error);
      return jsonError(500, "internal server error");
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (queued.length === 0 && failure === undefined) {
          const arrived = new Promise<void>((resolve) => wake = resolve);
          expect("to send the next part of its response");
          pooled.worker.postMessage({ type: "pull", id } satisfies ToWorker);
          await arrived;
          wake = undefined;
        }
        if (queued.length > 0) {
          const bytes = queued.shift();
          if (bytes === undefined) controller.close();
          else controller.enqueue(bytes);
        } else if (failure !== undefined) controller.error(failure);
      },
      cancel() {
        answered();
        if (pooled.job?.id === id && !pooled.dead) {
          pooled.worker.postMessage({ type: "cancel", id } satisfies ToWorker);
        }
      },
    }, { highWaterMark: 0 });
    return new Response(body, { status: res.status, headers: res.headers });
  }

  /**
   * Starts every worker and resolves once all have loaded (a server calls it before it
   * listens, so the first queries do not wait for workers to load Polars and DuckDB).
   */
  async start(): Promise<void> {
    if (this.#closed) throw new Error("QueryPool is closed");
    while (this.#all.size < this.size) this.#idle.push(this.#spawn());
    await Promise.all([...this.#all].map((w) => w.ready));
  }

  /** Terminates every worker; requests after this reject. */
  close(): void {
    this.#closed = true;
    for (const pooled of this.#all) {
      pooled.dead = true;
      pooled.worker.terminate();
      pooled.job?.fail(new Error("QueryPool closed"));
    }
    this.#all.clear();
    this.#idle = [];
  }

  #acquire(): Promise<PooledWorker> {
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#all.size < this.size) return Promise.resolve(this.#spawn());
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #spawn(): PooledWorker {
    const pooled = new PooledWorker(
      this.#url,
      this.#init,
      (w) => {
        this.#crashes++;
        this.#died(w);
      },
      (w) => this.#release(w),
    );
    this.#all.add(pooled);
    return pooled;
  }

  #release(pooled: PooledWorker): void {
    if (pooled.dead || this.#closed) return;
    const next = this.#waiting.shift();
    if (next !== undefined) next(pooled);
    else this.#idle.push(pooled);
  }

  /** The worker running request `id` missed its deadline: terminate and replace it. */
  #expire(pooled: PooledWorker, id: number, url: URL, what: string): void {
    if (pooled.job?.id !== id || pooled.dead) return;
    const seconds = this.#timeoutMs / 1000;
    console.error(
      `GET ${url.pathname}${url.search}: its query worker took longer than ${seconds} s ${what};` +
        ` terminated`,
    );
    const error = new QueryTimeoutError(
      `the query took longer than ${seconds} s ${what} and was stopped`,
    );
    if (!pooled.kill(error)) return;
    this.#timeouts++;
    this.#died(pooled);
    // Replace it at once, so the next request does not wait for a worker to load.
    if (!this.#closed && this.#all.size < this.size) this.#release(this.#spawn());
  }

  #died(pooled: PooledWorker): void {
    this.#all.delete(pooled);
    this.#idle = this.#idle.filter((w) => w !== pooled);
    if (this.#closed) return;
    // A waiting request gets a fresh worker in the dead one's place.
    const next = this.#waiting.shift();
    if (next !== undefined) void this.#acquire().then(next);
  }
}

function jsonError(status: number, message: string): Response {
  return new Response(JSON.stringify({ error: message }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
