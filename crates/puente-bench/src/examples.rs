//! `puente-bench examples`: runs the Node and Python examples in
//! `docs/examples/` against a real `puente all` (built-in sandbox, instant
//! terminals) and checks what they print. For each language: a webhook
//! endpoint pointing at the example receiver, a forged delivery the receiver
//! must refuse, the POS example (charge, wait, refund, cancel) whose summary
//! line must match Puente's own records, and the receiver exiting 0 after the
//! last event of the flow. Exit status 1 when a language fails; a missing
//! `node` or `python3` is a failure, never a skip.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use platform_core::secret::SecretString;
use platform_core::webhooks::signing;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::procs;
use crate::stack::{Options, Setup, Stack};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Node,
    Python,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Node => "node",
            Lang::Python => "python",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Lang::Node => "node",
            Lang::Python => "python3",
        }
    }

    fn script(self, dir: &Path, stem: &str) -> PathBuf {
        match self {
            Lang::Node => dir.join("node").join(format!("{stem}.mjs")),
            Lang::Python => dir.join("python").join(format!("{stem}.py")),
        }
    }
}

#[derive(clap::Args, Clone)]
pub struct Args {
    /// Languages to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "node,python")]
    pub lang: Vec<Lang>,
    /// The examples directory (default: this checkout's docs/examples).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seconds each example (POS run, receiver) may take.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
}

/// The event after which the receivers exit: the flow's last one.
const LAST_EVENT: &str = "payment_intent.canceled";
/// Events the receiver must have printed by then.
const EXPECTED_EVENTS: [&str; 3] = [
    "payment_intent.processed",
    "refund.succeeded",
    "payment_intent.canceled",
];

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples"));
    ensure!(
        dir.join("README.md").is_file(),
        "no examples in {} (pass --dir)",
        dir.display()
    );
    let stack = Stack::start(Options {
        setup: Setup::Embedded,
        workers: 0,
        upstream_timeout_secs: 5,
        sellers: 1,
        terminals_per_seller: 2,
    })
    .await?;
    // The charge goes to an auto terminal (instant timings: processed at
    // once). The intent to cancel goes to a manual one, which holds it
    // unpaid until the cancel arrives, so the cancel never races the buyer.
    let charge_terminal = stack.terminals[0].clone();
    let cancel_terminal = stack.terminals[1].clone();
    let device = device_id(&stack, &cancel_terminal).await?;
    stack
        .http
        .patch(format!("{}/sandbox/terminals/{device}", stack.sandbox_url))
        .json(&json!({"mode": "manual"}))
        .send()
        .await?
        .error_for_status()
        .context("switching the cancel terminal to manual")?;

    let mut all_ok = true;
    for lang in &a.lang {
        let started = Instant::now();
        let res = run_lang(&stack, &a, &dir, *lang, &charge_terminal, &cancel_terminal).await;
        match res {
            Ok((summary, events)) => {
                println!(
                    "examples {}: PASS ({:.1} s) {summary}",
                    lang.name(),
                    started.elapsed().as_secs_f64()
                );
                println!("  the receiver verified: {}", events.join(", "));
            }
            Err(e) => {
                all_ok = false;
                println!("examples {}: FAIL: {e:#}", lang.name());
            }
        }
    }
    if !all_ok {
        eprintln!("  Puente's logs kept in {}", stack.keep_dir().display());
        // SAFETY: single-threaded use of the variable, read by `stop` below.
        unsafe { std::env::set_var("PUENTE_BENCH_KEEP", "1") };
    }
    stack.stop();
    Ok(all_ok)
}

async fn device_id(stack: &Stack, terminal: &str) -> anyhow::Result<String> {
    let backend = stack.db.get_database_backend();
    let row = stack
        .db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT device_id FROM terminals WHERE id = '{terminal}'"),
        ))
        .await?
        .context("terminal row")?;
    Ok(row.try_get_by_index::<String>(0)?)
}

/// One language: the summary line and the events the receiver printed.
async fn run_lang(
    stack: &Stack,
    a: &Args,
    dir: &Path,
    lang: Lang,
    charge_terminal: &str,
    cancel_terminal: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    let limit = Duration::from_secs(a.timeout_secs);
    let port = procs::free_port();
    let (endpoint_id, secret) = stack
        .add_endpoint(&format!("http://127.0.0.1:{port}/"))
        .await?;
    let res = async {
        let mut receiver = Script::start(
            lang,
            &lang.script(dir, "webhooks"),
            &[
                ("PORT", port.to_string()),
                ("PUENTE_WEBHOOK_SECRET", secret.clone()),
                ("EXIT_AFTER", LAST_EVENT.to_owned()),
            ],
        )?;
        wait_listening(&mut receiver, port, Duration::from_secs(15)).await?;
        refuses_forgeries(&stack.http, port, &SecretString::new(secret.clone())).await?;

        let mut pos = Script::start(
            lang,
            &lang.script(dir, "pos"),
            &[
                ("PUENTE_URL", stack.web_url.clone()),
                ("PUENTE_KEY", stack.key.clone()),
                ("PUENTE_TERMINAL", charge_terminal.to_owned()),
                ("PUENTE_CANCEL_TERMINAL", cancel_terminal.to_owned()),
            ],
        )?;
        let st = pos.wait(limit).await?;
        let out = pos.stdout();
        ensure!(
            st.success(),
            "the POS example exited with {st}\n--- stdout\n{}\n--- stderr\n{}",
            out.join("\n"),
            pos.stderr()
        );
        let line = out
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .context("the POS example printed nothing")?
            .clone();
        check_summary(stack, &line).await?;

        let st = receiver.wait(limit).await.with_context(|| {
            format!(
                "the receiver did not see {LAST_EVENT}; it printed {:?}; stderr:\n{}",
                receiver.stdout(),
                receiver.stderr()
            )
        })?;
        let events = receiver.stdout();
        ensure!(
            st.success(),
            "the receiver exited with {st}; stdout {events:?}; stderr:\n{}",
            receiver.stderr()
        );
        for want in EXPECTED_EVENTS {
            ensure!(
                events.iter().any(|e| e == want),
                "the receiver never printed {want}: {events:?}"
            );
        }
        Ok((line, events))
    }
    .await;
    stack.delete_endpoint(&endpoint_id).await?;
    res
}

