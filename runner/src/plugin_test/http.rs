//! Answers to a plugin's `http` calls in `plugin test`, from a file: a JSON array of
//! `{"method": "GET", "url": "https://…", "status": 200, "headers": [["k", "v"]], "body": "…"}`
//! (`method` defaults to any, `status` to 200, `body` to empty; `{"hex": "…"}` for bytes). The
//! manifest's allow-list still decides which origins may be asked; a request no entry answers
//! fails the batch.

use super::fixture::{self, json_value};
use crate::error::RunnerError;
use runner_sandbox::{HttpAnswers, HttpRequest, HttpResponse, Value};
use std::path::Path;

struct Answer {
    method: Option<String>,
    url: String,
    response: HttpResponse,
}

pub struct FixtureHttp(Vec<Answer>);

impl FixtureHttp {
    pub fn read(path: &Path) -> Result<FixtureHttp, RunnerError> {
        let bad = |line: usize, message: String| fixture::bad(path, line, message);
        let doc = fixture::json_file(path)?;
        let shape = "http answers are a JSON array of {\"method\", \"url\", \"status\", \"headers\", \"body\"}";
        let items = doc.as_array().ok_or_else(|| bad(1, shape.into()))?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = |what: &str| bad(1, format!("answer {}: {what} ({shape})", i + 1));
            let url = item.get("url").and_then(|u| u.as_str()).ok_or_else(|| at("no `url`"))?.to_string();
            let method = item.get("method").and_then(|m| m.as_str()).map(str::to_ascii_uppercase);
            let status = match item.get("status") {
                None => 200,
                Some(s) => s
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| at("`status` is not an HTTP status"))?,
            };
            let headers = match item.get("headers") {
                None => Vec::new(),
                Some(h) => h
                    .as_array()
                    .ok_or_else(|| at("`headers` is not a list of [name, value]"))?
                    .iter()
                    .map(|p| match p.as_array().map(Vec::as_slice) {
                        Some([k, v]) => {
                            Ok((k.as_str().unwrap_or_default().to_string(), v.as_str().unwrap_or_default().to_string()))
                        }
                        _ => Err(at("`headers` is not a list of [name, value]")),
                    })
                    .collect::<Result<_, _>>()?,
            };
            let body = match item.get("body").map(json_value).transpose().map_err(|why| at(&why))? {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Text(t)) => t.into_bytes(),
                Some(Value::Bytes(b)) => b,
                Some(_) => return Err(at("`body` is text or {\"hex\": …}")),
            };
            out.push(Answer { method, url, response: HttpResponse { status, headers, body } });
        }
        Ok(FixtureHttp(out))
    }
}

impl HttpAnswers for FixtureHttp {
    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        self.0
            .iter()
            .find(|a| {
                a.url == request.url && a.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
            })
            .map(|a| a.response.clone())
    }
}
