//! Sustained end to end: intents offered at a constant aggregate rate for a
//! duration, each on a free terminal (one open intent per terminal is a
//! Puente rule). Create `i` is due at `start + i/rate` whatever happened
//! before (open loop): it takes the terminal that has been free longest, and
//! if none is free it waits for one — every latency counts from the due
//! time, so a wait shows. Each accepted intent is followed by the POS's
//! long-poll (`GET …?wait=30`) until it is final; then its terminal is free
//! again. A `409 terminal_busy` (should not happen: the terminal was final)
//! is counted apart and the create goes to the next free terminal.
//!
//! Used by `bench` (one phase, pass/fail against the targets), its
//! `--find-max` search, and `soak` (hours, sampled every few seconds).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::cpu::{CpuReport, CpuSnap};
use crate::load::pct;
use crate::receiver::Inbox;
use crate::stack::Stack;

/// The targets of issue #12 for the sustained phase.
pub const TARGET_SANDBOX_P99_MS: f64 = 100.0;
pub const TARGET_FINAL_P99_MS: f64 = 250.0;
pub const TARGET_WEBHOOK_P99_MS: f64 = 250.0;
/// Drain counts as keeping up when it reaches this share of the offered rate,
/// or falls short of it by at most `DRAIN_SLACK` intents over the window
/// (finals counted in a window have edges: ±a few at low rates).
pub const DRAIN_SHARE: f64 = 0.99;
pub const DRAIN_SLACK: f64 = 5.0;
/// Backlog growth allowed over the window: this many seconds' worth of the
/// offered rate (at least 5 intents).
pub const BACKLOG_GROWTH_SECS: f64 = 0.1;

/// The POS side: its HTTP client, key, and the web processes to spread over.
pub struct Pos {
    pub http: reqwest::Client,
    pub web_urls: Vec<String>,
    pub key: String,
}

impl Pos {
    pub fn of(stack: &Stack) -> Arc<Pos> {
        Arc::new(Pos {
            http: stack.http.clone(),
            web_urls: stack.web_urls.clone(),
            key: stack.key.clone(),
        })
    }
}

/// Free terminals, the one free longest first.
struct Pool {
    free: Mutex<VecDeque<String>>,
    permits: Semaphore,
}

impl Pool {
    fn new(terminals: &[String]) -> Pool {
        Pool {
            free: Mutex::new(terminals.iter().cloned().collect()),
            permits: Semaphore::new(terminals.len()),
        }
    }

    /// A free terminal; `true` when none was free at once (the create waited).
    async fn take(&self) -> (String, bool) {
        let waited = match self.permits.try_acquire() {
            Ok(p) => {
                p.forget();
                false
            }
            Err(_) => {
                self.permits.acquire().await.expect("open").forget();
                true
            }
        };
        let t = self
            .free
            .lock()
            .unwrap()
            .pop_front()
            .expect("a permit is a terminal");
        (t, waited)
    }

    fn give_back(&self, t: String) {
        self.free.lock().unwrap().push_back(t);
        self.permits.add_permits(1);
    }
}

/// One accepted intent, once the POS saw it final (or gave up).
#[derive(Clone, Debug)]
pub struct Rec {
    pub intent_id: String,
    /// When its create was due.
    pub due: SystemTime,
    pub due_i: Instant,
    /// Due → `201`, micros.
    pub create_us: u64,
    /// Due → the long-poll answered a final state, micros.
    pub final_us: Option<u64>,
    pub status: Option<String>,
}

/// Counters shared with the samplers while the load runs.
#[derive(Default)]
pub struct Live {
    pub offered: AtomicUsize,
    pub accepted: AtomicUsize,
    pub finals: AtomicUsize,
    /// Accepted, never seen final by the POS within its patience.
    pub gave_up: AtomicUsize,
    pub busy: AtomicUsize,
    pub errors: AtomicUsize,
    /// Creates that found no free terminal at their due time and waited.
    pub starved: AtomicUsize,
    pub first_error: Mutex<Option<String>>,
    /// Intents the POS is done with (final or gave up), drained by soak.
    pub done: Mutex<Vec<Rec>>,
    /// Intent id → when its create was due, for matching webhooks.
    pub due_by_id: Mutex<HashMap<String, SystemTime>>,
    /// When each final was seen, for the drain rate.
    pub final_times: Mutex<Vec<Instant>>,
    /// Per second: (since start, in flight = accepted − finals − gave up).
    pub samples: Mutex<Vec<(f64, usize)>>,
    /// Offering stopped early: the backlog passed the limit given to [`drive`].
    pub aborted: std::sync::atomic::AtomicBool,
    /// Nothing more will be offered (the rest is the drain).
    pub offering_ended: std::sync::atomic::AtomicBool,
    outstanding: AtomicUsize,
    idle: Notify,
}