/// The summary names two intents; Puente must agree with what it says.
async fn check_summary(stack: &Stack, line: &str) -> anyhow::Result<()> {
    let v: Value = serde_json::from_str(line)
        .with_context(|| format!("the last line is not the JSON summary: {line}"))?;
    let s = |k: &str| v[k].as_str().unwrap_or("");
    ensure!(
        s("charged").starts_with("pi_") && s("canceled").starts_with("pi_"),
        "summary without intent ids: {line}"
    );
    ensure!(s("charged") != s("canceled"), "one intent twice: {line}");
    ensure!(s("status") == "processed", "charge not processed: {line}");
    ensure!(s("refund") == "succeeded", "refund not succeeded: {line}");
    ensure!(s("cancel_status") == "canceled", "not canceled: {line}");
    // The refunded intent moves to `refunded` after its refund succeeded.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let charged = intent(stack, s("charged")).await?;
        if charged["status"] == "refunded" && charged["amount"] == 1500 {
            break;
        }
        ensure!(
            Instant::now() < end,
            "Puente has the charged intent {}, not refunded: {charged}",
            charged["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let canceled = intent(stack, s("canceled")).await?;
    ensure!(
        canceled["status"] == "canceled",
        "Puente has the canceled intent {}",
        canceled["status"]
    );
    Ok(())
}

async fn intent(stack: &Stack, id: &str) -> anyhow::Result<Value> {
    Ok(stack
        .http
        .get(format!("{}/v1/payment-intents/{id}", stack.web_url))
        .bearer_auth(&stack.key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Deliveries the receiver must refuse (400/401): a body changed after
/// signing, a stale timestamp, a signature under another secret, no
/// signature at all.
async fn refuses_forgeries(
    http: &reqwest::Client,
    port: u16,
    secret: &SecretString,
) -> anyhow::Result<()> {
    let url = format!("http://127.0.0.1:{port}/");
    let now = chrono::Utc::now().timestamp();
    let body = json!({
        "id": "evt_forged",
        "type": LAST_EVENT,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "data": {"id": "pi_forged", "amount": 1500},
    })
    .to_string();
    let other = signing::generate_secret();
    let tampered = body.replace("1500", "150000");
    let cases: [(&str, i64, &SecretString, &str); 4] = [
        ("a body changed after signing", now, secret, &tampered),
        ("a timestamp an hour old", now - 3600, secret, &body),
        ("a signature under another secret", now, &other, &body),
        ("no signature", now, secret, &body),
    ];
    for (what, ts, key, sent) in cases {
        let sig = signing::signature_header(&[key], "msg_forged", ts, body.as_bytes())?;
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("webhook-id", "msg_forged")
            .header("webhook-timestamp", ts.to_string());
        if what != "no signature" {
            req = req.header("webhook-signature", sig);
        }
        let st = req.body(sent.to_owned()).send().await?.status().as_u16();
        ensure!(
            matches!(st, 400 | 401),
            "the receiver answered {st} to a forged delivery ({what}); it must refuse it with 400 or 401"
        );
    }
    Ok(())
}

/// A child running one example, its stdout and stderr collected by threads.
struct Script {
    name: String,
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Script {
    fn start(lang: Lang, script: &Path, env: &[(&str, String)]) -> anyhow::Result<Script> {
        ensure!(script.is_file(), "{} is missing", script.display());
        let mut cmd = Command::new(lang.program());
        cmd.arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The examples talk to loopback: never through a proxy.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot run `{}` ({e}): the examples test needs {} installed and on PATH",
                lang.program(),
                match lang {
                    Lang::Node => "Node.js 18 or newer",
                    Lang::Python => "Python 3.9 or newer",
                }
            )
        })?;
        let out: Arc<Mutex<Vec<String>>> = Default::default();
        let err: Arc<Mutex<String>> = Default::default();
        let stdout = child.stdout.take().context("stdout")?;
        let stderr = child.stderr.take().context("stderr")?;
        let (o, e) = (out.clone(), err.clone());
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    o.lock().unwrap().push(line);
                }
            }),
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut e = e.lock().unwrap();
                    e.push_str(&line);
                    e.push('\n');
                }
            }),
        ];
        Ok(Script {
            name: script
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            child,
            out,
            err,
            readers,
        })
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the exit (and the end of its output); kills it after `limit`.
    async fn wait(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.exited() {
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return Ok(st);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("{} still running after {limit:?}; killed", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_listening(script: &mut Script, port: u16, limit: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + limit;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(st) = script.exited() {
            bail!(
                "{} exited ({st}) before listening on {port}:\n{}",
                script.name,
                script.stderr()
            );
        }
        ensure!(
            Instant::now() < end,
            "{} is not listening on {port} after {limit:?}",
            script.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
