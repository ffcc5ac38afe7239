//! What `runner.toml` may take from its surroundings: `${VAR}` in any string value, from the
//! environment, and `[env.NAME]` sections (dev, staging, prod) whose keys replace the top-level
//! ones when `--env NAME` or `RUNNER_ENV=NAME` selects them, as the Alembic setups teams come
//! from keep one URL per environment.

use runner_revisions::toml_line::toml_error_line;
use std::collections::HashMap;

/// Reads `text` as TOML, with the selected environment's section merged over the top level and
/// every `${VAR}` replaced. Errors are `(line, message)`.
pub fn prepare(
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    selected: Option<&str>,
) -> Result<toml::Table, (usize, String)> {
    let mut table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| (toml_error_line(text, &e), e.message().to_string()))?;
    let sections = match table.remove("env") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err((line_of(text, "env"), "`env` must be a table of sections: [env.NAME]".into())),
    };
    if let Some(name) = selected {
        let known: Vec<&str> = sections.keys().map(String::as_str).collect();
        let Some(section) = sections.get(name) else {
            return Err((
                1,
                format!(
                    "no [env.{name}] section (from --env or RUNNER_ENV); known: {}",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            ));
        };
        let toml::Value::Table(section) = section else {
            return Err((line_of(text, &format!("env.{name}")), format!("[env.{name}] must be a table")));
        };
        for (key, value) in section {
            match (table.get_mut(key), value) {
                // `[env.prod.cron]` changes some `[cron]` keys, not all of them.
                (Some(toml::Value::Table(base)), toml::Value::Table(over)) => {
                    base.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => {
                    table.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let mut missing = Vec::new();
    for (_, value) in table.iter_mut() {
        substitute(value, vars, &mut missing);
    }
    match missing.first() {
        None => Ok(table),
        Some(var) => Err((
            line_of(text, &format!("${{{var}")),
            format!("${{{var}}} is not set in the environment (set it, or write ${{{var}:-default}})"),
        )),
    }
}

fn substitute(value: &mut toml::Value, vars: &dyn Fn(&str) -> Option<String>, missing: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => *s = expand(s, vars, missing),
        toml::Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, vars, missing)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| substitute(v, vars, missing)),
        _ => {}
    }
}

/// `${VAR}`, `${VAR:-default}` (used when VAR is unset or empty), and `$${` for a literal `${`.
/// A lone `$` stays as it is, so passwords with `$` in them need no escaping.
fn expand(s: &str, vars: &dyn Fn(&str) -> Option<String>, missing: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let (Some(body), Some(end)) = (tail.strip_prefix("${"), tail.find('}')) {
            let inner = &body[..end - 2];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match vars(name).filter(|v| !v.is_empty()).or(default.map(String::from)) {
                Some(v) => out.push_str(&v),
                None => missing.push(name.to_string()),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The 1-based line of a TOML parse error (one helper for every file runner reads).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle).map_or(1, |at| 1 + text[..at].matches('\n').count())
}

/// The process environment as a lookup, for [`prepare`].
pub fn from_map(env: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |k| env.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(k: &str) -> Option<String> {
        match k {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_defaults_and_literal_dollars() {
        let t = prepare(
            "database_url = \"postgres://app:pa$$word@${HOST}/shop\"\nstate_table = \"${EMPTY:-runner_state}\"\nmigrations = \"$${HOST}\"\n",
            &vars,
            None,
        )
        .unwrap();
        assert_eq!(t["database_url"].as_str(), Some("postgres://app:pa$$word@db.internal/shop"));
        assert_eq!(t["state_table"].as_str(), Some("runner_state"));
        assert_eq!(t["migrations"].as_str(), Some("${HOST}"));
    }

    #[test]
    fn an_unset_variable_is_an_error_on_its_line() {
        let e = prepare("migrations = \"m\"\ndatabase_url = \"${NOPE}\"\n", &vars, None).unwrap_err();
        assert_eq!(e.0, 2);
        assert!(e.1.contains("${NOPE} is not set"), "{}", e.1);
    }

    #[test]
    fn the_selected_section_replaces_top_level_keys_and_merges_tables() {
        let text = "database_url = \"sqlite:dev.db\"\n[cron]\nlisten = \"a\"\nwebhook_retries = 1\n\
                    [env.prod]\ndatabase_url = \"postgres://${HOST}/p\"\n[env.prod.cron]\nlisten = \"b\"\n";
        let t = prepare(text, &vars, Some("prod")).unwrap();
        assert_eq!(t["database_url"].as_str(), Some("postgres://db.internal/p"));
        assert_eq!(t["cron"]["listen"].as_str(), Some("b"));
        assert_eq!(t["cron"]["webhook_retries"].as_integer(), Some(1));
        assert!(!t.contains_key("env"));
        let dev = prepare(text, &vars, None).unwrap();
        assert_eq!(dev["database_url"].as_str(), Some("sqlite:dev.db"));
        let e = prepare(text, &vars, Some("staging")).unwrap_err();
        assert!(e.1.contains("no [env.staging] section") && e.1.contains("known: prod"), "{}", e.1);
    }
}
