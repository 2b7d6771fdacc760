//! `puente-bench bench`: the numbers of the README's Performance section.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sea_orm::{ConnectionTrait, Statement};

use crate::Which;
use crate::cpu::{CpuReport, CpuSnap};
use crate::load::{self, Target, median, pct};
use crate::receiver::{self, Inbox};
use crate::stack::{Options, Setup, Stack};
use crate::sustain;
use crate::{pgstat, procs};

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
    /// Sustained end to end: offered creates per second ...
    #[arg(long, default_value_t = 200.0)]
    e2e_rate: f64,
    /// ... for this many seconds (each run).
    #[arg(long, default_value_t = 60)]
    e2e_duration: u64,
    /// Instead of one offered rate: search the highest that holds every
    /// sustained target (doubling from --search-from, then bisecting, each
    /// step --search-duration seconds, once), then confirm it with --runs
    /// runs of --e2e-duration seconds (stepping down 10 % while that fails).
    #[arg(long)]
    find_max: bool,
    #[arg(long, default_value_t = 50.0)]
    search_from: f64,
    #[arg(long, default_value_t = 15)]
    search_duration: u64,
    /// Stop bisecting when the failing rate is within this share of the passing one.
    #[arg(long, default_value_t = 0.1)]
    search_precision: f64,
    #[arg(long, default_value_t = 12)]
    search_steps: usize,
    /// Intents per fan-out run.
    #[arg(long, default_value_t = 1000)]
    fanout_intents: usize,
    /// Seconds of fan-out offered at half the measured delivery rate (its latency).
    #[arg(long, default_value_t = 10)]
    fanout_half_secs: u64,
    /// Sandbox sellers × terminals each (max 50) to spread the terminal lock.
    #[arg(long, default_value_t = 80)]
    sellers: usize,
    #[arg(long, default_value_t = 50)]
    terminals_per_seller: usize,
    /// Web processes in the PostgreSQL + Redis setup (the load generator
    /// spreads the POS's requests over them; Mercado Pago's notifications
    /// reach them through a round-robin proxy).
    #[arg(long, default_value_t = 2)]
    webs: usize,
    /// Worker processes in the PostgreSQL + Redis setup.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// PostgreSQL setup: print the N statements with the most time in each
    /// closed-loop and sustained run, with calls per intent (pg_stat_statements).
    #[arg(long, default_value_t = 0)]
    pg_statements: usize,
    /// Which measurements to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,sustained,fanout,reference"
    )]
    phases: Vec<Measure>,
}

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq, Debug)]
pub enum Measure {
    /// (1) create: closed loop and open loop.
    Create,
    /// (2) sustained end to end (or --find-max).
    Sustained,
    /// (3) fan-out to 1 and 10 endpoints.
    Fanout,
    /// (5) physical reference: raw insert, trivial endpoint.
    Reference,
}

/// Issue #12's targets for create throughput.
const TARGET_CREATE_EMBEDDED: f64 = 3000.0;
const TARGET_CREATE_PG: f64 = 2000.0;
const TARGET_CREATE_OVER_INSERT: f64 = 0.3;
/// Fan-out: deliveries/s to 1 and to 10 endpoints; p99 at half that rate.
const TARGET_FANOUT_1: f64 = 1500.0;
const TARGET_FANOUT_10: f64 = 4000.0;
const TARGET_FANOUT_P99_MS: f64 = 200.0;
/// `puente all`'s memory.
const TARGET_RSS_IDLE_MB: f64 = 64.0;
const TARGET_RSS_PEAK_MB: f64 = 256.0;

fn verdict(ok: bool) -> &'static str {
    if ok { "pass" } else { "FAIL" }
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

