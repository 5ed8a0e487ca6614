/**
 * The stream hub: an {@linkcode EventSink} that fans live events out to WebSocket and SSE
 * clients, each behind a bounded queue, so one slow client can never grow memory.
 * @module
 */
import type { MarketEvent, MarketEventKind } from "../lib/market/types.ts";
import type { EventSink } from "../lib/market/sink.ts";

/** Which events a subscriber receives; an absent set means "any". */
export interface StreamFilter {
  /** Venues, lower-case. */
  readonly exchanges?: ReadonlySet<string>;
  /** Canonical symbols (`BTC-USD`). */
  readonly symbols?: ReadonlySet<string>;
  /** Event kinds (`trade`, `quote`, ...). */
  readonly kinds?: ReadonlySet<MarketEventKind>;
}

/** An event queued for a subscriber, with its JSON text (serialised once per event). */
export interface StreamItem {
  readonly event: MarketEvent;
  readonly json: string;
}

/** Why a subscription ended. */
export type CloseReason = "closed" | "slow" | "hub_closed";

/** Options for {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /**
   * Most events queued per subscriber (default 10,000). A subscriber whose queue is full
   * when another matching event arrives is disconnected and counted as slow.
   */
  readonly maxQueue?: number;
  /**
   * A subscriber with events waiting that has not taken any for this many milliseconds
   * when another matching event arrives is disconnected as slow too (default 5,000), so a
   * client that never reads is dropped within seconds even when its queue is far from full.
   */
  readonly maxStallMs?: number;
  /** Most subscribers at once (default 10,000); {@linkcode StreamHub.subscribe} throws past it. */
  readonly maxSubscribers?: number;
}

/** Thrown by {@linkcode StreamHub.subscribe} when the hub has `maxSubscribers` already. */
export class TooManySubscribersError extends Error {
  constructor(max: number) {
    super(`the stream hub has its maximum of ${max} subscribers`);
    this.name = "TooManySubscribersError";
  }
}

/** Counters for `/health`. */
export interface StreamHubStats {
  /** Subscribers connected now. */
  readonly clients: number;
  /** Subscribers ever connected. */
  readonly subscribed: number;
  /** Events written to the hub. */
  readonly published: number;
  /** Events queued to subscribers (one event to two subscribers counts twice). */
  readonly delivered: number;
  /** Subscribers disconnected because their queue overflowed. */
  readonly slowDisconnects: number;
  /** Events never delivered because their subscriber was disconnected as slow. */
  readonly dropped: number;
}

/**
 * One subscriber's bounded queue. Read it with {@linkcode Subscription.next} (or `for
 * await`) and {@linkcode Subscription.close} it when the client goes away.
 */
export class Subscription implements AsyncIterable<StreamItem[]> {
  /** Id unique within the hub, for logs. */
  readonly id: number;
  readonly filter: StreamFilter;
  /** Resolves with the reason once the subscription has ended. */
  readonly closed: Promise<CloseReason>;
  #queue: StreamItem[] = [];
  #reason: CloseReason | undefined;
  #wake: (() => void) | undefined;
  #resolveClosed!: (reason: CloseReason) => void;
  #detach: (sub: Subscription) => void;
  #lastTake = performance.now();
  /** When the queue last went from empty to non-empty. */
  #queuedAt = 0;
  #onQueued: (() => void) | undefined;

  /** Created by {@linkcode StreamHub.subscribe}. */
  constructor(id: number, filter: StreamFilter, detach: (sub: Subscription) => void) {
    this.id = id;
    this.filter = filter;
    this.#detach = detach;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** Why the subscription ended, or `undefined` while it is open. */
  get closeReason(): CloseReason | undefined {
    return this.#reason;
  }

  /** Events waiting to be read. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Whether `event` passes this subscriber's filter. */
  matches(event: MarketEvent): boolean {
    return matches(this.filter, event);
  }

  /**
   * Waits for queued events and returns all of them; returns `null` once the subscription
   * is closed, and `[]` if `timeoutMs` passes first (for keep-alives).
   */
  async next(timeoutMs?: number): Promise<StreamItem[] | null> {
    this.#lastTake = performance.now();
    if (this.#queue.length === 0 && this.#reason === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
      });
      this.#wake = undefined;
      clearTimeout(timer);
    }
    if (this.#reason !== undefined) return null;
    const items = this.#queue;
    this.#queue = [];
    this.#lastTake = performance.now();
    return items;
  }

