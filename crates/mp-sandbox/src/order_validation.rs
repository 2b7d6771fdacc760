//! Validation of `POST /v1/orders` bodies (reference 3.1 field rules).

use crate::errors::ApiError;
use crate::sites::decimal_to_cents;
use serde_json::{Value, json};

fn err(status: u16, code: &str, msg: impl Into<String>) -> ApiError {
    ApiError::orders(status, code, msg)
}

/// ISO-8601 duration limited to `PT…H…M…S` (what the Orders API uses).
pub fn parse_iso_duration(s: &str) -> Option<i64> {
    let rest = s.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let (mut total, mut num) = (0i64, String::new());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'H' => 3600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    num.is_empty().then_some(total)
}

pub struct Valid {
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub expiration_time: String,
    pub expiration_secs: i64,
    pub amount: String,
    pub cents: i64,
    pub terminal_id: String,
    pub print_on_terminal: String,
    pub point_extra: Value,
    pub payment_method_cfg: Value,
    pub integration_data: Value,
}

/// Checks a create body and takes what the order keeps out of it.
pub fn validate_create(mut b: Value) -> Result<Valid, ApiError> {
    const TOP: &[&str] = &[
        "type",
        "external_reference",
        "expiration_time",
        "transactions",
        "config",
        "description",
        "integration_data",
        "processing_mode",
    ];
    let obj = b.as_object().expect("checked object");
    if let Some(k) = obj.keys().find(|k| !TOP.contains(&k.as_str())) {
        return Err(err(
            400,
            "unsupported_properties",
            format!("property {k} is not supported"),
        ));
    }
    match obj.get("type") {
        None => return Err(err(400, "required_properties", "type is required")),
        Some(Value::String(t)) if t == "point" => {}
        Some(Value::String(_)) => return Err(err(400, "property_value", "type must be point")),
        Some(_) => return Err(err(400, "property_type", "type expected string")),
    }
    let external_reference = match obj.get("external_reference") {
        None | Some(Value::Null) => {
            return Err(err(
                400,
                "required_properties",
                "external_reference is required",
            ));
        }
        Some(Value::String(s)) => {
            if s.is_empty()
                || s.len() > 64
                || !s
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                return Err(err(
                    400,
                    "property_value",
                    "external_reference must be 1-64 characters of [A-Za-z0-9_-]",
                ));
            }
            Some(s.clone())
        }
        Some(_) => {
            return Err(err(
                400,
                "property_type",
                "external_reference expected string",
            ));
        }
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 150 => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(err(
                400,
                "property_value",
                "description must be at most 150 characters",
            ));
        }
        Some(_) => return Err(err(400, "property_type", "description expected string")),
    };
    let (expiration_time, expiration_secs) = match obj.get("expiration_time") {
        None | Some(Value::Null) => ("PT15M".to_string(), 900),
        Some(Value::String(s)) => match parse_iso_duration(s) {
            Some(n) if (30..=3 * 3600).contains(&n) => (s.clone(), n),
            _ => {
                return Err(err(
                    400,
                    "property_value",
                    "expiration_time must be an ISO-8601 duration between PT30S and PT3H",
                ));
            }
        },
        Some(_) => return Err(err(400, "property_type", "expiration_time expected string")),
    };
    let payments = match b.pointer("/transactions/payments") {
        None => {
            return Err(err(
                400,
                "required_properties",
                "transactions.payments is required",
            ));
        }
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(err(
                400,
                "property_type",
                "transactions.payments expected array",
            ));
        }
    };
    if payments.is_empty() {
        return Err(err(
            400,
            "minimum_items",
            "transactions.payments must have exactly one item",
        ));
    }
    if payments.len() > 1 {
        return Err(err(
            400,
            "maximum_items",
            "transactions.payments must have exactly one item",
        ));
    }
    let amount = match payments[0].get("amount") {
        None => {
            return Err(err(
                400,
                "required_properties",
                "transactions.payments[0].amount is required",
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(err(400, "property_type", "amount expected string")),
    };
    let cents = decimal_to_cents(&amount).ok_or_else(|| {
        err(
            400,
            "property_value",
            "amount must be a decimal string with up to 2 decimals",
        )
    })?;
    if cents < 500 {
        return Err(err(
            400,
            "property_value",
            "amount: Must be greater than or equal to 5.00",
        ));
    }
    let terminal_id = match b.pointer("/config/point/terminal_id") {
        None => {
            return Err(err(
                400,
                "required_properties",
                "config.point.terminal_id is required",
            ));
        }
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(err(
                400,
                "property_type",
                "config.point.terminal_id expected string",
            ));
        }
    };
    let print_on_terminal = match b.pointer("/config/point/print_on_terminal") {
        None => "seller_ticket".to_string(),
        Some(Value::String(s)) if s == "seller_ticket" || s == "no_ticket" => s.clone(),
        Some(_) => {
            return Err(err(
                400,
                "property_value",
                "print_on_terminal must be seller_ticket or no_ticket",
            ));
        }
    };
    match b
        .pointer("/config/payment_method")
        .and_then(|c| c.get("default_type"))
    {
        None => {}
        Some(Value::String(s)) if s == "debit_card" || s == "credit_card" => {}
        Some(_) => {
            return Err(err(
                400,
                "property_value",
                "default_type must be debit_card or credit_card",
            ));
        }
    }
    let integration_data = obj.get("integration_data");
    if integration_data.is_some_and(|d| !d.is_object()) {
        return Err(err(
            400,
            "property_type",
            "integration_data expected object",
        ));
    }
    match integration_data.and_then(|d| d.pointer("/sponsor/id")) {
        None | Some(Value::String(_)) => {}
        Some(_) => {
            return Err(err(
                400,
                "property_type",
                "integration_data.sponsor.id expected string",
            ));
        }
    }
    // Valid: the order keeps these parts of the body (moved, not copied).
    let mut take = |path: &str| b.pointer_mut(path).map(Value::take);
    let mut point_extra = take("/config/point").unwrap_or(json!({}));
    if let Some(p) = point_extra.as_object_mut() {
        p.remove("terminal_id");
        p.remove("print_on_terminal");
        if p.is_empty() {
            // A fresh empty map holds no memory; an emptied one keeps its node.
            point_extra = json!({});
        }
    }
    let payment_method_cfg = take("/config/payment_method").unwrap_or(Value::Null);
    let integration_data = take("/integration_data").unwrap_or(json!({}));
    Ok(Valid {
        external_reference,
        description,
        expiration_time,
        expiration_secs,
        amount,
        cents,
        terminal_id,
        print_on_terminal,
        point_extra,
        payment_method_cfg,
        integration_data,
    })
}
