//! `puente-bench faults`: pushes intents through a fault matrix with real
//! processes, then checks every intent. Exit status 1 when any count is wrong.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::Which;
use crate::receiver::{self, Inbox};
use crate::stack::{Options, Setup, Stack};

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Intents to push (per setup).
    #[arg(long, default_value_t = 10_000)]
    pub intents: usize,
    #[arg(long, value_enum, default_value = "both")]
    pub setup: Which,
    /// Offered creates per second.
    #[arg(long, default_value_t = 150.0)]
    pub rate: f64,
    /// Sandbox sellers × 50 terminals.
    #[arg(long, default_value_t = 20)]
    pub sellers: usize,
    /// Worker processes (PostgreSQL + Redis).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// kill -9 a worker every this many seconds (PostgreSQL + Redis).
    #[arg(long, default_value_t = 4)]
    pub kill_every: u64,
    /// Skip the Redis and PostgreSQL restarts (the CI matrix).
    #[arg(long)]
    pub no_restarts: bool,
    /// After the load: how long the reconciler may take to settle everything.
    #[arg(long, default_value_t = 900)]
    pub settle_secs: u64,
    /// Every this-many-th intent is canceled by the POS at a random offset
    /// (0 to `cancel_within_ms`) after its create; 0 = none.
    #[arg(long, default_value_t = 3)]
    pub cancel_every: usize,
    #[arg(long, default_value_t = 2000)]
    pub cancel_within_ms: u64,
    /// Every this-many-th create is sent twice at once with the same
    /// Idempotency-Key (a POS retrying before the first answer came back,
    /// racing its commit); 0 = none.
    #[arg(long, default_value_t = 5)]
    pub race_retry_every: usize,
}

#[derive(Default, Debug)]
pub struct Counts {
    pub intents: usize,
    pub accepted: usize,
    pub unconfirmed: usize,
    pub lost: usize,
    pub created_twice: usize,
    pub charged_twice: usize,
    pub stuck: usize,
    pub outcome_mismatch: usize,
    pub cancels: usize,
    /// Puente says canceled, Mercado Pago charged it.
    pub charged_but_canceled: usize,
    /// The cancel's answer disagrees with the final state (200 but not
    /// canceled; 409 but canceled).
    pub cancel_answer_mismatch: usize,
    pub flagged_for_attention: usize,
    /// Creates sent twice at once with one Idempotency-Key.
    pub raced_retries: usize,
    /// ... whose two answers named different intents.
    pub raced_retries_disagreeing: usize,
    pub deliveries: usize,
    pub deliveries_not_received: usize,
    pub final_event_missing: usize,
    pub duplicate_receipts: usize,
    pub bad_signatures: u64,
    pub worker_kills: usize,
    pub redis_restarts: usize,
    pub pg_restarts: usize,
    pub settle: Duration,
}

impl Counts {
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.created_twice == 0
            && self.charged_twice == 0
            && self.stuck == 0
            && self.outcome_mismatch == 0
            && self.charged_but_canceled == 0
            && self.cancel_answer_mismatch == 0
            && self.raced_retries_disagreeing == 0
            && self.deliveries_not_received == 0
            && self.final_event_missing == 0
            && self.bad_signatures == 0
            && self.unconfirmed == 0
    }
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let mut all_ok = true;
    for setup in a.setup.setups() {
        let c = run_setup(&a, setup).await?;
        println!("== fault suite: {} ==", setup.label());
        println!("  intents pushed:                       {}", c.intents);
        println!("  accepted (201) by the POS API:        {}", c.accepted);
        println!("  never confirmed to the POS:           {}", c.unconfirmed);
        println!("  lost:                                 {}", c.lost);
        println!(
            "  created twice:                        {}",
            c.created_twice
        );
        println!(
            "  charged twice at the sandbox:         {}",
            c.charged_twice
        );
        println!("  stuck in a non-final state:           {}", c.stuck);
        println!(
            "  outcome ≠ sandbox charge:             {}",
            c.outcome_mismatch
        );
        println!(
            "  canceled by the POS while in flight:  {}  ({} charged but canceled, {} answers ≠ outcome, {} paid despite the cancel and flagged)",
            c.cancels, c.charged_but_canceled, c.cancel_answer_mismatch, c.flagged_for_attention
        );
        println!(
            "  retries racing the first create:      {}  ({} answered with another intent)",
            c.raced_retries, c.raced_retries_disagreeing
        );
        println!("  webhook deliveries due:               {}", c.deliveries);
        println!(
            "  deliveries never received:            {}",
            c.deliveries_not_received
        );
        println!(
            "  final states without their webhook:   {}",
            c.final_event_missing
        );
        println!(
            "  duplicate receipts (same webhook-id): {}  (at least once: allowed)",
            c.duplicate_receipts
        );
        println!(
            "  bad signatures:                       {}",
            c.bad_signatures
        );
        println!(
            "  faults: {} worker kill -9, {} Redis restarts (empty), {} PostgreSQL restarts; settled {:.1} s after the load",
            c.worker_kills,
            c.redis_restarts,
            c.pg_restarts,
            c.settle.as_secs_f64()
        );
        println!("  result: {}", if c.ok() { "PASS" } else { "FAIL" });
        all_ok &= c.ok();
    }
    Ok(all_ok)
}

