/**
 * Frames per second of a websocket client that only counts frames: the peer side of
 * `bench/collect.ts` (the runtime's `WebSocket` over `ws://`) and both clients of
 * `bench/_collect_wss.ts` (over `wss://`).
 * @module
 */
import process from "node:process";

/** Frames per second by the wall clock and per CPU-second of this process. */
export interface Rate {
  wall: number;
  cpu: number;
}

/** CPU time of this process (all threads), milliseconds. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** What {@linkcode countFrames} needs of a websocket client (ours or the runtime's). */
export interface FrameSource {
  onopen: ((event: never) => unknown) | null;
  onmessage: ((event: never) => unknown) | null;
  onclose: ((event: never) => unknown) | null;
  send(data: string): void;
  close(): void;
}

/**
 * Subscribes on `socket` (`{"type":"subscribe"}`), counts `frames` frames from the first
 * one received, closes it, and resolves to the rate; rejects when the socket closes first.
 */
export async function countFrames(
  socket: FrameSource,
  frames: number,
  name: string,
): Promise<Rate> {
  const done = Promise.withResolvers<Rate>();
  let n = 0;
  let first = 0;
  let firstCpu = 0;
  socket.onopen = () => socket.send('{"type":"subscribe"}');
  socket.onmessage = () => {
    if (n++ === 0) {
      first = performance.now();
      firstCpu = cpuMs();
    }
    if (n === frames) {
      done.resolve({
        wall: frames / ((performance.now() - first) / 1000),
        cpu: frames / ((cpuMs() - firstCpu) / 1000),
      });
    }
  };
  socket.onclose = () => done.reject(new Error(`${name} websocket closed after ${n} frames`));
  const rate = await done.promise;
  const closed = new Promise((r) => (socket.onclose = r));
  socket.close();
  await closed;
  return rate;
}
