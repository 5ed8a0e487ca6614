/**
 * Exit codes of our programs, and how an error maps to one clear line and a code. The
 * codes follow BSD `sysexits.h` where one fits (README "Exit codes" lists them).
 * @module
 */

/** Every exit code our programs use. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** An unexpected error (a bug): the stack trace is printed. */
  FAILURE: 1,
  /** Bad command line or argument value. */
  USAGE: 2,
  /** A recording so damaged nothing could be read (replay). */
  DAMAGED_INPUT: 3,
  /** An input file or directory does not exist (`EX_NOINPUT`). */
  NO_INPUT: 66,
  /** A service could not be reached: the database, a venue, a host (`EX_UNAVAILABLE`). */
  UNAVAILABLE: 69,
  /** The address to listen on is in use or not available (`EX_OSERR`). */
  CANNOT_LISTEN: 71,
  /** Try again later: the lake is locked by another writer (`EX_TEMPFAIL`). */
  TEMPORARY: 75,
  /** Not permitted by the operating system (`EX_NOPERM`). */
  NO_PERMISSION: 77,
  /** The configuration is refused, e.g. a network bind without credentials (`EX_CONFIG`). */
  CONFIG: 78,
} as const;

/** An error turned into what a program prints and its exit code. */
export interface ExitReport {
  /** One line, without the `error: ` prefix. */
  readonly message: string;
  readonly code: number;
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECT_TIMEOUT",
]);

function nodeCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

function oneLine(text: string): string {
  return text.split("\n")[0].trim();
}

/**
 * Maps an error to a one-line message and exit code, or `undefined` for an unexpected
 * error (print its stack, exit 1). Handled: an error's own numeric `exitCode`;
 * SyntaxError/RangeError (usage, 2, with the whole message: it may carry the usage text);
 * `Deno.errors.NotFound` (66); unreachable services, Deno's or Node-style `ECONNREFUSED`,
 * also inside an AggregateError (69); `AddrInUse`/`AddrNotAvailable` (71);
 * `PermissionDenied`/`NotCapable` (77).
 */
export function exitReportOf(error: unknown): ExitReport | undefined {
  if (!(error instanceof Error)) return undefined;
  const own = (error as { exitCode?: unknown }).exitCode;
  if (typeof own === "number") return { message: error.message, code: own };
  if (error instanceof SyntaxError || error instanceof RangeError) {
    return { message: error.message, code: EXIT.USAGE };
  }
  const e = Deno.errors;
  if (error instanceof e.NotFound) return { message: oneLine(error.message), code: EXIT.NO_INPUT };
  if (error instanceof e.AddrInUse || error instanceof e.AddrNotAvailable) {
    return { message: oneLine(error.message), code: EXIT.CANNOT_LISTEN };
  }
  if (error instanceof e.PermissionDenied || error instanceof e.NotCapable) {
    return { message: oneLine(error.message), code: EXIT.NO_PERMISSION };
  }
  const unreachable = [
    e.ConnectionRefused,
    e.ConnectionReset,
    e.ConnectionAborted,
    e.TimedOut,
    e.NotConnected,
  ];
  if (unreachable.some((kind) => error instanceof kind)) {
    return { message: oneLine(error.message), code: EXIT.UNAVAILABLE };
  }
  const code = nodeCode(error);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return { message: oneLine(error.message), code: EXIT.UNAVAILABLE };
  }
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors.map(exitReportOf);
    if (inner.every((r) => r?.code === EXIT.UNAVAILABLE)) {
      return { message: inner[0]!.message, code: EXIT.UNAVAILABLE };
    }
  }
  return undefined;
}
