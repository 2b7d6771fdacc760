//! One attempt of one delivery, the attempt log, and what happens next.
//!
//! A delivery row (`msg_…`) is the job of record: `pending` with a
//! `next_attempt_at`, or final (`succeeded`, `dead`). [`deliver_once`]
//! (the worker runs the same three steps apart: [`claim`],
//! [`Claimed::send`], [`Sent::record`], holding the endpoint's slot for
//! the send only):
//!
//! 1. claims the row if it is pending and due, by pushing `next_attempt_at`
//!    ahead by the lease (so the reconciler and other workers leave it
//!    alone while the request runs; if this process dies, the lease passes
//!    and the reconciler re-queues it);
//! 2. signs and POSTs the event through the SSRF-guarded client;
//! 3. records a `webhook_attempts` row and moves the delivery, and the
//!    endpoint's failure tracking, atomically (on PostgreSQL, when the
//!    endpoint does not change, in one statement).
//!
//! `attempt_count` counts the attempts of the current cycle (a replay starts
//! a new cycle on the same `msg_…` id); `webhook_attempts.attempt_no` numbers
//! all attempts of the delivery, across cycles.

use crate::db::Db;
use crate::error::{Conflict, Forbidden};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    CommonTableExpression, Expr, ExprTrait, Func, InsertStatement, Query, QueryStatementBuilder,
    WithClause,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use super::endpoints::{self, Endpoint};
use super::policy::{DeliveryPolicy, parse_retry_after};
use super::signing;
use super::{USER_AGENT, WebhookHttp};
use crate::crypto::Keyring;
use crate::entities::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::error::CoreError;
use crate::id::{WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId};
use crate::paging::{Page, PageRequest, fetch_page};
use crate::states::{DeliveryStatus, EndpointStatus};
use crate::tenancy::Scope;

pub use webhook_attempts::Model as Attempt;
pub use webhook_deliveries::Model as Delivery;

/// What the caller (the worker) should do after [`deliver_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx; the delivery is final.
    Succeeded,
    /// Failed; try again at this time (publish a delayed message).
    Retry { at: DateTime<Utc> },
    /// Failed for the last time, or cannot be sent; the delivery is final.
    Dead,
    /// Nothing was sent; nothing to schedule.
    Skipped(Skip),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No such delivery (deleted with its endpoint).
    Missing,
    /// Already succeeded or dead.
    Final,
    /// Pending, but its time has not come (a duplicate or early message).
    NotDue { at: DateTime<Utc> },
    /// Another worker claimed it first.
    Claimed,
}

/// What the HTTP exchange gave.
struct Exchange {
    status: Option<u16>,
    snippet: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
    latency_ms: i64,
}

impl Exchange {
    fn failed(error: String) -> Self {
        Exchange {
            status: None,
            snippet: None,
            error: Some(error),
            retry_after: None,
            latency_ms: 0,
        }
    }

    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn summary(&self) -> String {
        match (&self.error, self.status) {
            (Some(e), _) => e.clone(),
            (None, Some(s)) => format!("HTTP {s}"),
            (None, None) => "no response".into(),
        }
    }
}

/// Attempts one delivery now. Safe to call for any id, any number of times:
/// it sends only when the row is pending, due and not claimed by someone else.
pub async fn deliver_once(
    db: &Db,
    keyring: &Keyring,
    http: &WebhookHttp,
    policy: &DeliveryPolicy,
    delivery_id: &WebhookDeliveryId,
    now: DateTime<Utc>,
) -> Result<Outcome, CoreError> {
    match read(db, delivery_id).await? {
        Some(job) => deliver_job(db, keyring, http, policy, job, now).await,
        None => Ok(Outcome::Skipped(Skip::Missing)),
    }
}

/// A delivery with the endpoint it goes to and the event it carries, read
/// together in one statement ([`read`]); either is `None` once deleted.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery: Delivery,
    endpoint: Option<Endpoint>,
    event: Option<events::Model>,
}

/// As [`deliver_once`], from a job read before (by [`read`]): the claim
/// below checks the delivery again, so a job read a while ago is safe. The
/// endpoint is used as read, as the event, which does not change.
pub async fn deliver_job(
    db: &Db,
    keyring: &Keyring,
    http: &WebhookHttp,
    policy: &DeliveryPolicy,
    job: Job,
    now: DateTime<Utc>,
) -> Result<Outcome, CoreError> {
    match claim(db, policy, job, now).await? {
        Ok(claimed) => {
            claimed
                .send(keyring, http, policy)
                .await
                .record(db, policy)
                .await
        }
        Err(skip) => Ok(Outcome::Skipped(skip)),
    }
}

