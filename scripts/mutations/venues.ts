/** Deliberate bugs in the venues area (see `types.ts`). */
import type { Mutation } from "./types.ts";

export const mutations: readonly Mutation[] = [];
