//! PostgreSQL's catalog, read with the server's own printers (`format_type`,
//! `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`), so that
//! what is compared is what the server would dump. System schemas and objects that belong to
//! an extension are not the user's schema and are left out.

use super::{Exclude, IntrospectError};
use crate::model::{Column, Constraint, ConstraintKind, Function, Index, Name, Other, Schema, Table, View};
use runner_db::Driver;

mod audit;
mod objects;

/// A namespace of the user's: not a system one, not a temporary one.
const USER_NAMESPACE: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// `oid` (of catalog `class`) is not an extension's member.
fn not_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{class}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

pub async fn read(db: &mut dyn Driver, exclude: &Exclude) -> Result<Schema, IntrospectError> {
    // With nothing on the search path the printers qualify every name outside pg_catalog
    // (`REFERENCES public.users(id)`), so that the SQL means the same on a server whose
    // search path differs.
    db.query("SELECT set_config('search_path', '', false)").await?;
    let mut schema = Schema::default();
    let rows = db
        .query(&format!(
            "SELECT n.nspname FROM pg_namespace n WHERE {USER_NAMESPACE} AND {} ORDER BY 1",
            not_extension("pg_namespace", "n.oid")
        ))
        .await?;
    schema.schemas = rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
    let mut serials = Vec::new();
    read_tables(db, exclude, &mut schema, &mut serials).await?;
    read_partitions(db, exclude, &mut schema).await?;
    read_constraints(db, &mut schema).await?;
    read_views(db, &mut schema).await?;
    read_enums(db, &mut schema).await?;
    read_functions(db, &mut schema).await?;
    read_indexes(db, &mut schema).await?;
    read_others(db, &mut schema).await?;
    audit::read(db, &mut schema).await?;
    objects::read(db, exclude, &mut schema).await?;
    for seq in serials {
        schema.sequences.remove(&seq);
    }
    Ok(schema)
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn opt(row: &[Option<String>], i: usize) -> Option<String> {
    row.get(i).cloned().flatten().filter(|s| !s.is_empty())
}

/// Reads tables and their columns; the sequences of `serial` columns go into `serials`.
async fn read_tables(
    db: &mut dyn Driver,
    exclude: &Exclude,
    schema: &mut Schema,
    serials: &mut Vec<Name>,
) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, \
                    CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, a.attidentity::text, \
                    CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, \
                    CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, \
                    (SELECT sc.relname FROM pg_depend d \
                       JOIN pg_sequence s ON s.seqrelid = d.objid JOIN pg_class sc ON sc.oid = s.seqrelid \
                      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'a' \
                        AND sc.relnamespace = c.relnamespace AND sc.relname = c.relname || '_' || a.attname || '_seq' \
                        AND s.seqtypid = a.atttypid AND s.seqstart = 1 AND s.seqincrement = 1 AND s.seqmin = 1 AND s.seqcache = 1 \
                        AND NOT s.seqcycle AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) \
                        AND s.seqmax = CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END \
                        AND pg_get_expr(ad.adbin, ad.adrelid) = format('nextval(%L::regclass)', quote_ident(n.nspname) || '.' || quote_ident(sc.relname))) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace \
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_NAMESPACE} AND {} \
             ORDER BY n.nspname, c.relname, a.attnum",
            not_extension("pg_class", "c.oid")
        ))
        .await?;
    for r in rows {
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        if exclude.table(&name) {
            continue;
        }
        let table = schema.tables.entry(name.clone()).or_insert_with(|| Table {
            name,
            columns: Vec::new(),
            constraints: Default::default(),
            definition: None,
            partition_by: None,
            partition_of: None,
        });
        let Some(column) = opt(&r, 2) else { continue }; // a table without columns
        // A column made by `serial`: its sequence is part of it, and it is written as `serial`.
        let serial = opt(&r, 9).and_then(|seq| {
            let ty = match text(&r, 3).as_str() {
                "smallint" => "smallserial",
                "integer" => "serial",
                "bigint" => "bigserial",
                _ => return None,
            };
            Some((ty, seq))
        });
        if let Some((_, seq)) = &serial {
            serials.push(Name::new(&table.name.schema, seq));
        }
        table.columns.push(Column {
            name: column,
            data_type: serial.as_ref().map_or_else(|| text(&r, 3), |(ty, _)| ty.to_string()),
            not_null: text(&r, 4) == "true",
            default: if serial.is_some() { None } else { opt(&r, 5) },
            identity: match text(&r, 6).as_str() {
                "a" => Some("ALWAYS"),
                "d" => Some("BY DEFAULT"),
                _ => None,
            },
            generated: opt(&r, 7),
            collation: opt(&r, 8),
        });
    }
    Ok(())
}