/// Claims the job's delivery for one attempt if it is pending and due:
/// pushes `next_attempt_at` ahead by the lease, so the reconciler and other
/// workers leave it alone while the request runs (if this process dies, the
/// lease passes and the reconciler re-queues it). Only one caller gets a
/// [`Claimed`] for a given due time.
///
/// The worker claims before it waits for one of the endpoint's slots, and
/// holds the slot for the request only ([`Claimed::send`]), not for the
/// bookkeeping around it.
pub async fn claim(
    db: &Db,
    policy: &DeliveryPolicy,
    job: Job,
    now: DateTime<Utc>,
) -> Result<Result<Claimed, Skip>, CoreError> {
    let Job {
        delivery: d,
        endpoint,
        event,
    } = job;
    if d.status != DeliveryStatus::Pending {
        return Ok(Err(Skip::Final));
    }
    let tolerance = chrono::Duration::from_std(policy.early_tolerance).unwrap_or_default();
    if let Some(at) = d.next_attempt_at
        && at > now + tolerance
    {
        return Ok(Err(Skip::NotDue { at }));
    }
    let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(1));
    let claimed = webhook_deliveries::Entity::update_many()
        .col_expr(
            webhook_deliveries::Column::NextAttemptAt,
            Expr::value(now + lease),
        )
        .col_expr(webhook_deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_deliveries::Column::Id.eq(&d.id))
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
        .filter(
            Condition::any()
                .add(webhook_deliveries::Column::NextAttemptAt.is_null())
                .add(webhook_deliveries::Column::NextAttemptAt.lte(now + tolerance)),
        )
        .exec_with_returning(db)
        .await?;
    // From here on the row as claimed, not as read before: what is recorded
    // (the attempt count) is never older than the claim.
    Ok(match claimed.into_iter().next() {
        Some(delivery) => Ok(Claimed {
            delivery,
            endpoint,
            event,
            now,
        }),
        None => Err(Skip::Claimed),
    })
}

/// A delivery claimed for one attempt ([`claim`]), with its endpoint and event.
#[derive(Debug)]
pub struct Claimed {
    delivery: Delivery,
    endpoint: Option<Endpoint>,
    event: Option<events::Model>,
    /// When it was claimed: the attempt's time (signature, log row).
    now: DateTime<Utc>,
}

/// A claimed delivery after [`Claimed::send`], to be recorded ([`Sent::record`]).
pub struct Sent {
    delivery: Delivery,
    now: DateTime<Utc>,
    outcome: Sending,
}

enum Sending {
    /// Nothing can be sent, ever: the delivery dies with this reason.
    Impossible(&'static str),
    /// The request was made (or failed) to this endpoint.
    Exchanged(Box<Endpoint>, Exchange),
}

impl Claimed {
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// Signs and POSTs the event through the SSRF-guarded client (nothing
    /// is written).
    pub async fn send(
        self,
        keyring: &Keyring,
        http: &WebhookHttp,
        policy: &DeliveryPolicy,
    ) -> Sent {
        let Claimed {
            delivery,
            endpoint,
            event,
            now,
        } = self;
        let outcome = match (endpoint, event) {
            (None, _) => Sending::Impossible("the endpoint was deleted"),
            (Some(ep), _) if ep.status == EndpointStatus::Disabled => {
                Sending::Impossible("the endpoint is disabled")
            }
            (Some(_), None) => Sending::Impossible("the event no longer exists"),
            (Some(ep), Some(event)) => {
                let exchange = match endpoints::signing_secrets(keyring, &ep, now) {
                    Ok(secrets) => {
                        send(
                            http,
                            policy,
                            &ep,
                            delivery.id.as_str(),
                            &event.payload,
                            &secrets,
                            now,
                        )
                        .await
                    }
                    Err(e) => {
                        Exchange::failed(format!("cannot open the endpoint's signing secret: {e}"))
                    }
                };
                Sending::Exchanged(Box::new(ep), exchange)
            }
        };
        Sent {
            delivery,
            now,
            outcome,
        }
    }

