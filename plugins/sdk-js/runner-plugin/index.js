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
// `runner` builds a folder holding an `app.js` like this one with componentize-qjs (QuickJS; the
// version it pins, installed with npm on first use) and this SDK. The module must export
// `describe` and `process`, as `backfill` returns them.
//
// Errors are values at the boundary: anything `process` throws fails the batch (the database is
// left untouched) with one line, `TypeError: cannot read property 'x' of undefined (app.js:12 in
// band)`. The SDK's own errors (a missing column, a value of another type) are `PluginError`s
// that name the column.
//
// Integers are JS numbers. The QuickJS runtime carries 64-bit integers as numbers, which hold
// integers exactly only up to 2^53 (Number.MAX_SAFE_INTEGER); a bigger one fails the batch,
// naming its column, rather than turning into a neighbouring value (and a wrong key).

import host from "runner:plugin/host@0.1.0";

/** A plugin's own failure: fails the batch with this message. */
export class PluginError extends Error {
  constructor(message) {
    super(message);
    this.name = "PluginError";
  }
}

function exactInteger(n, what) {
  if (!Number.isSafeInteger(n)) {
    throw new PluginError(
      `${what}: an integer beyond 2^53 (it arrived as ${n}), which JavaScript numbers cannot hold exactly`,
    );
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
      return Number.isInteger(v) ? { tag: "integer", val: exactInteger(v, what) } : { tag: "float", val: v };
    case "bigint":
      return { tag: "integer", val: exactInteger(Number(v), what) };
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

/** A batch of rows with access by column name; iterable, and `map`/`filter`/`flatMap` over rows. */
export class Rows {
  constructor(batch) {
    this.columns = batch.columns;
    this.key = batch.key;
    this._rows = batch.rows;
    this._index = new Map(batch.columns.map((c, i) => [c, i]));
    this._keyPositions = batch.key.filter((k) => this._index.has(k)).map((k) => this._index.get(k));
  }

  get length() {
    return this._rows.length;
  }

  *[Symbol.iterator]() {
    for (const values of this._rows) yield new Row(this, values);
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
}

const KINDS = { integer: "an integer", float: "a number", text: "text", boolean: "a boolean", bytes: "bytes" };

/** One row of a batch. */
export class Row {
  constructor(rows, values) {
    this._rows = rows;
    this._values = values;
  }

  /** The column's value as it came (`{tag, val}`). */
  raw(column) {
    const i = this._rows._index.get(column);
    if (i === undefined) {
      throw new PluginError(`no column \`${column}\` in the batch (columns: ${this._rows.columns.join(", ")})`);
    }
    return this._values[i];
  }

  /** The column's value as a JavaScript value (null for NULL). */
  get(column) {
    return js(this.raw(column), `column \`${column}\``);
  }

  _typed(column, ...tags) {
    const v = this.raw(column);
    if (v.tag === "null") return null;
    if (!tags.includes(v.tag)) {
      throw new PluginError(`column \`${column}\`: expected ${KINDS[tags[0]]}, got ${v.tag}`);
    }
    return js(v, `column \`${column}\``);
  }

  int(column) {
    return this._typed(column, "integer");
  }

  float(column) {
    return this._typed(column, "float", "integer");
  }

  text(column) {
    return this._typed(column, "text");
  }

  bool(column) {
    return this._typed(column, "boolean");
  }

  bytes(column) {
    return this._typed(column, "bytes");
  }

  /** The values of the batch's key columns for this row (as they came). */
  key() {
    return this._rows._keyPositions.map((i) => {
      const v = this._values[i];
      // A key that lost precision on the way in would name another row.
      if (v.tag === "integer") exactInteger(v.val, `key column \`${this._rows.columns[i]}\``);
      return v;
    });
  }

  /** Sets columns of the target row with this row's key: `row.update({ band: "gold" })`. */
  update(columns) {
    return { tag: "update", val: { key: this.key(), set: assignments(columns) } };
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
 * The component's exports: `name` (e.g. `score-band 1.0.0`) and `process(rows) -> changes`.
 * Use as `export const { describe, process } = backfill(name, process)`.
 */
export function backfill(name, process) {
  return {
    describe() {
      return name;
    },
    process(batch) {
      try {
        return Array.from(process(new Rows(batch)));
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
