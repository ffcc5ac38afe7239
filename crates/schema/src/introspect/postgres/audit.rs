//! Every kind of object a database's catalog can hold that the differ does not write: each one
//! found is an [`Other`], compared by what the server prints of it and reported by name where
//! the two sides differ, so that nothing is skipped without a word. Kinds the differ handles
//! are read elsewhere (`mod.rs`, `objects.rs`); `tests/e2e/schema_diff.rs` creates one of each
//! kind listed here and checks that each is reported.
//!
//! What a definition holds is what the server prints (`pg_get_ruledef`, `format_type`,
//! `regprocedure`), never an OID of a user object, which differs between two databases with the
//! same schema. A user mapping's options are not read: they may hold a password.

use super::{USER_NAMESPACE, not_extension, text};
use crate::introspect::IntrospectError;
use crate::model::{Name, Other, Schema};
use runner_db::Driver;

/// The first OID a user object can have (PostgreSQL's `FirstNormalObjectId`): below it, the
/// system's own casts, languages and access methods.
const USER_OID: u32 = 16384;

/// The queries, each `(kind, schema, name, definition)`.
fn queries() -> Vec<String> {
    let ext = not_extension;
    vec![
        // Rules other than a view's own (`_RETURN`).
        // (`not_extension` names its own `pg_depend` `d`: no query here calls a table `d`.)
        format!(
            "SELECT 'rule', n.nspname, c.relname || '.' || r.rulename, pg_get_ruledef(r.oid) \
             FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE r.rulename <> '_RETURN' AND {USER_NAMESPACE} AND {}",
            ext("pg_rewrite", "r.oid")
        ),
        format!(
            "SELECT 'statistics object', n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid) \
             FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_statistic_ext", "s.oid")
        ),
        format!(
            "SELECT 'collation', n.nspname, c.collname, \
                    (to_jsonb(c) - ARRAY['oid', 'collnamespace', 'collowner', 'collversion'])::text \
             FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_collation", "c.oid")
        ),
        format!(
            "SELECT 'conversion', n.nspname, c.conname, \
                    pg_encoding_to_char(c.conforencoding) || ' TO ' || pg_encoding_to_char(c.contoencoding) \
                    || ' FROM ' || c.conproc::regprocedure::text || CASE WHEN c.condefault THEN ' DEFAULT' ELSE '' END \
             FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_conversion", "c.oid")
        ),
        format!(
            "SELECT 'operator', n.nspname, \
                    o.oprname || '(' || coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE') || ', ' \
                    || coalesce(format_type(nullif(o.oprright, 0), NULL), 'NONE') || ')', \
                    o.oprcode::regprocedure::text || ' ' || format_type(o.oprresult, NULL) || ' ' || o.oprcom::regoperator::text \
                    || ' ' || o.oprnegate::regoperator::text || ' ' || o.oprrest::text || ' ' || o.oprjoin::text \
                    || ' ' || o.oprcanmerge::text || ' ' || o.oprcanhash::text \
             FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_operator", "o.oid")
        ),
        format!(
            "SELECT 'operator class', n.nspname, c.opcname || ' USING ' || a.amname, \
                    format_type(c.opcintype, NULL) || CASE WHEN c.opcdefault THEN ' DEFAULT' ELSE '' END \
                    || coalesce((SELECT string_agg(o.amopstrategy || ' ' || o.amopopr::regoperator::text, ', ' ORDER BY o.amopstrategy) \
                                 FROM pg_amop o WHERE o.amopfamily = c.opcfamily), '') \
             FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am a ON a.oid = c.opcmethod \
             WHERE {USER_NAMESPACE} AND {}",
            ext("pg_opclass", "c.oid")
        ),
        format!(
            "SELECT 'operator family', n.nspname, f.opfname || ' USING ' || a.amname, '' \
             FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am a ON a.oid = f.opfmethod \
             WHERE {USER_NAMESPACE} AND {}",
            ext("pg_opfamily", "f.oid")
        ),
        // (Not the casts a range type makes to its multirange: they come with the type.)
        format!(
            "SELECT 'cast', '', '(' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')', \
                    coalesce(nullif(c.castfunc, 0)::regprocedure::text, '') || ' ' || c.castcontext::text || ' ' || c.castmethod::text \
             FROM pg_cast c WHERE c.oid >= {USER_OID} AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_cast'::regclass AND i.objid = c.oid AND i.deptype = 'i')",
            ext("pg_cast", "c.oid")
        ),
        format!(
            "SELECT 'text search configuration', n.nspname, c.cfgname, \
                    (SELECT p.prsname FROM pg_ts_parser p WHERE p.oid = c.cfgparser) || ' ' \
                    || coalesce((SELECT string_agg(m.maptokentype || ':' || m.mapseqno || ':' || m.mapdict::regdictionary::text, ', ' \
                                                   ORDER BY m.maptokentype, m.mapseqno) \
                                 FROM pg_ts_config_map m WHERE m.mapcfg = c.oid), '') \
             FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_ts_config", "c.oid")
        ),
        format!(
            "SELECT 'text search dictionary', n.nspname, td.dictname, \
                    (SELECT t.tmplname FROM pg_ts_template t WHERE t.oid = td.dicttemplate) || ' ' || coalesce(td.dictinitoption, '') \
             FROM pg_ts_dict td JOIN pg_namespace n ON n.oid = td.dictnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_ts_dict", "td.oid")
        ),
        format!(
            "SELECT 'text search parser', n.nspname, p.prsname, \
                    concat_ws(' ', p.prsstart, p.prstoken, p.prsend, p.prsheadline, p.prslextype) \
             FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_ts_parser", "p.oid")
        ),
        format!(
            "SELECT 'text search template', n.nspname, t.tmplname, concat_ws(' ', t.tmplinit, t.tmpllexize) \
             FROM pg_ts_template t JOIN pg_namespace n ON n.oid = t.tmplnamespace WHERE {USER_NAMESPACE} AND {}",
            ext("pg_ts_template", "t.oid")
        ),
        format!(
            "SELECT 'event trigger', '', e.evtname, \
                    e.evtevent || ' ' || e.evtfoid::regprocedure::text || ' ' || e.evtenabled::text || ' ' || coalesce(array_to_string(e.evttags, ','), '') \
             FROM pg_event_trigger e WHERE {}",
            ext("pg_event_trigger", "e.oid")
        ),
        "SELECT 'publication', '', p.pubname, \
                concat_ws(' ', p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, \
                          (SELECT string_agg(quote_ident(t.schemaname) || '.' || quote_ident(t.tablename), ',' ORDER BY 1) \
                           FROM pg_publication_tables t WHERE t.pubname = p.pubname)) \
         FROM pg_publication p"
            .into(),
        // (Not `subconninfo`: it may hold a password, and only a superuser may read it.)
        "SELECT 'subscription', '', s.subname, array_to_string(s.subpublications, ',') || ' ' || s.subenabled \
         FROM pg_subscription s WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            .into(),
        format!(
            "SELECT 'foreign-data wrapper', '', w.fdwname, \
                    concat_ws(' ', nullif(w.fdwhandler, 0)::regproc, nullif(w.fdwvalidator, 0)::regproc, array_to_string(w.fdwoptions, ',')) \
             FROM pg_foreign_data_wrapper w WHERE {}",
            ext("pg_foreign_data_wrapper", "w.oid")
        ),
        format!(
            "SELECT 'server', '', s.srvname, \
                    concat_ws(' ', (SELECT w.fdwname FROM pg_foreign_data_wrapper w WHERE w.oid = s.srvfdw), s.srvtype, s.srvversion, \
                              array_to_string(s.srvoptions, ',')) \
             FROM pg_foreign_server s WHERE {}",
            ext("pg_foreign_server", "s.oid")
        ),
        // (Not its options: they may hold a password.)
        "SELECT 'user mapping', '', m.usename || ' SERVER ' || m.srvname, '' FROM pg_user_mappings m".into(),
        "SELECT 'default privileges', coalesce(n.nspname, ''), pg_get_userbyid(da.defaclrole) || ' ON ' || \
                CASE da.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' \
                                     WHEN 'T' THEN 'TYPES' WHEN 'n' THEN 'SCHEMAS' ELSE da.defaclobjtype::text END, \
                da.defaclacl::text \
         FROM pg_default_acl da LEFT JOIN pg_namespace n ON n.oid = da.defaclnamespace"
            .into(),
        format!(
            "SELECT 'language', '', l.lanname, concat_ws(' ', l.lanpltrusted, nullif(l.lanplcallfoid, 0)::regprocedure, \
                    nullif(l.laninline, 0)::regprocedure, nullif(l.lanvalidator, 0)::regprocedure) \
             FROM pg_language l WHERE l.oid >= {USER_OID} AND {}",
            ext("pg_language", "l.oid")
        ),
        format!(
            "SELECT 'access method', '', a.amname, a.amtype::text || ' ' || a.amhandler::text \
             FROM pg_am a WHERE a.oid >= {USER_OID} AND {}",
            ext("pg_am", "a.oid")
        ),
        format!(
            "SELECT 'transform', '', format_type(t.trftype, NULL) || ' LANGUAGE ' || l.lanname, \
                    concat_ws(' ', nullif(t.trffromsql, 0)::regprocedure, nullif(t.trftosql, 0)::regprocedure) \
             FROM pg_transform t JOIN pg_language l ON l.oid = t.trflang WHERE {}",
            ext("pg_transform", "t.oid")
        ),
        // Base types of a user's own (`CREATE TYPE … (INPUT = …)`) and shell types; not the
        // array type PostgreSQL makes for each type.
        format!(
            "SELECT 'base type', n.nspname, t.typname, \
                    concat_ws(' ', t.typtype, t.typinput::regproc, t.typoutput::regproc, t.typlen, t.typalign, t.typstorage) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype IN ('b', 'p') AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid) \
               AND {USER_NAMESPACE} AND {}",
            ext("pg_type", "t.oid")
        ),
        // Inheritance that is not partitioning: a table created without its `INHERITS` would
        // be another table.
        format!(
            "SELECT 'table inheritance', n.nspname, c.relname, \
                    string_agg(quote_ident(pn.nspname) || '.' || quote_ident(p.relname), ', ' ORDER BY i.inhseqno) \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
             WHERE NOT c.relispartition AND c.relkind IN ('r', 'p', 'f') AND {USER_NAMESPACE} AND {} \
             GROUP BY n.nspname, c.relname",
            ext("pg_class", "c.oid")
        ),
        // A table's storage that is not the default: UNLOGGED, `WITH (…)` options, another
        // access method, a replica identity other than its key.
        format!(
            "SELECT 'table options', n.nspname, c.relname, \
                    concat_ws(' ', CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED' END, \
                              'WITH (' || array_to_string(c.reloptions, ', ') || ')', \
                              'USING ' || nullif(a.amname, 'heap'), \
                              CASE c.relreplident WHEN 'n' THEN 'REPLICA IDENTITY NOTHING' WHEN 'f' THEN 'REPLICA IDENTITY FULL' \
                                                  WHEN 'i' THEN 'REPLICA IDENTITY USING INDEX' END) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_am a ON a.oid = c.relam \
             WHERE c.relkind IN ('r', 'p') AND {USER_NAMESPACE} AND {} \
               AND (c.relpersistence = 'u' OR c.reloptions IS NOT NULL OR coalesce(a.amname, 'heap') <> 'heap' \
                    OR (c.relkind = 'r' AND c.relreplident <> 'd'))",
            ext("pg_class", "c.oid")
        ),
        // Privileges on single columns (a table's own are diffed).
        format!(
            "SELECT 'column privileges', n.nspname, c.relname || '.' || a.attname, a.attacl::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {USER_NAMESPACE} AND {}",
            ext("pg_class", "c.oid")
        ),
        // Comments on what `objects.rs` does not read them for (triggers, policies, rules,
        // aggregates, composite and range types, collations, …), named as the server names them.
        // (An extension's comment comes with the extension.)
        format!(
            "SELECT 'comment on ' || o.type, coalesce(o.schema, ''), \
                    CASE WHEN starts_with(o.identity, quote_ident(o.schema) || '.') \
                         THEN substr(o.identity, length(quote_ident(o.schema)) + 2) ELSE o.identity END, ds.description \
             FROM pg_description ds, LATERAL pg_identify_object(ds.classoid, ds.objoid, ds.objsubid) o \
             WHERE ds.objoid >= {USER_OID} \
               AND coalesce(o.schema, '') NOT IN ('pg_catalog', 'information_schema') \
               AND coalesce(o.schema, '') NOT LIKE 'pg\\_toast%' AND coalesce(o.schema, '') NOT LIKE 'pg\\_temp\\_%' \
               AND o.type NOT IN ('table', 'table column', 'view', 'view column', 'materialized view', \
                                  'materialized view column', 'sequence', 'index', 'foreign table', 'foreign table column', \
                                  'function', 'procedure', 'schema', 'table constraint', 'domain constraint', \
                                  'extension') \
               AND NOT (ds.classoid = 'pg_type'::regclass \
                        AND (SELECT t.typtype FROM pg_type t WHERE t.oid = ds.objoid) IN ('e', 'd')) \
               AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = ds.classoid AND e.objid = ds.objoid AND e.deptype = 'e')"
        ),
        // Security labels, by what they label.
        format!(
            "SELECT 'security label', coalesce(o.schema, ''), o.identity || ' (' || s.provider || ')', s.label \
             FROM pg_seclabel s, LATERAL pg_identify_object(s.classoid, s.objoid, s.objsubid) o WHERE s.objoid >= {USER_OID}"
        ),
    ]
}

/// Adds every object of a kind the differ does not handle to `schema.others`.
pub(super) async fn read(db: &mut dyn Driver, schema: &mut Schema) -> Result<(), IntrospectError> {
    for q in queries() {
        for r in db.query(&q).await? {
            let (kind, name) = (text(&r, 0), Name::new(&text(&r, 1), &text(&r, 2)));
            schema.others.insert((kind.clone(), name.clone()), Other { kind, name, definition: text(&r, 3) });
        }
    }
    Ok(())
}