    /// Gives the claim back unsent: the delivery is due again at `at` (the
    /// worker defers it while its endpoint has no free slot). Only while
    /// this claim still holds it; otherwise nothing changes.
    pub async fn release(self, db: &Db, at: DateTime<Utc>) -> Result<(), CoreError> {
        let d = self.delivery;
        let mut released = webhook_deliveries::Entity::update_many()
            .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(at))
            .filter(webhook_deliveries::Column::Id.eq(&d.id))
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending));
        released = match d.next_attempt_at {
            Some(lease_end) => {
                released.filter(webhook_deliveries::Column::NextAttemptAt.eq(lease_end))
            }
            None => released.filter(webhook_deliveries::Column::NextAttemptAt.is_null()),
        };
        released.exec(db).await?;
        Ok(())
    }
}

impl Sent {
    /// Records the attempt: its row, the delivery's move and the endpoint's
    /// failure tracking, atomically.
    pub async fn record(self, db: &Db, policy: &DeliveryPolicy) -> Result<Outcome, CoreError> {
        let Sent {
            delivery: d,
            now,
            outcome,
        } = self;
        match outcome {
            Sending::Exchanged(ep, x) => record(db, policy, d, &ep, x, now).await,
            Sending::Impossible(reason) => settle_dead(db, &d, reason, now).await,
        }
    }
}

async fn send(
    http: &WebhookHttp,
    policy: &DeliveryPolicy,
    ep: &Endpoint,
    msg_id: &str,
    body: &str,
    secrets: &[crate::secret::SecretString],
    now: DateTime<Utc>,
) -> Exchange {
    let url = match reqwest::Url::parse(&ep.url) {
        Ok(u) => u,
        Err(e) => return Exchange::failed(format!("the endpoint URL is not valid: {e}")),
    };
    if let Err(e) = http.guard().check_url(&url) {
        return Exchange::failed(e.to_string());
    }
    let timestamp = now.timestamp();
    let refs: Vec<&crate::secret::SecretString> = secrets.iter().collect();
    let signature = match signing::signature_header(&refs, msg_id, timestamp, body.as_bytes()) {
        Ok(s) => s,
        Err(e) => return Exchange::failed(format!("cannot sign: {e}")),
    };
    let started = Instant::now();
    let result = http
        .client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(signing::HEADER_ID, msg_id)
        .header(signing::HEADER_TIMESTAMP, timestamp.to_string())
        .header(signing::HEADER_SIGNATURE, signature)
        .body(body.to_owned())
        .send()
        .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let mut x = Exchange::failed(describe_error(&e));
            x.latency_ms = elapsed_ms(started);
            return x;
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Keep the first bytes only; never read a huge body to the end.
    let mut kept: Vec<u8> = Vec::new();
    let limit = policy.response_snippet_bytes;
    let mut read_error = None;
    while kept.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                kept.extend_from_slice(&chunk[..chunk.len().min(limit - kept.len())])
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(describe_error(&e));
                break;
            }
        }
    }
    let latency_ms = elapsed_ms(started);
    let snippet = (!kept.is_empty()).then(|| truncate_utf8(&kept));
    let error = if (300..400).contains(&status) {
        Some(format!(
            "redirects are not followed (HTTP {status}{}); point the endpoint at the final URL",
            location.map(|l| format!(" to {l}")).unwrap_or_default()
        ))
    } else if (200..300).contains(&status) {
        None
    } else {
        read_error
    };
    Exchange {
        status: Some(status),
        snippet,
        error,
        retry_after: retry_after.filter(|_| status == 429 || status == 503),
        latency_ms,
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The bytes as text, cutting a partial UTF-8 sequence at the end.
fn truncate_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A reqwest error with its causes (where the SSRF refusal sits).
fn describe_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut msg = kind.to_owned();
    let mut source = std::error::Error::source(e);
    let mut last = String::new();
    while let Some(s) = source {
        let text = s.to_string();
        if text != last {
            msg.push_str(": ");
            msg.push_str(&text);
            last = text;
        }
        source = s.source();
    }
    msg
}