impl Live {
    pub fn in_flight(&self) -> usize {
        (self.accepted.load(Ordering::Relaxed))
            .saturating_sub(self.finals.load(Ordering::Relaxed))
            .saturating_sub(self.gave_up.load(Ordering::Relaxed))
    }

    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.first_error.lock().unwrap().get_or_insert(e);
    }
}

fn is_open(status: &str) -> bool {
    matches!(status, "queued" | "created" | "at_terminal")
}

/// How far past the targets a phase may fall behind before offering stops
/// (it has failed by then; stopping saves draining a huge backlog): this
/// many seconds of the offered rate in flight, at least 50 intents.
pub const ABORT_BACKLOG_SECS: f64 = 5.0;

pub fn abort_backlog(rate: f64) -> usize {
    ((rate * ABORT_BACKLOG_SECS) as usize).max(50)
}

/// Offers creates at `rate`/s for `duration` (or until `max_intents` were
/// offered; or until more than `abort_over` are in flight), then waits until
/// the POS is done with every accepted intent. Returns when the load started.
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    pos: Arc<Pos>,
    terminals: &[String],
    rate: f64,
    duration: Duration,
    max_intents: Option<usize>,
    abort_over: Option<usize>,
    tag: &str,
    live: Arc<Live>,
) -> Instant {
    let pool = Arc::new(Pool::new(terminals));
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let sampler = {
        let live = live.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let t = start.elapsed().as_secs_f64();
                let n = live.in_flight();
                live.samples.lock().unwrap().push((t, n));
            }
        })
    };
    let n_max = max_intents.unwrap_or(usize::MAX);
    let mut i = 0usize;
    loop {
        let due = Duration::from_secs_f64(i as f64 / rate);
        if due >= duration || i >= n_max {
            break;
        }
        // Offered and not done yet: waiting for a create's answer or for a final state.
        if abort_over.is_some_and(|n| live.outstanding.load(Ordering::SeqCst) > n) {
            live.aborted.store(true, Ordering::Relaxed);
            break;
        }
        tokio::time::sleep_until((start + due).into()).await;
        live.offered.fetch_add(1, Ordering::Relaxed);
        live.outstanding.fetch_add(1, Ordering::SeqCst);
        let (pos, pool, live) = (pos.clone(), pool.clone(), live.clone());
        let ext = format!("{tag}-{i}");
        tokio::spawn(async move {
            one(&pos, &pool, &live, i, ext, start + due, start_wall + due).await;
            if live.outstanding.fetch_sub(1, Ordering::SeqCst) == 1 {
                live.idle.notify_waiters();
            }
        });
        i += 1;
    }
    live.offering_ended.store(true, Ordering::SeqCst);
    loop {
        let idle = live.idle.notified();
        if live.outstanding.load(Ordering::SeqCst) == 0 {
            break;
        }
        idle.await;
    }
    sampler.abort();
    start
}

