//! The reports and exports operations; handlers in `api/reports.rs` and
//! `api/exports.rs`.

#![allow(dead_code)]

use crate::api::reports::{SummaryOut, SummaryParams};

use super::schemas::ErrorOut;

#[utoipa::path(
    get, path = "/v1/reports/summary", tag = "Reports",
    operation_id = "getReportSummary",
    summary = "Payments, refunds, approval rate and terminal activity for a period",
    description = "The figures of the dashboard's home page, in the key's scope: approved \
        payments per UTC day and currency, refunds, outcomes and the approval rate, the top \
        sellers and stores, and the busiest terminals. Days are UTC days of the intent's \
        creation; a refund counts on the day it was asked for.",
    params(SummaryParams),
    responses(
        (status = 200, description = "The summary", body = SummaryOut),
        (status = 400, description = "`invalid_query`, `invalid_period`", body = ErrorOut),
        (status = 404, description = "`not_found` (the seller is not in the key's scope)", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn get_report_summary() {}

#[utoipa::path(
    get, path = "/v1/exports/payment-intents.csv", tag = "Reports",
    operation_id = "exportPaymentIntents",
    summary = "Payment intents as CSV, for any filter of the list",
    description = "RFC 4180, UTF-8, a header row, CRLF line ends; times ISO 8601 UTC, amounts \
        in major units next to `currency`, `refunded_amount` and Mercado Pago's \
        `mp_payment_id` on every row. Streamed newest first, so any size downloads with \
        flat memory. Text a spreadsheet would run as a formula starts with `'`.",
    params(crate::api::exports::IntentExportQuery),
    responses(
        (status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "`invalid_query`, `invalid_status`", body = ErrorOut),
        (status = 404, description = "`not_found` (the seller is not in the key's scope)", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn export_payment_intents() {}

#[utoipa::path(
    get, path = "/v1/exports/refunds.csv", tag = "Reports",
    operation_id = "exportRefunds",
    summary = "Refunds as CSV",
    description = "One row per refund, newest first, with its intent's currency, \
        `external_reference` and `mp_payment_id`; the same CSV conventions as the intents export.",
    params(crate::api::exports::RefundExportQuery),
    responses(
        (status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "`invalid_query`, `invalid_status`", body = ErrorOut),
        (status = 404, description = "`not_found` (the seller is not in the key's scope)", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn export_refunds() {}

#[utoipa::path(
    get, path = "/v1/exports/webhook-deliveries.csv", tag = "Reports",
    operation_id = "exportWebhookDeliveries",
    summary = "Webhook deliveries as CSV",
    description = "One row per delivery of an event to an endpoint, newest first, with its \
        attempts and last answer.",
    params(crate::api::exports::DeliveryExportQuery),
    responses(
        (status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "`invalid_query`, `invalid_status`", body = ErrorOut),
        (status = 403, description = "`insufficient_scope`: an integrator-wide key is needed", body = ErrorOut),
        (status = 404, description = "`not_found` (the endpoint is not the integrator's)", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator"])),
)]
fn export_webhook_deliveries() {}

#[utoipa::path(
    get, path = "/v1/reports/daily.csv", tag = "Reports",
    operation_id = "getDailyReport",
    summary = "Daily totals per seller and store, as CSV",
    description = "Per UTC day, seller, store and currency: approved payments (`payments`, \
        `gross_amount`), succeeded refunds asked for that day (`refunds`, `refunded_amount`) \
        and `net_amount`. Match a day against Mercado Pago's reports with the intents export's \
        `mp_payment_id`.",
    params(SummaryParams),
    responses(
        (status = 200, description = "The CSV file", content_type = "text/csv", body = String),
        (status = 400, description = "`invalid_query`, `invalid_period`", body = ErrorOut),
        (status = 404, description = "`not_found` (the seller is not in the key's scope)", body = ErrorOut),
    ),
    security(("apiKey" = ["integrator", "seller", "store", "pos"])),
)]
fn get_daily_report() {}