/// Partitions (tables of their own whose columns are their parent's) and partition keys.
async fn read_partitions(db: &mut dyn Driver, exclude: &Exclude, schema: &mut Schema) -> Result<(), IntrospectError> {
    let partitions = db
        .query(&format!(
            "SELECT n.nspname, c.relname, pn.nspname, p.relname, pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class p ON p.oid = i.inhparent \
             JOIN pg_namespace pn ON pn.oid = p.relnamespace \
             WHERE c.relispartition AND c.relkind IN ('r', 'p') AND {USER_NAMESPACE} AND {}",
            not_extension("pg_class", "c.oid")
        ))
        .await?;
    for r in partitions {
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        if exclude.table(&name) {
            continue;
        }
        let parent = Name::new(&text(&r, 2), &text(&r, 3));
        let table = Table {
            name: name.clone(),
            columns: Vec::new(),
            constraints: Default::default(),
            definition: None,
            partition_by: None,
            partition_of: Some((parent, text(&r, 4))),
        };
        schema.tables.insert(name, table);
    }
    let keys = db
        .query(&format!(
            "SELECT n.nspname, c.relname, pg_get_partkeydef(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p' AND {USER_NAMESPACE}"
        ))
        .await?;
    for r in keys {
        if let Some(t) = schema.tables.get_mut(&Name::new(&text(&r, 0), &text(&r, 1))) {
            t.partition_by = opt(&r, 2);
        }
    }
    Ok(())
}

async fn read_constraints(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid, true) \
             FROM pg_constraint con \
             JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE con.contype IN ('p', 'u', 'f', 'c', 'x') AND con.conparentid = 0 AND {USER_NAMESPACE} \
             ORDER BY 1, 2, 3"
        ))
        .await?;
    for r in rows {
        let Some(table) = schema.tables.get_mut(&Name::new(&text(&r, 0), &text(&r, 1))) else { continue };
        let kind = match text(&r, 3).as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "f" => ConstraintKind::ForeignKey,
            "c" => ConstraintKind::Check,
            _ => ConstraintKind::Exclusion,
        };
        let name = text(&r, 2);
        table.constraints.insert(name.clone(), Constraint { name, kind, definition: text(&r, 4) });
    }
    Ok(())
}

async fn read_indexes(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, ic.relname, tn.nspname, tc.relname, pg_get_indexdef(i.indexrelid) \
             FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = ic.relnamespace \
             JOIN pg_class tc ON tc.oid = i.indrelid \
             JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
             WHERE tc.relkind IN ('r', 'p', 'm') AND NOT ic.relispartition AND {USER_NAMESPACE} \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')) \
               AND {} \
             ORDER BY 1, 2",
            not_extension("pg_class", "ic.oid")
        ))
        .await?;
    for r in rows {
        let table = Name::new(&text(&r, 2), &text(&r, 3));
        if !schema.tables.contains_key(&table) && !schema.views.contains_key(&table) {
            continue; // an excluded table's index
        }
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        schema.indexes.insert(name.clone(), Index { name, table, definition: text(&r, 4) });
    }
    Ok(())
}