struct Pos {
    http: reqwest::Client,
    url: String,
    key: String,
}

/// One intent, as a careful POS sends it: retried with the same
/// Idempotency-Key until answered; 409 (terminal busy) waits and retries.
async fn push_one(
    pos: &Pos,
    terminal: &str,
    ext: &str,
    amount: i64,
    deadline: Instant,
) -> Option<String> {
    let idem = uuid::Uuid::new_v4().to_string();
    send_until_answered(pos, terminal, ext, amount, &idem, deadline).await
}

/// The same create sent twice at once with one Idempotency-Key: the second
/// races the first's commit. Both must name the same intent.
async fn push_racing(
    pos: &Pos,
    terminal: &str,
    ext: &str,
    amount: i64,
    deadline: Instant,
) -> (Option<String>, bool) {
    let idem = uuid::Uuid::new_v4().to_string();
    let (a, b) = tokio::join!(
        send_until_answered(pos, terminal, ext, amount, &idem, deadline),
        send_until_answered(pos, terminal, ext, amount, &idem, deadline),
    );
    let agree = match (&a, &b) {
        (Some(a), Some(b)) => a == b,
        _ => a.is_none() && b.is_none(),
    };
    if !agree {
        eprintln!("  create {ext}: one key answered {a:?} and {b:?}");
    }
    (a.or(b), agree)
}

