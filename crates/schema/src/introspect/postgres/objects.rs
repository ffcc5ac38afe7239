//! The catalog's other objects: extensions, sequences, domains, triggers, policies, row-level
//! security and comments, each read as the server prints it.

use super::{USER_NAMESPACE, not_extension, opt, text};
use crate::introspect::{Exclude, IntrospectError};
use crate::model::{
    Aggregate, CommentOn, Domain, GrantOn, Name, ObjectKind, Policy, Privilege, Schema, Sequence, Trigger,
};
use runner_db::Driver;

pub(super) async fn read(db: &mut dyn Driver, exclude: &Exclude, schema: &mut Schema) -> Result<(), IntrospectError> {
    for r in db
        .query("SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'")
        .await?
    {
        schema.extensions.insert(text(&r, 0), text(&r, 1));
    }
    read_sequences(db, schema).await?;
    read_domains(db, schema).await?;
    let excluded = |n: &Name| exclude.table(n);
    for r in db
        .query(&format!(
            "SELECT n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid), \
                    (SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_depend d \
                       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                      WHERE d.classid = 'pg_trigger'::regclass AND d.objid = tg.oid AND d.refobjsubid > 0) \
             FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND {USER_NAMESPACE} AND {}",
            not_extension("pg_class", "c.oid")
        ))
        .await?
    {
        let table = Name::new(&text(&r, 0), &text(&r, 1));
        if !excluded(&table) {
            let columns = text(&r, 4).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
            let t = Trigger { table: table.clone(), name: text(&r, 2), definition: text(&r, 3), columns };
            schema.triggers.insert((table, t.name.clone()), t);
        }
    }
    read_policies(db, schema).await?;
    for r in db
        .query(&format!(
            "SELECT n.nspname, c.relname, c.relrowsecurity::text, c.relforcerowsecurity::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity) AND {USER_NAMESPACE}"
        ))
        .await?
    {
        schema
            .row_security
            .insert(Name::new(&text(&r, 0), &text(&r, 1)), (text(&r, 2) == "true", text(&r, 3) == "true"));
    }
    read_composites(db, schema).await?;
    read_ranges(db, schema).await?;
    read_aggregates(db, schema).await?;
    read_grants(db, exclude, schema).await?;
    read_comments(db, exclude, schema).await
}

async fn read_ranges(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, t.typname, concat_ws(', ', \
                    'SUBTYPE = ' || format_type(r.rngsubtype, NULL), \
                    'SUBTYPE_OPCLASS = ' || quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname), \
                    CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation \
                         THEN 'COLLATION = ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END, \
                    CASE WHEN r.rngcanonical <> 0 THEN 'CANONICAL = ' || r.rngcanonical::regproc::text END, \
                    CASE WHEN r.rngsubdiff <> 0 THEN 'SUBTYPE_DIFF = ' || r.rngsubdiff::regproc::text END, \
                    'MULTIRANGE_TYPE_NAME = ' || quote_ident(mn.nspname) || '.' || quote_ident(mt.typname)) \
             FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid JOIN pg_namespace n ON n.oid = t.typnamespace \
             JOIN pg_type st ON st.oid = r.rngsubtype \
             JOIN pg_opclass opc ON opc.oid = r.rngsubopc JOIN pg_namespace opn ON opn.oid = opc.opcnamespace \
             LEFT JOIN pg_collation co ON co.oid = r.rngcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace \
             JOIN pg_type mt ON mt.oid = r.rngmultitypid JOIN pg_namespace mn ON mn.oid = mt.typnamespace \
             WHERE {USER_NAMESPACE} AND {}",
            not_extension("pg_type", "t.oid")
        ))
        .await?;
    for r in rows {
        schema.ranges.insert(Name::new(&text(&r, 0), &text(&r, 1)), text(&r, 2));
    }
    Ok(())
}

async fn read_aggregates(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), format_type(a.aggtranstype, NULL), \
                    concat_ws(', ', \
                    'SFUNC = ' || a.aggtransfn::regproc::text, \
                    'STYPE = ' || format_type(a.aggtranstype, NULL), \
                    CASE WHEN a.aggtransspace <> 0 THEN 'SSPACE = ' || a.aggtransspace END, \
                    CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC = ' || a.aggfinalfn::regproc::text END, \
                    CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END, \
                    CASE WHEN a.aggcombinefn <> 0 THEN 'COMBINEFUNC = ' || a.aggcombinefn::regproc::text END, \
                    CASE WHEN a.aggserialfn <> 0 THEN 'SERIALFUNC = ' || a.aggserialfn::regproc::text END, \
                    CASE WHEN a.aggdeserialfn <> 0 THEN 'DESERIALFUNC = ' || a.aggdeserialfn::regproc::text END, \
                    CASE WHEN a.agginitval IS NOT NULL THEN 'INITCOND = ' || quote_literal(a.agginitval) END, \
                    CASE WHEN a.aggsortop <> 0 THEN 'SORTOP = ' || a.aggsortop::regoperator::text END, \
                    CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END) \
             FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE a.aggkind = 'n' AND a.aggmtransfn = 0 AND {USER_NAMESPACE} AND {}",
            not_extension("pg_proc", "p.oid")
        ))
        .await?;
    for r in rows {
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        let signature = format!("{}({})", name.sql(), text(&r, 2));
        let aggregate = Aggregate {
            definition: format!("CREATE AGGREGATE {signature} ({});", text(&r, 4)),
            signature,
            state_type: text(&r, 3),
        };
        schema.aggregates.insert(Name::new(&name.schema, &format!("{}({})", name.name, text(&r, 2))), aggregate);
    }
    Ok(())
}

