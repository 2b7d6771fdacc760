//! `puente-bench bench`: the numbers of the README's Performance section.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::Which;
use crate::load::{self, Target, median, pct};
use crate::procs;
use crate::receiver::{self, Inbox};
use crate::stack::{Options, Setup, Stack};

#[derive(clap::Args)]
pub struct Args {
    /// Which setups to measure.
    #[arg(long, value_enum, default_value = "both")]
    setup: Which,
    /// Runs per measurement; the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Creates per throughput run (at most the number of terminals).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Closed-loop concurrency.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open-loop offered rate for create latency, per second.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Offered rate and count for the end-to-end measurement.
    #[arg(long, default_value_t = 1000.0)]
    e2e_rate: f64,
    #[arg(long, default_value_t = 3000)]
    e2e_requests: usize,
    /// Intents per fan-out run.
    #[arg(long, default_value_t = 1000)]
    fanout_intents: usize,
    /// Sandbox sellers × terminals each (max 50) to spread the terminal lock.
    #[arg(long, default_value_t = 80)]
    sellers: usize,
    #[arg(long, default_value_t = 50)]
    terminals_per_seller: usize,
    /// Worker processes in the PostgreSQL + Redis setup.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// One row of the table: label and a value per setup.
type Rows = Vec<(String, HashMap<Setup, String>)>;

fn put(rows: &mut Rows, label: &str, setup: Setup, v: String) {
    if let Some(r) = rows.iter_mut().find(|r| r.0 == label) {
        r.1.insert(setup, v);
    } else {
        rows.push((label.to_owned(), HashMap::from([(setup, v)])));
    }
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn rate(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{:.0}/s", v)
    }
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let mut rows: Rows = Vec::new();
    let setups = a.setup.setups();
    for &setup in &setups {
        eprintln!("== {} ==", setup.label());
        measure(&a, setup, &mut rows).await?;
    }
    println!();
    print!("| measurement |");
    for s in &setups {
        print!(" {} |", s.label());
    }
    println!();
    print!("|---|");
    for _ in &setups {
        print!("---|");
    }
    println!();
    for (label, vals) in &rows {
        print!("| {label} |");
        for s in &setups {
            print!(" {} |", vals.get(s).map(String::as_str).unwrap_or("–"));
        }
        println!();
    }
    Ok(true)
}

async fn measure(a: &Args, setup: Setup, rows: &mut Rows) -> anyhow::Result<()> {
    let requests = a.requests.min(a.sellers * a.terminals_per_seller);
    let stack = Stack::start(Options {
        setup,
        workers: a.workers,
        upstream_timeout_secs: 10,
        sellers: a.sellers,
        terminals_per_seller: a.terminals_per_seller,
    })
    .await?;
    eprintln!(
        "  seeded {} terminals; processes {:?}",
        stack.terminals.len(),
        stack.pids()
    );
    let inbox = Arc::new(Inbox::default());
    let (recv_url, recv_handle) = receiver::start_receiver(inbox.clone()).await?;
    let (ep0, secret0) = stack.add_endpoint(&format!("{recv_url}/hook/0")).await?;
    inbox.secrets.write().unwrap().insert(0, secret0.into());
    let _ = ep0;

    // Warm-up (connections, caches), then idle RSS.
    let target = |tag: &str| {
        Arc::new(Target {
            http: stack.http.clone(),
            url: stack.web_url.clone(),
            key: stack.key.clone(),
            terminals: Arc::new(stack.terminals.clone()),
            tag: tag.to_owned(),
        })
    };
    let w = load::closed_loop(target("warm"), 200.min(requests), 16).await;
    eprintln!(
        "  warm-up: {} ok, {} busy, {} errors {:?}",
        w.ok, w.busy, w.errors, w.first_error
    );
    stack.drain(Duration::from_secs(120)).await?;
    inbox.take();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut idle = Vec::new();
    for (name, pid) in stack.pids() {
        if let Some((rss, _)) = procs::rss_kib(pid) {
            idle.push((name, rss));
        }
        procs::reset_peak(pid);
    }

    // (1) create throughput, closed loop, and latency, open loop.
    let (mut c_rate, mut c50, mut c99, mut c999, mut o50, mut o99, mut o999, mut busy) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        0usize,
    );
    let mut o_ach = vec![];
    for run in 0..a.runs {
        let r = load::closed_loop(target(&format!("c{run}")), requests, a.concurrency).await;
        eprintln!(
            "  closed c={} run {run}: {:.0}/s p50 {:.2} p99 {:.2} p99.9 {:.2} ms; {} busy, {} errors {:?}",
            a.concurrency,
            r.rate(),
            r.p(50.0),
            r.p(99.0),
            r.p(99.9),
            r.busy,
            r.errors,
            r.first_error
        );
        c_rate.push(r.rate());
        c50.push(r.p(50.0));
        c99.push(r.p(99.0));
        c999.push(r.p(99.9));
        busy += r.busy + r.errors;
        let d = stack.drain(Duration::from_secs(300)).await?;
        eprintln!("    drained in {d:?}");
        let r = load::open_loop(target(&format!("o{run}")), requests, a.rate, |_| async {}).await;
        eprintln!(
            "  open {}/s run {run}: achieved {:.0}/s p50 {:.2} p99 {:.2} p99.9 {:.2} ms; {} busy, {} errors {:?}",
            a.rate,
            r.rate(),
            r.p(50.0),
            r.p(99.0),
            r.p(99.9),
            r.busy,
            r.errors,
            r.first_error
        );
        o_ach.push(r.ok as f64 / (requests as f64 / a.rate).max(r.elapsed.as_secs_f64()));
        o50.push(r.p(50.0));
        o99.push(r.p(99.0));
        o999.push(r.p(99.9));
        busy += r.busy + r.errors;
        let d = stack.drain(Duration::from_secs(300)).await?;
        eprintln!("    drained in {d:?}");
    }
    let create_rate = median(c_rate);
    put(
        rows,
        &format!("(1) create, closed loop c={}: throughput", a.concurrency),
        setup,
        rate(create_rate),
    );
    put(
        rows,
        "(1) create, closed loop: p50 / p99 / p99.9",
        setup,
        format!(
            "{} / {} / {}",
            ms(median(c50)),
            ms(median(c99)),
            ms(median(c999))
        ),
    );
    put(
        rows,
        &format!(
            "(1) create, open loop {:.0}/s offered: completed rate",
            a.rate
        ),
        setup,
        rate(median(o_ach)),
    );
    put(
        rows,
        "(1) create, open loop: p50 / p99 / p99.9",
        setup,
        format!(
            "{} / {} / {}",
            ms(median(o50)),
            ms(median(o99)),
            ms(median(o999))
        ),
    );
    put(
        rows,
        "(1) 409 terminal_busy + errors (not counted as successes)",
        setup,
        busy.to_string(),
    );

