//! Runs a demo sandbox (human timings, system clock, one seeded seller):
//! `cargo run -p mp-sandbox --example serve -- 127.0.0.1:8085`, then open /sandbox.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8085".into());
    let addr = addr
        .parse()
        .map_err(|e| std::io::Error::other(format!("bad address {addr}: {e}")))?;
    let mut cfg = mp_sandbox::SandboxConfig::for_demo(addr);
    cfg.default_app.redirect_uris = vec!["http://127.0.0.1:9/callback".into()];
    let sb = mp_sandbox::start(cfg).await?;
    let app = sb.default_app();
    println!(
        "sandbox on {} (client_id {}, console {}/sandbox)",
        sb.base_url(),
        app.client_id,
        sb.base_url()
    );
    tokio::signal::ctrl_c().await?;
    sb.stop().await;
    Ok(())
}
