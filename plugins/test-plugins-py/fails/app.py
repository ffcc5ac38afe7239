"""Fails on purpose, for the tests, by a row's `cmd`: `divide` raises in the SDK's wrapper, `alloc` passes
the memory limit (MemoryError, caught by the SDK), `raw` raises outside the wrapper (the component traps),
`short-set`/`bad-rows` set a column badly, `huge` sets an integer beyond 64 bits, `picked` by Row."""

from runner_plugin import Rows, backfill


def divide(n):
    return 1 / n


def outcome(cmd):
    if cmd == "divide":
        return str(divide(0))
    if cmd == "alloc":
        # More than any test's memory limit: the host refuses it, Python raises MemoryError.
        return str(len(bytearray(512 * 1024 * 1024)))
    if cmd == "huge":
        return 2**70
    return "ok"


def process(rows: Rows):
    cmds = rows.texts("cmd")
    if "short-set" in cmds:
        rows.set("out", ["too few"])
    if "bad-rows" in cmds:
        rows.set("out", ["x"], rows=[99])
    # Rows chosen as Row objects, set by column; the rest by row.
    picked = [row for row in rows if row.text("cmd") == "picked"]
    rows.set("out", ["picked"] * len(picked), rows=picked)
    return [row.update(out=outcome(row.text("cmd"))) for row in rows if row.text("cmd") != "picked"]


class WitWorld(backfill("fails 1.0.0", process)):
    def process(self, batch):
        if any(row.text("cmd") == "raw" for row in Rows(batch)):
            raise KeyError("missing-key")
        return super().process(batch)
