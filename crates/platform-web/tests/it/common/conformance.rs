//! Every response an API test reads is checked against the OpenAPI
//! document: its status must be documented for the path, and its body must
//! match that response's schema (JSON Schema 2020-12, formats checked).
//!
//! The response does not say which method asked, so each operation of the
//! path that documents the status is a candidate; the body must match one
//! of them. Paths the document lacks (the Mercado Pago-compatible surface)
//! are left to their own tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(platform_web::api::openapi::document)
}

/// The document's path templates that match `path`, the most specific
/// (most literal segments) only: `/v1/payment-intents/stream` is not
/// `/v1/payment-intents/{id}`.
fn templates_for(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Vec<(&'static str, usize)> = Vec::new();
    for template in document()["paths"].as_object().unwrap().keys() {
        let parts: Vec<&str> = template.split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let matches = parts.iter().zip(&segments).all(|(p, s)| {
            if p.starts_with('{') {
                !s.is_empty()
            } else {
                literal += 1;
                p == s
            }
        });
        if matches {
            best.push((template.as_str(), literal));
        }
    }
    let top = best.iter().map(|(_, l)| *l).max().unwrap_or(0);
    best.into_iter()
        .filter(|(_, l)| *l == top)
        .map(|(t, _)| t)
        .collect()
}

fn validator(pointer: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(pointer) {
        return v.clone();
    }
    // The schema inside the whole document, so `#/components/…` resolves.
    let mut root = document().clone();
    root["allOf"] = Value::Array(vec![schema.clone()]);
    let compiled = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}"));
    let compiled = Arc::new(compiled);
    cache
        .lock()
        .unwrap()
        .insert(pointer.to_owned(), compiled.clone());
    compiled
}

/// Panics unless `status` and `body` are what the document promises for
/// `path` (a response of a native `/v1` route).
pub fn check(path: &str, status: u16, body: &Value) {
    let templates = templates_for(path);
    if templates.is_empty() {
        return;
    }
    let status_key = status.to_string();
    let mut candidates = 0;
    let mut failures = Vec::new();
    for template in &templates {
        for (method, operation) in document()["paths"][*template].as_object().unwrap() {
            let Some(response) = operation["responses"].get(&status_key) else {
                continue;
            };
            candidates += 1;
            let Some(content) = response.get("content") else {
                // No body documented (204).
                if body.is_null() {
                    return;
                }
                failures.push(format!(
                    "{method} {template}: no body documented, got {body}"
                ));
                continue;
            };
            let Some(schema) = content.get("application/json").map(|c| &c["schema"]) else {
                // A documented non-JSON body (a CSV download): its own
                // tests read it; there is no JSON to check here.
                return;
            };
            let pointer = format!("{method} {template} {status}");
            let v = validator(&pointer, schema);
            let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
            if errors.is_empty() {
                return;
            }
            failures.push(format!("{pointer}: {}", errors.join("; ")));
        }
    }
    assert!(
        candidates > 0,
        "{path} answered {status}, which the OpenAPI document does not list for {templates:?}: {body}"
    );
    panic!(
        "the response of {path} ({status}) does not match the OpenAPI document:\n{}\nbody: {body}",
        failures.join("\n")
    );
}
