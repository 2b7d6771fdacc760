//! The dashboard story in a real browser: `puente all` (embedded sandbox,
//! SQLite, temp data dir, free ports) driven by `e2e/story.mjs` through
//! playwright-core and Debian's Chromium. `scripts/setup-browser-tests.sh`
//! installs both; a missing one fails this test with that hint.
//!
//! Set `PUENTE_SCREENSHOTS=docs/screenshots` to refresh the README's images.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_puente");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dashboard_story_in_chromium() {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("e2e/node_modules/playwright-core").exists(),
        "Chromium or playwright-core is missing: run scripts/setup-browser-tests.sh"
    );
    let dir = std::env::temp_dir().join(format!("puente-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (web, sandbox) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .arg("all")
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PUENTE_HTTP_ADDR", format!("127.0.0.1:{web}"))
        .env("PUENTE_SANDBOX_ADDR", format!("127.0.0.1:{sandbox}"))
        .env("PUENTE_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("puente all did not start");
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    let shots = std::env::var("PUENTE_SCREENSHOTS")
        .map(|p| root.join(p))
        .unwrap_or_else(|_| dir.join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg("story.mjs")
        .current_dir(root.join("e2e"))
        .env("PUENTE_URL", format!("http://127.0.0.1:{web}"))
        .env("SANDBOX_URL", format!("http://127.0.0.1:{sandbox}"))
        .env("SHOTS_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("node is installed (scripts/setup-browser-tests.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("browser story: ok"),
        "browser story failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `/docs` in Chromium: the reference renders under the CSP and shows the
/// create-intent operation with its curl example (`e2e/docs.mjs`).
#[test]
fn api_reference_in_chromium() {
    let root = repo_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("e2e/node_modules/playwright-core").exists(),
        "Chromium or playwright-core is missing: run scripts/setup-browser-tests.sh"
    );
    let dir = std::env::temp_dir().join(format!("puente-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (web, sandbox) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .arg("all")
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PUENTE_HTTP_ADDR", format!("127.0.0.1:{web}"))
        .env("PUENTE_SANDBOX_ADDR", format!("127.0.0.1:{sandbox}"))
        .env("PUENTE_DATA_DIR", dir.join("data"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    while !rx
        .recv_timeout(Duration::from_secs(60))
        .expect("puente all did not start")
        .contains("Stop with Ctrl-C")
    {}
    let out = Command::new("node")
        .arg("docs.mjs")
        .current_dir(root.join("e2e"))
        .env("PUENTE_URL", format!("http://127.0.0.1:{web}"))
        .env("CHROMIUM", &chromium)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .output()
        .expect("node is installed (scripts/setup-browser-tests.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("docs story: ok"),
        "docs story failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
