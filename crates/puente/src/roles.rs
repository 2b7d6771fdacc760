//! Running the roles: each alone, or all in one process.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use platform_core::config::Settings;
use platform_web::AppState;
use platform_worker::WorkerContext;

use crate::boot::{self, Parts};
use crate::cli::{SandboxFlags, SandboxTimings};
use crate::{Failure, demo, sandbox_app};

/// Writes a banner line to stdout, ignoring a closed pipe: a supervisor that
/// stops reading our stdout must not take the server down (`println!`
/// panics on EPIPE).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Web + worker (+ sandbox in sandbox mode), sharing one queue.
pub async fn all(settings: Settings, flags: SandboxFlags) -> Result<(), Failure> {
    let shutdown = Shutdown::listen();
    let started = Instant::now();
    let Parts {
        settings,
        keyring,
        db,
    } = boot::parts(settings).await?;
    let queue = boot::queue(&settings, "all").await?;

    let sandbox = if settings.sandbox_mode() {
        Some(start_sandbox(&settings, flags).await?)
    } else {
        None
    };
    let sandbox_url = sandbox.as_ref().map(|s| s.base_url());

    let demo = match &sandbox {
        Some(sb) => demo::ensure_demo_integrator(
            &db,
            &keyring,
            &sb.default_app(),
            &sb.base_url(),
            sandbox_app::redirect_url(&settings),
        )
        .await
        .context("cannot create the demo integrator")?,
        None => None,
    };

    let state = AppState::new(
        db.clone(),
        keyring.clone(),
        queue.clone(),
        settings.clone(),
        sandbox_url.clone(),
    );
    let web = platform_web::start(state, settings.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (PUENTE_HTTP_ADDR)", settings.http_addr))?;
    let ops = ops_listener(&settings, &db, &keyring, &queue).await?;
    let worker = platform_worker::start(WorkerContext::new(
        db,
        keyring,
        queue,
        settings.clone(),
        sandbox_url.as_deref(),
    ));

    say!(
        "Puente is running (started in {} ms).",
        started.elapsed().as_millis()
    );
    say!("  Open:       http://{}/", web.local_addr);
    if let Some(url) = &sandbox_url {
        say!("  Sandbox:    {url}/sandbox   (built-in Mercado Pago emulator)");
    }
    if let Some(login) = demo {
        say!(
            "  Demo login: {} / {}   (shown once; the demo integrator uses the sandbox)",
            login.email,
            login.password.expose_secret()
        );
    }
    say!("  Stop with Ctrl-C.");

    shutdown.wait().await;
    tracing::info!("shutting down");
    web.stop().await;
    worker.stop().await;
    if let Some(ops) = ops {
        ops.stop().await;
    }
    if let Some(sb) = sandbox {
        sb.stop().await;
    }
    Ok(())
}

pub async fn web(settings: Settings) -> Result<(), Failure> {
    let shutdown = Shutdown::listen();
    let Parts {
        settings,
        keyring,
        db,
    } = boot::parts(settings).await?;
    let queue = boot::queue(&settings, "web").await?;
    if settings.redis_url.is_none() {
        tracing::warn!(
            "REDIS_URL is unset: this web process has its own in-process queue; run `puente all`, or set REDIS_URL so workers elsewhere pick up its jobs"
        );
    }
    let state = AppState::new(
        db.clone(),
        keyring.clone(),
        queue.clone(),
        settings.clone(),
        None,
    );
    let web = platform_web::start(state, settings.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (PUENTE_HTTP_ADDR)", settings.http_addr))?;
    say!("Puente web listening on http://{}/", web.local_addr);
    let ops = ops_listener(&settings, &db, &keyring, &queue).await?;
    shutdown.wait().await;
    web.stop().await;
    if let Some(ops) = ops {
        ops.stop().await;
    }
    Ok(())
}

pub async fn worker(settings: Settings) -> Result<(), Failure> {
    let shutdown = Shutdown::listen();
    let Parts {
        settings,
        keyring,
        db,
    } = boot::parts(settings).await?;
    let queue = boot::queue(&settings, "worker").await?;
    // Dispatch, delivery and refresh outcomes are recorded in this process:
    // scrape them here (PUENTE_METRICS_ADDR).
    let ops = ops_listener(&settings, &db, &keyring, &queue).await?;
    let worker = platform_worker::start(WorkerContext::new(db, keyring, queue, settings, None));
    say!("Puente worker running.");
    shutdown.wait().await;
    worker.stop().await;
    if let Some(ops) = ops {
        ops.stop().await;
    }
    Ok(())
}

/// `/metrics`, `/healthz` and `/readyz` on `PUENTE_METRICS_ADDR`, when set
/// (the web listener then leaves `/metrics` and `/readyz` out).
async fn ops_listener(
    settings: &Arc<Settings>,
    db: &platform_core::db::Db,
    keyring: &platform_core::crypto::Keyring,
    queue: &platform_queue::Queue,
) -> Result<Option<platform_web::WebHandle>, Failure> {
    let Some(addr) = settings.metrics_addr else {
        return Ok(None);
    };
    let state = AppState::new(
        db.clone(),
        keyring.clone(),
        queue.clone(),
        settings.clone(),
        None,
    );
    let ops = platform_web::start_ops(state, addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (PUENTE_METRICS_ADDR)"))?;
    say!(
        "Puente metrics on http://{}/metrics   (and /readyz, /healthz)",
        ops.local_addr
    );
    Ok(Some(ops))
}

pub async fn sandbox(settings: Settings, flags: SandboxFlags) -> Result<(), Failure> {
    let shutdown = Shutdown::listen();
    let sb = start_sandbox(&settings, flags).await?;
    let app = sb.default_app();
    say!("Mercado Pago sandbox listening on {}", sb.base_url());
    say!("  Default application: client_id {}", app.client_id);
    say!("  Test helpers:        {}/sandbox", sb.base_url());
    shutdown.wait().await;
    sb.stop().await;
    Ok(())
}

async fn start_sandbox(
    settings: &Settings,
    flags: SandboxFlags,
) -> Result<mp_sandbox::SandboxHandle, Failure> {
    let app = sandbox_app::load_or_create(settings)?;
    let mut cfg = mp_sandbox::SandboxConfig::for_demo(settings.sandbox_addr);
    cfg.default_app = app;
    cfg.timings = match flags.timings {
        SandboxTimings::Human => mp_sandbox::Timings::Human,
        SandboxTimings::Instant => mp_sandbox::Timings::Instant,
    };
    if let Some(secs) = flags.retention_secs {
        cfg.retention.window = std::time::Duration::from_secs(secs);
    }
    if let Some(max) = flags.retention_max {
        cfg.retention.max_finished = usize::try_from(max).unwrap_or(usize::MAX);
    }
    mp_sandbox::start(cfg)
        .await
        .with_context(|| {
            format!(
                "cannot start the sandbox on {} (PUENTE_SANDBOX_ADDR)",
                settings.sandbox_addr
            )
        })
        .map_err(Failure::from)
}

/// Resolves on Ctrl-C or SIGTERM.
/// SIGTERM / SIGINT, registered when a role starts — before it serves or
/// prints anything — so a signal sent right after the banner stops the
/// process gracefully instead of killing it with the default action.
pub struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    pub async fn wait(self) {
        #[cfg(unix)]
        {
            async fn next(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = next(self.term) => {}
                _ = next(self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
