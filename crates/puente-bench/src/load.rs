//! Load generation: closed loop (fixed concurrency) and open loop (fixed
//! offered rate, latency from the intended send time), and percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

/// Percentile (0..=100) of sorted micros, nearest rank.
pub fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[derive(Debug, Default)]
pub struct RunResult {
    pub ok: usize,
    pub busy: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency of successful creates, micros, sorted.
    pub lat: Vec<u64>,
}

impl RunResult {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    pub fn p(&self, p: f64) -> f64 {
        pct(&self.lat, p)
    }
}

pub struct Target {
    pub http: reqwest::Client,
    /// The web processes' base URLs; create `i` goes to `urls[i % len]`.
    pub urls: Vec<String>,
    pub key: String,
    pub terminals: Arc<Vec<String>>,
    pub tag: String,
}

enum Outcome {
    Ok,
    Busy,
    Err(String),
}

async fn create_one(t: &Target, i: usize) -> Outcome {
    let terminal = &t.terminals[i % t.terminals.len()];
    let ext = format!("{}-{i}", t.tag);
    let res = t
        .http
        .post(format!("{}/v1/payment-intents", t.urls[i % t.urls.len()]))
        .bearer_auth(&t.key)
        .json(&json!({"terminal_id": terminal, "amount": 1000 + (i % 97) as i64, "external_reference": ext}))
        .send()
        .await;
    match res {
        Ok(r) if r.status().as_u16() == 201 => match r.bytes().await {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Err(e.to_string()),
        },
        Ok(r) if r.status().as_u16() == 409 => Outcome::Busy,
        Ok(r) => {
            let s = r.status();
            Outcome::Err(format!("{s}: {}", r.text().await.unwrap_or_default()))
        }
        Err(e) => Outcome::Err(e.to_string()),
    }
}

fn record(res: &mut RunResult, out: Outcome, lat: Duration) {
    match out {
        Outcome::Ok => {
            res.ok += 1;
            res.lat.push(lat.as_micros() as u64);
        }
        Outcome::Busy => res.busy += 1,
        Outcome::Err(e) => {
            res.errors += 1;
            res.first_error.get_or_insert(e);
        }
    }
}

/// `n` creates by `concurrency` loops, each sending the next as soon as the
/// previous answered.
pub async fn closed_loop(t: Arc<Target>, n: usize, concurrency: usize) -> RunResult {
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(RunResult::default()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (t, next, out) = (t.clone(), next.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            let mut local = RunResult::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let sent = Instant::now();
                let o = create_one(&t, i).await;
                record(&mut local, o, sent.elapsed());
            }
            let mut g = out.lock().await;
            g.ok += local.ok;
            g.busy += local.busy;
            g.errors += local.errors;
            if g.first_error.is_none() {
                g.first_error = local.first_error;
            }
            g.lat.extend(local.lat);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut r = Arc::try_unwrap(out).ok().unwrap().into_inner();
    r.elapsed = start.elapsed();
    r.lat.sort_unstable();
    r
}

/// `n` creates offered at `rate`/s whatever the answers: request `i` is due
/// at `start + i/rate` and its latency counts from then (no coordinated
/// omission).
pub async fn open_loop(t: Arc<Target>, n: usize, rate: f64) -> RunResult {
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..n {
        let due = Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until((start + due).into()).await;
        let (t, tx) = (t.clone(), tx.clone());
        tokio::spawn(async move {
            let o = create_one(&t, i).await;
            let lat = (start.elapsed()).saturating_sub(due);
            let _ = tx.send((o, lat));
        });
    }
    drop(tx);
    let mut r = RunResult::default();
    while let Some((o, lat)) = rx.recv().await {
        record(&mut r, o, lat);
    }
    r.elapsed = start.elapsed();
    r.lat.sort_unstable();
    r
}

/// Closed-loop GETs of a trivial URL: requests per second.
pub async fn closed_loop_get(
    http: reqwest::Client,
    url: String,
    n: usize,
    concurrency: usize,
) -> (f64, Vec<u64>) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let s = Instant::now();
                if let Ok(r) = http.get(&url).send().await {
                    let _ = r.bytes().await;
                }
                lat.push(s.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let el = start.elapsed();
    all.sort_unstable();
    (n as f64 / el.as_secs_f64(), all)
}
