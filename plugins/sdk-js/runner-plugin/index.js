// Write `runner` backfill plugins in JavaScript: a function from a batch of rows to changes.
//
//     import { backfill } from "runner-plugin";
//
//     function band(points) {
//       if (points === null) return "unranked";
//       return points >= 1000 ? "gold" : "silver";
//     }
//
//     export const { describe, process } = backfill("score-band 1.0.0", (rows) =>
//       rows.map((row) => row.update({ band: band(row.int("points")) })),
//     );
//
// or, a whole column at a time (no object per row):
//
//     export const { describe, process } = backfill("score-band 1.0.0", (rows) => {
//       rows.set("band", rows.ints("points").map(band));
//     });
//
// `runner` builds a folder holding an `app.js` like this one with componentize-qjs (QuickJS; the
// version it pins, installed with npm on first use) and this SDK. The module must export
// `describe` and `process`, as `backfill` returns them. It implements the
// `runner:plugin/backfill-columns` world: the host hands over one array per column.
//
// Errors are values at the boundary: anything `process` throws fails the batch (the database is
// left untouched) with one line, `TypeError: cannot read property 'x' of undefined (app.js:12 in
// band)`. The SDK's own errors (a missing column, a value of another type) are `PluginError`s
// that name the column.
//
// Integers are JS numbers. The QuickJS runtime carries 64-bit integers as numbers, which hold
// integers exactly only up to 2^53 (Number.MAX_SAFE_INTEGER); a bigger one fails the batch,
// naming its column, rather than turning into a neighbouring value. A row's update needs no key
// from the plugin (the host knows the row), so only the values a plugin reads are checked.

import host from "runner:plugin/host@0.1.0";

/** A plugin's own failure: fails the batch with this message. */
export class PluginError extends Error {
  constructor(message) {
    super(message);
    this.name = "PluginError";
  }
}

/** `n`, if a JavaScript number holds it exactly; `outbound` when the plugin made it. */
function exactInteger(n, what, outbound = false) {
  if (!Number.isSafeInteger(n)) {
    const seen = outbound ? `${n}` : `it arrived as ${n}`;
    throw new PluginError(`${what}: an integer beyond 2^53 (${seen}), which JavaScript numbers cannot hold exactly`);
  }
  return n;
}

/** A JavaScript value as a column value: null, boolean, number, bigint, string or bytes. */
export function value(v, what = "a value") {
  if (v === null || v === undefined) return { tag: "null" };
  switch (typeof v) {
    case "boolean":
      return { tag: "boolean", val: v };
    case "number":
      return Number.isInteger(v) ? { tag: "integer", val: exactInteger(v, what, true) } : { tag: "float", val: v };
    case "bigint":
      return { tag: "integer", val: exactInteger(Number(v), what, true) };
    case "string":
      return { tag: "text", val: v };
  }
  if (v instanceof Uint8Array) return { tag: "bytes", val: v };
  if (v instanceof ArrayBuffer) return { tag: "bytes", val: new Uint8Array(v) };
  throw new PluginError(`${what}: a ${v?.constructor?.name ?? typeof v} is not a column value (null, boolean, number, string or Uint8Array)`);
}

/** A column value as a JavaScript value. */
export function js(v, what = "a value") {
  switch (v.tag) {
    case "null":
      return null;
    case "integer":
      return exactInteger(v.val, what);
    case "bytes":
      return v.val instanceof Uint8Array ? v.val : new Uint8Array(v.val);
    default:
      return v.val;
  }
}

function assignments(columns) {
  return Object.entries(columns).map(([column, v]) => ({ column, value: value(v, `column \`${column}\``) }));
}

// What each typed accessor accepts: the column's case, the value tags inside a mixed column, and
// what to call it in an error.
const INT = { tag: "integers", cells: ["integer"], what: "an integer" };
const FLOAT = { tag: "floats", cells: ["float", "integer"], what: "a number" };
const TEXT = { tag: "texts", cells: ["text"], what: "text" };
const BOOL = { tag: "booleans", cells: ["boolean"], what: "a boolean" };
const BYTES = { tag: "bytes", cells: ["bytes"], what: "bytes" };

