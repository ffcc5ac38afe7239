//! `runner plugin new NAME --lang rust|python|js`: a plugin folder that builds and passes
//! `runner plugin test` as generated (source, build file, fixture rows with their expected
//! changes, a README), for a team to change into its backfill. The templates live in
//! `plugins/templates`; the tests build and test every language's.

use crate::build::Language;
use crate::error::RunnerError;
use crate::refusal::Refusal;
use std::path::{Path, PathBuf};

const README: &str = include_str!("../../plugins/templates/README.md");
const ROWS: &str = include_str!("../../plugins/templates/rows.json");
const EXPECTED: &str = include_str!("../../plugins/templates/expected.json");
const PY_APP: &str = include_str!("../../plugins/templates/python/app.py");
const JS_APP: &str = include_str!("../../plugins/templates/js/app.js");
const JS_PACKAGE: &str = include_str!("../../plugins/templates/js/package.json");
const RS_CARGO: &str = include_str!("../../plugins/templates/rust/Cargo.toml");
const RS_LIB: &str = include_str!("../../plugins/templates/rust/src/lib.rs");
const RS_GITIGNORE: &str = include_str!("../../plugins/templates/rust/gitignore");
// The Rust SDK is not on crates.io: a Rust plugin carries its own copy, next to the WIT world it
// binds (the SDK reads it from `../wit`).
const RS_SDK_CARGO: &str = include_str!("../../plugins/sdk/Cargo.toml");
const RS_SDK_LIB: &str = include_str!("../../plugins/sdk/src/lib.rs");

/// Writes plugin `name` in `lang` into `dir` (which must not exist); the files written.
pub fn new_plugin(dir: &Path, name: &str, lang: Language) -> Result<Vec<PathBuf>, RunnerError> {
    check_name(name)?;
    if dir.exists() {
        return Err(Refusal::AlreadyExists { path: dir.to_path_buf() }.into());
    }
    let shown = dir.display().to_string();
    let (language, source, build) = match lang {
        Language::Rust => ("Rust", "`src/lib.rs`", "cargo build --release --target wasm32-wasip2"),
        Language::Python => ("Python", "`app.py`", "componentize-py, installed on first use"),
        Language::JavaScript => ("JavaScript", "`app.js`", "componentize-qjs, installed with npm on first use"),
    };
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{language}}", language)
            .replace("{{source}}", source)
            .replace("{{build}}", build)
            .replace("{{dir}}", &shown)
    };
    let mut files: Vec<(&str, String)> =
        vec![("README.md", fill(README)), ("rows.json", ROWS.to_string()), ("expected.json", EXPECTED.to_string())];
    match lang {
        Language::Python => files.push(("app.py", fill(PY_APP))),
        Language::JavaScript => files.extend([("app.js", fill(JS_APP)), ("package.json", fill(JS_PACKAGE))]),
        Language::Rust => files.extend([
            ("Cargo.toml", fill(RS_CARGO)),
            ("src/lib.rs", fill(RS_LIB)),
            (".gitignore", RS_GITIGNORE.to_string()),
            ("runner-plugin-sdk/Cargo.toml", standalone_sdk_manifest()),
            ("runner-plugin-sdk/src/lib.rs", RS_SDK_LIB.to_string()),
            ("wit/world.wit", runner_sandbox::WORLD_WIT.to_string()),
        ]),
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        let parent = path.parent().expect("a file in the folder");
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|cause| RunnerError::Io { context: format!("writing {}", path.display()), cause })?;
        written.push(path);
    }
    Ok(written)
}

/// A plugin name: what a crate, an npm package and a manifest all accept.
fn check_name(name: &str) -> Result<(), RunnerError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Refusal::Usage(format!(
            "`{name}` is not a plugin name: a lower-case letter, then lower-case letters, digits, `-` or `_` (at most 64)"
        ))
        .into())
    }
}

/// The SDK's manifest without the repository workspace it inherits from.
fn standalone_sdk_manifest() -> String {
    RS_SDK_CARGO
        .replace("version.workspace = true", "version = \"0.1.0\"")
        .replace("edition.workspace = true", "edition = \"2024\"")
        .replace("license.workspace = true", "license = \"Apache-2.0\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copied_sdk_inherits_nothing_from_the_repository_workspace() {
        assert!(!standalone_sdk_manifest().contains("workspace"), "{}", standalone_sdk_manifest());
    }

    #[test]
    fn names_are_what_crates_and_npm_accept() {
        for good in ["bands", "score-band", "fix_emails2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Bands", "2fast", "a b", "../x", "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
