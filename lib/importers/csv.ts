/**
 * A small RFC 4180 CSV reader that keeps line numbers, so an importer can name the line of
 * bad input: fields separated by `,`, optionally quoted with `"` (a doubled `""` is a quote;
 * a quoted field may span lines), lines ended by `\n` or `\r\n`. Blank lines are skipped.
 * @module
 */
import { ImportError } from "./import_error.ts";

/** One record of a CSV file: its fields and the (1-based) line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/**
 * The records of CSV `text`, header included, in order.
 * @throws {ImportError} for a quote left open at the end of the text, or text after a
 * closing quote.
 */
export function parseCsv(text: string, file = "input"): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let start = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark
  const n = text.length;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0].trim() === "")) records.push({ line: start, fields });
    fields = [];
    field = "";
  };
  while (i < n) {
    const c = text[i];
    if (c === '"' && field === "") {
      const opened = line;
      i++;
      while (true) {
        if (i >= n) {
          throw new ImportError({ file, line: opened, message: "quoted field never closed" });
        }
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === "\n") line++;
        field += q;
        i++;
      }
      const next = text[i];
      if (i < n && next !== "," && next !== "\n" && next !== "\r") {
        throw new ImportError({
          file,
          line,
          column: String(fields.length + 1),
          message: "text after a closing quote",
        });
      }
      continue;
    }
    if (c === ",") {
      fields.push(field);
      field = "";
      i++;
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      endRecord();
      i += c === "\r" ? 2 : 1;
      line++;
      start = line;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== "" || fields.length > 0) endRecord();
  return records;
}
