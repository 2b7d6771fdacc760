//! The reports operations; handlers in `api/reports.rs`.

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
