//! `puente-bench export`: the CSV export of a large history streams with
//! flat memory. Seeds N processed intents straight into the database, then
//! downloads `GET /v1/exports/payment-intents.csv` while sampling the web
//! process's resident memory; a small export first gives the baseline, so
//! the report shows whether the peak grows with the size of the file.

use std::time::{Duration, Instant};

use chrono::Utc;
use platform_core::entities::{payment_intents, terminals};
use platform_core::id::PaymentIntentId;
use platform_core::states::{IntentStatus, UpstreamApi};
use sea_orm::{EntityTrait, Set};

use crate::Which;
use crate::procs;
use crate::stack::{Options, Setup, Stack};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "both")]
    setup: Which,
    /// Intents in the large export.
    #[arg(long, default_value_t = 100_000)]
    intents: usize,
    /// Intents in the baseline export.
    #[arg(long, default_value_t = 10_000)]
    baseline: usize,
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    println!(
        "| setup | intents | CSV size | time | rows/s | web RSS before | peak during | peak − before |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for setup in a.setup.setups() {
        measure(&a, setup).await?;
    }
    Ok(true)
}

async fn measure(a: &Args, setup: Setup) -> anyhow::Result<()> {
    let stack = Stack::start(Options {
        setup,
        workers: 1,
        upstream_timeout_secs: 10,
        sellers: 2,
        terminals_per_seller: 50,
    })
    .await?;
    eprintln!("== {} ==", setup.label());
    let web_pid = stack
        .pids()
        .into_iter()
        .find(|(name, _)| name == "all" || name == "web")
        .map(|(_, pid)| pid)
        .ok_or_else(|| anyhow::anyhow!("no web process"))?;
    let mut seeded = 0;
    for target in [a.baseline, a.intents] {
        seed(&stack, target - seeded).await?;
        seeded = target;
        let (bytes, rows, took, before, peak) = download(&stack, web_pid).await?;
        anyhow::ensure!(rows == target, "exported {rows} rows of {target}");
        println!(
            "| {} | {} | {:.1} MB | {:.2} s | {:.0} | {:.1} MB | {:.1} MB | {:.1} MB |",
            setup.label(),
            target,
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            rows as f64 / took.as_secs_f64(),
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0,
        );
    }
    stack.stop();
    Ok(())
}

/// Inserts `n` processed intents spread over the stack's terminals and the
/// last 90 days, as the pipeline would have left them.
async fn seed(stack: &Stack, n: usize) -> anyhow::Result<()> {
    let terms = terminals::Entity::find().all(&stack.db).await?;
    anyhow::ensure!(!terms.is_empty(), "no terminals");
    let now = Utc::now();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(500);
    for i in 0..n {
        let t = &terms[i % terms.len()];
        let at = now - chrono::Duration::seconds((i as i64 * 7_919) % (90 * 86_400));
        batch.push(payment_intents::ActiveModel {
            id: Set(PaymentIntentId::new()),
            integrator_id: Set(t.integrator_id.clone()),
            seller_id: Set(t.seller_id.clone()),
            terminal_id: Set(t.id.clone()),
            store_id: Set(t.store_id.clone()),
            pos_id: Set(t.pos_id.clone()),
            api_key_id: Set(None),
            upstream_api: Set(UpstreamApi::Orders),
            upstream_id: Set(Some(format!("ORD{i:012}"))),
            status: Set(IntentStatus::Processed),
            status_detail: Set(Some("accredited".into())),
            amount: Set(500 + (i as i64 * 37) % 100_000),
            currency: Set("BRL".into()),
            description: Set(Some(format!("Pedido {i}, mesa {}", i % 40))),
            external_reference: Set(Some(format!("ref-{i}"))),
            print_on_terminal: Set(true),
            payment_type: Set(Some("credit_card".into())),
            installments: Set(Some(1)),
            installments_cost: Set(None),
            sponsor_id: Set(None),
            mp_payment_id: Set(Some(format!("{}", 10_000_000_000i64 + i as i64))),
            upstream_version: Set(3),
            open_on_terminal: Set(None),
            dispatch_attempts: Set(1),
            next_dispatch_at: Set(None),
            last_error_code: Set(None),
            last_error_message: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            finalized_at: Set(Some(at)),
            cancel_state: Set(None),
            cancel_at_terminal: Set(false),
            cancel_requested_at: Set(None),
            requires_attention: Set(false),
            attention_reason: Set(None),
        });
        if batch.len() == 500 {
            payment_intents::Entity::insert_many(std::mem::take(&mut batch))
                .exec(&stack.db)
                .await?;
        }
    }
    if !batch.is_empty() {
        payment_intents::Entity::insert_many(batch)
            .exec(&stack.db)
            .await?;
    }
    eprintln!("  seeded {n} intents in {:.1?}", started.elapsed());
    Ok(())
}

/// Downloads the export, counting bytes and rows as they arrive; returns
/// (bytes, rows, time, RSS before in KiB, peak RSS during in KiB).
async fn download(stack: &Stack, pid: u32) -> anyhow::Result<(usize, usize, Duration, u64, u64)> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = procs::rss_kib(pid).map(|r| r.0).unwrap_or(0);
    procs::reset_peak(pid);
    let started = Instant::now();
    let mut res = stack
        .http
        .get(format!("{}/v1/exports/payment-intents.csv", stack.web_url))
        .bearer_auth(&stack.key)
        .timeout(Duration::from_secs(600))
        .send()
        .await?
        .error_for_status()?;
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = res.chunk().await? {
        bytes += chunk.len();
        // Seeded descriptions hold no line break: one per row.
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let took = started.elapsed();
    let peak = procs::rss_kib(pid).map(|r| r.1).unwrap_or(0);
    Ok((bytes, lines.saturating_sub(1), took, before, peak))
}