/// Rows by their measurement number "(n)"; the CPU rows (6) by phase, each
/// phase's processes first (in the order first seen), then its totals.
fn order_rows(rows: &mut Rows) {
    let section = |l: &str| -> u32 {
        l.strip_prefix('(')
            .and_then(|r| r.split(')').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(99)
    };
    let mut phases: Vec<String> = Vec::new();
    for (l, _) in rows.iter() {
        if let Some((p, _)) = l.split_once(':')
            && section(l) == 6
            && !phases.iter().any(|x| x == p)
        {
            phases.push(p.to_owned());
        }
    }
    let key = |l: &str| {
        let (p, what) = l.split_once(':').unwrap_or((l, ""));
        let phase = phases.iter().position(|x| x == p).unwrap_or(0);
        let rank = match what.trim() {
            "total of these processes" => 1,
            "whole machine (/proc/stat)" => 2,
            _ => 0,
        };
        (section(l), phase, rank)
    };
    rows.sort_by_key(|r| key(&r.0));
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
    order_rows(&mut rows);
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
    let on = |m: Measure| a.phases.contains(&m);
    let requests = a.requests.min(a.sellers * a.terminals_per_seller);
    let webs = if setup == Setup::PgRedis {
        a.webs.max(1)
    } else {
        1
    };
    let stack = Stack::start_scaled(
        Options {
            setup,
            workers: a.workers,
            upstream_timeout_secs: 10,
            sellers: a.sellers,
            terminals_per_seller: a.terminals_per_seller,
        },
        &[],
        webs,
    )
    .await?;
    eprintln!(
        "  seeded {} terminals; processes {:?}; web {:?}",
        stack.terminals.len(),
        stack.all_pids(),
        stack.web_urls
    );
    if a.pg_statements > 0 && !stack.is_sqlite() {
        pgstat::start(&stack.db).await?;
    }
    let inbox = Arc::new(Inbox::default());
    let (recv_url, recv_handle) = receiver::start_receiver(inbox.clone()).await?;
    let (ep0, secret0) = stack.add_endpoint(&format!("{recv_url}/hook/0")).await?;
    inbox.secrets.write().unwrap().insert(0, secret0.into());

    // Warm-up (connections, caches), then idle RSS.
    let target = |tag: &str| {
        Arc::new(Target {
            http: stack.http.clone(),
            urls: stack.web_urls.clone(),
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
    let mut create_rate = f64::NAN;
    if on(Measure::Create) {
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
        let mut cpu_runs = vec![];
        for run in 0..a.runs {
            pg_reset(a, &stack).await;
            let cpu0 = CpuSnap::take(&stack);
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
            let cpu = CpuSnap::take(&stack).since(&cpu0, r.ok);
            cpu.print(&format!("closed loop c={} run {run}", a.concurrency));
            pg_print(a, &stack, "closed loop", cpu.intents).await;
            cpu_runs.push(cpu);
            let r = load::open_loop(target(&format!("o{run}")), requests, a.rate).await;
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
        create_rate = median(c_rate);
        let goal = if setup == Setup::Embedded {
            TARGET_CREATE_EMBEDDED
        } else {
            TARGET_CREATE_PG
        };
        put(
            rows,
            &format!("(1) create, closed loop c={}: throughput", a.concurrency),
            setup,
            format!(
                "{} (≥ {goal:.0}/s: {})",
                rate(create_rate),
                verdict(create_rate >= goal)
            ),
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
        cpu_rows(rows, setup, "closed loop", &median_cpu(cpu_runs));
    }
    // From here on every phase adds the endpoints it measures.
    stack.delete_endpoint(&ep0).await?;

    // (2) sustained end to end: one offered rate, or the highest that holds.
    if on(Measure::Sustained) {
        let mut hook = 100;
        let mut run_at = |rate: f64, secs: u64, runs: usize, tag: String| {
            let (stack, inbox, recv_url) = (&stack, &inbox, &recv_url);
            hook += runs;
            let first_hook = hook - runs;
            async move {
                let mut v = Vec::new();
                for run in 0..runs {
                    pg_reset(a, stack).await;
                    let p = sustain::phase(
                        stack,
                        inbox,
                        recv_url,
                        first_hook + run,
                        rate,
                        Duration::from_secs(secs),
                        &format!("{tag}{run}"),
                    )
                    .await?;
                    p.print(&format!("run {run}"));
                    p.cpu
                        .print(&format!("sustained {rate:.0}/s × {secs} s run {run}"));
                    pg_print(a, stack, "sustained", p.cpu.intents).await;
                    v.push(p);
                }
                anyhow::Ok(sustain::median_phase(&v))
            }
        };
        let (held, label) = if a.find_max {
            let mut lo: Option<f64> = None;
            let mut hi: Option<f64> = None;
            let mut r = a.search_from;
            for step in 0..a.search_steps {
                let p = run_at(r, a.search_duration, 1, format!("s{step}-")).await?;
                let ok = p.pass();
                eprintln!(
                    "  search step {step}: {r:.0}/s × {} s → {}",
                    a.search_duration,
                    if ok { "holds" } else { "fails" }
                );
                if ok {
                    lo = Some(r);
                } else {
                    hi = Some(r);
                }
                r = match (lo, hi) {
                    (Some(l), Some(h)) if h / l <= 1.0 + a.search_precision => break,
                    (Some(l), Some(h)) => (l + h) / 2.0,
                    (Some(l), None) => l * 2.0,
                    (None, Some(h)) => h / 2.0,
                    (None, None) => unreachable!(),
                };
                if r < 1.0 {
                    break;
                }
            }
            // Confirm at the full duration, stepping down while it fails.
            let mut confirmed = None;
            if let Some(mut r) = lo {
                for attempt in 0..4 {
                    let p = run_at(r, a.e2e_duration, a.runs, format!("m{attempt}-")).await?;
                    eprintln!(
                        "  confirm {r:.0}/s × {} s ({} runs, medians) → {}",
                        a.e2e_duration,
                        a.runs,
                        if p.pass() { "holds" } else { "fails" }
                    );
                    if p.pass() {
                        confirmed = Some(p);
                        break;
                    }
                    r *= 0.9;
                }
            }
            let label = match (&confirmed, lo) {
                (Some(p), _) => format!(
                    "{} (confirmed: {} × {} s; the search's first failing rate {})",
                    rate(p.rate),
                    a.runs,
                    a.e2e_duration,
                    hi.map(rate).unwrap_or_else(|| "none found".into())
                ),
                (None, Some(l)) => format!(
                    "none confirmed: {} held for {} s in the search, but {} s runs failed from there down to {}",
                    rate(l),
                    a.search_duration,
                    a.e2e_duration,
                    rate(l * 0.9f64.powi(3))
                ),
                (None, None) => format!(
                    "none: the lowest rate tried, {}, failed",
                    rate(hi.unwrap_or(a.search_from))
                ),
            };
            (confirmed, label)
        } else {
            let p = run_at(a.e2e_rate, a.e2e_duration, a.runs, "e".into()).await?;
            let label = format!(
                "{} offered × {} s: {}",
                rate(a.e2e_rate),
                a.e2e_duration,
                if p.pass() {
                    "holds every target"
                } else {
                    "FAILS"
                }
            );
            (Some(p), label)
        };
        put(
            rows,
            if a.find_max {
                "(2) sustained: highest offered rate that holds every target"
            } else {
                "(2) sustained: verdict"
            },
            setup,
            label,
        );
        if let Some(p) = held {
            sustained_rows(rows, setup, &p);
        }
    }

    // (3) fan-out with 1 and 10 endpoints.
    if on(Measure::Fanout) {
        for endpoints in [1usize, 10] {
            let mut eps = Vec::new();
            for n in 0..endpoints {
                let (id, secret) = stack.add_endpoint(&format!("{recv_url}/hook/{n}")).await?;
                inbox.secrets.write().unwrap().insert(n, secret.into());
                eps.push(id);
            }
            let (mut rates, mut f99, mut f50, mut h99, mut per_intent) =
                (vec![], vec![], vec![], vec![], vec![]);
            for run in 0..a.runs {
                inbox.take();
                let notif_before = stack
                    .count("SELECT COUNT(*) FROM inbound_notifications")
                    .await
                    .unwrap_or(0);
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
                let (per_s, lat) = delivery_rate(&got);
                eprintln!(
                    "  fan-out {endpoints} endpoint(s) run {run}: {} intents, {notif} notifications in, {} deliveries = {per_s:.0}/s, p50 {:.1} p99 {:.1} ms",
                    r.ok,
                    got.len(),
                    pct(&lat, 50.0),
                    pct(&lat, 99.0)
                );
                rates.push(per_s);
                f50.push(pct(&lat, 50.0));
                f99.push(pct(&lat, 99.0));
                if r.ok > 0 {
                    per_intent.push(got.len() as f64 / r.ok as f64);
                }
            }
            let d_rate = median(rates);
            // Latency at half that delivery rate: intents offered at a constant rate.
            let per = median(per_intent);
            let half_intents = d_rate / per / 2.0;
            if half_intents.is_finite() && half_intents >= 0.5 && a.fanout_half_secs > 0 {
                for run in 0..a.runs {
                    inbox.take();
                    let live = Arc::new(sustain::Live::default());
                    sustain::drive(
                        sustain::Pos::of(&stack),
                        &stack.terminals,
                        half_intents,
                        Duration::from_secs(a.fanout_half_secs),
                        None,
                        Some(sustain::abort_backlog(half_intents)),
                        &format!("h{endpoints}-{run}"),
                        live,
                    )
                    .await;
                    stack.drain(Duration::from_secs(300)).await?;
                    let got = inbox.take();
                    let (per_s, lat) = delivery_rate(&got);
                    eprintln!(
                        "  fan-out {endpoints} endpoint(s) at half rate ({half_intents:.0} intents/s offered) run {run}: {} deliveries, {per_s:.0}/s, p50 {:.1} p99 {:.1} ms",
                        got.len(),
                        pct(&lat, 50.0),
                        pct(&lat, 99.0)
                    );
                    h99.push(pct(&lat, 99.0));
                }
            }
            let goal = if endpoints == 1 {
                TARGET_FANOUT_1
            } else {
                TARGET_FANOUT_10
            };
            put(
                rows,
                &format!("(3) fan-out, {endpoints} endpoint(s): signed deliveries/s"),
                setup,
                format!(
                    "{} (≥ {goal:.0}/s: {})",
                    rate(d_rate),
                    verdict(d_rate >= goal)
                ),
            );
            put(
                rows,
                &format!("(3) fan-out, {endpoints} endpoint(s): event → delivered p50 / p99"),
                setup,
                format!("{} / {}", ms(median(f50)), ms(median(f99))),
            );
            let h = median(h99);
            put(
                rows,
                &format!("(3) fan-out, {endpoints} endpoint(s): p99 at half that rate"),
                setup,
                format!(
                    "{} (≤ {TARGET_FANOUT_P99_MS:.0} ms: {})",
                    ms(h),
                    verdict(h <= TARGET_FANOUT_P99_MS)
                ),
            );
            for id in eps {
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
    }

    // (4) RSS.
    for (name, pid) in stack.pids() {
        let idle_kib = idle
            .iter()
            .find(|(n, _)| *n == name)
            .map(|x| x.1)
            .unwrap_or(0);
        if let Some((_, peak)) = procs::rss_kib(pid) {
            let (idle_mb, peak_mb) = (idle_kib as f64 / 1024.0, peak as f64 / 1024.0);
            let goal = if name == "all" {
                format!(
                    " (≤ {TARGET_RSS_IDLE_MB:.0} / ≤ {TARGET_RSS_PEAK_MB:.0} MB: {})",
                    verdict(idle_mb <= TARGET_RSS_IDLE_MB && peak_mb <= TARGET_RSS_PEAK_MB)
                )
            } else {
                String::new()
            };
            put(
                rows,
                &format!(
                    "(4) RSS `puente {}` idle / peak under load",
                    name.trim_end_matches("-1")
                ),
                setup,
                format!("{idle_mb:.1} MB / {peak_mb:.1} MB{goal}"),
            );
        }
    }

    // (5) physical reference: raw single-row inserts, trivial actix endpoint.
    if on(Measure::Reference) {
        let ins = raw_inserts(&stack, a.runs, 20_000, a.concurrency).await?;
        put(
            rows,
            &format!("(5) raw single-row INSERT, c={}", a.concurrency),
            setup,
            rate(ins),
        );
        let ratio = create_rate / ins;
        put(
            rows,
            "(5) create throughput ÷ raw insert rate",
            setup,
            format!(
                "{ratio:.2} (≥ {TARGET_CREATE_OVER_INSERT}: {})",
                verdict(ratio >= TARGET_CREATE_OVER_INSERT)
            ),
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
    }

    recv_handle.stop(false).await;
    stack.stop();
    Ok(())
}

/// Deliveries per second over the window first event → last receipt, and
/// each delivery's latency (event `created_at` → received), sorted micros.
fn delivery_rate(got: &[receiver::Received]) -> (f64, Vec<u64>) {
    let first = got.iter().filter_map(|d| d.event_created).min();
    let last = got.iter().map(|d| d.at).max();
    let window = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(SystemTime::from(f)).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let mut lat: Vec<u64> = got
        .iter()
        .filter_map(|d| {
            let c: SystemTime = d.event_created?.into();
            Some(d.at.duration_since(c).unwrap_or_default().as_micros() as u64)
        })
        .collect();
    lat.sort_unstable();
    (got.len() as f64 / window.as_secs_f64().max(1e-3), lat)
}

fn sustained_rows(rows: &mut Rows, setup: Setup, p: &sustain::Phase) {
    use sustain::fmt_ms as f;
    let v = |ok: bool| verdict(ok);
    put(
        rows,
        "(2) sustained: offered / accepted / drained per s",
        setup,
        format!(
            "{} / {} / {:.1}/s (≥ {:.0}%: {})",
            rate(p.rate),
            rate(p.accept_rate),
            p.drain_rate,
            sustain::DRAIN_SHARE * 100.0,
            v(p.drain_holds())
        ),
    );
    put(
        rows,
        "(2) sustained: in flight after warm-up → at the end",
        setup,
        format!(
            "{:.0} → {:.0} (growth ≤ {:.0}: {})",
            p.backlog_start,
            p.backlog_end,
            p.backlog_allowed(),
            v(p.backlog_growth() <= p.backlog_allowed())
        ),
    );
    put(
        rows,
        "(2) create → charged at the sandbox p50 / p99",
        setup,
        format!(
            "{} / {} (p99 ≤ {} ms: {})",
            f(p.sandbox_p50),
            f(p.sandbox_p99),
            sustain::TARGET_SANDBOX_P99_MS,
            v(p.sandbox_p99 <= sustain::TARGET_SANDBOX_P99_MS)
        ),
    );
    put(
        rows,
        "(2) create → final state seen by the POS (long-poll) p50 / p99",
        setup,
        format!(
            "{} / {} (p99 ≤ {} ms: {})",
            f(p.final_p50),
            f(p.final_p99),
            sustain::TARGET_FINAL_P99_MS,
            v(p.final_p99 <= sustain::TARGET_FINAL_P99_MS)
        ),
    );
    put(
        rows,
        "(2) create → `payment_intent.processed` webhook p50 / p99",
        setup,
        format!(
            "{} / {} (p99 ≤ {} ms: {})",
            f(p.webhook_p50),
            f(p.webhook_p99),
            sustain::TARGET_WEBHOOK_P99_MS,
            v(p.webhook_p99 <= sustain::TARGET_WEBHOOK_P99_MS)
        ),
    );
    put(
        rows,
        "(2) 409 busy / errors / waited for a terminal / never final",
        setup,
        format!("{} / {} / {} / {}", p.busy, p.errors, p.starved, p.gave_up),
    );
    put(
        rows,
        "(2) charged twice / not charged; deliveries not received / duplicate receipts",
        setup,
        format!(
            "{} / {}; {} of {} / {}",
            p.charged_twice,
            p.not_charged,
            p.deliveries_missing,
            p.deliveries,
            p.duplicate_receipts
        ),
    );
    cpu_rows(rows, setup, "sustained", &p.cpu);
}

/// The run whose total CPU per intent is the median.
fn median_cpu(mut runs: Vec<CpuReport>) -> CpuReport {
    runs.sort_by(|a, b| a.total_ms().total_cmp(&b.total_ms()));
    runs.swap_remove(runs.len() / 2)
}

fn cpu_rows(rows: &mut Rows, setup: Setup, phase: &str, c: &CpuReport) {
    for (name, v) in c.per_process_ms() {
        put(
            rows,
            &format!("(6) CPU-ms per intent, {phase}: {name}"),
            setup,
            format!("{v:.2}"),
        );
    }
    put(
        rows,
        &format!("(6) CPU-ms per intent, {phase}: total of these processes"),
        setup,
        format!("{:.2}", c.total_ms()),
    );
    put(
        rows,
        &format!("(6) CPU-ms per intent, {phase}: whole machine (/proc/stat)"),
        setup,
        format!("{:.2}", c.machine_ms()),
    );
    put(
        rows,
        &format!("(6) context switches per intent, {phase}: whole machine (/proc/stat)"),
        setup,
        format!("{:.0}", c.switches_per_intent()),
    );
}

async fn pg_reset(a: &Args, stack: &Stack) {
    if a.pg_statements > 0
        && !stack.is_sqlite()
        && let Err(e) = pgstat::reset(&stack.db).await
    {
        eprintln!("  pg_stat_statements reset: {e}");
    }
}

async fn pg_print(a: &Args, stack: &Stack, label: &str, intents: usize) {
    if a.pg_statements > 0
        && !stack.is_sqlite()
        && let Err(e) = pgstat::print(&stack.db, label, intents, a.pg_statements).await
    {
        eprintln!("  pg_stat_statements: {e}");
    }
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