async fn one(
    pos: &Pos,
    pool: &Pool,
    live: &Live,
    i: usize,
    ext: String,
    due_i: Instant,
    due: SystemTime,
) {
    let web = &pos.web_urls[i % pos.web_urls.len()];
    let (mut terminal, waited) = pool.take().await;
    if waited {
        live.starved.fetch_add(1, Ordering::Relaxed);
    }
    let mut busy_tries = 0;
    let id = loop {
        let res = pos
            .http
            .post(format!("{web}/v1/payment-intents"))
            .bearer_auth(&pos.key)
            .json(&json!({"terminal_id": terminal, "amount": 1000 + (i % 97) as i64, "external_reference": ext}))
            .send()
            .await;
        match res {
            Ok(r) if r.status().as_u16() == 201 => match r.json::<Value>().await {
                Ok(v) => break v["id"].as_str().unwrap_or("").to_owned(),
                Err(e) => {
                    live.error(e.to_string());
                    pool.give_back(terminal);
                    return;
                }
            },
            Ok(r) if r.status().as_u16() == 409 && busy_tries < 10 => {
                live.busy.fetch_add(1, Ordering::Relaxed);
                busy_tries += 1;
                pool.give_back(terminal);
                terminal = pool.take().await.0;
            }
            Ok(r) => {
                let s = r.status();
                live.error(format!("{s}: {}", r.text().await.unwrap_or_default()));
                pool.give_back(terminal);
                return;
            }
            Err(e) => {
                live.error(e.to_string());
                pool.give_back(terminal);
                return;
            }
        }
    };
    let create_us = due_i.elapsed().as_micros() as u64;
    live.accepted.fetch_add(1, Ordering::Relaxed);
    live.due_by_id.lock().unwrap().insert(id.clone(), due);
    let patience = Instant::now() + Duration::from_secs(120);
    let mut status = None;
    let mut final_us = None;
    while Instant::now() < patience {
        let Ok(r) = pos
            .http
            .get(format!("{web}/v1/payment-intents/{id}?wait=30"))
            .bearer_auth(&pos.key)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let v: Value = r.json().await.unwrap_or_default();
        if let Some(s) = v["status"].as_str()
            && !is_open(s)
        {
            final_us = Some(due_i.elapsed().as_micros() as u64);
            status = Some(s.to_owned());
            break;
        }
        if v["status"].is_null() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    pool.give_back(terminal);
    if final_us.is_some() {
        live.final_times.lock().unwrap().push(Instant::now());
        live.finals.fetch_add(1, Ordering::Relaxed);
    } else {
        live.gave_up.fetch_add(1, Ordering::Relaxed);
    }
    live.done.lock().unwrap().push(Rec {
        intent_id: id,
        due,
        due_i,
        create_us,
        final_us,
        status,
    });
}

/// Percentile of latencies where a missing one (never seen) counts as
/// infinitely late: with more than 1 % missing, p99 is infinite.
pub fn pct_with_missing(mut v: Vec<u64>, missing: usize, p: f64) -> f64 {
    v.extend(std::iter::repeat_n(u64::MAX, missing));
    v.sort_unstable();
    let x = pct(&v, p);
    if x >= u64::MAX as f64 / 1000.0 {
        f64::INFINITY
    } else {
        x
    }
}

/// One sustained phase, measured.
#[derive(Clone, Debug)]
pub struct Phase {
    pub rate: f64,
    pub duration: Duration,
    pub offered: usize,
    pub accepted: usize,
    pub busy: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub starved: usize,
    pub gave_up: usize,
    /// Offering stopped early (backlog over [`abort_backlog`]), after this long.
    pub aborted_after: Option<Duration>,
    /// Finals per second in the window after the warm-up.
    pub drain_rate: f64,
    /// That window, seconds.
    pub drain_window: f64,
    /// Creates answered per second in the same window.
    pub accept_rate: f64,
    /// In flight (accepted, not final): after the warm-up, at the end, growth.
    pub backlog_start: f64,
    pub backlog_end: f64,
    pub create_p99: f64,
    pub sandbox_p50: f64,
    pub sandbox_p99: f64,
    pub final_p50: f64,
    pub final_p99: f64,
    pub webhook_p50: f64,
    pub webhook_p99: f64,
    /// Charges at the sandbox: intents with more than one; intents with none.
    pub charged_twice: usize,
    pub not_charged: usize,
    /// Webhook deliveries due (rows of the phase's endpoint), not received,
    /// received more than once (at least once: allowed, counted).
    pub deliveries: usize,
    pub deliveries_missing: usize,
    pub duplicate_receipts: usize,
    pub cpu: CpuReport,
}

impl Phase {
    pub fn backlog_growth(&self) -> f64 {
        self.backlog_end - self.backlog_start
    }

    pub fn drain_holds(&self) -> bool {
        self.drain_rate >= DRAIN_SHARE * self.rate
            || (self.rate - self.drain_rate) * self.drain_window <= DRAIN_SLACK
    }

    pub fn backlog_allowed(&self) -> f64 {
        (self.rate * BACKLOG_GROWTH_SECS).max(5.0)
    }

    /// Each target with its verdict.
    pub fn checks(&self) -> Vec<(String, bool)> {
        vec![
            (
                match self.aborted_after {
                    Some(d) => format!(
                        "offered the whole duration (stopped after {:.1} s: over {} in flight)",
                        d.as_secs_f64(),
                        abort_backlog(self.rate)
                    ),
                    None => "offered the whole duration".to_owned(),
                },
                self.aborted_after.is_none(),
            ),
            (
                format!(
                    "drain {:.1}/s ≥ {:.0}% of offered {:.0}/s (or ≤ {DRAIN_SLACK} intents short over {:.1} s)",
                    self.drain_rate,
                    DRAIN_SHARE * 100.0,
                    self.rate,
                    self.drain_window
                ),
                self.drain_holds(),
            ),
            (
                format!(
                    "backlog growth {:+.0} ≤ {:.0}",
                    self.backlog_growth(),
                    self.backlog_allowed()
                ),
                self.backlog_growth() <= self.backlog_allowed(),
            ),
            (
                format!(
                    "create → charged at the sandbox p99 {} ≤ {TARGET_SANDBOX_P99_MS} ms",
                    fmt_ms(self.sandbox_p99)
                ),
                self.sandbox_p99 <= TARGET_SANDBOX_P99_MS,
            ),
            (
                format!(
                    "create → final at the POS p99 {} ≤ {TARGET_FINAL_P99_MS} ms",
                    fmt_ms(self.final_p99)
                ),
                self.final_p99 <= TARGET_FINAL_P99_MS,
            ),
            (
                format!(
                    "create → payment_intent.processed webhook p99 {} ≤ {TARGET_WEBHOOK_P99_MS} ms",
                    fmt_ms(self.webhook_p99)
                ),
                self.webhook_p99 <= TARGET_WEBHOOK_P99_MS,
            ),
            (
                format!(
                    "no errors ({}), none charged twice ({}), every delivery received ({} missing)",
                    self.errors, self.charged_twice, self.deliveries_missing
                ),
                self.errors == 0 && self.charged_twice == 0 && self.deliveries_missing == 0,
            ),
        ]
    }

    pub fn pass(&self) -> bool {
        self.checks().iter().all(|c| c.1)
    }

    pub fn print(&self, label: &str) {
        eprintln!(
            "  sustained {label}: {:.0}/s × {:.0} s: offered {}, accepted {} ({} busy 409, {} errors{}), waited for a free terminal {}, never final {}",
            self.rate,
            self.duration.as_secs_f64(),
            self.offered,
            self.accepted,
            self.busy,
            self.errors,
            self.first_error
                .as_deref()
                .map(|e| format!(": {}", e.chars().take(120).collect::<String>()))
                .unwrap_or_default(),
            self.starved,
            self.gave_up
        );
        eprintln!(
            "    accepted {:.0}/s, drained {:.0}/s; in flight {:.0} → {:.0}; create p99 {}",
            self.accept_rate,
            self.drain_rate,
            self.backlog_start,
            self.backlog_end,
            fmt_ms(self.create_p99)
        );
        eprintln!(
            "    create → charged at the sandbox p50 {} p99 {}; → final at the POS p50 {} p99 {}; → processed webhook p50 {} p99 {}",
            fmt_ms(self.sandbox_p50),
            fmt_ms(self.sandbox_p99),
            fmt_ms(self.final_p50),
            fmt_ms(self.final_p99),
            fmt_ms(self.webhook_p50),
            fmt_ms(self.webhook_p99)
        );
        eprintln!(
            "    charged twice {}, accepted but not charged {}; deliveries {} ({} not received, {} duplicate receipts)",
            self.charged_twice,
            self.not_charged,
            self.deliveries,
            self.deliveries_missing,
            self.duplicate_receipts
        );
        for (what, ok) in self.checks() {
            eprintln!("    [{}] {what}", if ok { "pass" } else { "FAIL" });
        }
        eprintln!("    → {}", if self.pass() { "PASS" } else { "FAIL" });
    }
}

pub fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.is_infinite() {
        "∞ (>1% never seen)".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// One sustained phase against `stack`: its own webhook endpoint (so its
/// deliveries can be counted), the load, the drain, then the measurements.
/// No other endpoint may be active: every intent's events go to this one.
pub async fn phase(
    stack: &Stack,
    inbox: &Arc<Inbox>,
    recv_url: &str,
    hook_no: usize,
    rate: f64,
    duration: Duration,
    tag: &str,
) -> anyhow::Result<Phase> {
    let (endpoint_id, secret) = stack
        .add_endpoint(&format!("{recv_url}/hook/{hook_no}"))
        .await?;
    inbox
        .secrets
        .write()
        .unwrap()
        .insert(hook_no, secret.into());
    inbox.take();
    let live = Arc::new(Live::default());
    let cpu0 = CpuSnap::take(stack);
    let start = drive(
        Pos::of(stack),
        &stack.terminals,
        rate,
        duration,
        None,
        Some(abort_backlog(rate)),
        tag,
        live.clone(),
    )
    .await;
    let aborted_after = live.aborted.load(Ordering::Relaxed).then(|| {
        let n = live.offered.load(Ordering::Relaxed);
        Duration::from_secs_f64(n as f64 / rate)
    });
    stack.drain(Duration::from_secs(300)).await?;
    let cpu = CpuSnap::take(stack).since(&cpu0, live.finals.load(Ordering::Relaxed));
    // Let the last receipts land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = inbox.take();
    let recs = std::mem::take(&mut *live.done.lock().unwrap());

    // The window after the warm-up (a sixth of the duration, at most 5 s).
    let offered_for = aborted_after.unwrap_or(duration);
    let warm = (offered_for.as_secs_f64() / 6.0).min(5.0);
    let (w0, w1) = (start + Duration::from_secs_f64(warm), start + offered_for);
    let span = (w1 - w0).as_secs_f64().max(1e-3);
    // Finals lag their creates by the create → final latency: count them in
    // the window shifted by its median, so a drain keeping up reads as the
    // offered rate and not a few percent under it.
    let mut fin_sorted: Vec<u64> = recs.iter().filter_map(|r| r.final_us).collect();
    fin_sorted.sort_unstable();
    let lag = Duration::from_micros(fin_sorted.get(fin_sorted.len() / 2).copied().unwrap_or(0));
    let finals_in = live
        .final_times
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t >= w0 + lag && **t < w1 + lag)
        .count();
    let accepted_in = recs
        .iter()
        .filter(|r| {
            let at = r.due_i + Duration::from_micros(r.create_us);
            at >= w0 && at < w1
        })
        .count();
    let samples = live.samples.lock().unwrap().clone();
    let mean = |from: f64, to: f64| {
        let v: Vec<f64> = samples
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|s| s.1 as f64)
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let d = offered_for.as_secs_f64();
    // (d - warm) is at least 5/6 of d: never NaN.
    let head = (d - warm).clamp(1.0, 5.0);
    let backlog_start = mean(warm, warm + head);
    let backlog_end = mean(d - head, d);

    // At the sandbox: the charge's `at`, by Puente's intent id (sent as the
    // order's external_reference).
    let charges: Value = stack
        .http
        .get(format!("{}/sandbox/charges", stack.sandbox_url))
        .send()
        .await?
        .json()
        .await?;
    let mut charged: HashMap<String, (usize, Option<SystemTime>)> = HashMap::new();
    for c in charges["charges"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        if let Some(ext) = c["external_reference"].as_str() {
            let e = charged.entry(ext.to_owned()).or_default();
            e.0 += 1;
            if let Some(t) = c["at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            {
                let t: SystemTime = t.with_timezone(&chrono::Utc).into();
                e.1 = Some(e.1.map_or(t, |p: SystemTime| p.min(t)));
            }
        }
    }
    let mut sb = Vec::new();
    let (mut sb_missing, mut charged_twice) = (0, 0);
    for r in &recs {
        match charged.get(&r.intent_id) {
            Some((n, at)) => {
                if *n > 1 {
                    charged_twice += 1;
                }
                match at {
                    Some(at) => {
                        sb.push(at.duration_since(r.due).unwrap_or_default().as_micros() as u64)
                    }
                    None => sb_missing += 1,
                }
            }
            None => sb_missing += 1,
        }
    }
    let fin: Vec<u64> = recs.iter().filter_map(|r| r.final_us).collect();
    let fin_missing = recs.len() - fin.len();
    let creates: Vec<u64> = recs.iter().map(|r| r.create_us).collect();

    // Webhooks: the first `payment_intent.processed` receipt per processed intent.
    let mut first_processed: HashMap<&str, SystemTime> = HashMap::new();
    for d in &got {
        if d.event_type == "payment_intent.processed" {
            let e = first_processed.entry(d.object_id.as_str()).or_insert(d.at);
            *e = (*e).min(d.at);
        }
    }
    let mut wh = Vec::new();
    let mut wh_missing = 0;
    for r in recs
        .iter()
        .filter(|r| r.status.as_deref() == Some("processed"))
    {
        match first_processed.get(r.intent_id.as_str()) {
            Some(at) => wh.push(at.duration_since(r.due).unwrap_or_default().as_micros() as u64),
            None => wh_missing += 1,
        }
    }
    // Every delivery row of the phase's endpoint received, by webhook-id.
    let rows = stack
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            stack.db.get_database_backend(),
            format!("SELECT id FROM webhook_deliveries WHERE endpoint_id = '{endpoint_id}'"),
        ))
        .await?;
    let ids: HashSet<&str> = got.iter().map(|d| d.webhook_id.as_str()).collect();
    let mut deliveries_missing = 0;
    for r in &rows {
        let id: String = r.try_get_by_index(0)?;
        if !ids.contains(id.as_str()) {
            deliveries_missing += 1;
        }
    }
    stack.delete_endpoint(&endpoint_id).await?;

    let p = |v: &Vec<u64>, missing: usize, q: f64| pct_with_missing(v.clone(), missing, q);
    Ok(Phase {
        rate,
        duration,
        offered: live.offered.load(Ordering::Relaxed),
        accepted: live.accepted.load(Ordering::Relaxed),
        busy: live.busy.load(Ordering::Relaxed),
        errors: live.errors.load(Ordering::Relaxed),
        first_error: live.first_error.lock().unwrap().clone(),
        starved: live.starved.load(Ordering::Relaxed),
        gave_up: live.gave_up.load(Ordering::Relaxed),
        aborted_after,
        drain_rate: finals_in as f64 / span,
        drain_window: span,
        accept_rate: accepted_in as f64 / span,
        backlog_start,
        backlog_end,
        create_p99: p(&creates, 0, 99.0),
        sandbox_p50: p(&sb, sb_missing, 50.0),
        sandbox_p99: p(&sb, sb_missing, 99.0),
        final_p50: p(&fin, fin_missing, 50.0),
        final_p99: p(&fin, fin_missing, 99.0),
        webhook_p50: p(&wh, wh_missing, 50.0),
        webhook_p99: p(&wh, wh_missing, 99.0),
        charged_twice,
        not_charged: sb_missing,
        deliveries: rows.len(),
        deliveries_missing,
        duplicate_receipts: got.len() - ids.len(),
        cpu,
    })
}

