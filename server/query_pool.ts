/**
 * A pool of query workers (`query_worker.ts`): the market-data routes run over the lake off
 * the server's event loop (Polars and DuckDB calls, row conversion, JSON and Arrow
 * encoding), and the main thread only copies the encoded bytes to the response. One request
 * per worker at a time; the app's query cap (`maxConcurrentQueries`, 503 beyond it) bounds
 * how many run, and the pool has as many workers.
 *
 * A worker that crashes fails its request (a 500 before the response started, an errored
 * body after) and is replaced by a fresh one on the next request.
 * @module
 */

/** Messages to a worker. */
export type ToWorker =
  | {
    readonly type: "init";
    readonly root: string;
    readonly threads?: number;
    readonly nice?: number;
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
  /** The lake root each worker opens a `LakeRepository` on. */
  readonly root: string;
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
      if (this.dead) return;
      this.dead = true;
      this.worker.terminate();
      const message = event instanceof ErrorEvent ? event.message : "message error";
      this.job?.fail(new Error(`query worker failed: ${message}`));
      this.job = undefined;
      this.#ready();
      onDeath(this);
    };
    this.worker.onerror = die;
    this.worker.onmessageerror = die;
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

  constructor(options: QueryPoolOptions) {
    if (typeof options?.root !== "string" || options.root.length === 0) {
      throw new TypeError("QueryPool needs a lake root folder");
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
    this.#init = { type: "init", root: options.root, threads: options.threads, nice };
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

  /**
   * The response of a market-data route, computed in a worker: its body streams the
   * worker's bytes as they are read (cancelling it cancels the worker's query).
   */
  async fetch(url: URL, accept: string | null): Promise<Response> {
    if (this.#closed) throw new Error("QueryPool is closed");
    const pooled = await this.#acquire();
    const id = this.#nextId++;
    const queued: (Uint8Array | undefined)[] = [];
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    const head = new Promise<Response>((resolve, reject) => {
      pooled.job = {
        id,
        head: resolve,
        chunk: (bytes) => {
          queued.push(bytes);
          wake?.();
        },
        fail: (error) => {
          failure = error;
          reject(error);
          wake?.();
        },
      };
    });
    pooled.worker.postMessage({ type: "request", id, url: url.href, accept } satisfies ToWorker);
    let res: Response;
    try {
      res = await head;
    } catch (error) {
      console.error(`GET ${url.pathname}${url.search} failed in a query worker:`, error);
      return new Response(JSON.stringify({ error: "internal server error" }), {
        status: 500,
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (queued.length === 0 && failure === undefined) {
          const arrived = new Promise<void>((resolve) => wake = resolve);
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
      (w) => this.#died(w),
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

  #died(pooled: PooledWorker): void {
    this.#crashes++;
    this.#all.delete(pooled);
    this.#idle = this.#idle.filter((w) => w !== pooled);
    if (this.#closed) return;
    // A waiting request gets a fresh worker in the dead one's place.
    const next = this.#waiting.shift();
    if (next !== undefined) void this.#acquire().then(next);
  }
}
