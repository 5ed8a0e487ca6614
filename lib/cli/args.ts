/**
 * Command-line arguments for our `deno task` entry points. A thin layer over
 * `node:util` `parseArgs` (JSR's `@std/cli` cannot be installed here), so it can be swapped
 * without touching callers.
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";

/** One option: a string value or a boolean flag. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean;
}

/** Parsed arguments. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/**
 * Parses `args` against the option specs.
 * @throws {SyntaxError} for unknown options or a missing value, with the usage text.
 */
export function parseArgs(
  args: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
  usage: string,
): ParsedArgs {
  try {
    const { values, positionals } = nodeParseArgs({
      args: [...args],
      options: options as never,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs["values"], positionals };
  } catch (error) {
    throw new SyntaxError(`${(error as Error).message}\n\n${usage}`);
  }
}

/**
 * Runs a CLI main: a SyntaxError/RangeError prints its message and exits 2; an error with a
 * numeric `exitCode` (a condition the user handles, e.g. a locked lake) prints its message
 * and exits with that code; others print their stack and exit 1.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const exitCode = (error as { exitCode?: unknown })?.exitCode;
    if (error instanceof Error && typeof exitCode === "number") {
      console.error(`error: ${error.message}`);
      Deno.exit(exitCode);
    }
    if (error instanceof SyntaxError || error instanceof RangeError) {
      console.error(`error: ${error.message}`);
      Deno.exit(2);
    }
    console.error(error);
    Deno.exit(1);
  }
}
