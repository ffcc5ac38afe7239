"""Fails on purpose, for the tests: a row whose `cmd` is `divide` raises inside the SDK's
wrapper (ZeroDivisionError, reported as a value); `raw` raises outside it, so the exception
escapes into componentize-py's runtime and traps the component."""

from runner_plugin import Rows, backfill


def divide(n):
    return 1 / n


def process(rows: Rows):
    return [row.update(out=str(divide(0)) if row.text("cmd") == "divide" else "ok") for row in rows]


class WitWorld(backfill("fails 1.0.0", process)):
    def process(self, batch):
        if any(row.text("cmd") == "raw" for row in Rows(batch)):
            raise KeyError("missing-key")
        return super().process(batch)