async fn settle_dead<C: ConnectionTrait>(
    db: &C,
    d: &Delivery,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, CoreError> {
    let mut am = d.clone().into_active_model();
    am.status = Set(DeliveryStatus::Dead);
    am.last_error = Set(Some(reason.to_owned()));
    am.next_attempt_at = Set(None);
    am.completed_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(db).await?;
    Ok(Outcome::Dead)
}

async fn record(
    db: &Db,
    policy: &DeliveryPolicy,
    d: Delivery,
    ep: &Endpoint,
    x: Exchange,
    now: DateTime<Utc>,
) -> Result<Outcome, CoreError> {
    let attempt = attempt_insert(&d, &x, now);

    let done = d.attempt_count.saturating_add(1);
    let mut dm = d.clone().into_active_model();
    dm.attempt_count = Set(done);
    dm.last_status_code = Set(x.status.map(i32::from));
    dm.updated_at = Set(now);
    let mut em = ep.clone().into_active_model();
    let mut endpoint_changed = false;
    let mut disabled_now = false;

    let outcome = if x.succeeded() {
        dm.status = Set(DeliveryStatus::Succeeded);
        dm.last_error = Set(None);
        dm.next_attempt_at = Set(None);
        dm.completed_at = Set(Some(now));
        if ep.failing_since.is_some() {
            em.failing_since = Set(None);
            endpoint_changed = true;
        }
        Outcome::Succeeded
    } else {
        dm.last_error = Set(Some(x.summary()));
        let failing_since = match ep.failing_since {
            Some(t) => t,
            None => {
                em.failing_since = Set(Some(now));
                endpoint_changed = true;
                now
            }
        };
        if now - failing_since >= policy.disable_after {
            let days = policy.disable_after.num_hours() as f64 / 24.0;
            em.status = Set(EndpointStatus::Disabled);
            em.disabled_reason = Set(Some(format!(
                "disabled automatically on {}: every delivery attempt since {} failed ({days} days); last error: {}",
                now.format("%Y-%m-%d %H:%M UTC"),
                failing_since.format("%Y-%m-%d %H:%M UTC"),
                x.summary()
            )));
            endpoint_changed = true;
            disabled_now = true;
            dm.status = Set(DeliveryStatus::Dead);
            dm.next_attempt_at = Set(None);
            dm.completed_at = Set(Some(now));
            Outcome::Dead
        } else {
            match policy.retry.delay(done as u32) {
                Some(wait) => {
                    let wait = match x.retry_after {
                        Some(ra) => wait.max(ra.min(policy.retry.max_retry_after)),
                        None => wait,
                    };
                    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    dm.next_attempt_at = Set(Some(at));
                    Outcome::Retry { at }
                }
                None => {
                    dm.status = Set(DeliveryStatus::Dead);
                    dm.next_attempt_at = Set(None);
                    dm.completed_at = Set(Some(now));
                    Outcome::Dead
                }
            }
        }
    };
    em.updated_at = Set(now);
    if !endpoint_changed && db.get_database_backend() == DbBackend::Postgres {
        // The common case (the endpoint's tracking unchanged) as one
        // statement: PostgreSQL runs a data-modifying `WITH` as one atomic
        // statement, so the attempt's row and the delivery's move commit
        // together with three round trips fewer than a transaction. SQLite
        // has no such statement, and its writer's transaction costs no
        // round trips.
        let attempt_then_move = webhook_deliveries::Entity::update(dm)
            .validate()?
            .into_query()
            .with(
                WithClause::new()
                    .cte(
                        CommonTableExpression::new()
                            .query(attempt)
                            .table_name("attempt")
                            .to_owned(),
                    )
                    .to_owned(),
            );
        if db.execute(&attempt_then_move).await?.rows_affected() != 1 {
            return Err(DbErr::RecordNotUpdated.into());
        }
        return Ok(outcome);
    }
    let endpoint = endpoint_changed.then_some(em);
    let endpoint_id = ep.id.clone();
    db.write(move |txn| {
        Box::pin(async move {
            txn.execute(&attempt).await?;
            dm.update(txn).await?;
            if let Some(em) = endpoint {
                em.update(txn).await?;
            }
            if disabled_now {
                // The rest of its queue will not be sent (replayable once enabled).
                endpoints::settle_pending(txn, &endpoint_id, "the endpoint was disabled", now)
                    .await?;
            }
            Ok::<_, CoreError>(())
        })
    })
    .await?;
    Ok(outcome)
}

/// The attempt's log row. Its number follows the delivery's last one, taken
/// in the same statement (a replay restarts `attempt_count`; the log's
/// numbers go on), on the `(delivery_id, attempt_no)` index.
fn attempt_insert(d: &Delivery, x: &Exchange, now: DateTime<Utc>) -> InsertStatement {
    use webhook_attempts::Column as A;
    let next_no = Query::select()
        .expr(
            Expr::expr(Func::coalesce([
                Expr::col(A::AttemptNo).max(),
                Expr::val(0i32),
            ]))
            .add(1i32),
        )
        .from(webhook_attempts::Entity)
        .and_where(Expr::col(A::DeliveryId).eq(d.id.clone()))
        .to_owned();
    Query::insert()
        .into_table(webhook_attempts::Entity)
        .columns([
            A::Id,
            A::IntegratorId,
            A::DeliveryId,
            A::EndpointId,
            A::AttemptNo,
            A::StatusCode,
            A::LatencyMs,
            A::ResponseSnippet,
            A::Error,
            A::CreatedAt,
        ])
        // Ten columns, ten values: the arity check cannot fail.
        .values_panic([
            WebhookAttemptId::new().into(),
            d.integrator_id.clone().into(),
            d.id.clone().into(),
            d.endpoint_id.clone().into(),
            Expr::SubQuery(None, Box::new(next_no.into_sub_query_statement())),
            x.status.map(i32::from).into(),
            x.latency_ms.into(),
            x.snippet.clone().into(),
            x.error.clone().into(),
            now.into(),
        ])
        .to_owned()
}

/// A delivery with its attempt log (oldest attempt first).
pub async fn get_with_attempts(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: &WebhookDeliveryId,
) -> Result<(Delivery, Vec<Attempt>), CoreError> {
    let d = scope.find::<webhook_deliveries::Entity>(db, id).await?;
    let attempts = scope
        .select::<webhook_attempts::Entity>()
        .filter(webhook_attempts::Column::DeliveryId.eq(&d.id))
        .order_by_asc(webhook_attempts::Column::AttemptNo)
        .all(db)
        .await?;
    Ok((d, attempts))
}

/// An endpoint's deliveries, newest first, by keyset page.
pub async fn list_for_endpoint(
    db: &impl ConnectionTrait,
    scope: &Scope,
    endpoint_id: &WebhookEndpointId,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<Delivery>, CoreError> {
    let ep = endpoints::get(db, scope, endpoint_id).await?;
    let mut q = scope
        .select::<webhook_deliveries::Entity>()
        .filter(webhook_deliveries::Column::EndpointId.eq(&ep.id));
    if let Some(s) = status {
        q = q.filter(webhook_deliveries::Column::Status.eq(s));
    }
    fetch_page(db, q, webhook_deliveries::Column::Id, page, |d| {
        d.id.to_string()
    })
    .await
}

fn require_integrator_wide(scope: &Scope) -> Result<(), CoreError> {
    if scope.is_integrator_wide() {
        Ok(())
    } else {
        Err(CoreError::Forbidden {
            reason: Forbidden::InsufficientScope,
            message: "only integrator-wide keys can replay webhook deliveries".into(),
        })
    }
}

async fn enabled_endpoint(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: &WebhookEndpointId,
) -> Result<Endpoint, CoreError> {
    let ep = endpoints::get(db, scope, id).await?;
    if ep.status == EndpointStatus::Disabled {
        return Err(CoreError::conflict(
            Conflict::EndpointDisabled,
            "the endpoint is disabled; enable it before replaying",
        ));
    }
    Ok(ep)
}

/// Replays one final delivery: a new attempt cycle (the full retry
/// schedule) on the same `msg_…` id, so a receiver that did process it
/// recognises the `webhook-id`. Returns the row; publish its id to the queue.
pub async fn replay(
    db: &Db,
    scope: &Scope,
    delivery_id: &WebhookDeliveryId,
    now: DateTime<Utc>,
) -> Result<Delivery, CoreError> {
    let txn = db.begin_write().await?;
    let d = scope
        .find::<webhook_deliveries::Entity>(&txn, delivery_id)
        .await?;
    require_integrator_wide(scope)?;
    if d.status == DeliveryStatus::Pending {
        return Err(CoreError::conflict(
            Conflict::DeliveryPending,
            "the delivery is still being attempted; it can be replayed once it succeeded or died",
        ));
    }
    enabled_endpoint(&txn, scope, &d.endpoint_id).await?;
    let saved = restart(&txn, d, now).await?;
    txn.commit().await?;
    Ok(saved)
}

async fn restart(
    db: &impl ConnectionTrait,
    d: Delivery,
    now: DateTime<Utc>,
) -> Result<Delivery, CoreError> {
    let mut am = d.into_active_model();
    am.status = Set(DeliveryStatus::Pending);
    am.attempt_count = Set(0);
    am.next_attempt_at = Set(Some(now));
    am.completed_at = Set(None);
    am.updated_at = Set(now);
    Ok(am.update(db).await?)
}

/// Most deliveries one "replay since" restarts.
pub const MAX_REPLAY: u64 = 10_000;

/// Replays every dead delivery of an endpoint created at or after `since`
/// (at most [`MAX_REPLAY`], oldest first). Returns their ids to publish.
pub async fn replay_failed_since(
    db: &Db,
    scope: &Scope,
    endpoint_id: &WebhookEndpointId,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<WebhookDeliveryId>, CoreError> {
    let txn = db.begin_write().await?;
    let ep = endpoints::get(&txn, scope, endpoint_id).await?;
    require_integrator_wide(scope)?;
    enabled_endpoint(&txn, scope, &ep.id).await?;
    let ids: Vec<WebhookDeliveryId> = scope
        .select::<webhook_deliveries::Entity>()
        .select_only()
        .column(webhook_deliveries::Column::Id)
        .filter(webhook_deliveries::Column::EndpointId.eq(&ep.id))
        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Dead))
        .filter(webhook_deliveries::Column::CreatedAt.gte(since))
        .order_by_asc(webhook_deliveries::Column::Id)
        .limit(MAX_REPLAY)
        .into_tuple()
        .all(&txn)
        .await?;
    for chunk in ids.chunks(500) {
        webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::Status,
                Expr::value(DeliveryStatus::Pending.as_str()),
            )
            .col_expr(webhook_deliveries::Column::AttemptCount, Expr::value(0))
            .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                webhook_deliveries::Column::CompletedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(webhook_deliveries::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_deliveries::Column::Id.is_in(chunk))
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Dead))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(ids)
}

