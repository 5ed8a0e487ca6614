/** Every deliberate bug `deno task mutate` knows, area by area. */
import type { Mutation } from "./types.ts";
import { mutations as book } from "./book.ts";
import { mutations as venues } from "./venues.ts";
import { mutations as runtime } from "./runtime.ts";
import { mutations as lake } from "./lake.ts";
import { mutations as buffer } from "./buffer.ts";
import { mutations as repositories } from "./repositories.ts";
import { mutations as server } from "./server.ts";
import { mutations as backtest } from "./backtest.ts";
import { mutations as trading } from "./trading.ts";

export type { Mutation } from "./types.ts";

/** All mutations, in area order. */
export const MUTATIONS: readonly Mutation[] = [
  ...book,
  ...venues,
  ...runtime,
  ...lake,
  ...buffer,
  ...repositories,
  ...server,
  ...backtest,
  ...trading,
];
