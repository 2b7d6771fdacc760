//! The initial schema: tenants, sellers and their credentials, the
//! store/POS/terminal registry, payment intents, API keys, webhooks,
//! notifications, idempotency records and the audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn name(s: &str) -> Alias {
    Alias::new(s)
}

/// Column kinds used by this schema; `?` suffix on the name = nullable.
enum Col {
    Text,
    BigInt,
    Int,
    Bool,
    Double,
    Ts,
}

fn column(spec: &str, kind: Col) -> ColumnDef {
    let (col, nullable) = match spec.strip_suffix('?') {
        Some(c) => (c, true),
        None => (spec, false),
    };
    let mut def = ColumnDef::new(name(col));
    match kind {
        Col::Text => def.text(),
        Col::BigInt => def.big_integer(),
        Col::Int => def.integer(),
        Col::Bool => def.boolean(),
        Col::Double => def.double(),
        Col::Ts => def.timestamp_with_time_zone(),
    };
    if nullable {
        def.null();
    } else {
        def.not_null();
    }
    def
}

/// A table with a text primary key `id` and the given columns.
fn table(table_name: &str, columns: Vec<(&str, Col)>) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(name(table_name))
        .if_not_exists()
        .col(ColumnDef::new(name("id")).text().not_null().primary_key());
    for (spec, kind) in columns {
        t.col(column(spec, kind));
    }
    t
}

fn index(table_name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("ix_{table_name}_{}", cols.join("_")))
        .table(name(table_name))
        .if_not_exists();
    for c in cols {
        i.col(name(c));
    }
    if unique {
        i.unique();
    }
    i
}

use Col::*;

