//! Answers to a plugin's `lookup` calls in `plugin test`, from a file: a JSON array of
//! `{"query": "...", "params": [...], "rows": [[...], ...]}` (without `params`, any parameters
//! match). A lookup no entry answers fails the batch, as an unavailable database would: a test
//! should not pass on data the plugin never got.

use super::fixture::{self, json_value};
use crate::error::RunnerError;
use runner_sandbox::{Lookup, LookupError, Value};
use std::path::Path;

struct Answer {
    query: String,
    params: Option<Vec<Value>>,
    rows: Vec<Vec<Value>>,
}

pub struct FixtureLookups(Vec<Answer>);

impl FixtureLookups {
    pub fn read(path: &Path) -> Result<FixtureLookups, RunnerError> {
        let bad = |line: usize, message: String| fixture::bad(path, line, message);
        let doc = fixture::json_file(path)?;
        let shape = "lookups are a JSON array of {\"query\": \"…\", \"params\": […], \"rows\": [[…], …]}";
        let items = doc.as_array().ok_or_else(|| bad(1, shape.into()))?;
        let values = |v: &serde_json::Value, i: usize| -> Result<Vec<Value>, RunnerError> {
            let list = v.as_array().ok_or_else(|| bad(1, format!("lookup {}: {shape}", i + 1)))?;
            list.iter().map(|x| json_value(x).map_err(|why| bad(1, format!("lookup {}: {why}", i + 1)))).collect()
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let query = item
                .get("query")
                .and_then(|q| q.as_str())
                .ok_or_else(|| bad(1, format!("lookup {}: {shape}", i + 1)))?;
            let params = item.get("params").map(|p| values(p, i)).transpose()?;
            let rows = item
                .get("rows")
                .and_then(|r| r.as_array())
                .ok_or_else(|| bad(1, format!("lookup {}: {shape}", i + 1)))?;
            let rows = rows.iter().map(|r| values(r, i)).collect::<Result<_, _>>()?;
            out.push(Answer { query: query.to_string(), params, rows });
        }
        Ok(FixtureLookups(out))
    }
}

#[async_trait::async_trait]
impl Lookup for FixtureLookups {
    async fn lookup(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, LookupError> {
        self.0
            .iter()
            .find(|a| a.query.trim() == query.trim() && a.params.as_ref().is_none_or(|p| *p == params))
            .map(|a| a.rows.clone())
            .ok_or_else(|| LookupError::Unavailable(format!("no fixture lookup answers `{query}` with {params:?}")))
    }
}
