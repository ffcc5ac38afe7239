//! `serial` is shorthand: an integer column `DEFAULT nextval('t_c_seq')` and a sequence
//! `t_c_seq` owned by it. PostgreSQL keeps the parts, not the shorthand: renaming the table or
//! the column keeps the sequence's name, after which the catalog reads as the parts (runner reads
//! a column as `serial` only where its sequence is named `table_column_seq`). Where the two sides
//! of a diff disagree on the shorthand, the column is compared as its parts on both, so the
//! sequence (and the value it has reached) is kept, and at most its owner, its name or the
//! column's default change.

use crate::model::{Column, Name, ObjectKind, Schema, Sequence};
use crate::renames::printed_part;

/// The sequence `serial` makes for `table.column`.
pub(crate) fn sequence_of(table: &Name, column: &str) -> Name {
    Name::new(&table.schema, &format!("{}_{column}_seq", table.name))
}

/// `nextval('schema.seq'::regclass)`, as the catalog prints a column's default (with an empty
/// search path). A name printed differently only makes the default look changed.
pub(crate) fn nextval(sequence: &Name) -> String {
    let printed = format!("{}.{}", printed_part(&sequence.schema), printed_part(&sequence.name));
    format!("nextval({}::regclass)", runner_db::quote_literal(&printed))
}

/// The column `table.column` of `s`, a `serial` one, written as its parts: the integer type, a
/// default on `sequence`, and `sequence` owned by it.
pub(crate) fn desugar(s: &mut Schema, table: &Name, column: &str, sequence: Name) {
    let Some(c) = s.tables.get_mut(table).and_then(|t| t.columns.iter_mut().find(|c| c.name == column)) else {
        return;
    };
    let (data_type, max) = match c.data_type.as_str() {
        "smallserial" => ("smallint", i64::from(i16::MAX)),
        "serial" => ("integer", i64::from(i32::MAX)),
        "bigserial" => ("bigint", i64::MAX),
        _ => return,
    };
    c.data_type = data_type.into();
    c.default = Some(nextval(&sequence));
    s.sequences.insert(
        sequence.clone(),
        Sequence {
            name: sequence,
            data_type: data_type.into(),
            start: 1,
            increment: 1,
            min: 1,
            max,
            cache: 1,
            cycle: false,
            owned_by: Some((table.clone(), column.to_string())),
        },
    );
}

/// `from` and `to` with every `serial` column written as its parts where the other side does
/// not have it as the same `serial` column: a column of one table that is `serial` on one side
/// only (or a different `serial`), and a `serial` whose sequence is a sequence of its own on
/// the other side (a table renamed, whose sequence kept its name).
pub(crate) fn align(from: &mut Schema, to: &mut Schema) {
    loop {
        let mut changes: Vec<(bool, Name, String)> = Vec::new();
        for (side, this, other) in [(true, &*from, &*to), (false, &*to, &*from)] {
            for t in this.tables.values() {
                for c in t.columns.iter().filter(|c| c.is_serial()) {
                    let there: Option<&Column> =
                        other.tables.get(&t.name).and_then(|o| o.columns.iter().find(|x| x.name == c.name));
                    let differs = there.is_some_and(|x| x != c);
                    let taken = other.sequences.contains_key(&sequence_of(&t.name, &c.name));
                    if differs || taken {
                        changes.push((side, t.name.clone(), c.name.clone()));
                    }
                }
            }
        }
        if changes.is_empty() {
            return;
        }
        for (side, table, column) in changes {
            let s = if side { &mut *from } else { &mut *to };
            desugar(s, &table, &column, sequence_of(&table, &column));
        }
    }
}

/// Sequences that only changed their name (the same options and owner): renamed rather than
/// dropped and created, which would start them over. `from` is changed as the rename changes
/// it (the defaults that call it print the new name); the statements are returned.
pub(crate) fn renamed(from: &mut Schema, to: &Schema) -> Vec<String> {
    let same = |a: &Sequence, b: &Sequence| Sequence { name: b.name.clone(), ..a.clone() } == *b;
    let gone: Vec<Sequence> =
        from.sequences.values().filter(|s| !to.sequences.contains_key(&s.name)).cloned().collect();
    let mut out = Vec::new();
    for old in gone {
        let new = to
            .sequences
            .values()
            .find(|n| !from.sequences.contains_key(&n.name) && n.name.schema == old.name.schema && same(&old, n));
        let Some(new) = new else { continue };
        out.push(format!("ALTER SEQUENCE {} RENAME TO {};", old.name.sql(), runner_db::quote_part(&new.name.name)));
        from.sequences.remove(&old.name);
        from.sequences.insert(new.name.clone(), new.clone());
        let (was, is) = (nextval(&old.name), nextval(&new.name));
        for c in from.tables.values_mut().flat_map(|t| t.columns.iter_mut()) {
            if c.default.as_deref() == Some(was.as_str()) {
                c.default = Some(is.clone());
            }
        }
        from.grants = std::mem::take(&mut from.grants)
            .into_iter()
            .map(|(mut on, p)| {
                if on.kind == ObjectKind::Sequence && on.object == old.name {
                    on.object = new.name.clone();
                }
                (on, p)
            })
            .collect();
        from.comments = std::mem::take(&mut from.comments)
            .into_iter()
            .map(|(mut on, text)| {
                if on.kind == ObjectKind::Sequence && on.object == old.name {
                    on.object = new.name.clone();
                }
                (on, text)
            })
            .collect();
    }
    out
}
