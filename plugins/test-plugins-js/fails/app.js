// Fails on purpose, for the tests, by a row's `cmd`: `throw` throws a TypeError inside the SDK's
// wrapper, `type` reads a text column as an integer (a PluginError), `alloc` passes the memory limit,
// `raw` throws outside the wrapper, `short-set`/`bad-rows` set a column badly, `huge` answers 2^60,
// `picked` is set by Row, and any other row echoes its `n` (an integer beyond 2^53 fails in the SDK).

import { Rows, backfill } from "runner-plugin";

function deeper(thing) {
  return thing.missing.value;
}

function outcome(row) {
  switch (row.text("cmd")) {
    case "throw":
      return deeper({});
    case "type":
      return row.int("cmd");
    case "alloc":
      return new Array(64 * 1024 * 1024).fill(1.5).length;
    case "huge":
      return 2 ** 60;
    default:
      return row.int("n");
  }
}

const inner = backfill("fails 1.0.0", (rows) => {
  const cmds = rows.texts("cmd");
  if (cmds.includes("short-set")) rows.set("out", ["too few"]);
  if (cmds.includes("bad-rows")) rows.set("out", ["x"], [99]);
  // Rows chosen as Row objects, set by column; the rest by row.
  const picked = rows.filter((row) => row.text("cmd") === "picked");
  rows.set("out", picked.map(() => "picked"), picked);
  return rows
    .filter((row) => row.text("cmd") !== "picked")
    .map((row) => {
      const out = outcome(row);
      return row.update({ out: typeof out === "number" && out > 2 ** 53 ? out : String(out) });
    });
});

export const describe = inner.describe;

export function process(batch) {
  if ([...new Rows(batch)].some((row) => row.text("cmd") === "raw")) {
    throw new Error("thrown outside the SDK");
  }
  return inner.process(batch);
}
