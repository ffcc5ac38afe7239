//! Property tests (the fuzz targets of the revision-file parser and the statement splitter):
//! no input makes them panic, and the splitter never splits inside quotes, comments or
//! dollar-quoted bodies.

use proptest::prelude::*;
use runner_revisions::splitter::split;

/// A piece of SQL that contains `;` (and other trouble) where it must not split.
fn tricky_fragment() -> impl Strategy<Value = String> {
    let text = "[a-z0-9 ;\\n'$*/-]{0,12}";
    prop_oneof![
        text.prop_map(|t| format!("'{}'", t.replace('\'', "''"))),
        text.prop_map(|t| format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "\\'"))),
        text.prop_map(|t| format!("\"{}\"", t.replace('"', "\"\""))),
        text.prop_map(|t| format!("$$ {} $$", t.replace('$', "#"))),
        text.prop_map(|t| format!("$tag$ {} $tag$", t.replace('$', "#"))),
        text.prop_map(|t| format!("/* {} */", t.replace("*/", "* /").replace("/*", "/ *"))),
        text.prop_map(|t| format!("-- {}\n", t.replace('\n', " "))),
        "[a-z_][a-z0-9_]{0,8}".prop_map(|w| w),
        Just("1 + 2".to_string()),
    ]
}

/// A statement: `SELECT` followed by fragments (none of them ends it).
fn statement() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_fragment(), 0..6).prop_map(|f| format!("SELECT {}", f.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_splitter_never_panics(input in ".{0,400}") {
        let _ = split(&input, 1);
    }

    #[test]
    fn the_splitter_never_panics_on_sql_like_bytes(input in "[a-zA-Z0-9 ;'\"$*/\\-\\\\\\nE]{0,300}") {
        let _ = split(&input, 1);
    }

    #[test]
    fn statements_split_exactly_at_their_own_semicolons(stmts in prop::collection::vec(statement(), 1..8)) {
        let script = stmts.join(";\n");
        let out = split(&script, 1);
        prop_assert_eq!(out.len(), stmts.len(), "script:\n{}\nsplit into: {:?}", script, out);
        for (got, want) in out.iter().zip(&stmts) {
            prop_assert!(got.sql.starts_with("SELECT"), "{:?} from {:?}", got.sql, want);
        }
    }

    #[test]
    fn the_revision_file_parser_never_panics(text in ".{0,400}") {
        let _ = runner_revisions::file::parse_native(std::path::Path::new("m/001_x.sql"), &text);
    }

    #[test]
    fn headers_with_arbitrary_values_never_panic(key in "[a-z-]{1,20}", value in ".{0,60}", body in ".{0,100}") {
        let text = format!("-- {key}: {value}\n-- runner:up\n{body}\n-- runner:down\n{body}");
        let _ = runner_revisions::file::parse_native(std::path::Path::new("m/001_x.sql"), &text);
    }
}