async fn send_until_answered(
    pos: &Pos,
    terminal: &str,
    ext: &str,
    amount: i64,
    idem: &str,
    deadline: Instant,
) -> Option<String> {
    let body = json!({"terminal_id": terminal, "amount": amount, "external_reference": ext});
    while Instant::now() < deadline {
        let res = pos
            .http
            .post(format!("{}/v1/payment-intents", pos.url))
            .bearer_auth(&pos.key)
            .header("Idempotency-Key", idem)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status().as_u16() == 201 => {
                let v: Value = r.json().await.unwrap_or_default();
                if let Some(id) = v["id"].as_str() {
                    return Some(id.to_owned());
                }
            }
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 409 | 429) => {
                eprintln!(
                    "  create {ext}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
                return None;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    None
}

async fn wait_final(pos: &Pos, id: &str, deadline: Instant) {
    while Instant::now() < deadline {
        if let Ok(r) = pos
            .http
            .get(format!("{}/v1/payment-intents/{id}?wait=20", pos.url))
            .bearer_auth(&pos.key)
            .timeout(Duration::from_secs(25))
            .send()
            .await
        {
            if let Ok(v) = r.json::<Value>().await
                && matches!(v["status"].as_str(), Some(s) if !matches!(s, "queued" | "created" | "at_terminal"))
            {
                return;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// The POS changes its mind: cancels, half the time allowing an at-terminal
/// cancel. Retries a 504 (`cancel_pending`) like a careful POS. Returns the
/// last HTTP status it got.
async fn cancel_one(pos: &Pos, id: &str, at_terminal: bool, deadline: Instant) -> Option<u16> {
    while Instant::now() < deadline {
        let res = pos
            .http
            .post(format!("{}/v1/payment-intents/{id}/cancel", pos.url))
            .bearer_auth(&pos.key)
            .timeout(Duration::from_secs(15))
            .json(&json!({"at_terminal": at_terminal}))
            .send()
            .await;
        match res {
            Ok(r) if r.status().as_u16() == 504 || r.status().is_server_error() => {}
            Ok(r) if r.status().as_u16() == 429 => {}
            Ok(r) => return Some(r.status().as_u16()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    None
}

/// A pseudo-random offset, different per intent, with no shared state.
fn offset_ms(i: usize, within: u64) -> u64 {
    if within == 0 {
        return 0;
    }
    let x = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    x % within
}

async fn sandbox_faults(stack: &Stack, tick: u64) {
    let sb = &stack.sandbox_url;
    let _ = stack
        .http
        .delete(format!("{sb}/sandbox/faults"))
        .send()
        .await;
    let mut faults = Vec::new();
    if tick.is_multiple_of(3) {
        // A few requests hang: the worker's upstream timeout fires.
        faults.push(json!({"hang": true, "count": 2}));
    }
    let status = [500, 502, 503][(tick % 3) as usize];
    faults.push(json!({"error_rate": 0.3, "error_status": status}));
    faults.push(json!({"duplicate_notifications": true, "count": 25}));
    faults.push(json!({"reorder_notifications": true, "count": 25}));
    for f in faults {
        let _ = stack
            .http
            .post(format!("{sb}/sandbox/faults"))
            .json(&f)
            .send()
            .await;
    }
}

async fn run_setup(a: &Args, setup: Setup) -> anyhow::Result<Counts> {
    let mut stack = Stack::start(Options {
        setup,
        workers: a.workers,
        upstream_timeout_secs: 2,
        sellers: a.sellers,
        terminals_per_seller: 50,
    })
    .await?;
    let inbox = Arc::new(Inbox::default());
    let (recv_url, recv_handle) = receiver::start_receiver(inbox.clone()).await?;
    let (endpoint_id, secret) = stack.add_endpoint(&format!("{recv_url}/hook/0")).await?;
    inbox.secrets.write().unwrap().insert(0, secret.into());
    eprintln!(
        "fault suite ({}): {} terminals, {} intents at {}/s",
        setup.label(),
        stack.terminals.len(),
        a.intents,
        a.rate
    );

    let pos = Arc::new(Pos {
        http: stack.http.clone(),
        url: stack.web_url.clone(),
        key: stack.key.clone(),
    });
    let terminals = Arc::new(stack.terminals.clone());
    let accepted: Arc<std::sync::Mutex<HashMap<String, String>>> = Default::default();
    // intent id → the cancel's answer (HTTP status).
    let cancel_answers: Arc<std::sync::Mutex<HashMap<String, u16>>> = Default::default();
    let done = Arc::new(AtomicUsize::new(0));
    // (raced creates, raced creates whose answers disagreed)
    let raced: Arc<(AtomicUsize, AtomicUsize)> = Default::default();
    let load_secs = a.intents as f64 / a.rate;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(load_secs) + Duration::from_secs(a.settle_secs);
    let mut chains = Vec::new();
    let n_chains = terminals.len().min(a.intents);
    for k in 0..n_chains {
        let (pos, terminals, accepted, done, cancel_answers, raced) = (
            pos.clone(),
            terminals.clone(),
            accepted.clone(),
            done.clone(),
            cancel_answers.clone(),
            raced.clone(),
        );
        let race_every = a.race_retry_every;
        let (n, rate) = (a.intents, a.rate);
        let (cancel_every, cancel_within) = (a.cancel_every, a.cancel_within_ms);
        chains.push(tokio::spawn(async move {
            let mut i = k;
            while i < n {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let ext = format!("f-{i}");
                // Mostly approved; some rejected (12.00) and errors (13.00).
                let amount = match i % 20 {
                    0 => 1200,
                    1 => 1300,
                    _ => 1000 + (i % 90) as i64,
                };
                let pushed = if race_every > 0 && i % race_every == race_every - 1 {
                    let (id, agree) =
                        push_racing(&pos, &terminals[k], &ext, amount, deadline).await;
                    raced.0.fetch_add(1, Ordering::Relaxed);
                    if !agree {
                        raced.1.fetch_add(1, Ordering::Relaxed);
                    }
                    id
                } else {
                    push_one(&pos, &terminals[k], &ext, amount, deadline).await
                };
                if let Some(id) = pushed {
                    accepted.lock().unwrap().insert(ext, id.clone());
                    if cancel_every > 0 && i % cancel_every == cancel_every - 1 {
                        let wait = offset_ms(i, cancel_within);
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        if let Some(code) = cancel_one(&pos, &id, i % 2 == 0, deadline).await {
                            cancel_answers.lock().unwrap().insert(id.clone(), code);
                        }
                    }
                    wait_final(&pos, &id, deadline).await;
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += n_chains;
            }
        }));
    }

    // The matrix, while the load runs.
    let mut c = Counts {
        intents: a.intents,
        ..Default::default()
    };
    let mut tick = 0u64;
    let mut redis_done = a.no_restarts;
    let mut pg_done = a.no_restarts;
    let mut next_worker = 0usize;
    while done.load(Ordering::Relaxed) < a.intents && Instant::now() < deadline {
        let progress = start.elapsed().as_secs_f64() / load_secs;
        if progress < 1.0 {
            sandbox_faults(&stack, tick).await;
            if setup == Setup::PgRedis && tick > 0 && tick.is_multiple_of(a.kill_every) {
                let workers = stack.worker_indices();
                if !workers.is_empty() {
                    let w = workers[next_worker % workers.len()];
                    next_worker += 1;
                    stack.procs[w].kill9();
                    c.worker_kills += 1;
                    stack.start_worker()?;
                }
            }
            if setup == Setup::PgRedis && !redis_done && progress > 0.35 {
                eprintln!("  restarting Redis (shutdown nosave)");
                stack
                    .redis
                    .as_mut()
                    .unwrap()
                    .restart_empty(Duration::from_secs(1))
                    .await?;
                c.redis_restarts += 1;
                redis_done = true;
            }
            if setup == Setup::PgRedis && !pg_done && progress > 0.65 {
                eprintln!("  restarting PostgreSQL (immediate stop)");
                stack
                    .pg
                    .as_ref()
                    .unwrap()
                    .restart(Duration::from_secs(2))
                    .await?;
                c.pg_restarts += 1;
                pg_done = true;
            }
        } else if tick.is_multiple_of(10) {
            let _ = stack
                .http
                .delete(format!("{}/sandbox/faults", stack.sandbox_url))
                .send()
                .await;
            eprintln!(
                "  load done; {} of {} intents finished at the POS",
                done.load(Ordering::Relaxed),
                a.intents
            );
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = stack
        .http
        .delete(format!("{}/sandbox/faults", stack.sandbox_url))
        .send()
        .await;
    for ch in chains {
        let _ = ch.await;
    }
    let load_end = Instant::now();

    // The reconciler's window: until nothing is open or pending (or the deadline).
    let ours = format!("integrator_id = '{}'", stack.integrator_id);
    loop {
        let open = stack.count(&format!(
            "SELECT COUNT(*) FROM payment_intents WHERE {ours} AND status IN ('queued','created','at_terminal')"
        )).await.unwrap_or(i64::MAX);
        let pending = stack
            .count(&format!(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE {ours} AND status = 'pending'"
            ))
            .await
            .unwrap_or(i64::MAX);
        if (open == 0 && pending == 0) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Late deliveries in flight.
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.settle = load_end.elapsed();

    // Check every intent.
    let accepted = accepted.lock().unwrap().clone();
    c.accepted = accepted.len();
    c.cancels = cancel_answers.lock().unwrap().len();
    c.raced_retries = raced.0.load(Ordering::Relaxed);
    c.raced_retries_disagreeing = raced.1.load(Ordering::Relaxed);
    c.unconfirmed = a.intents - accepted.len();
    let backend = stack.db.get_database_backend();
    let rows = stack
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id, external_reference, status, requires_attention FROM payment_intents WHERE {ours}"
            ),
        ))
        .await?;
    let mut by_ext: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in rows {
        let id: String = r.try_get_by_index(0)?;
        let ext: Option<String> = r.try_get_by_index(1)?;
        let status: String = r.try_get_by_index(2)?;
        let flagged: bool = r.try_get_by_index(3)?;
        if flagged {
            c.flagged_for_attention += 1;
        }
        if let Some(ext) = ext.filter(|e| e.starts_with("f-")) {
            by_ext.entry(ext).or_default().push((id, status));
        }
    }
    for (ext, id) in &accepted {
        match by_ext.get(ext) {
            Some(rows) if rows.iter().any(|(rid, _)| rid == id) => {}
            _ => c.lost += 1,
        }
    }
    c.created_twice = by_ext.values().filter(|v| v.len() > 1).count();
    c.stuck = by_ext
        .values()
        .flatten()
        .filter(|(_, s)| matches!(s.as_str(), "queued" | "created" | "at_terminal"))
        .count();

    let charges: Value = stack
        .http
        .get(format!("{}/sandbox/charges", stack.sandbox_url))
        .send()
        .await?
        .json()
        .await?;
    // Puente sends its intent id as the upstream external_reference.
    let mut charged: HashMap<String, Vec<String>> = HashMap::new();
    for ch in charges["charges"].as_array().cloned().unwrap_or_default() {
        if let Some(ext) = ch["external_reference"].as_str() {
            charged
                .entry(ext.to_owned())
                .or_default()
                .push(ch["status"].as_str().unwrap_or("").to_owned());
        }
    }
    let our_ids: HashSet<&str> = by_ext
        .values()
        .flatten()
        .map(|(id, _)| id.as_str())
        .collect();
    // Twice on one intent, or a charge no intent of ours accounts for.
    c.charged_twice = charged
        .iter()
        .filter(|(k, v)| v.len() > 1 || (k.starts_with("pi_") && !our_ids.contains(k.as_str())))
        .count();
    for (ext, rows) in &by_ext {
        let (id, status) = (&rows[0].0, rows[0].1.as_str());
        let approved = charged
            .get(id)
            .is_some_and(|v| v.iter().any(|s| s == "approved"));
        if status == "canceled" && approved {
            c.charged_but_canceled += 1;
        }
        if let Some(code) = cancel_answers.lock().unwrap().get(id) {
            let agrees = match code {
                200 => status == "canceled",
                // Accepted at the terminal: the terminal decides either way.
                202 => matches!(status, "canceled" | "processed" | "failed" | "expired"),
                409 => status != "canceled",
                _ => true,
            };
            if !agrees {
                c.cancel_answer_mismatch += 1;
                if c.cancel_answer_mismatch <= 5 {
                    eprintln!("  cancel answer {code} but {ext} ({id}) ended {status}");
                }
            }
        }
        // A processed intent was charged (approved); an approved charge is a processed intent.
        if (status == "processed") != approved {
            c.outcome_mismatch += 1;
            if c.outcome_mismatch <= 5 {
                eprintln!(
                    "  mismatch {ext} ({id}): intent {status}, charges {:?}",
                    charged.get(id)
                );
            }
        }
    }

    // Webhooks: every delivery row of the endpoint reached the receiver, and
    // every final intent's final event was received.
    let drows = stack
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id, status FROM webhook_deliveries WHERE endpoint_id = '{endpoint_id}'"
            ),
        ))
        .await?;
    let got = inbox.snapshot();
    let ids: HashSet<&str> = got.iter().map(|d| d.webhook_id.as_str()).collect();
    c.deliveries = drows.len();
    for r in drows {
        let id: String = r.try_get_by_index(0)?;
        if !ids.contains(id.as_str()) {
            c.deliveries_not_received += 1;
        }
    }
    c.duplicate_receipts = got.len() - ids.len();
    let finals: HashSet<(String, String)> = got
        .iter()
        .map(|d| (d.object_id.clone(), d.event_type.clone()))
        .collect();
    for (id, status) in by_ext.values().flatten() {
        if !matches!(status.as_str(), "queued" | "created" | "at_terminal")
            && !finals.contains(&(id.clone(), format!("payment_intent.{status}")))
        {
            c.final_event_missing += 1;
        }
    }
    c.bad_signatures = inbox.bad_signatures.load(Ordering::Relaxed);
    if !c.ok() {
        eprintln!("  logs kept in {}", stack.keep_dir().display());
        // SAFETY of the evidence: keep the directory for a failed run.
        unsafe { std::env::set_var("PUENTE_BENCH_KEEP", "1") };
    }
    recv_handle.stop(false).await;
    stack.stop();
    Ok(c)
}
