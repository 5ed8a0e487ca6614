/**
 * Damaged compressed recordings (issue 12): truncated, garbage-tailed and empty zstd and
 * gzip files replay every message before the damage, report the damage with its byte
 * offset, and `deno task replay` exits 3. The expected messages come from `node:zlib`'s
 * one-shot decoders over the same bytes, not from the replay's streaming path.
 */
import assert from "node:assert/strict";
import { constants, gunzipSync, zstdDecompressSync } from "node:zlib";
import { readLines } from "../collectors/replay/_lines.ts";
import { seededRandom } from "./support/lake_trades.ts";
import { withTempDir } from "./support/temp_dir.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const KRAKEN_ZST = new URL("kraken-v1-cryptofeed-v3-format-20210417.jsonl.zst", DATA).pathname;
const BINANCE_GZ = new URL("binance-spot-btcusdt-20240808.gz", DATA).pathname;
const REPLAY = new URL("../collectors/replay/main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Seeded bytes that are not a compressed stream (first byte `first`, never a magic). */
function garbage(n: number, seed: number, first = 0x00): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  out[0] = first;
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Complete lines of `bytes` (a line the end cuts short is not one). */
function completeLines(bytes: Uint8Array): string[] {
  const lines = decoder.decode(bytes).split("\n");
  lines.pop();
  return lines;
}

interface Run {
  code: number;
  summary: Record<string, unknown> & {
    messages: number;
    damaged?: { file: string; offset: number; reason: string }[];
  };
  stderr: string;
}

async function replay(file: string, ...args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", REPLAY, file, "--dry-run", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = decoder.decode(out.stdout).trim();
  return {
    code: out.code,
    summary: stdout ? JSON.parse(stdout.split("\n").at(-1)!) : { messages: -1 },
    stderr: decoder.decode(out.stderr),
  };
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("replay_damaged_", fn);

Deno.test("zstd JSONL with 5,000 garbage bytes appended: every message, damage at the file's end, exit 3", async () => {
  await withDir(async (dir) => {
    const original = await Deno.readFile(KRAKEN_ZST);
    const recv = completeLines(zstdDecompressSync(original)).filter((l) =>
      JSON.parse(l).t === "recv"
    ).length;
    assert.equal(recv, 4_430);
    const file = `${dir}/kraken.jsonl.zst`;
    await Deno.writeFile(file, concat(original, garbage(5_000, 7)));
    const run = await replay(file);
    assert.equal(run.code, 3, run.stderr);
    assert.equal(run.summary.messages, recv);
    assert.deepEqual(run.summary.damaged?.map((d) => d.offset), [original.byteLength]);
    assert.match(run.stderr, new RegExp(`damaged at byte ${original.byteLength} \\(`));
  });
});

Deno.test("zstd JSONL cut short: the messages of its complete blocks, damage before the cut, exit 3", async () => {
  await withDir(async (dir) => {
    const original = await Deno.readFile(KRAKEN_ZST);
    for (const cut of [100_000, 180_000]) {
      const prefix = original.subarray(0, cut);
      // node:zlib's one-shot decoder yields what the complete blocks of the prefix hold.
      const expected = completeLines(zstdDecompressSync(prefix)).filter((l) =>
        JSON.parse(l).t === "recv"
      ).length;
      assert.ok(expected > 100 && expected < 4_430, `${expected}`);
      const file = `${dir}/cut${cut}.jsonl.zst`;
      await Deno.writeFile(file, prefix);
      const run = await replay(file);
      assert.equal(run.code, 3, run.stderr);
      assert.equal(run.summary.messages, expected, `cut at ${cut}`);
      const [damage] = run.summary.damaged!;
      // The damage is the start of the block the cut goes through (blocks <= 128 KiB).
      assert.ok(damage.offset <= cut && damage.offset > cut - 131_075, `${damage.offset}`);
      assert.match(damage.reason, /truncated/);
    }
  });
});

Deno.test("gzip capture cut short or garbage-tailed: every complete line, the damage's offset, exit 3", async () => {
  await withDir(async (dir) => {
    const original = await Deno.readFile(BINANCE_GZ);
    const all = completeLines(gunzipSync(original)).length;
    const cut = 600_000;
    const prefix = original.subarray(0, cut);
    const beforeCut =
      completeLines(gunzipSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH })).length;
    assert.ok(beforeCut > 1_000 && beforeCut < all);
    await Deno.writeFile(`${dir}/cut.gz`, prefix);

    const truncated = await replay(`${dir}/cut.gz`, "--exchange", "binance");
    assert.equal(truncated.code, 3, truncated.stderr);
    assert.equal(truncated.summary.messages, beforeCut);
    assert.deepEqual(truncated.summary.damaged?.map((d) => d.offset), [cut]);

    // Garbage starting with a zero byte (which zlib stops at quietly) or with another byte.
    for (const first of [0x00, 0x42]) {
      await Deno.writeFile(`${dir}/tail.gz`, concat(original, garbage(5_000, 11, first)));
      const tailed = await replay(`${dir}/tail.gz`, "--exchange", "binance");
      assert.equal(tailed.code, 3, tailed.stderr);
      assert.equal(tailed.summary.messages, all);
      // Bytes that are not a new member are known by its header: within its first bytes.
      const offset = tailed.summary.damaged![0].offset;
      assert.ok(offset >= original.byteLength && offset < original.byteLength + 10, `${offset}`);
    }
  });
});

Deno.test("empty compressed files are reported as damaged at byte 0, with a clear message", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/empty.gz`, new Uint8Array(0));
    await Deno.writeFile(`${dir}/empty.jsonl.zst`, new Uint8Array(0));
    const gz = await replay(`${dir}/empty.gz`, "--exchange", "binance");
    assert.equal(gz.code, 3, gz.stderr);
    assert.deepEqual(gz.summary.damaged?.map((d) => [d.offset, d.reason]), [
      [0, "empty file: no gzip stream"],
    ]);
    assert.doesNotMatch(gz.stderr, /\n\s+at /, "no stack trace");
    const zst = await replay(`${dir}/empty.jsonl.zst`);
    assert.equal(zst.code, 3, zst.stderr);
    assert.match(zst.stderr, /empty\.jsonl\.zst is damaged at byte 0: empty file/);
    assert.doesNotMatch(zst.stderr, /\n\s+at /, "no stack trace");
  });
});

Deno.test("readLines without onDamage throws after yielding the lines before the damage", async () => {
  await withDir(async (dir) => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `line ${i} ${"x".repeat(i % 50)}`);
    const gz = new Uint8Array(
      await new Response(
        new Blob([lines.join("\n") + "\n"]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/lines.gz`, gz.subarray(0, gz.byteLength - 20));
    const got: string[] = [];
    await assert.rejects(async () => {
      for await (const line of readLines(`${dir}/lines.gz`)) got.push(line);
    }, /damaged at byte \d+: truncated/);
    const expected = completeLines(
      gunzipSync(gz.subarray(0, gz.byteLength - 20), { finishFlush: constants.Z_SYNC_FLUSH }),
    );
    assert.deepEqual(got, expected);
    assert.ok(got.length > 4_000);
  });
});