function checkedIntegers(values, column) {
  for (const v of values) if (v !== null) exactInteger(v, `column \`${column}\``);
  return values;
}

/** JavaScript values as one column, in the case that holds them all. */
function toColumn(values, name) {
  let kind = null;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const k =
      typeof v === "number"
        ? Number.isInteger(v) ? "integers" : "floats"
        : typeof v === "string"
          ? "texts"
          : typeof v === "boolean"
            ? "booleans"
            : "other";
    if (kind === null) kind = k;
    else if (kind !== k) {
      // Integral and fractional numbers together are a column of floats.
      if ((kind === "integers" && k === "floats") || (kind === "floats" && k === "integers")) kind = "floats";
      else kind = "other";
    }
    if (kind === "other") break;
  }
  const what = `column \`${name}\``;
  const nulls = (f) => values.map((v) => (v === null || v === undefined ? null : f(v)));
  switch (kind) {
    case null:
    case "integers":
      return { tag: "integers", val: nulls((v) => exactInteger(v, what, true)) };
    case "floats":
      return { tag: "floats", val: nulls(Number) };
    case "texts":
    case "booleans":
      return { tag: kind, val: nulls((v) => v) };
    default:
      return { tag: "values", val: values.map((v) => value(v, what)) };
  }
}

/**
 * A batch of rows, by column (`rows.ints("points")`, `rows.set("band", values)`) or by row
 * (`rows.map((row) => row.update(...))`); iterable, and `map`/`filter`/`flatMap` over rows.
 */
export class Rows {
  constructor(batch) {
    this.columns = batch.columns.map((c) => c.name);
    this.key = batch.key;
    this._cases = batch.columns.map((c) => c.values);
    this._index = new Map(this.columns.map((c, i) => [c, i]));
    this._n = batch.rows;
    this._typed = new Map();
    // Columns set with `set`, by the rows they cover ("" for all).
    this._sets = new Map();
  }