/// `status = 'pending'` written as a literal rather than a bound parameter:
/// only then can either database prove the predicate of the partial index
/// of pending deliveries (`ix_webhook_deliveries_pending`) and use it. The
/// text is the enum's own, not input.
fn pending_as_literal() -> Expr {
    Expr::cust(format!(
        "webhook_deliveries.status = '{}'",
        DeliveryStatus::Pending.as_str()
    ))
}

/// The reconciler's step: pending deliveries whose `next_attempt_at` passed
/// more than `grace` ago (their message was lost, or the worker holding it
/// died). Each is re-armed (`next_attempt_at = now`) with a conditional
/// update, so two reconcilers never both take the same row, and returned
/// for publishing. At most `limit`, most overdue first.
pub async fn take_overdue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    grace: Duration,
    limit: u64,
) -> Result<Vec<WebhookDeliveryId>, CoreError> {
    let cutoff = now - chrono::Duration::from_std(grace).unwrap_or_default();
    let overdue = || {
        Condition::any()
            .add(webhook_deliveries::Column::NextAttemptAt.is_null())
            .add(webhook_deliveries::Column::NextAttemptAt.lt(cutoff))
    };
    let ids: Vec<WebhookDeliveryId> = webhook_deliveries::Entity::find()
        .select_only()
        .column(webhook_deliveries::Column::Id)
        .filter(pending_as_literal())
        .filter(overdue())
        .order_by_asc(webhook_deliveries::Column::NextAttemptAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let mut taken = Vec::with_capacity(ids.len());
    for id in ids {
        let res = webhook_deliveries::Entity::update_many()
            .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
            .filter(webhook_deliveries::Column::Id.eq(&id))
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending))
            .filter(overdue())
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            taken.push(id);
        }
    }
    Ok(taken)
}

/// A delivery's row (the worker reads it before taking a per-endpoint
/// slot, and hands it to [`deliver_row`]).
pub async fn read(
    db: &impl ConnectionTrait,
    delivery_id: &WebhookDeliveryId,
) -> Result<Option<Job>, CoreError> {
    Ok(webhook_deliveries::Entity::find_by_id(delivery_id)
        .find_also_related(webhook_endpoints::Entity)
        .find_also_related(events::Entity)
        .one(db)
        .await?
        .map(|(delivery, endpoint, event)| Job {
            delivery,
            endpoint,
            event,
        }))
}
