/**
 * The error of bad input to an import: which file, line and column, and what is wrong.
 * @module
 */

/** Where in the input the problem is, and what it is. */
export interface ImportErrorInfo {
  readonly file: string;
  /** 1-based line of a CSV file (the header is line 1), or 1-based row of a Parquet file. */
  readonly line: number;
  /** The column's name from the header (or its 1-based number when there is no name). */
  readonly column?: string;
  readonly message: string;
}

/**
 * Bad input to an import, with the line and column: `spy.csv:17: column "close": not a
 * number: "abc"`. Programs exit with {@linkcode ImportError.exitCode} (65, `EX_DATAERR`).
 */
export class ImportError extends Error {
  /** The exit code of a program that stops on this error: 65 (`EX_DATAERR`). */
  readonly exitCode = 65;
  readonly file: string;
  readonly line: number;
  readonly column: string | undefined;
  constructor(info: ImportErrorInfo) {
    const where = info.column === undefined ? "" : ` column "${info.column}":`;
    super(`${info.file}:${info.line}:${where} ${info.message}`);
    this.name = "ImportError";
    this.file = info.file;
    this.line = info.line;
    this.column = info.column;
  }
}
