/**
 * Starting with PostgreSQL down: the buffer's client behind a gate that answers "database
 * unavailable" until the schema is migrated. Writers given the gated client spill to their
 * segment files from the first batch (as for any outage), and their probe replays the
 * segments only once the server is back *and* the schema exists, so no batch is refused
 * for a missing table.
 * @module
 */
import type postgres from "postgres";
import { isUnavailable } from "./_copy.ts";
import { migrate } from "./migrate.ts";

/** Options of {@linkcode SchemaGate}. */
export interface SchemaGateOptions {
  /** First delay between migration attempts in ms (default 500); doubles per attempt. */
  readonly retryMs?: number;
  /** Longest delay between attempts in ms (default 30,000). */
  readonly maxRetryMs?: number;
  /** Where progress is reported (default `console.warn`). */
  readonly log?: (message: string) => void;
}

/**
 * Migrates in the background until it succeeds; {@linkcode SchemaGate.sql} throws an
 * "unavailable" error (`ECONNREFUSED`, what the writer treats as an outage) until then.
 *
 * @example
 * ```ts ignore
 * const gate = new SchemaGate(sql);
 * const writer = new PostgresWriter({ sql: gate.sql, spillDir: "data/spill/coinbase" });
 * await gate.ready; // migrated: the writer's probe will now replay its segments
 * ```
 */
export class SchemaGate {
  /** The client for writers: refuses every call until the schema is migrated. */
  readonly sql: postgres.Sql;
  /** Resolves once migrated (never rejects; stays pending after `close`). */
  readonly ready: Promise<void>;
  #open = false;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(sql: postgres.Sql, options: SchemaGateOptions = {}) {
    const log = options.log ?? ((m) => console.warn(m));
    const retryMs = options.retryMs ?? 500;
    const maxRetryMs = options.maxRetryMs ?? 30_000;
    this.sql = gated(sql, () => this.#open);
    this.ready = (async () => {
      let delay = retryMs;
      while (!this.#closed) {
        try {
          await migrate(sql);
          this.#open = true;
          log("buffer: PostgreSQL is reachable again and migrated; replaying the spill");
          return;
        } catch (e) {
          if (!isUnavailable(e)) {
            log(`buffer: migration failed: ${(e as Error).message}; retrying`);
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, maxRetryMs);
      }
      await new Promise(() => {}); // closed: never migrated
    })();
  }

  /** Whether the schema is migrated (the gate is open). */
  get open(): boolean {
    return this.#open;
  }

  /** Stops trying to migrate. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
}

/** The error a gated client throws: what a refused connection looks like. */
function unavailable(): Error {
  return Object.assign(new Error("connection refused: PostgreSQL not reachable yet"), {
    code: "ECONNREFUSED",
  });
}

/**
 * `sql` that throws {@linkcode unavailable} synchronously from every call (tagged
 * template, `begin`, `reserve`, `unsafe`, ...) while `open()` is false.
 */
function gated(sql: postgres.Sql, open: () => boolean): postgres.Sql {
  return new Proxy(sql, {
    apply(target, thisArg, args) {
      if (!open()) throw unavailable();
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || property === "end") return value;
      return (...args: unknown[]) => {
        if (!open()) throw unavailable();
        return Reflect.apply(value, target, args);
      };
    },
  });
}
