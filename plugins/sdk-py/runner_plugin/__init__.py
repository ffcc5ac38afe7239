"""Write `runner` backfill plugins in Python: a function from a batch of rows to changes.

    from runner_plugin import Rows, backfill

    def band(points):
        if points is None:
            return "unranked"
        return "gold" if points >= 1000 else "silver"

    def process(rows: Rows):
        return [row.update(band=band(row.int("points"))) for row in rows]

    WitWorld = backfill("score-band 1.0.0", process)

or, a whole column at a time (several times faster: no object per row):

    def process(rows: Rows):
        rows.set("band", [band(p) for p in rows.ints("points")])

`runner` builds a folder holding an `app.py` like this one with componentize-py (the version it
pins, installed on first use) and this SDK; `runner plugin check` shows the result. The
component's module must be called `app` and must bind `WitWorld`, as componentize-py requires.
It implements the `runner:plugin/backfill-columns` world: the host hands over one list per
column, which Python lifts far faster than a list of values per row.

Errors are values at the boundary: any exception raised by `process` fails the batch (the
database is left untouched) with one line, `ZeroDivisionError: division by zero (app.py:12 in
band)`, never a traceback. The SDK's own errors (a missing column, a value of another type) are
`PluginError`s that name the column.

Import every module at the top of `app.py`: the component is built with what was imported while
building, and there are no files to import from at run time.
"""

import traceback

from componentize_py_types import Err
from wit_world.imports import columns as _c
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


_I64 = (-(2**63), 2**63)


def value(v):
    """A Python value as a column value: None, bool, int, float, str or bytes."""
    # bool first: True is also an int.
    if v is None:
        return _t.Value_Null()
    if isinstance(v, bool):
        return _t.Value_Boolean(v)
    if isinstance(v, int):
        if not _I64[0] <= v < _I64[1]:
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


# What each typed accessor accepts: the column's case, the value's case inside a mixed column,
# and what to call it in an error. Accessors name them by position, a cheap key per call.
_ACCEPTS = (
    (_c.Column_Integers, (_t.Value_Integer,), "an integer"),
    (_c.Column_Floats, (_t.Value_Float, _t.Value_Integer), "a number"),
    (_c.Column_Texts, (_t.Value_Text,), "text"),
    (_c.Column_Booleans, (_t.Value_Boolean,), "a boolean"),
    (_c.Column_Bytes, (_t.Value_Bytes,), "bytes"),
)
_INT, _FLOAT, _TEXT, _BOOL, _BYTES = range(5)
_NONE = type(None)

_CASES = {bool: _c.Column_Booleans, int: _c.Column_Integers, float: _c.Column_Floats, str: _c.Column_Texts, bytes: _c.Column_Bytes}


def _column(values):
    """Python values as one column, in the case that holds them all."""
    kinds = set(map(type, values))
    nulls = _NONE in kinds
    kinds.discard(_NONE)
    case = _CASES.get(kinds.pop()) if len(kinds) == 1 else None if kinds else _c.Column_Integers
    if case is _c.Column_Integers:
        present = [v for v in values if v is not None] if nulls else values
        if present and (min(present) < _I64[0] or max(present) >= _I64[1]):
            raise PluginError(f"integer {max(present, key=abs)} does not fit in 64 bits")
    if case is None:
        return _c.Column_Values([value(v) for v in values])
    return case(values)