    // (2) end to end at a fixed rate.
    let (mut sb50, mut sb99, mut lp50, mut lp99, mut wh50, mut wh99) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let e2e_n = a.e2e_requests.min(stack.terminals.len());
    for run in 0..a.runs {
        inbox.take();
        let visible: Arc<std::sync::Mutex<Vec<u64>>> = Default::default();
        let (http, url, key) = (stack.http.clone(), stack.web_url.clone(), stack.key.clone());
        let vis = visible.clone();
        let tag = format!("e{run}");
        let r = load::open_loop(target(&tag), e2e_n, a.e2e_rate, move |c| {
            let (http, url, key, vis) = (http.clone(), url.clone(), key.clone(), vis.clone());
            async move {
                for _ in 0..3 {
                    let Ok(resp) = http
                        .get(format!("{url}/v1/payment-intents/{}?wait=30", c.intent_id))
                        .bearer_auth(&key)
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let v: Value = resp.json().await.unwrap_or_default();
                    if !matches!(
                        v["status"].as_str(),
                        Some("queued" | "created" | "at_terminal") | None
                    ) {
                        vis.lock()
                            .unwrap()
                            .push(c.sent_instant.elapsed().as_micros() as u64);
                        return;
                    }
                }
            }
        })
        .await;
        stack.drain(Duration::from_secs(300)).await?;
        // At the sandbox: when the terminal charged (instant timings: at once after the create reached it).
        let charges: Value = stack
            .http
            .get(format!("{}/sandbox/charges", stack.sandbox_url))
            .send()
            .await?
            .json()
            .await?;
        let mut at: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
        for c in charges["charges"].as_array().cloned().unwrap_or_default() {
            if let (Some(ext), Some(t)) = (c["external_reference"].as_str(), c["at"].as_str())
                && ext.starts_with("pi_")
                && let Ok(t) = chrono::DateTime::parse_from_rfc3339(t)
            {
                at.insert(ext.to_owned(), t.with_timezone(&chrono::Utc));
            }
        }
        let by_id: HashMap<&str, &load::Created> = r
            .created
            .iter()
            .map(|c| (c.intent_id.as_str(), c))
            .collect();
        let mut sb: Vec<u64> = r
            .created
            .iter()
            .filter_map(|c| {
                let t = at.get(&c.intent_id)?;
                let sent: chrono::DateTime<chrono::Utc> = c.sent.into();
                Some((*t - sent).num_microseconds()?.max(0) as u64)
            })
            .collect();
        let mut wh: Vec<u64> = inbox
            .snapshot()
            .iter()
            .filter(|d| d.event_type == "payment_intent.processed")
            .filter_map(|d| {
                let c = by_id.get(d.object_id.as_str())?;
                Some(d.at.duration_since(c.sent).ok()?.as_micros() as u64)
            })
            .collect();
        let mut lp = visible.lock().unwrap().clone();
        sb.sort_unstable();
        wh.sort_unstable();
        lp.sort_unstable();
        eprintln!(
            "  e2e {}/s run {run}: {} ok ({} busy, {} err); at sandbox n={} p50 {:.2} p99 {:.2}; visible n={} p50 {:.2} p99 {:.2}; webhook n={} p50 {:.2} p99 {:.2}",
            a.e2e_rate,
            r.ok,
            r.busy,
            r.errors,
            sb.len(),
            pct(&sb, 50.0),
            pct(&sb, 99.0),
            lp.len(),
            pct(&lp, 50.0),
            pct(&lp, 99.0),
            wh.len(),
            pct(&wh, 50.0),
            pct(&wh, 99.0)
        );
        sb50.push(pct(&sb, 50.0));
        sb99.push(pct(&sb, 99.0));
        lp50.push(pct(&lp, 50.0));
        lp99.push(pct(&lp, 99.0));
        wh50.push(pct(&wh, 50.0));
        wh99.push(pct(&wh, 99.0));
    }
    let e2e = format!(
        "(2) at {:.0}/s: create → charged at the sandbox p50 / p99",
        a.e2e_rate
    );
    put(
        rows,
        &e2e,
        setup,
        format!("{} / {}", ms(median(sb50)), ms(median(sb99))),
    );
    put(
        rows,
        "(2) create → final state seen by the POS (long-poll) p50 / p99",
        setup,
        format!("{} / {}", ms(median(lp50)), ms(median(lp99))),
    );
    put(
        rows,
        "(2) create → `payment_intent.processed` webhook delivered p50 / p99",
        setup,
        format!("{} / {}", ms(median(wh50)), ms(median(wh99))),
    );

