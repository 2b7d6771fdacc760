//! A small load generator for profiling the sandbox's hot path (the one every
//! benchmark goes through): `POST /v1/orders`, `GET /v1/orders/{id}`, and the
//! signed `order` notification out to a receiver.
//!
//! ```sh
//! cargo build --release -p mp-sandbox --example load
//! # the sandbox alone (instant timings, system clock), in its own process:
//! target/release/examples/load serve 127.0.0.1:8095 &
//! # drive it: 20,000 orders, 32 at a time; --pid reads the server's CPU time and VmRSS
//! target/release/examples/load drive http://127.0.0.1:8095 20000 32 --pid $!
//! ```
//!
//! `serve` reads `SANDBOX_RETENTION_SECS` and `SANDBOX_RETENTION_MAX` (the
//! retention window and count cap, see docs/sandbox.md).

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args.get(1).map_or("127.0.0.1:8095", String::as_str)).await,
        Some("drive") if args.len() >= 4 => {
            let pid = args
                .iter()
                .position(|a| a == "--pid")
                .and_then(|i| args.get(i + 1))
                .and_then(|p| p.parse().ok());
            drive(&args[1], args[2].parse()?, args[3].parse()?, pid).await
        }
        _ => {
            eprintln!(
                "usage: load serve [ADDR] | load drive BASE_URL ORDERS CONCURRENCY [--pid PID]"
            );
            std::process::exit(2);
        }
    }
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = mp_sandbox::SandboxConfig::for_tests();
    cfg.addr = addr.parse()?;
    cfg.manual_clock = false;
    cfg.timings = mp_sandbox::Timings::Instant;
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(s) = env("SANDBOX_RETENTION_SECS") {
        cfg.retention.window = Duration::from_secs(s);
    }
    if let Some(n) = env("SANDBOX_RETENTION_MAX") {
        cfg.retention.max_finished = n as usize;
    }
    let sb = mp_sandbox::start(cfg).await?;
    println!("sandbox on {} (pid {})", sb.base_url(), std::process::id());
    tokio::signal::ctrl_c().await?;
    sb.stop().await;
    Ok(())
}

/// User and system CPU time of a process, in clock ticks (1/100 s), and its VmRSS in kB.
fn proc_stats(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let cpu = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((cpu, rss))
}

async fn drive(
    base: &str,
    orders: u64,
    concurrency: u64,
    pid: Option<u32>,
) -> Result<(), Box<dyn std::error::Error>> {
    let base = base.trim_end_matches('/').to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .timeout(Duration::from_secs(30))
        .build()?;

    // A receiver for the notifications, answering 200.
    let received = Arc::new(AtomicU64::new(0));
    let r2 = received.clone();
    let server = actix_web::HttpServer::new(move || {
        let r = r2.clone();
        // It reads the body: actix closes a connection whose request body was left unread.
        actix_web::App::new().default_service(actix_web::web::to(
            move |_: actix_web::web::Bytes| {
                r.fetch_add(1, Ordering::Relaxed);
                async { actix_web::HttpResponse::Ok().finish() }
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))?;
    let hook = format!("http://{}/hook", server.addrs()[0]);
    tokio::spawn(server.run());

    // An application whose webhook is the receiver, and sellers with 50 terminals each.
    let app: Value = http
        .post(format!("{base}/sandbox/applications"))
        .json(&json!({"redirect_uris": [], "webhook_url": hook}))
        .send()
        .await?
        .json()
        .await?;
    // Enough terminals that a worker rarely finds its next one still busy.
    let sellers = (concurrency * 16).div_ceil(50);
    let mut terminals: Vec<(String, String)> = vec![];
    for _ in 0..sellers {
        let s: Value = http
            .post(format!("{base}/sandbox/sellers"))
            .json(&json!({"site_id": "MLB", "terminals": 50, "client_id": app["client_id"]}))
            .send()
            .await?
            .json()
            .await?;
        let token = s["access_token"].as_str().unwrap_or_default().to_string();
        for t in s["terminals"].as_array().into_iter().flatten() {
            terminals.push((token.clone(), t["id"].as_str().unwrap_or_default().into()));
        }
    }
    let terminals = Arc::new(terminals);
    let before = pid.and_then(proc_stats);
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for w in 0..concurrency {
        let (http, base, terminals, next, busy, errors) = (
            http.clone(),
            base.clone(),
            terminals.clone(),
            next.clone(),
            busy.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Each worker owns every `concurrency`-th terminal.
            let mine: Vec<&(String, String)> = terminals
                .iter()
                .skip(w as usize)
                .step_by(concurrency as usize)
                .collect();
            let mut turn = 0usize;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders {
                    break;
                }
                loop {
                    let (token, terminal) = mine[turn % mine.len()];
                    turn += 1;
                    let body = json!({"type": "point", "external_reference": format!("load_{n}"),
                        "transactions": {"payments": [{"amount": "24.00"}]},
                        "config": {"point": {"terminal_id": terminal, "print_on_terminal": "no_ticket"}},
                        "description": "load",
                        "integration_data": {"platform_id": "dev_1", "sponsor": {"id": "446566691"}}});
                    let r = http
                        .post(format!("{base}/v1/orders"))
                        .bearer_auth(token)
                        .header("x-idempotency-key", format!("load-{n}"))
                        .json(&body)
                        .send()
                        .await;
                    let Ok(r) = r else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    };
                    if r.status().as_u16() == 409 {
                        busy.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        continue;
                    }
                    if r.status().as_u16() != 201 {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    let v: Value = r.json().await.unwrap_or_default();
                    let id = v["id"].as_str().unwrap_or_default();
                    let g = http
                        .get(format!("{base}/v1/orders/{id}"))
                        .bearer_auth(token)
                        .send()
                        .await;
                    match g {
                        Ok(g) if g.status().is_success() => {
                            let _ = g.bytes().await;
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let sent = started.elapsed();
    // Every order sends one `order.processed` notification.
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < orders && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = started.elapsed();
    println!(
        "{orders} orders (POST + GET), concurrency {concurrency}: {:.0} orders/s; \
         notifications received {} after {:.2} s; 409 busy {}, errors {}",
        orders as f64 / sent.as_secs_f64(),
        received.load(Ordering::Relaxed),
        all.as_secs_f64(),
        busy.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    );
    if let (Some(pid), Some((cpu0, rss0))) = (pid, before)
        && let Some((cpu1, rss1)) = proc_stats(pid)
    {
        println!(
            "server pid {pid}: CPU {:.1} µs per order ({} ticks), VmRSS {rss0} kB -> {rss1} kB",
            (cpu1 - cpu0) as f64 * 10_000.0 / orders as f64,
            cpu1 - cpu0
        );
    }
    let stats = http.get(format!("{base}/sandbox/stats")).send().await;
    if let Ok(s) = stats
        && s.status().is_success()
    {
        println!("stats: {}", s.text().await.unwrap_or_default());
    }
    Ok(())
}
