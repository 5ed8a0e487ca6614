/**
 * `niceThisThread`: the kernel reports the new nice value for the calling thread only (read
 * back from `/proc/thread-self/stat`), and bad values are refused.
 */
import assert from "node:assert/strict";
import { niceThisThread } from "../server/_thread_priority.ts";

/** The nice value of the calling thread, as the kernel reports it (Linux). */
function kernelNice(): number {
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  // Fields after the command name (which may hold spaces): state is field 3, nice field 19.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

Deno.test({
  name: "niceThisThread: lowers a worker's thread, not the thread that started it",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const before = kernelNice();
    const url = new URL("../server/_thread_priority.ts", import.meta.url).href;
    const source = `import { niceThisThread } from ${JSON.stringify(url)};
      const stat = () => Deno.readTextFileSync("/proc/thread-self/stat");
      const nice = () => { const s = stat(); return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[16]); };
      self.onmessage = () => {
        const from = nice();
        const applied = niceThisThread(Math.min(19, from + 7));
        self.postMessage({ from, applied, to: nice() });
      };`;
    const blob = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const worker = new Worker(blob, { type: "module" });
    try {
      const reply = await new Promise<{ from: number; applied: boolean; to: number }>(
        (resolve, reject) => {
          worker.onmessage = (e) => resolve(e.data);
          worker.onerror = (e) => reject(e.error ?? new Error(e.message));
          worker.postMessage(null);
        },
      );
      assert.equal(reply.applied, true);
      assert.equal(reply.to, Math.min(19, reply.from + 7));
      assert.equal(kernelNice(), before); // this thread is untouched
    } finally {
      worker.terminate();
      URL.revokeObjectURL(blob);
    }
  },
});

Deno.test("niceThisThread: values outside 0..19 are a RangeError", () => {
  for (const bad of [-1, 20, 1.5, NaN]) assert.throws(() => niceThisThread(bad), RangeError);
  assert.equal(niceThisThread(0), false); // nothing to change
});