    // (3) fan-out with 1 and 10 endpoints.
    for endpoints in [1usize, 10] {
        let mut extra = Vec::new();
        for n in 1..endpoints {
            let (id, secret) = stack.add_endpoint(&format!("{recv_url}/hook/{n}")).await?;
            inbox.secrets.write().unwrap().insert(n, secret.into());
            extra.push(id);
        }
        let (mut rates, mut f99, mut f50, mut nin) = (vec![], vec![], vec![], vec![]);
        for run in 0..a.runs {
            inbox.take();
            let notif_before = stack
                .count("SELECT COUNT(*) FROM inbound_notifications")
                .await
                .unwrap_or(0);
            let start = SystemTime::now();
            let r = load::closed_loop(
                target(&format!("f{endpoints}-{run}")),
                a.fanout_intents.min(stack.terminals.len()),
                a.concurrency,
            )
            .await;
            stack.drain(Duration::from_secs(300)).await?;
            let got = inbox.take();
            let notif = stack
                .count("SELECT COUNT(*) FROM inbound_notifications")
                .await
                .unwrap_or(0)
                - notif_before;
            let first = got.iter().filter_map(|d| d.event_created).min();
            let last = got.iter().map(|d| d.at).max();
            let window = match (first, last) {
                (Some(f), Some(l)) => l.duration_since(SystemTime::from(f)).unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let per_s = got.len() as f64 / window.as_secs_f64().max(1e-3);
            let mut lat: Vec<u64> = got
                .iter()
                .filter_map(|d| {
                    let c: SystemTime = d.event_created?.into();
                    Some(d.at.duration_since(c).unwrap_or_default().as_micros() as u64)
                })
                .collect();
            lat.sort_unstable();
            let _ = start;
            eprintln!(
                "  fan-out {endpoints} endpoint(s) run {run}: {} intents, {notif} notifications in, {} deliveries in {window:?} = {per_s:.0}/s, p50 {:.1} p99 {:.1} ms",
                r.ok,
                got.len(),
                pct(&lat, 50.0),
                pct(&lat, 99.0)
            );
            rates.push(per_s);
            f50.push(pct(&lat, 50.0));
            f99.push(pct(&lat, 99.0));
            nin.push(notif as f64);
        }
        put(
            rows,
            &format!("(3) fan-out, {endpoints} endpoint(s): signed deliveries/s"),
            setup,
            rate(median(rates)),
        );
        put(
            rows,
            &format!("(3) fan-out, {endpoints} endpoint(s): event → delivered p50 / p99"),
            setup,
            format!("{} / {}", ms(median(f50)), ms(median(f99))),
        );
        for id in extra {
            stack.delete_endpoint(&id).await?;
        }
    }
    let bad = inbox
        .bad_signatures
        .load(std::sync::atomic::Ordering::Relaxed);
    put(
        rows,
        "(3) deliveries with a bad signature",
        setup,
        bad.to_string(),
    );

    // (4) RSS.
    for (name, pid) in stack.pids() {
        let idle_kib = idle
            .iter()
            .find(|(n, _)| *n == name)
            .map(|x| x.1)
            .unwrap_or(0);
        if let Some((_, peak)) = procs::rss_kib(pid) {
            put(
                rows,
                &format!(
                    "(4) RSS `puente {}` idle / peak under load",
                    name.trim_end_matches("-1")
                ),
                setup,
                format!(
                    "{:.1} MB / {:.1} MB",
                    idle_kib as f64 / 1024.0,
                    peak as f64 / 1024.0
                ),
            );
        }
    }

    // (5) physical reference: raw single-row inserts, trivial actix endpoint.
    let ins = raw_inserts(&stack, a.runs, 20_000, a.concurrency).await?;
    put(
        rows,
        &format!("(5) raw single-row INSERT, c={}", a.concurrency),
        setup,
        rate(ins),
    );
    put(
        rows,
        "(5) create throughput ÷ raw insert rate",
        setup,
        format!("{:.2}", create_rate / ins),
    );
    let hello = hello_rate(&stack, a.runs, 50_000, a.concurrency).await?;
    put(
        rows,
        &format!("(5) trivial actix-web endpoint, c={}", a.concurrency),
        setup,
        rate(hello),
    );
    put(
        rows,
        "(5) create throughput ÷ trivial endpoint",
        setup,
        format!("{:.2}", create_rate / hello),
    );

    recv_handle.stop(false).await;
    stack.stop();
    Ok(())
}

async fn raw_inserts(
    stack: &Stack,
    runs: usize,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let db = stack.db.clone();
    let backend = db.get_database_backend();
    let ddl = if stack.is_sqlite() {
        "CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL, at TEXT NOT NULL)"
    } else {
        "CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)"
    };
    db.execute_unprepared(ddl).await?;
    let mut rates = Vec::new();
    for _ in 0..runs {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (db, next) = (db.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                    let sql = match backend {
                        sea_orm::DatabaseBackend::Postgres => {
                            "INSERT INTO bench_raw (v, at) VALUES ($1, $2)"
                        }
                        _ => "INSERT INTO bench_raw (v, at) VALUES (?, ?)",
                    };
                    let st = Statement::from_sql_and_values(
                        backend,
                        sql,
                        [
                            uuid::Uuid::now_v7().to_string().into(),
                            chrono::Utc::now().into(),
                        ],
                    );
                    db.execute_raw(st).await.expect("insert");
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let r = n as f64 / start.elapsed().as_secs_f64();
        eprintln!("  raw insert: {r:.0}/s");
        rates.push(r);
    }
    db.execute_unprepared("DROP TABLE bench_raw").await?;
    Ok(median(rates))
}

async fn hello_rate(
    stack: &Stack,
    runs: usize,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let port = procs::free_port();
    let me = std::env::current_exe()?;
    let addr = format!("127.0.0.1:{port}");
    let mut p = procs::spawn(
        "hello",
        &me,
        &["hello", "--addr", &addr],
        &HashMap::new(),
        stack.keep_dir(),
    )?;
    let url = format!("http://{addr}/hello");
    procs::wait_http(&stack.http, &url, &mut p, Duration::from_secs(10)).await?;
    let mut rates = Vec::new();
    for _ in 0..runs {
        let (r, lat) = load::closed_loop_get(stack.http.clone(), url.clone(), n, concurrency).await;
        eprintln!("  trivial endpoint: {r:.0}/s p99 {:.2} ms", pct(&lat, 99.0));
        rates.push(r);
    }
    p.kill9();
    Ok(median(rates))
}
