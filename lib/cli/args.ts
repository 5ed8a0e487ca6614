/**
 * Command-line arguments for our `deno task` entry points. A thin layer over
 * `node:util` `parseArgs` (JSR's `@std/cli` cannot be installed here), so it can be swapped
 * without touching callers.
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { EXIT, exitReportOf } from "./exit_codes.ts";

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
 * Runs a CLI main. An expected failure prints one line `error: ...` to stderr and exits
 * with its documented code (see {@linkcode exitReportOf} and {@linkcode EXIT}): usage
 * errors 2, a missing file 66, an unreachable database or venue 69, a port in use 71, an
 * error's own numeric `exitCode` (a locked lake: 75; a refused configuration: 78).
 * Anything else prints its stack and exits 1.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const report = exitReportOf(error);
    if (report) {
      console.error(`error: ${report.message}`);
      Deno.exit(report.code);
    }
    console.error(error);
    Deno.exit(EXIT.FAILURE);
  }
}