/// The median of each figure over several runs of one rate (pass/fail is
/// judged on the medians); counts are summed.
pub fn median_phase(runs: &[Phase]) -> Phase {
    let m = |f: &dyn Fn(&Phase) -> f64| crate::load::median(runs.iter().map(f).collect());
    let s = |f: &dyn Fn(&Phase) -> usize| runs.iter().map(f).sum::<usize>();
    let mut out = runs[runs.len() / 2].clone();
    out.drain_rate = m(&|p| p.drain_rate);
    out.drain_window = m(&|p| p.drain_window);
    out.accept_rate = m(&|p| p.accept_rate);
    out.backlog_start = m(&|p| p.backlog_start);
    out.backlog_end = m(&|p| p.backlog_end);
    out.create_p99 = m(&|p| p.create_p99);
    out.sandbox_p50 = m(&|p| p.sandbox_p50);
    out.sandbox_p99 = m(&|p| p.sandbox_p99);
    out.final_p50 = m(&|p| p.final_p50);
    out.final_p99 = m(&|p| p.final_p99);
    out.webhook_p50 = m(&|p| p.webhook_p50);
    out.webhook_p99 = m(&|p| p.webhook_p99);
    out.offered = s(&|p| p.offered);
    out.accepted = s(&|p| p.accepted);
    out.busy = s(&|p| p.busy);
    out.errors = s(&|p| p.errors);
    out.starved = s(&|p| p.starved);
    out.gave_up = s(&|p| p.gave_up);
    out.charged_twice = s(&|p| p.charged_twice);
    out.not_charged = s(&|p| p.not_charged);
    out.deliveries = s(&|p| p.deliveries);
    out.deliveries_missing = s(&|p| p.deliveries_missing);
    out.duplicate_receipts = s(&|p| p.duplicate_receipts);
    // The CPU table of the run whose total is the median.
    let mut by_cpu: Vec<&Phase> = runs.iter().collect();
    by_cpu.sort_by(|a, b| a.cpu.total_ms().total_cmp(&b.cpu.total_ms()));
    out.cpu = by_cpu[by_cpu.len() / 2].cpu.clone();
    out
}
