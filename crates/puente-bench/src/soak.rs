//! `puente-bench soak`: a constant offered rate for hours (the sustained
//! driver of `bench`, without an end), printing every `--sample-every`
//! seconds the resident memory of every process, the backlog (in flight at
//! the POS; open intents and pending deliveries in the database), that
//! window's latencies and CPU per intent, and the sandbox's own stats when it
//! has `GET /sandbox/stats`. At the end: a verdict on whether memory and
//! backlog stayed flat (exit status 1 when not).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::Which;
use crate::cpu::CpuSnap;
use crate::procs;
use crate::receiver::{self, Inbox};
use crate::stack::{Options, Setup, Stack};
use crate::sustain::{self, Live, Pos, fmt_ms, pct_with_missing};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "both")]
    setup: Which,
    /// Offered creates per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// How long, per setup: `90s`, `30m`, `2h`, or seconds.
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    duration: Duration,
    /// Stop earlier once this many intents were offered (e.g. 1000000).
    #[arg(long)]
    intents: Option<usize>,
    /// Seconds between two printed samples.
    #[arg(long, default_value_t = 10)]
    sample_every: u64,
    /// Samples before this share of the run are warm-up, left out of the verdict.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    #[arg(long, default_value_t = 80)]
    sellers: usize,
    #[arg(long, default_value_t = 50)]
    terminals_per_seller: usize,
    /// Web and worker processes (PostgreSQL + Redis).
    #[arg(long, default_value_t = 2)]
    webs: usize,
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s} (s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// One printed sample: seconds since the start, then each series' value.
struct Sample {
    t: f64,
    /// Taken while the load was offered (not in the drain after it).
    offering: bool,
    values: BTreeMap<String, f64>,
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let mut all_flat = true;
    for setup in a.setup.setups() {
        all_flat &= soak_one(&a, setup).await?;
    }
    Ok(all_flat)
}

async fn soak_one(a: &Args, setup: Setup) -> anyhow::Result<bool> {
    eprintln!("== soak: {} ==", setup.label());
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
    let inbox = Arc::new(Inbox::default());
    let (recv_url, recv_handle) = receiver::start_receiver(inbox.clone()).await?;
    let (endpoint, secret) = stack.add_endpoint(&format!("{recv_url}/hook/0")).await?;
    inbox.secrets.write().unwrap().insert(0, secret.into());
    let _ = endpoint;
    eprintln!(
        "  {} terminals; {:.0}/s for {:.0} s{}; a sample every {} s",
        stack.terminals.len(),
        a.rate,
        a.duration.as_secs_f64(),
        a.intents
            .map(|n| format!(" or {n} intents"))
            .unwrap_or_default(),
        a.sample_every
    );

    let live = Arc::new(Live::default());
    let driver = {
        let (pos, terminals, live) = (Pos::of(&stack), stack.terminals.clone(), live.clone());
        let (rate, duration, intents) = (a.rate, a.duration, a.intents);
        tokio::spawn(async move {
            sustain::drive(pos, &terminals, rate, duration, intents, None, "soak", live).await
        })
    };
    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut cpu_prev = CpuSnap::take(&stack);
    let mut finals_prev = 0usize;
    let mut tick = tokio::time::interval(Duration::from_secs(a.sample_every.max(1)));
    tick.tick().await;
    let mut stats_seen = None::<bool>;
    loop {
        tick.tick().await;
        let finished = driver.is_finished();
        let offering = !live.offering_ended.load(Ordering::SeqCst);
        let t = start.elapsed().as_secs_f64();
        let mut v = BTreeMap::new();

        // Latencies of the window: the POS's finals and the processed webhooks.
        let recs = std::mem::take(&mut *live.done.lock().unwrap());
        live.final_times.lock().unwrap().clear();
        let fin: Vec<u64> = recs.iter().filter_map(|r| r.final_us).collect();
        let fin_missing = recs.len() - fin.len();
        let mut wh = Vec::new();
        {
            let mut due = live.due_by_id.lock().unwrap();
            for d in inbox.take() {
                if d.event_type == "payment_intent.processed"
                    && let Some(at) = due.remove(&d.object_id)
                {
                    wh.push(d.at.duration_since(at).unwrap_or_default().as_micros() as u64);
                }
            }
            // Intents whose webhook never came (not processed) are not kept for ever.
            let old = SystemTime::now() - Duration::from_secs(600);
            due.retain(|_, at| *at > old);
        }

        let finals = live.finals.load(Ordering::Relaxed);
        let cpu_now = CpuSnap::take(&stack);
        let cpu = cpu_now.since(&cpu_prev, finals - finals_prev);
        cpu_prev = cpu_now;
        finals_prev = finals;

        v.insert("in flight".into(), live.in_flight() as f64);
        let open = stack
            .count("SELECT COUNT(*) FROM payment_intents WHERE open_on_terminal IS NOT NULL")
            .await
            .unwrap_or(-1);
        let queued = stack
            .count("SELECT COUNT(*) FROM payment_intents WHERE status = 'queued'")
            .await
            .unwrap_or(-1);
        let pending = stack
            .count("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .await
            .unwrap_or(-1);
        v.insert("open intents (db)".into(), open as f64);
        v.insert("queued intents (db)".into(), queued as f64);
        v.insert("pending deliveries (db)".into(), pending as f64);
        let mut rss_line = Vec::new();
        for (name, pid, tree) in stack.all_pids() {
            let kib = if tree {
                // PostgreSQL: proportional set size over all its processes
                // (shared buffers counted once).
                let t = procs::tree(pid);
                Some(
                    t.iter()
                        .filter_map(|(p, _)| procs::pss_kib(*p))
                        .sum::<u64>(),
                )
            } else {
                procs::rss_kib(pid).map(|x| x.0)
            };
            if let Some(kib) = kib {
                let mb = kib as f64 / 1024.0;
                let key = if tree {
                    format!("{name} (PSS)")
                } else {
                    name.clone()
                };
                rss_line.push(format!("{key} {mb:.1}"));
                v.insert(format!("RSS MB {key}"), mb);
            }
        }
        let mut stats_line = String::new();
        if stats_seen != Some(false) {
            match sandbox_stats(&stack).await {
                Some(fields) => {
                    stats_seen = Some(true);
                    stats_line = fields
                        .iter()
                        .map(|(k, x)| format!("{k}={x}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    for (k, x) in fields {
                        v.insert(format!("sandbox {k}"), x);
                    }
                }
                None if stats_seen.is_none() => {
                    stats_seen = Some(false);
                    eprintln!("  (the sandbox has no GET /sandbox/stats: memory from /proc only)");
                }
                None => {}
            }
        }
        eprintln!(
            "  t={t:>6.0}s offered {} accepted {} final {} in flight {} (409 {}, errors {}, waited {}) | db: open {open}, queued {queued}, pending deliveries {pending} | window: final p99 {}, webhook p99 {}, CPU {:.2} ms/intent | RSS MB: {}{}",
            live.offered.load(Ordering::Relaxed),
            live.accepted.load(Ordering::Relaxed),
            finals,
            live.in_flight(),
            live.busy.load(Ordering::Relaxed),
            live.errors.load(Ordering::Relaxed),
            live.starved.load(Ordering::Relaxed),
            fmt_ms(pct_with_missing(fin, fin_missing, 99.0)),
            fmt_ms(pct_with_missing(wh, 0, 99.0)),
            cpu.total_ms(),
            rss_line.join(", "),
            if stats_line.is_empty() {
                String::new()
            } else {
                format!(" | sandbox: {stats_line}")
            }
        );
        samples.push(Sample {
            t,
            offering,
            values: v,
        });
        if finished {
            break;
        }
    }
    let _ = driver.await;
    if let Some(e) = live.first_error.lock().unwrap().as_deref() {
        eprintln!("  first error: {e}");
    }
    let flat = verdict(a, &samples);
    recv_handle.stop(false).await;
    stack.stop();
    Ok(flat)
}

/// The sandbox's `GET /sandbox/stats` (branch `sandbox-retention`), its
/// numeric fields flattened (`a.b`); `None` when it has none.
async fn sandbox_stats(stack: &Stack) -> Option<Vec<(String, f64)>> {
    let r = stack
        .http
        .get(format!("{}/sandbox/stats", stack.sandbox_url))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    let mut out = Vec::new();
    flatten("", &v, &mut out);
    (!out.is_empty()).then_some(out)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((prefix.to_owned(), x));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        _ => {}
    }
}

/// Least-squares slope of (t, y), per second.
fn slope(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in pts {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

/// Flat: the least-squares trend over the samples after the warm-up,
/// projected over that span, stays within the tolerance — memory: 10 % of
/// its level at the start of the span or 16 MB, whichever is more; backlog:
/// a quarter second of the offered rate or 10, whichever is more. Shown, not
/// judged: the sandbox's own stats (their meaning is its own) and
/// PostgreSQL's PSS (it grows as backends touch more of `shared_buffers`,
/// up to that size, which is not a leak of ours).
fn verdict(a: &Args, samples: &[Sample]) -> bool {
    // Judged: the samples taken while the load was offered, after the warm-up.
    let offered: Vec<&Sample> = samples.iter().filter(|s| s.offering).collect();
    let Some(last) = offered.last() else {
        println!("soak verdict: no sample taken while offering");
        return false;
    };
    let warm_t = last.t * a.warmup;
    let kept: Vec<&Sample> = offered.into_iter().filter(|s| s.t >= warm_t).collect();
    let mut names: Vec<&String> = kept
        .iter()
        .flat_map(|s| s.values.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort();
    let span = kept.last().map(|s| s.t).unwrap_or(0.0) - kept.first().map(|s| s.t).unwrap_or(0.0);
    println!();
    println!(
        "| series (after {:.0} s of warm-up, {:.0} s judged) | first | last | max | trend per hour | allowed growth | verdict |",
        warm_t, span
    );
    println!("|---|---|---|---|---|---|---|");
    let mut all = true;
    let mut by: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for s in &kept {
        for (k, v) in &s.values {
            by.entry(k.as_str()).or_default().push((s.t, *v));
        }
    }
    for name in names {
        let pts = &by[name.as_str()];
        let (first, last_v) = (pts[0].1, pts[pts.len() - 1].1);
        let max = pts.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let k = slope(pts);
        let growth = k * span;
        let judged = !name.starts_with("sandbox ") && !name.contains("postgresql");
        let head: Vec<f64> = pts
            .iter()
            .take(pts.len().div_ceil(4))
            .map(|p| p.1)
            .collect();
        let level = head.iter().sum::<f64>() / head.len().max(1) as f64;
        let allowed = if name.starts_with("RSS") {
            (level * 0.1).max(16.0)
        } else {
            (a.rate * 0.25).max(10.0)
        };
        let ok = growth <= allowed;
        let verdict = if !judged {
            "(shown)"
        } else if ok {
            "flat"
        } else {
            "GROWS"
        };
        if judged {
            all &= ok;
        }
        println!(
            "| {name} | {first:.1} | {last_v:.1} | {max:.1} | {:+.2} | {allowed:.1} | {verdict} |",
            k * 3600.0
        );
    }
    println!();
    println!(
        "soak verdict: {}",
        if kept.len() < 3 {
            "too few samples to judge".to_owned()
        } else if all {
            "FLAT (memory and backlog)".to_owned()
        } else {
            "NOT FLAT".to_owned()
        }
    );
    all && kept.len() >= 3
}