async fn read_composites(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, t.typname, a.attname, format_type(a.atttypid, a.atttypmod) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class c ON c.oid = t.typrelid \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE t.typtype = 'c' AND c.relkind = 'c' AND {USER_NAMESPACE} AND {} ORDER BY 1, 2, a.attnum",
            not_extension("pg_type", "t.oid")
        ))
        .await?;
    for r in rows {
        let attributes = schema.composites.entry(Name::new(&text(&r, 0), &text(&r, 1))).or_default();
        if let Some(a) = opt(&r, 2) {
            attributes.push((a, text(&r, 3)));
        }
    }
    Ok(())
}

/// Privileges on relations and schemas, as `aclexplode` lists them, leaving out what the
/// owner holds by owning (the owner differs from database to database, the grants do not).
async fn read_grants(db: &mut dyn Driver, exclude: &Exclude, schema: &mut Schema) -> Result<(), IntrospectError> {
    let grantee = "CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END";
    let queries = [
        format!(
            "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname, {grantee}, \
                    g.privilege_type, g.is_grantable::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) g \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND g.grantee <> c.relowner AND {USER_NAMESPACE} AND {}",
            not_extension("pg_class", "c.oid")
        ),
        format!(
            // A function's ACL is NULL until changed, which means EXECUTE for PUBLIC.
            "SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname, \
                    p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', {grantee}, \
                    g.privilege_type, g.is_grantable::text \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, \
                  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) g \
             WHERE p.prokind IN ('f', 'p') AND g.grantee <> p.proowner AND {USER_NAMESPACE} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')",
            not_extension("pg_proc", "p.oid")
        ),
        format!(
            "SELECT 'SCHEMA', n.nspname, n.nspname, {grantee}, g.privilege_type, g.is_grantable::text \
             FROM pg_namespace n, aclexplode(n.nspacl) g \
             WHERE g.grantee <> n.nspowner AND n.nspname <> 'public' AND {USER_NAMESPACE} AND {}",
            not_extension("pg_namespace", "n.oid")
        ),
    ];
    for q in queries {
        for r in db.query(&q).await? {
            let kind = ObjectKind::from_sql(&text(&r, 0));
            let object = Name::new(&text(&r, 1), &text(&r, 2));
            if exclude.table(&object) {
                continue;
            }
            let on = GrantOn { kind, object, grantee: text(&r, 3) };
            let privileges = schema.grants.entry(on).or_default();
            privileges.push(Privilege { name: text(&r, 4), grantable: text(&r, 5) == "true" });
            privileges.sort();
        }
    }
    Ok(())
}

async fn read_sequences(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart::text, s.seqincrement::text, \
                    s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle::text, tn.nspname, tc.relname, a.attname \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid \
             LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
                                  AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 \
             LEFT JOIN pg_class tc ON tc.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid \
             WHERE c.relkind = 'S' AND {USER_NAMESPACE} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass AND i.objid = c.oid AND i.deptype = 'i')",
            not_extension("pg_class", "c.oid")
        ))
        .await?;
    for r in rows {
        let number = |i: usize| text(&r, i).parse::<i64>().unwrap_or_default();
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        let owned_by = opt(&r, 10).map(|t| (Name::new(&text(&r, 9), &t), text(&r, 11)));
        let seq = Sequence {
            name: name.clone(),
            data_type: text(&r, 2),
            start: number(3),
            increment: number(4),
            min: number(5),
            max: number(6),
            cache: number(7),
            cycle: text(&r, 8) == "true",
            owned_by,
        };
        schema.sequences.insert(name, seq);
    }
    Ok(())
}

