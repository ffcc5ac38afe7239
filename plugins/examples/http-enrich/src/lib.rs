//! Looks each row's `sku` up in an internal service and stores the answer in `category`.
//! Needs the `http` capability for the service's origin and `config` key `service_url`.

use runner_plugin_sdk::{Change, HttpRequest, Plugin, Rows, Value, host};

struct HttpEnrich;

impl Plugin for HttpEnrich {
    fn describe() -> String {
        "http-enrich 1.0.0".into()
    }

    fn process(rows: Rows) -> Result<Vec<Change>, String> {
        let base = host::config("service_url").ok_or("config `service_url` is not set")?;
        rows.iter()
            .map(|row| {
                let sku = row.text("sku")?.unwrap_or_default();
                let request = HttpRequest {
                    method: "GET".into(),
                    url: format!("{base}/category/{sku}"),
                    headers: vec![],
                    body: None,
                };
                let response = host::http(&request).map_err(|e| format!("lookup of {sku}: {e}"))?;
                if response.status != 200 {
                    return Err(format!("lookup of {sku}: HTTP {}", response.status));
                }
                let category =
                    String::from_utf8(response.body).map_err(|_| format!("lookup of {sku}: answer is not UTF-8"))?;
                Ok(row.update([("category", Value::from(category.trim().to_string()))]))
            })
            .collect()
    }
}

runner_plugin_sdk::plugin!(HttpEnrich);