  get length() {
    return this._n;
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this._n; i++) yield new Row(this, i);
  }

  map(f) {
    return Array.from(this, f);
  }

  filter(f) {
    return Array.from(this).filter(f);
  }

  flatMap(f) {
    return Array.from(this).flatMap(f);
  }

  _case(column) {
    const i = this._index.get(column);
    if (i === undefined) {
      throw new PluginError(`no column \`${column}\` in the batch (columns: ${this.columns.join(", ")})`);
    }
    return this._cases[i];
  }

  /** The column's values as JavaScript values (null for NULL), in row order. */
  column(column) {
    const c = this._case(column);
    if (c.tag === "values") return c.val.map((v) => js(v, `column \`${column}\``));
    if (c.tag === "integers") return this.ints(column);
    if (c.tag === "bytes") return this.bytes(column);
    return c.val;
  }

  _of(column, accepts) {
    const key = `${accepts.tag}:${column}`;
    let typed = this._typed.get(key);
    if (typed === undefined) {
      typed = this._convert(column, accepts);
      this._typed.set(key, typed);
    }
    return typed;
  }

  _convert(column, accepts) {
    const got = this._case(column);
    const values = got.val;
    if (got.tag === accepts.tag) {
      if (got.tag === "integers") return checkedIntegers(values, column);
      if (got.tag === "bytes") return values.map((v) => (v === null ? null : js({ tag: "bytes", val: v })));
      return values;
    }
    if (got.tag === "values") {
      return values.map((v, i) => {
        if (v.tag === "null") return null;
        if (!accepts.cells.includes(v.tag)) {
          throw new PluginError(`column \`${column}\`, row ${i}: expected ${accepts.what}, got ${v.tag}`);
        }
        return js(v, `column \`${column}\``);
      });
    }
    if (accepts.tag === "floats" && got.tag === "integers") return checkedIntegers(values, column);
    if (values.every((v) => v === null)) return values;
    throw new PluginError(`column \`${column}\`: expected ${accepts.what}, got ${got.tag === "bytes" ? "bytes" : got.tag.replace(/s$/, "")}`);
  }

  /** The column as integers (null for NULL); a PluginError if it holds anything else. */
  ints(column) {
    return this._of(column, INT);
  }

  /** The column as numbers (null for NULL). */
  floats(column) {
    return this._of(column, FLOAT);
  }

  /** The column as strings (null for NULL). */
  texts(column) {
    return this._of(column, TEXT);
  }

  /** The column as booleans (null for NULL). */
  bools(column) {
    return this._of(column, BOOL);
  }

  /** The column as Uint8Arrays (null for NULL). */
  bytes(column) {
    return this._of(column, BYTES);
  }

  /**
   * Sets `column` of the target rows to `values`: one value per row of the batch, or per entry of
   * `rows` (the rows to change, as positions or `Row`s; the others are left alone). A row may be
   * set by calls with the same `rows` only.
   */
  set(column, values, rows = null) {
    values = Array.from(values);
    if (rows !== null) {
      rows = Array.from(rows, (r) => (r instanceof Row ? r._i : r));
      const bad = rows.findIndex((r) => !Number.isInteger(r) || r < 0 || r >= this._n);
      if (bad >= 0) {
        throw new PluginError(
          `set(\`${column}\`): ${String(rows[bad])} is not a row of this batch (0 to ${this._n - 1}, or a Row)`,
        );
      }
    }
    const expected = rows === null ? this._n : rows.length;
    if (values.length !== expected) {
      throw new PluginError(`set(\`${column}\`): ${values.length} values for ${expected} rows`);
    }
    const key = rows === null ? "" : rows.join(",");
    let group = this._sets.get(key);
    if (group === undefined) {
      group = { rows, set: new Map() };
      this._sets.set(key, group);
    }
    group.set.set(column, toColumn(values, column));
  }

  _output(result) {
    const updates = [...this._sets.values()].map((g) => ({
      rows: g.rows,
      set: [...g.set].map(([name, values]) => ({ name, values })),
    }));
    const changes = [];
    const byColumns = new Map();
    for (const item of result ?? []) {
      if (item instanceof RowUpdate) {
        const key = item.names.join("\u0000");
        let group = byColumns.get(key);
        if (group === undefined) {
          group = { names: item.names, rows: [], values: item.names.map(() => []) };
          byColumns.set(key, group);
        }
        group.rows.push(item.row);
        item.values.forEach((v, j) => group.values[j].push(v));
      } else if (item !== null && item !== undefined) {
        changes.push(item);
      }
    }
    for (const g of byColumns.values()) {
      updates.push({ rows: g.rows, set: g.names.map((name, j) => ({ name, values: toColumn(g.values[j], name) })) });
    }
    return { updates, changes };
  }
}

/** `row.update(...)`: the host fills in the row's key. */
class RowUpdate {
  constructor(row, names, values) {
    this.row = row;
    this.names = names;
    this.values = values;
  }
}

/** One row of a batch. */
export class Row {
  constructor(rows, i) {
    this._rows = rows;
    this._i = i;
  }

  /** The column's value as a column value (`{tag, val}`). */
  raw(column) {
    const c = this._rows._case(column);
    const v = c.val[this._i];
    if (c.tag === "values") return v;
    // A key that lost precision on the way in would name another row.
    if (c.tag === "integers" && v !== null) exactInteger(v, `column \`${column}\``);
    return value(v, `column \`${column}\``);
  }

  /** The column's value as a JavaScript value (null for NULL). */
  get(column) {
    const c = this._rows._case(column);
    const v = c.val[this._i];
    if (c.tag === "values") return js(v, `column \`${column}\``);
    if (v === null) return null;
    if (c.tag === "integers") return exactInteger(v, `column \`${column}\``);
    return c.tag === "bytes" ? js({ tag: "bytes", val: v }) : v;
  }

