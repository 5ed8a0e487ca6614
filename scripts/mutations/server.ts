/** Deliberate bugs in the server area (see `types.ts`). */
import type { Mutation } from "./types.ts";

export const mutations: readonly Mutation[] = [];
