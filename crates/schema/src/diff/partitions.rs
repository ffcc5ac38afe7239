//! Declarative partitioning: a partition is a table of its own whose columns are its parent's,
//! created `PARTITION OF` it after it, dropped before it. A partition whose bound or parent
//! changes is detached and attached again (PostgreSQL checks the rows against the new bound);
//! a table whose partition key changes, or that becomes or stops being partitioned, would need
//! its rows moved to a new table: reported, not attempted.

use super::{Change, Unhandled};
use crate::model::{Name, Schema};
use crate::statement::Statement;

/// How many parents up `name` has (0 for a table that is no partition).
pub(super) fn depth(s: &Schema, name: &Name) -> usize {
    let mut n = 0;
    let mut at = name;
    while let Some((parent, _)) = s.tables.get(at).and_then(|t| t.partition_of.as_ref()) {
        n += 1;
        at = parent;
        if n > 64 {
            break; // a catalog has no cycle; this only bounds the walk
        }
    }
    n
}

/// Partitions that move to another bound or parent are detached, before tables are dropped
/// (their old parent may go, which would take them along); tables whose partitioning changes
/// are reported.
pub(super) fn detach(from: &Schema, to: &Schema, out: &mut Vec<Statement>, unhandled: &mut Vec<Unhandled>) {
    for (name, t) in &to.tables {
        let Some(f) = from.tables.get(name) else { continue };
        if f.partition_by != t.partition_by {
            unhandled.push(Unhandled { kind: "partition key".into(), name: name.clone(), change: Change::Changed });
        }
        match (&f.partition_of, &t.partition_of) {
            (Some(old), Some(new)) if old != new => {
                out.push(format!("ALTER TABLE {} DETACH PARTITION {};", old.0.sql(), name.sql()).into());
            }
            (None, Some(_)) | (Some(_), None) => unhandled.push(Unhandled {
                kind: "partition of another table".into(),
                name: name.clone(),
                change: Change::Changed,
            }),
            _ => {}
        }
    }
}

/// The partitions detached above, attached with their new bound, once every table exists.
pub(super) fn attach(from: &Schema, to: &Schema, out: &mut Vec<Statement>) {
    for (name, t) in &to.tables {
        let old = from.tables.get(name).and_then(|f| f.partition_of.as_ref());
        if let (Some(old), Some(new)) = (old, &t.partition_of)
            && old != new
        {
            out.push(format!("ALTER TABLE {} ATTACH PARTITION {} {};", new.0.sql(), name.sql(), new.1).into());
        }
    }
}