  /**
   * Push-style reading: `listener` is called synchronously, inside the hub's `write`, each
   * time the queue goes from empty to non-empty; the reader then drains it with
   * {@linkcode Subscription.take} (typically in a microtask, once the whole `write` has
   * queued). Cheaper than one promise per batch when a server has thousands of readers.
   * Pass `undefined` to stop listening.
   */
  onQueued(listener: (() => void) | undefined): void {
    this.#onQueued = listener;
    if (listener && this.#queue.length > 0) listener();
  }

  /**
   * Takes every queued event at once without waiting (`[]` when none), or `null` once the
   * subscription is closed.
   */
  take(): StreamItem[] | null {
    if (this.#reason !== undefined) return null;
    const items = this.#queue;
    if (items.length === 0) return items;
    this.#queue = [];
    this.#lastTake = performance.now();
    return items;
  }

  /** Ends the subscription (idempotent) and drops anything queued. */
  close(reason: CloseReason = "closed"): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#queue = [];
    this.#onQueued = undefined;
    this.#detach(this);
    this.#resolveClosed(reason);
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamItem[]> {
    while (true) {
      const items = await this.next();
      if (items === null) return;
      yield items;
    }
  }

  /**
   * Milliseconds events have waited without the reader taking any: since the last take or
   * since the queue stopped being empty, whichever is later (0 when the queue is empty or a
   * reader is waiting).
   */
  stalledMs(now: number = performance.now()): number {
    if (this.#queue.length === 0 || this.#wake) return 0;
    return now - Math.max(this.#lastTake, this.#queuedAt);
  }

  /** Queues an item; `false` when the queue is full. */
  push(item: StreamItem, maxQueue: number, now: number = performance.now()): boolean {
    return this.append([item], maxQueue, now) === 1;
  }

  /**
   * Queues `items` in order, as many as fit under `maxQueue`, and returns how many did (the
   * caller drops the subscriber when fewer than all). The listener of
   * {@linkcode Subscription.onQueued} is called when the queue goes from empty to non-empty.
   */
  append(items: readonly StreamItem[], maxQueue: number, now: number = performance.now()): number {
    const queue = this.#queue;
    const was = queue.length;
    const n = Math.min(items.length, Math.max(0, maxQueue - was));
    if (n === 0) return 0;
    if (was === 0) {
      this.#queue = n === items.length ? items.slice() : items.slice(0, n);
    } else {
      for (let i = 0; i < n; i++) queue.push(items[i]);
    }
    if (was === 0) {
      this.#queuedAt = now;
      this.#wake?.();
      this.#onQueued?.();
    }
    return n;
  }
}

/** Subscribers with the same filter: an event is matched once for all of them. */
class FilterGroup {
  readonly subs = new Set<Subscription>();
  /** This write's matching items, in order. */
  batch: StreamItem[] = [];
  constructor(readonly key: string, readonly filter: StreamFilter) {}
}

/** A filter's identity: the same key means the same events match. */
function filterKey(filter: StreamFilter): string {
  const part = (set?: ReadonlySet<string>) => set ? JSON.stringify([...set].sort()) : "*";
  return `${part(filter.kinds)}|${part(filter.exchanges)}|${part(filter.symbols)}`;
}

function matches(f: StreamFilter, event: MarketEvent): boolean {
  return (!f.kinds || f.kinds.has(event.kind)) &&
    (!f.exchanges || f.exchanges.has(event.exchange)) &&
    (!f.symbols || f.symbols.has(event.symbol));
}

/**
 * Fans events out to subscribers. As an {@linkcode EventSink} it can sit next to the lake
 * writer behind the collector: `write` only filters and queues (no I/O), `flush` has
 * nothing to persist.
 *
 * @example
 * ```ts
 * import { StreamHub } from "./hub.ts";
 * import assert from "node:assert/strict";
 * const hub = new StreamHub({ maxQueue: 100 });
 * const sub = hub.subscribe({ kinds: new Set(["trade"]) });
 * hub.write([{ kind: "trade", exchange: "coinbase", symbol: "BTC-USD", ts: 1, recvTs: 1,
 *   id: "1", price: 100, size: 1, side: "buy" }]);
 * assert.equal((await sub.next())?.length, 1);
 * await hub.close();
 * ```
 */
export class StreamHub implements EventSink {
  readonly maxQueue: number;
  readonly maxStallMs: number;
  readonly maxSubscribers: number;
  /** Each subscriber's group. */
  #subscribers = new Map<Subscription, FilterGroup>();
  /** Groups by filter key. */
  #groups = new Map<string, FilterGroup>();
  /** Groups with a symbol filter, under each of their symbols. */
  #bySymbol = new Map<string, Set<FilterGroup>>();
  /** Groups without a symbol filter. */
  #anySymbol = new Set<FilterGroup>();
  #nextId = 1;
  #published = 0;
  #delivered = 0;
  #slow = 0;
  #dropped = 0;
  #closed = false;

  constructor(options: StreamHubOptions = {}) {
    const maxQueue = options.maxQueue ?? 10_000;
    if (!Number.isInteger(maxQueue) || maxQueue < 1) {
      throw new RangeError(`maxQueue must be a positive integer: ${maxQueue}`);
    }
    this.maxQueue = maxQueue;
    this.maxStallMs = positive(options.maxStallMs ?? 5_000, "maxStallMs");
    this.maxSubscribers = positive(options.maxSubscribers ?? 10_000, "maxSubscribers");
  }

  /**
   * Adds a subscriber. After {@linkcode close} the subscription is returned already closed.
   * @throws {TooManySubscribersError} when `maxSubscribers` are subscribed.
   */
  subscribe(filter: StreamFilter = {}): Subscription {
    if (!this.#closed && this.#subscribers.size >= this.maxSubscribers) {
      throw new TooManySubscribersError(this.maxSubscribers);
    }
    const sub = new Subscription(this.#nextId++, filter, (s) => this.#detach(s));
    if (this.#closed) {
      sub.close("hub_closed");
      return sub;
    }
    const key = filterKey(filter);
    let group = this.#groups.get(key);
    if (!group) {
      this.#groups.set(key, group = new FilterGroup(key, filter));
      for (const symbol of filter.symbols ?? []) {
        let set = this.#bySymbol.get(symbol);
        if (!set) this.#bySymbol.set(symbol, set = new Set());
        set.add(group);
      }
      if (!filter.symbols) this.#anySymbol.add(group);
    }
    group.subs.add(sub);
    this.#subscribers.set(sub, group);
    return sub;
  }

  #detach(sub: Subscription): void {
    const group = this.#subscribers.get(sub);
    if (!group) return;
    this.#subscribers.delete(sub);
    group.subs.delete(sub);
    if (group.subs.size > 0) return;
    this.#groups.delete(group.key);
    this.#anySymbol.delete(group);
    for (const symbol of group.filter.symbols ?? []) {
      const set = this.#bySymbol.get(symbol);
      set?.delete(group);
      if (set?.size === 0) this.#bySymbol.delete(symbol);
    }
  }

  /**
   * Queues each event for every subscriber whose filter it matches. Subscribers with the
   * same filter form one group, and groups are indexed by symbol, so an event is matched
   * once per group of its symbol (and per group without a symbol filter) and serialised
   * once; each group's matching events are then appended to its subscribers' queues in one
   * step per subscriber, the same {@linkcode StreamItem} objects to each.
   */
  write(events: readonly MarketEvent[]): void {
    if (this.#closed) return;
    this.#published += events.length;
    if (this.#subscribers.size === 0) return;
    const touched: FilterGroup[] = [];
    const any = this.#anySymbol;
    for (const event of events) {
      let item: StreamItem | undefined;
      const targets = this.#bySymbol.get(event.symbol);
      for (let pass = targets ? 0 : 1; pass < 2; pass++) {
        for (const group of pass === 0 ? targets! : any) {
          if (!matches(group.filter, event)) continue;
          item ??= { event, json: JSON.stringify(event) };
          if (group.batch.push(item) === 1) touched.push(group);
        }
      }
    }
    const now = performance.now();
    for (const group of touched) {
      const batch = group.batch;
      group.batch = [];
      for (const sub of group.subs) this.#queue(sub, batch, now);
    }
  }

  /** Appends `batch` to `sub`'s queue, or disconnects it as slow (stalled or full). */
  #queue(sub: Subscription, batch: readonly StreamItem[], now: number): void {
    const stalled = sub.stalledMs(now) > this.maxStallMs;
    const queued = sub.queued;
    const added = stalled ? 0 : sub.append(batch, this.maxQueue, now);
    this.#delivered += added;
    if (added < batch.length) {
      this.#dropped += queued + added + 1;
      this.#slow++;
      this.#warnSlow(sub, stalled);
      sub.close("slow");
    }
  }

  #warnSlow(sub: Subscription, stalled: boolean): void {
    console.warn(
      `stream hub: disconnecting slow subscriber #${sub.id} (` +
        (stalled
          ? `no events taken for ${this.maxStallMs} ms`
          : `queue reached ${this.maxQueue} events`) +
        ")",
    );
  }

  /** Nothing to persist: resolves to 0. */
  flush(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Closes every subscription; later writes are ignored. */
  close(): Promise<void> {
    this.#closed = true;
    for (const sub of [...this.#subscribers.keys()]) sub.close("hub_closed");
    return Promise.resolve();
  }

  /** Current counters. */
  stats(): StreamHubStats {
    return {
      clients: this.#subscribers.size,
      subscribed: this.#nextId - 1,
      published: this.#published,
      delivered: this.#delivered,
      slowDisconnects: this.#slow,
      dropped: this.#dropped,
    };
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number: ${value}`);
  }
  return value;
}