fn tables() -> Vec<TableCreateStatement> {
    vec![
        table(
            "integrators",
            vec![
                ("name", Text),
                ("mp_client_id?", Text),
                ("mp_client_secret?", Text),
                ("mp_webhook_secret?", Text),
                ("mp_redirect_url?", Text),
                ("sponsor_id?", Text),
                ("upstream_api", Text),
                ("is_demo", Bool),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "users",
            vec![
                ("integrator_id", Text),
                ("email", Text),
                ("name", Text),
                ("password_hash", Text),
                ("role", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("last_login_at?", Ts),
                ("disabled_at?", Ts),
            ],
        ),
        table(
            "sellers",
            vec![
                ("integrator_id", Text),
                ("mp_user_id", BigInt),
                ("nickname", Text),
                ("email?", Text),
                ("site_id", Text),
                ("live_mode", Bool),
                ("link_status", Text),
                ("label?", Text),
                ("linked_at?", Ts),
                ("unlinked_at?", Ts),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "seller_credentials",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("access_token", Text),
                ("refresh_token?", Text),
                ("expires_at", Ts),
                ("scope", Text),
                ("public_key?", Text),
                ("refresh_failures", Int),
                ("next_refresh_at?", Ts),
                ("last_refreshed_at?", Ts),
                ("last_refresh_error?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "onboarding_links",
            vec![
                ("integrator_id", Text),
                ("label?", Text),
                ("token_hash", Text),
                ("status", Text),
                ("expires_at", Ts),
                ("used_at?", Ts),
                ("seller_id?", Text),
                ("created_by?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "oauth_states",
            vec![
                ("integrator_id", Text),
                ("link_id", Text),
                ("state_hash", Text),
                ("pkce_verifier", Text),
                ("expires_at", Ts),
                ("consumed_at?", Ts),
                ("created_at", Ts),
            ],
        ),
        table(
            "stores",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("mp_store_id?", Text),
                ("external_id?", Text),
                ("name", Text),
                ("street_name?", Text),
                ("street_number?", Text),
                ("city_name?", Text),
                ("state_name?", Text),
                ("latitude?", Double),
                ("longitude?", Double),
                ("reference?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "pos",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("store_id", Text),
                ("mp_pos_id?", Text),
                ("external_id", Text),
                ("name", Text),
                ("category?", BigInt),
                ("fixed_amount", Bool),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "terminals",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("store_id?", Text),
                ("pos_id?", Text),
                ("device_id", Text),
                ("model?", Text),
                ("operating_mode", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "payment_intents",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("terminal_id", Text),
                ("store_id?", Text),
                ("pos_id?", Text),
                ("api_key_id?", Text),
                ("upstream_api", Text),
                ("upstream_id?", Text),
                ("status", Text),
                ("status_detail?", Text),
                ("amount", BigInt),
                ("currency", Text),
                ("description?", Text),
                ("external_reference?", Text),
                ("print_on_terminal", Bool),
                ("payment_type?", Text),
                ("installments?", Int),
                ("installments_cost?", Text),
                ("sponsor_id?", Text),
                ("mp_payment_id?", Text),
                ("upstream_version", BigInt),
                // Equals terminal_id while the intent is open, NULL once final:
                // a unique index on it is "one open intent per terminal" on
                // both databases (NULLs never collide).
                ("open_on_terminal?", Text),
                ("dispatch_attempts", Int),
                ("next_dispatch_at?", Ts),
                ("last_error_code?", Text),
                ("last_error_message?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("finalized_at?", Ts),
            ],
        ),
        table(
            "payment_intent_events",
            vec![
                ("integrator_id", Text),
                ("intent_id", Text),
                ("from_status?", Text),
                ("to_status", Text),
                ("source", Text),
                ("detail?", Text),
                ("created_at", Ts),
            ],
        ),
        table(
            "refunds",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("intent_id", Text),
                ("amount", BigInt),
                ("status", Text),
                ("upstream_id?", Text),
                ("last_error_code?", Text),
                ("last_error_message?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "qr_orders",
            vec![
                ("integrator_id", Text),
                ("seller_id", Text),
                ("store_id?", Text),
                ("pos_id", Text),
                ("external_reference", Text),
                ("title?", Text),
                ("total_amount", BigInt),
                ("currency", Text),
                ("status", Text),
                ("sponsor_id?", Text),
                ("expires_at?", Ts),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "api_keys",
            vec![
                ("integrator_id", Text),
                ("name", Text),
                ("prefix", Text),
                ("key_hash", Text),
                ("mode", Text),
                ("scope_kind", Text),
                ("seller_id?", Text),
                ("store_id?", Text),
                ("pos_id?", Text),
                ("created_by?", Text),
                ("created_at", Ts),
                ("expires_at?", Ts),
                ("revoked_at?", Ts),
                ("last_used_at?", Ts),
            ],
        ),
        table(
            "webhook_endpoints",
            vec![
                ("integrator_id", Text),
                ("url", Text),
                ("description?", Text),
                ("event_types", Text),
                ("seller_id?", Text),
                ("secret", Text),
                ("previous_secret?", Text),
                ("previous_secret_expires_at?", Ts),
                ("status", Text),
                ("disabled_reason?", Text),
                ("failing_since?", Ts),
                ("created_at", Ts),
                ("updated_at", Ts),
            ],
        ),
        table(
            "events",
            vec![
                ("integrator_id", Text),
                ("seller_id?", Text),
                ("event_type", Text),
                ("payload", Text),
                ("created_at", Ts),
            ],
        ),
        table(
            "webhook_deliveries",
            vec![
                ("integrator_id", Text),
                ("endpoint_id", Text),
                ("event_id", Text),
                ("event_type", Text),
                ("status", Text),
                ("attempt_count", Int),
                ("next_attempt_at?", Ts),
                ("last_status_code?", Int),
                ("last_error?", Text),
                ("created_at", Ts),
                ("updated_at", Ts),
                ("completed_at?", Ts),
            ],
        ),
        table(
            "webhook_attempts",
            vec![
                ("integrator_id", Text),
                ("delivery_id", Text),
                ("endpoint_id", Text),
                ("attempt_no", Int),
                ("status_code?", Int),
                ("latency_ms", BigInt),
                ("response_snippet?", Text),
                ("error?", Text),
                ("created_at", Ts),
            ],
        ),
        table(
            "inbound_notifications",
            vec![
                ("integrator_id?", Text),
                ("topic", Text),
                ("action?", Text),
                ("resource_id?", Text),
                ("mp_user_id?", BigInt),
                ("request_id?", Text),
                ("signature_valid", Bool),
                ("dedupe_key", Text),
                ("body", Text),
                ("status", Text),
                ("error?", Text),
                ("received_at", Ts),
                ("processed_at?", Ts),
            ],
        ),
        table(
            "audit_log",
            vec![
                ("integrator_id", Text),
                ("actor_kind", Text),
                ("actor_id?", Text),
                ("action", Text),
                ("target_kind?", Text),
                ("target_id?", Text),
                ("detail?", Text),
                ("ip?", Text),
                ("created_at", Ts),
            ],
        ),
        table(
            "idempotency_keys",
            vec![
                ("integrator_id", Text),
                ("principal", Text),
                ("key", Text),
                ("request_hash", Text),
                ("status", Text),
                ("response_status?", Int),
                ("response_body?", Text),
                ("resource_id?", Text),
                ("created_at", Ts),
                ("expires_at", Ts),
            ],
        ),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("users", &["email"], true),
        index("users", &["integrator_id"], false),
        index("sellers", &["integrator_id", "mp_user_id"], true),
        index("sellers", &["mp_user_id"], false),
        index("seller_credentials", &["seller_id"], true),
        index("seller_credentials", &["next_refresh_at"], false),
        index("onboarding_links", &["token_hash"], true),
        index("onboarding_links", &["integrator_id"], false),
        index("oauth_states", &["state_hash"], true),
        index("stores", &["seller_id"], false),
        index("stores", &["integrator_id"], false),
        index("pos", &["seller_id"], false),
        index("pos", &["store_id"], false),
        index("terminals", &["seller_id", "device_id"], true),
        index("terminals", &["integrator_id"], false),
        index("payment_intents", &["open_on_terminal"], true),
        index("payment_intents", &["integrator_id", "id"], false),
        index("payment_intents", &["seller_id", "id"], false),
        index("payment_intents", &["terminal_id", "id"], false),
        index("payment_intents", &["upstream_id"], false),
        index("payment_intents", &["status", "next_dispatch_at"], false),
        index("payment_intent_events", &["intent_id", "id"], false),
        index("refunds", &["intent_id"], false),
        index("qr_orders", &["pos_id", "id"], false),
        index("api_keys", &["prefix"], true),
        index("api_keys", &["integrator_id"], false),
        index("webhook_endpoints", &["integrator_id"], false),
        index("events", &["integrator_id", "id"], false),
        index("webhook_deliveries", &["status", "next_attempt_at"], false),
        index("webhook_deliveries", &["endpoint_id", "id"], false),
        index("webhook_deliveries", &["integrator_id", "id"], false),
        index("webhook_attempts", &["delivery_id", "attempt_no"], false),
        index("inbound_notifications", &["dedupe_key"], true),
        index("inbound_notifications", &["status", "received_at"], false),
        index("audit_log", &["integrator_id", "id"], false),
        index(
            "idempotency_keys",
            &["integrator_id", "principal", "key"],
            true,
        ),
        index("idempotency_keys", &["expires_at"], false),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t).await?;
        }
        for i in indexes() {
            manager.create_index(i).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables().into_iter().rev() {
            let name = t.get_table_name().cloned().expect("named table");
            manager
                .drop_table(Table::drop().table(name).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