async fn read_views(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid, true), coalesce(array_to_string(c.reloptions, ','), ''), \
                    (SELECT string_agg(DISTINCT quote_ident(dn.nspname) || '.' || quote_ident(dc.relname), ',') \
                       FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid \
                       JOIN pg_class dc ON dc.oid = d.refobjid JOIN pg_namespace dn ON dn.oid = dc.relnamespace \
                      WHERE rw.ev_class = c.oid AND d.refobjid <> c.oid AND dc.relkind IN ('r', 'v', 'm', 'p')), \
                    (SELECT string_agg(DISTINCT pn.nspname || chr(31) || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', chr(30)) \
                       FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid \
                        AND d.refclassid = 'pg_proc'::regclass \
                       JOIN pg_proc p ON p.oid = d.refobjid JOIN pg_namespace pn ON pn.oid = p.pronamespace \
                      WHERE rw.ev_class = c.oid AND pn.nspname NOT IN ('pg_catalog', 'information_schema')) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('v', 'm') AND {USER_NAMESPACE} AND {} \
             ORDER BY 1, 2",
            not_extension("pg_class", "c.oid")
        ))
        .await?;
    for r in rows {
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        let depends_on = text(&r, 5).split(',').filter(|s| !s.is_empty()).map(parse_qualified).collect();
        let options = text(&r, 4).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let calls = text(&r, 6)
            .split('\u{1e}')
            .filter_map(|f| f.split_once('\u{1f}'))
            .map(|(schema, function)| Name::new(schema, function))
            .collect();
        let view = View {
            name: name.clone(),
            materialized: text(&r, 2) == "m",
            query: text(&r, 3),
            options,
            depends_on,
            calls,
        };
        schema.views.insert(name, view);
    }
    Ok(())
}

async fn read_enums(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, t.typname, e.enumlabel FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid \
             WHERE t.typtype = 'e' AND {USER_NAMESPACE} AND {} ORDER BY 1, 2, e.enumsortorder",
            not_extension("pg_type", "t.oid")
        ))
        .await?;
    for r in rows {
        schema.enums.entry(Name::new(&text(&r, 0), &text(&r, 1))).or_default().push(text(&r, 2));
    }
    Ok(())
}

async fn read_functions(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), (p.prokind = 'p')::text, \
                    coalesce(pg_get_function_result(p.oid), ''), pg_get_functiondef(p.oid) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prokind IN ('f', 'p') AND {USER_NAMESPACE} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i') \
             ORDER BY 1, 2, 3",
            not_extension("pg_proc", "p.oid")
        ))
        .await?;
    for r in rows {
        let f = Function {
            name: Name::new(&text(&r, 0), &text(&r, 1)),
            identity_args: text(&r, 2),
            procedure: text(&r, 3) == "true",
            result: text(&r, 4),
            definition: text(&r, 5),
        };
        schema.functions.insert(Name::new(&f.name.schema, &format!("{}({})", f.name.name, f.identity_args)), f);
    }
    Ok(())
}

/// `schema.name` as `quote_ident` printed both parts (a dot inside quotes is part of a name).
fn parse_qualified(s: &str) -> Name {
    let mut parts = Vec::new();
    let (mut cur, mut quoted, mut chars) = (String::new(), false, s.chars().peekable());
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    let name = parts.pop().unwrap_or_default();
    Name::new(&parts.pop().unwrap_or_default(), &name)
}

/// The kinds the differ does not handle yet, each with what the server prints for it.
async fn read_others(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let class = not_extension("pg_class", "c.oid");
    let queries = [
        format!(
            "SELECT 'foreign table', n.nspname, c.relname, '' \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'f' AND {USER_NAMESPACE} AND {class}"
        ),
        format!(
            "SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'window function' END, n.nspname, \
                    p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', '' \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid \
             WHERE (p.prokind = 'w' OR (p.prokind = 'a' AND (a.aggkind <> 'n' OR a.aggmtransfn <> 0))) \
               AND {USER_NAMESPACE} AND {}",
            not_extension("pg_proc", "p.oid")
        ),
    ];
    for q in queries {
        for r in db.query(&q).await? {
            let (kind, name) = (text(&r, 0), Name::new(&text(&r, 1), &text(&r, 2)));
            schema.others.insert((kind.clone(), name.clone()), Other { kind, name, definition: text(&r, 3) });
        }
    }
    Ok(())
}