async fn read_domains(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull::text, t.typdefault, \
                    CASE WHEN t.typcollation <> bt.typcollation THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_type bt ON bt.oid = t.typbasetype \
             LEFT JOIN pg_collation co ON co.oid = t.typcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace \
             WHERE t.typtype = 'd' AND {USER_NAMESPACE} AND {}",
            not_extension("pg_type", "t.oid")
        ))
        .await?;
    for r in rows {
        let name = Name::new(&text(&r, 0), &text(&r, 1));
        let domain = Domain {
            name: name.clone(),
            base_type: text(&r, 2),
            not_null: text(&r, 3) == "true",
            default: opt(&r, 4),
            collation: opt(&r, 5),
            checks: Default::default(),
        };
        schema.domains.insert(name, domain);
    }
    let checks = db
        .query(&format!(
            "SELECT n.nspname, t.typname, con.conname, pg_get_constraintdef(con.oid) \
             FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE con.contype = 'c' AND {USER_NAMESPACE}"
        ))
        .await?;
    for r in checks {
        if let Some(d) = schema.domains.get_mut(&Name::new(&text(&r, 0), &text(&r, 1))) {
            d.checks.insert(text(&r, 2), text(&r, 3));
        }
    }
    Ok(())
}

async fn read_policies(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    let rows = db
        .query(&format!(
            "SELECT n.nspname, c.relname, pol.polname, pol.polpermissive::text, pol.polcmd::text, \
                    CASE WHEN pol.polroles = '{{0}}' THEN 'PUBLIC' \
                         ELSE (SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) FROM pg_roles r WHERE r.oid = ANY (pol.polroles)) END, \
                    pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid), \
                    (SELECT string_agg(a.attname, ',') FROM pg_depend d \
                       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                      WHERE d.classid = 'pg_policy'::regclass AND d.objid = pol.oid AND d.refobjsubid > 0) \
             FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_NAMESPACE}"
        ))
        .await?;
    for r in rows {
        let table = Name::new(&text(&r, 0), &text(&r, 1));
        let name = text(&r, 2);
        let command = match text(&r, 4).as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let mut definition = format!(
            "CREATE POLICY {} ON {} AS {} FOR {command} TO {}",
            runner_db::quote_part(&name),
            table.sql(),
            if text(&r, 3) == "true" { "PERMISSIVE" } else { "RESTRICTIVE" },
            text(&r, 5)
        );
        if let Some(using) = opt(&r, 6) {
            definition += &format!(" USING ({using})");
        }
        if let Some(check) = opt(&r, 7) {
            definition += &format!(" WITH CHECK ({check})");
        }
        let columns = text(&r, 8).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
        let policy = Policy { table: table.clone(), name: name.clone(), definition: definition + ";", columns };
        schema.policies.insert((table, name), policy);
    }
    Ok(())
}

async fn read_comments(db: &mut dyn Driver, exclude: &Exclude, schema: &mut Schema) -> Result<(), IntrospectError> {
    let queries = [
        format!(
            "SELECT CASE WHEN a.attname IS NOT NULL THEN 'COLUMN' \
                         ELSE CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' \
                                             WHEN 'i' THEN 'INDEX' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END END, \
                    n.nspname, c.relname, a.attname, d.description \
             FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0 \
             WHERE {USER_NAMESPACE} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'f') AND {}",
            not_extension("pg_class", "c.oid")
        ),
        format!(
            "SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname, p.proname, \
                    pg_get_function_identity_arguments(p.oid), d.description \
             FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid \
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND {USER_NAMESPACE} AND {}",
            not_extension("pg_proc", "p.oid")
        ),
        format!(
            "SELECT 'TYPE', n.nspname, t.typname, NULL, d.description \
             FROM pg_description d JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid \
             JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd') AND {USER_NAMESPACE} AND {}",
            not_extension("pg_type", "t.oid")
        ),
        format!(
            "SELECT CASE WHEN c.contypid <> 0 THEN 'DOMAIN CONSTRAINT' ELSE 'CONSTRAINT' END, n.nspname, \
                    coalesce(t.relname, ty.typname), c.conname, d.description \
             FROM pg_description d JOIN pg_constraint c ON d.classoid = 'pg_constraint'::regclass AND d.objoid = c.oid \
             JOIN pg_namespace n ON n.oid = c.connamespace \
             LEFT JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_type ty ON ty.oid = c.contypid \
             WHERE {USER_NAMESPACE} AND {}",
            not_extension("pg_constraint", "c.oid")
        ),
        format!(
            "SELECT 'SCHEMA', n.nspname, n.nspname, NULL, d.description \
             FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid \
             WHERE {USER_NAMESPACE} AND {}",
            not_extension("pg_namespace", "n.oid")
        ),
    ];
    for q in queries {
        for r in db.query(&q).await? {
            let kind = ObjectKind::from_sql(&text(&r, 0));
            let object = Name::new(&text(&r, 1), &text(&r, 2));
            if exclude.table(&object) {
                continue;
            }
            let sub = matches!(
                kind,
                ObjectKind::Column
                    | ObjectKind::Function
                    | ObjectKind::Procedure
                    | ObjectKind::Constraint
                    | ObjectKind::DomainConstraint
            )
            .then(|| text(&r, 3));
            schema.comments.insert(CommentOn { kind, object, sub }, text(&r, 4));
        }
    }
    Ok(())
}
