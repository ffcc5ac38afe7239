"""Write `runner` backfill plugins in Python: a function from a batch of rows to changes.

    from runner_plugin import Rows, backfill

    def band(points):
        if points is None:
            return "unranked"
        return "gold" if points >= 1000 else "silver"

    def process(rows: Rows):
        return [row.update(band=band(row.int("points"))) for row in rows]

    WitWorld = backfill("score-band 1.0.0", process)

`runner` builds a folder holding an `app.py` like this one with componentize-py (the version it
pins, installed on first use) and this SDK; `runner plugin check` shows the result. The
component's module must be called `app` and must bind `WitWorld`, as componentize-py requires.

Errors are values at the boundary: any exception raised by `process` fails the batch (the
database is left untouched) with one line, `ZeroDivisionError: division by zero (app.py:12 in
band)`, never a traceback. The SDK's own errors (a missing column, a value of another type) are
`PluginError`s that name the column.

Import every module at the top of `app.py`: the component is built with what was imported while
building, and there are no files to import from at run time.
"""

import traceback

from componentize_py_types import Err
from wit_world.imports import host as _host
from wit_world.imports import types as _t

__all__ = [
    "Rows",
    "Row",
    "PluginError",
    "backfill",
    "insert",
    "upsert",
    "delete",
    "log",
    "config",
    "lookup",
    "http",
    "now_ms",
    "random",
]


class PluginError(Exception):
    """A plugin's own failure: fails the batch with this message."""


def value(v):
    """A Python value as a column value: None, bool, int, float, str or bytes."""
    # bool first: True is also an int.
    if v is None:
        return _t.Value_Null()
    if isinstance(v, bool):
        return _t.Value_Boolean(v)
    if isinstance(v, int):
        if not -(2**63) <= v < 2**63:
            raise PluginError(f"integer {v} does not fit in 64 bits")
        return _t.Value_Integer(v)
    if isinstance(v, float):
        return _t.Value_Float(v)
    if isinstance(v, str):
        return _t.Value_Text(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return _t.Value_Bytes(bytes(v))
    raise PluginError(f"a {type(v).__name__} is not a column value (None, bool, int, float, str or bytes)")


def python(v):
    """A column value as a Python value."""
    return None if isinstance(v, _t.Value_Null) else v.value


def _assignments(columns):
    return [_t.Assignment(column, value(v)) for column, v in columns.items()]


class Rows:
    """A batch of rows with access by column name."""

    __slots__ = ("columns", "key", "_rows", "_index", "_key_positions")

    def __init__(self, batch):
        self.columns = list(batch.columns)
        self.key = list(batch.key)
        self._rows = batch.rows
        self._index = {c: i for i, c in enumerate(batch.columns)}
        self._key_positions = [self._index[k] for k in batch.key if k in self._index]

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        for values in self._rows:
            yield Row(self, values)


_NUMBER = (_t.Value_Integer, _t.Value_Float)


class Row:
    """One row of a batch."""

    __slots__ = ("_rows", "_values")

    def __init__(self, rows, values):
        self._rows = rows
        self._values = values

    def get(self, column):
        """The column's value as it came (a `wit_world.imports.types.Value`)."""
        i = self._rows._index.get(column)
        if i is None:
            raise PluginError(f"no column `{column}` in the batch (columns: {', '.join(self._rows.columns)})")
        return self._values[i]

    def __getitem__(self, column):
        """The column's value as a Python value (None for NULL)."""
        return python(self.get(column))

    def _typed(self, column, kinds, what):
        v = self.get(column)
        if isinstance(v, _t.Value_Null):
            return None
        if not isinstance(v, kinds):
            raise PluginError(f"column `{column}`: expected {what}, got {type(v).__name__.removeprefix('Value_').lower()}")
        return v.value

    def int(self, column):
        return self._typed(column, _t.Value_Integer, "an integer")

    def float(self, column):
        v = self._typed(column, _NUMBER, "a number")
        return None if v is None else float(v)

    def text(self, column):
        return self._typed(column, _t.Value_Text, "text")

    def bool(self, column):
        return self._typed(column, _t.Value_Boolean, "a boolean")

    def bytes(self, column):
        return self._typed(column, _t.Value_Bytes, "bytes")

    def key(self):
        """The values of the batch's key columns for this row."""
        return [self._values[i] for i in self._rows._key_positions]

    def update(self, columns=None, **more):
        """Sets columns of the target row with this row's key: `row.update(band="gold")`."""
        columns = dict(columns or {}, **more)
        return _t.Change_Update(_t.Update(self.key(), _assignments(columns)))

    def delete(self):
        """Deletes the target row with this row's key."""
        return _t.Change_Delete(self.key())


def insert(columns=None, **more):
    """Inserts a target row with these columns."""
    return _t.Change_Insert(_assignments(dict(columns or {}, **more)))


def upsert(columns=None, **more):
    """Inserts a target row, or updates the one with the same key."""
    return _t.Change_Upsert(_assignments(dict(columns or {}, **more)))


def delete(key):
    """Deletes the target row whose key columns have these values (in the manifest's order)."""
    return _t.Change_Delete([value(v) for v in key])


def one_line(e):
    """An exception as the one line an operator needs: its type, message and where it was raised."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = __file__
    where = next((f for f in reversed(frames) if f.filename != mine), frames[-1] if frames else None)
    text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if isinstance(e, PluginError):
        text = str(e)
    if where is None:
        return text
    file = where.filename.rsplit("/", 1)[-1]
    return f"{text} ({file}:{where.lineno} in {where.name})"


def backfill(name, process):
    """The component's `WitWorld`: `name` (e.g. `score-band 1.0.0`) and `process(rows) -> changes`."""

    class WitWorld:
        def describe(self):
            return name

        def process(self, batch):
            try:
                return list(process(Rows(batch)))
            except Exception as e:  # noqa: BLE001 - every failure becomes the batch's error value
                raise Err(one_line(e)) from None

    return WitWorld


# The host's capabilities: each works only when the backfill's manifest grants it.

_LEVELS = {
    "trace": _t.Level.TRACE,
    "debug": _t.Level.DEBUG,
    "info": _t.Level.INFO,
    "warn": _t.Level.WARN,
    "error": _t.Level.ERROR,
}


def log(message, level="info"):
    """Capability `log`: a line in the host's log."""
    _host.log(_LEVELS[level], str(message))


def config(key):
    """Capability `config`: a configuration value from the manifest, or None."""
    return _host.config(key)


def lookup(query, *params):
    """Capability `lookup`: rows of a read-only query, as lists of Python values."""
    try:
        rows = _host.lookup(query, [value(p) for p in params])
    except Err as e:
        raise PluginError(e.value) from None
    return [[python(v) for v in row] for row in rows]


def http(method, url, headers=(), body=None):
    """Capability `http`: (status, headers, body) of a request to an allow-listed origin."""
    try:
        r = _host.http(_t.HttpRequest(method, url, list(headers), body))
    except Err as e:
        raise PluginError(e.value) from None
    return r.status, r.headers, r.body


def now_ms():
    """Capability `clock`: milliseconds since the Unix epoch."""
    return _host.now_ms()


def random(n):
    """Capability `random`: `n` random bytes."""
    return _host.random(n)