  int(column) {
    return this._rows._of(column, INT)[this._i];
  }

  float(column) {
    return this._rows._of(column, FLOAT)[this._i];
  }

  text(column) {
    return this._rows._of(column, TEXT)[this._i];
  }

  bool(column) {
    return this._rows._of(column, BOOL)[this._i];
  }

  bytes(column) {
    return this._rows._of(column, BYTES)[this._i];
  }

  /** The values of the batch's key columns for this row (`{tag, val}` each). */
  key() {
    return this._rows.key.map((k) => this.raw(k));
  }

  /** Sets columns of the target row with this row's key: `row.update({ band: "gold" })`. */
  update(columns) {
    return new RowUpdate(this._i, Object.keys(columns), Object.values(columns));
  }

  /** Deletes the target row with this row's key. */
  delete() {
    return { tag: "delete", val: this.key() };
  }
}

/** Inserts a target row with these columns. */
export function insert(columns) {
  return { tag: "insert", val: assignments(columns) };
}

/** Inserts a target row, or updates the one with the same key. */
export function upsert(columns) {
  return { tag: "upsert", val: assignments(columns) };
}

/** Deletes the target row whose key columns have these values (in the manifest's order). */
export function deleteKey(key) {
  return { tag: "delete", val: key.map((v, i) => value(v, `key value ${i + 1}`)) };
}

/** Where an error was thrown, from its stack: the first frame outside this SDK. */
function place(e) {
  const frames = String(e?.stack ?? "")
    .split("\n")
    .map((l) => /at (?:(\S+) )?\(?([^()]*?):(\d+)(?::\d+)?\)?\s*$/.exec(l.trim()))
    .filter((m) => m && !m[2].includes("runner-plugin"));
  if (frames.length === 0) return "";
  const [, fn, file, line] = frames[0];
  const name = file.split("/").pop();
  return fn ? ` (${name}:${line} in ${fn})` : ` (${name}:${line})`;
}

/** An error as the one line an operator needs: its type, message and where it was thrown. */
export function oneLine(e) {
  if (e instanceof PluginError) return e.message + place(e);
  if (e instanceof Error) return `${e.name}: ${e.message}${place(e)}`;
  return String(e);
}

/**
 * The component's exports: `name` (e.g. `score-band 1.0.0`) and `process(rows)`, which returns
 * changes (`row.update(...)`, `insert(...)`, …), sets columns with `rows.set`, or both.
 * Use as `export const { describe, process } = backfill(name, process)`.
 */
export function backfill(name, process) {
  return {
    describe() {
      return name;
    },
    process(batch) {
      try {
        const rows = new Rows(batch);
        return rows._output(process(rows));
      } catch (e) {
        // A thrown string is the component's error value; an Error object would not reach the host.
        throw oneLine(e);
      }
    },
  };
}

// The host's capabilities: each works only when the backfill's manifest grants it.

/** Capability `log`: a line in the host's log (`level`: trace, debug, info, warn, error). */
export function log(message, level = "info") {
  host.log(level, String(message));
}

/** Capability `config`: a configuration value from the manifest, or null. */
export function config(key) {
  return host.config(key) ?? null;
}

function hostCall(f) {
  try {
    return f();
  } catch (e) {
    throw new PluginError(String(e));
  }
}

/** Capability `lookup`: rows of a read-only query, as arrays of JavaScript values. */
export function lookup(query, ...params) {
  const rows = hostCall(() => host.lookup(query, params.map((p, i) => value(p, `lookup parameter ${i + 1}`))));
  return rows.map((row) => row.map((v) => js(v, "a lookup value")));
}

/** Capability `http`: `{status, headers, body}` of a request to an allow-listed origin. */
export function http(method, url, headers = [], body = null) {
  return hostCall(() => host.http({ method, url, headers, body }));
}

/** Capability `clock`: milliseconds since the Unix epoch. */
export function nowMs() {
  return host.nowMs();
}

/** Capability `random`: `n` random bytes. */
export function random(n) {
  return host.random(n);
}
