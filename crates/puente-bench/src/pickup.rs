//! `puente-bench pickup`: how long after the terminal takes an order Puente
//! reports it `at_terminal`. Mercado Pago sends no notification for the
//! pick-up, so Puente reads an order waiting for the terminal back on a short
//! backoff (`DispatchPolicy::pickup_wait`); this measures the lag that
//! leaves, end to end, with the sandbox's terminals moving at human speed
//! (pick-up 2 s after the order is created, card read 5 s later).
//!
//! The lag of one intent is its `at_terminal` event (Puente's history)
//! minus the moment the sandbox's terminal took the order: the order's
//! `last_updated_date` at the sandbox while the terminal still holds it
//! (read with the seller's token, as Mercado Pago has it). Both clocks are
//! this machine's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Which;
use crate::load::pct;
use crate::stack::{Options, Setup, Stack};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "both")]
    setup: Which,
    /// Intents to measure (each on its own terminal).
    #[arg(long, default_value_t = 200)]
    intents: usize,
    /// Creates per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let mut ok = true;
    println!("| setup | intents | lag p50 | p95 | p99 | max | within 1 s |");
    println!("|---|---|---|---|---|---|---|");
    for setup in a.setup.setups() {
        ok &= measure(&a, setup).await?;
    }
    Ok(ok)
}

async fn measure(a: &Args, setup: Setup) -> anyhow::Result<bool> {
    let stack = Stack::start_with(
        Options {
            setup,
            workers: 1,
            upstream_timeout_secs: 10,
            sellers: a.intents.div_ceil(50).max(1),
            terminals_per_seller: 50,
        },
        &[("PUENTE_SANDBOX_TIMINGS", "human")],
    )
    .await?;
    eprintln!(
        "== {} == {} intents at {}/s",
        setup.label(),
        a.intents,
        a.rate
    );
    let stack = Arc::new(stack);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.intents.min(stack.terminals.len()) {
        let due = start + Duration::from_secs_f64(i as f64 / a.rate);
        tokio::time::sleep_until(due.into()).await;
        let stack = stack.clone();
        tasks.push(tokio::spawn(async move { one(&stack, i).await }));
    }
    let mut lags_us = Vec::new();
    let mut failed = 0usize;
    for t in tasks {
        match t.await? {
            Ok(lag) => lags_us.push(lag.num_microseconds().unwrap_or(i64::MAX).max(0) as u64),
            Err(e) => {
                failed += 1;
                eprintln!("  {e:#}");
            }
        }
    }
    lags_us.sort_unstable();
    let within = lags_us.iter().filter(|l| **l <= 1_000_000).count();
    println!(
        "| {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} of {} |",
        setup.label(),
        lags_us.len(),
        pct(&lags_us, 50.0),
        pct(&lags_us, 95.0),
        pct(&lags_us, 99.0),
        pct(&lags_us, 100.0),
        within,
        lags_us.len(),
    );
    if failed > 0 {
        println!("  {failed} intents could not be measured");
    }
    if let Ok(s) = Arc::try_unwrap(stack) {
        s.stop();
    }
    Ok(failed == 0)
}

/// Creates one intent, waits for Puente to show the pick-up, and answers
/// the lag.
async fn one(stack: &Stack, i: usize) -> anyhow::Result<chrono::Duration> {
    let terminal = &stack.terminals[i];
    let created: Value = stack
        .http
        .post(format!("{}/v1/payment-intents", stack.web_url))
        .bearer_auth(&stack.key)
        .header("Idempotency-Key", format!("pickup-{i}"))
        .json(&json!({"terminal_id": terminal, "amount": 1500}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_str().context("intent id")?.to_owned();
    // Poll as a POS would until Puente says the terminal has it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let intent = loop {
        let intent: Value = stack
            .http
            .get(format!("{}/v1/payment-intents/{id}", stack.web_url))
            .bearer_auth(&stack.key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if intent["status"] != "queued" && intent["status"] != "created" {
            break intent;
        }
        anyhow::ensure!(Instant::now() < deadline, "{id}: never left created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    anyhow::ensure!(
        intent["status"] == "at_terminal",
        "{id}: went from created to {} (the card step is 5 s)",
        intent["status"]
    );
    // The terminal holds it for 5 s more: the order's last update is the
    // moment the terminal took it.
    let order_id = intent["upstream"]["id"]
        .as_str()
        .with_context(|| format!("{id}: no upstream order: {intent}"))?;
    let order: Value = stack
        .http
        .get(format!("{}/v1/orders/{order_id}", stack.sandbox_url))
        .bearer_auth(&stack.seller_tokens[terminal])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(
        order["status"] == "at_terminal",
        "{id}: the sandbox order is {} already",
        order["status"]
    );
    let taken: DateTime<Utc> = order["last_updated_date"]
        .as_str()
        .context("order last_updated_date")?
        .parse()?;
    let history: Value = stack
        .http
        .get(format!("{}/v1/payment-intents/{id}/events", stack.web_url))
        .bearer_auth(&stack.key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let seen: DateTime<Utc> = history["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["to_status"] == "at_terminal")
        .and_then(|e| e["created_at"].as_str())
        .with_context(|| format!("{id}: at_terminal never recorded: {history}"))?
        .parse()?;
    Ok(seen - taken)
}
