//! CSV downloads from the dashboard: an endpoint's webhook deliveries, and
//! the overview period's refunds and daily totals (the intents list's own
//! export is in `intents.rs`, next to its filters).

use actix_web::{HttpResponse, web};
use platform_core::CoreError;
use platform_core::clock;
use platform_core::exports::{DeliveryFilter, ExportKind, RefundFilter};
use platform_core::id::{SellerId, WebhookEndpointId};
use platform_core::reports::{Period, SummaryQuery};
use platform_core::states::DeliveryStatus;
use platform_core::webhooks::endpoints;
use serde::Deserialize;

use super::errors::{OrPage, PageError};
use super::session::Auth;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    status: String,
}

/// `/app/webhooks/{id}/deliveries.csv?status=`: the endpoint page's list.
pub async fn deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    q: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, PageError> {
    let endpoint_id = WebhookEndpointId::parse_or_not_found(&path).page(auth.lang)?;
    let ep = endpoints::get(&state.db, &auth.scope, &endpoint_id)
        .await
        .page(auth.lang)?;
    let filter = DeliveryFilter {
        endpoint_id: Some(ep.id.into_string()),
        status: DeliveryStatus::parse(q.status.trim()),
        ..Default::default()
    };
    let kind = ExportKind::WebhookDeliveries(filter);
    crate::csv_download::respond(&state, &auth.scope, kind)
        .await
        .page(auth.lang)
}

/// The overview's period and seller (`?days=&seller=`).
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    days: Option<String>,
    seller: Option<String>,
}

impl PeriodQuery {
    pub fn days(&self) -> i64 {
        super::overview::period_days(self.days.as_deref())
    }

    pub fn summary(&self) -> Result<SummaryQuery, CoreError> {
        let days = self.days();
        let seller_id = match self.seller.as_deref().unwrap_or("") {
            "" => None,
            s => Some(SellerId::parse_or_not_found(s)?),
        };
        Ok(SummaryQuery {
            period: Period::last_days(days, clock::now().date_naive()),
            seller_id,
        })
    }
}

/// `/app/reports/daily.csv`: daily totals for the overview's period.
pub async fn daily(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let query = q.summary().page(auth.lang)?;
    crate::csv_download::respond(&state, &auth.scope, ExportKind::Daily(query))
        .await
        .page(auth.lang)
}

/// `/app/refunds/export.csv`: the refunds asked for in the overview's period.
pub async fn refunds(
    state: web::Data<AppState>,
    auth: Auth,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let query = q.summary().page(auth.lang)?;
    let filter = RefundFilter {
        seller_id: query.seller_id.map(|s| s.into_string()),
        created_after: Some(query.period.start_time()),
        created_before: Some(query.period.end_time()),
        ..Default::default()
    };
    crate::csv_download::respond(&state, &auth.scope, ExportKind::Refunds(filter))
        .await
        .page(auth.lang)
}
