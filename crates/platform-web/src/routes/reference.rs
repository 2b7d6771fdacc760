//! `/docs`: the API reference for people, rendered on the server from the
//! generated OpenAPI document (no script, so it works under the dashboard's
//! strict CSP), with a curl example for every operation.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/docs")
            .wrap(crate::dashboard::headers::security_headers())
            .route(web::get().to(page)),
    );
}

#[derive(Template)]
#[template(path = "docs/reference.html")]
struct ReferencePage {
    title: String,
    intro: String,
    tags: Vec<TagView>,
    schemas: Vec<(String, String)>,
}

struct TagView {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

struct OperationView {
    id: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    scopes: String,
    params: Vec<ParamView>,
    request: Option<String>,
    responses: Vec<ResponseView>,
    curl: String,
}

struct ParamView {
    name: String,
    location: String,
    required: bool,
    kind: String,
    description: String,
}

struct ResponseView {
    status: String,
    description: String,
    schema: String,
}

async fn page() -> HttpResponse {
    match build(&crate::api::openapi::document()).render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "could not render the API reference");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// `#/components/schemas/X` → `X`; an inline schema → its type.
fn schema_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().map(text).collect::<Vec<_>>().join(" | "),
        _ => "any".to_owned(),
    }
}

fn build(doc: &Value) -> ReferencePage {
    let mut tags: Vec<TagView> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TagView {
            name: text(&t["name"]),
            description: text(&t["description"]),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let view = operation(doc, path, method, op);
            let tag = text(&op["tags"][0]);
            match tags.iter_mut().find(|t| t.name == tag) {
                Some(t) => t.operations.push(view),
                None => tags.push(TagView {
                    name: tag,
                    description: String::new(),
                    operations: vec![view],
                }),
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            (
                name.clone(),
                serde_json::to_string_pretty(s).unwrap_or_default(),
            )
        })
        .collect();
    ReferencePage {
        title: text(&doc["info"]["title"]),
        intro: text(&doc["info"]["description"]),
        tags,
        schemas,
    }
}

fn operation(doc: &Value, path: &str, method: &str, op: &Value) -> OperationView {
    let params: Vec<ParamView> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ParamView {
            name: text(&p["name"]),
            location: text(&p["in"]),
            required: p["required"].as_bool().unwrap_or(false),
            kind: schema_name(&p["schema"]),
            description: text(&p["description"]),
        })
        .collect();
    let request = op["requestBody"]["content"]["application/json"]["schema"]
        .as_object()
        .map(|s| schema_name(&Value::Object(s.clone())));
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| ResponseView {
            status: status.clone(),
            description: text(&r["description"]),
            schema: r["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(ty, c)| format!("{} ({ty})", schema_name(&c["schema"])))
                .unwrap_or_default(),
        })
        .collect();
    let scopes = op["security"][0]["apiKey"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect::<Vec<_>>()
        .join(", ");
    OperationView {
        id: text(&op["operationId"]),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: text(&op["summary"]),
        description: text(&op["description"]),
        scopes,
        curl: curl(doc, path, method, op, &params),
        params,
        request,
        responses,
    }
}

/// A runnable example: `PUENTE_URL` and `PUENTE_KEY` from the environment,
/// the required body fields with sample values.
fn curl(doc: &Value, path: &str, method: &str, op: &Value, params: &[ParamView]) -> String {
    let mut url = format!("$PUENTE_URL{path}");
    if params.iter().any(|p| p.name == "wait") {
        url.push_str("?wait=30");
    }
    let streaming = op["responses"]["200"]["content"]
        .get("text/event-stream")
        .is_some();
    let mut lines = vec![format!(
        "curl{} -X {} \"{url}\"",
        if streaming { " -N" } else { "" },
        method.to_uppercase()
    )];
    lines.push("  -H \"Authorization: Bearer $PUENTE_KEY\"".to_owned());
    if params.iter().any(|p| p.name == "Idempotency-Key") {
        lines.push("  -H \"Idempotency-Key: $(uuidgen)\"".to_owned());
    }
    if let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema") {
        let body = example(doc, schema, 0);
        lines.push("  -H \"Content-Type: application/json\"".to_owned());
        lines.push(format!("  -d '{body}'"));
    }
    lines.join(" \\\n")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => schema,
    }
}

/// A sample value for `schema`: an object's required fields, an enum's
/// first value, a placeholder by type.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts
            .iter()
            .find_map(|t| t.as_str().filter(|t| *t != "null"))
            .unwrap_or("null"),
        _ => "object",
    };
    match ty {
        "object" if depth < 3 => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut out = serde_json::Map::new();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&name.as_str()) {
                    out.insert(name.clone(), example(doc, prop, depth + 1));
                }
            }
            Value::Object(out)
        }
        "integer" => json!(1500),
        "number" => json!(1.5),
        "boolean" => json!(false),
        "array" => json!([]),
        "string" => match schema["format"].as_str() {
            Some("date-time") => json!("2026-12-01T00:00:00Z"),
            _ => json!("…"),
        },
        _ => Value::Null,
    }
}