class Rows:
    """A batch of rows, by column (`rows.ints("points")`, `rows.set("band", values)`) or by row
    (`for row in rows: row.int("points")`)."""

    __slots__ = ("columns", "key", "_cases", "_index", "_n", "_typed", "_sets")

    def __init__(self, batch):
        self.columns = [c.name for c in batch.columns]
        self.key = list(batch.key)
        self._cases = [c.values for c in batch.columns]
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._n = batch.rows
        self._typed = ({}, {}, {}, {}, {})
        # Columns set with `set`, by the rows they cover (None: all).
        self._sets = {}

    def __len__(self):
        return self._n

    def __iter__(self):
        for i in range(self._n):
            yield Row(self, i)

    def _case(self, column):
        i = self._index.get(column)
        if i is None:
            raise PluginError(f"no column `{column}` in the batch (columns: {', '.join(self.columns)})")
        return self._cases[i]

    def column(self, column):
        """The column's values as Python values (None for NULL), in row order."""
        case = self._case(column)
        if isinstance(case, _c.Column_Values):
            return [python(v) for v in case.value]
        return case.value

    def _of(self, column, accepts):
        typed = self._typed[accepts].get(column)
        if typed is None:
            typed = self._typed[accepts][column] = self._convert(column, accepts)
        return typed

    def _convert(self, column, accepts):
        case, cells, what = _ACCEPTS[accepts]
        got = self._case(column)
        values = got.value
        if isinstance(got, case):
            return values
        if isinstance(got, _c.Column_Values):
            out = []
            for i, v in enumerate(values):
                if isinstance(v, _t.Value_Null):
                    out.append(None)
                elif isinstance(v, cells):
                    out.append(v.value)
                else:
                    raise PluginError(f"column `{column}`, row {i}: expected {what}, got {_name(v)}")
            return out if case is not _c.Column_Floats else [None if v is None else float(v) for v in out]
        if case is _c.Column_Floats and isinstance(got, _c.Column_Integers):
            return [None if v is None else float(v) for v in values]
        if all(v is None for v in values):
            return values
        raise PluginError(f"column `{column}`: expected {what}, got {_name(got)}")

    def ints(self, column):
        """The column as integers (None for NULL); a PluginError if it holds anything else."""
        return self._of(column, _INT)

    def floats(self, column):
        """The column as floats (integers converted; None for NULL)."""
        return self._of(column, _FLOAT)

    def texts(self, column):
        """The column as strings (None for NULL)."""
        return self._of(column, _TEXT)

    def bools(self, column):
        """The column as booleans (None for NULL)."""
        return self._of(column, _BOOL)

    def bytes(self, column):
        """The column as bytes (None for NULL)."""
        return self._of(column, _BYTES)

    def set(self, column, values, rows=None):
        """Sets `column` of the target rows to `values`: one value per row of the batch, or per
        entry of `rows` (the rows to change, as positions or `Row`s; the others are left alone).
        A row may be set by calls with the same `rows` only."""
        if not isinstance(values, list):
            values = list(values)
        if rows is not None:
            rows = [r._i if type(r) is Row else r for r in rows]
            for r in rows:
                if type(r) is not int or not 0 <= r < self._n:
                    raise PluginError(f"set(`{column}`): {r!r} is not a row of this batch (0 to {self._n - 1}, or a Row)")
        expected = self._n if rows is None else len(rows)
        if len(values) != expected:
            raise PluginError(f"set(`{column}`): {len(values)} values for {expected} rows")
        key = None if rows is None else tuple(rows)
        self._sets.setdefault(key, {})[column] = _column(values)

    def _output(self, result):
        updates = [_c.Updates(None if rows is None else list(rows), [_c.NamedColumn(n, v) for n, v in cols.items()])
                   for rows, cols in self._sets.items()]
        changes = []
        by_columns = {}
        names, group = None, None
        for item in result or ():
            if type(item) is _RowUpdate:
                # Most rows set the same columns as the row before.
                if item.names != names:
                    names = item.names
                    group = by_columns.get(names)
                    if group is None:
                        group = by_columns[names] = ([], [[] for _ in names])
                group[0].append(item.row)
                for values, v in zip(group[1], item.values):
                    values.append(v)
            elif item is not None:
                changes.append(item)
        for names, (rows, columns) in by_columns.items():
            updates.append(_c.Updates(rows, [_c.NamedColumn(n, _column(v)) for n, v in zip(names, columns)]))
        return _c.Output(updates, changes)


def _name(case):
    """What a value or a column holds, as an error says it: `text`, `integer`, `bytes`."""
    name = type(case).__name__.split("_", 1)[-1].lower()
    return _SINGULAR.get(name, name)


_SINGULAR = {"booleans": "boolean", "integers": "integer", "floats": "float", "texts": "text", "values": "mixed values"}


class _RowUpdate:
    """`row.update(...)`: the host fills in the row's key."""

    __slots__ = ("row", "names", "values")

    def __init__(self, row, names, values):
        self.row = row
        self.names = names
        self.values = values


class Row:
    """One row of a batch."""

    __slots__ = ("_rows", "_i")

    def __init__(self, rows, i):
        self._rows = rows
        self._i = i

    def get(self, column):
        """The column's value as a `wit_world.imports.types.Value`."""
        return value(self[column])

    def __getitem__(self, column):
        """The column's value as a Python value (None for NULL)."""
        case = self._rows._case(column)
        v = case.value[self._i]
        return python(v) if isinstance(case, _c.Column_Values) else v

    def int(self, column):
        return self._rows._of(column, _INT)[self._i]

    def float(self, column):
        return self._rows._of(column, _FLOAT)[self._i]

    def text(self, column):
        return self._rows._of(column, _TEXT)[self._i]

    def bool(self, column):
        return self._rows._of(column, _BOOL)[self._i]

    def bytes(self, column):
        return self._rows._of(column, _BYTES)[self._i]

    def key(self):
        """The values of the batch's key columns for this row."""
        return [self.get(k) for k in self._rows.key]

    def update(self, columns=None, **more):
        """Sets columns of the target row with this row's key: `row.update(band="gold")`."""
        if columns:
            more = dict(columns, **more)
        return _RowUpdate(self._i, tuple(more), tuple(more.values()))

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
    """The component's `WitWorld`: `name` (e.g. `score-band 1.0.0`) and `process(rows)`, which
    returns changes (`row.update(...)`, `insert(...)`, …), sets columns with `rows.set`, or both."""

    class WitWorld:
        def describe(self):
            return name

        def process(self, batch):
            try:
                rows = Rows(batch)
                return rows._output(process(rows))
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
