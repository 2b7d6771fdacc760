//! Child processes: a throwaway PostgreSQL cluster, a throwaway Redis, and
//! the real `puente` binary in its roles. Everything listens on loopback.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A free loopback port (bound and released; good enough for a local run).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Resident memory of a process: (current VmRSS, peak VmHWM), in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets a process's peak RSS (VmHWM) to its current RSS.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A child killed when dropped (SIGKILL; `stop` sends SIGTERM first).
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let end = Instant::now() + grace;
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn spawn(
    name: &str,
    program: &Path,
    args: &[&str],
    env: &HashMap<String, String>,
    log_dir: &Path,
) -> anyhow::Result<Proc> {
    let log = log_dir.join(format!("{name}.log"));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let child = Command::new(program)
        .args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    Ok(Proc {
        name: name.to_owned(),
        child: Some(child),
        log,
    })
}

/// Waits until `url` answers 200 (or the process dies, or `limit` passes).
pub async fn wait_http(
    http: &reqwest::Client,
    url: &str,
    proc: &mut Proc,
    limit: Duration,
) -> anyhow::Result<()> {
    let end = Instant::now() + limit;
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if let Some(st) = proc.exited() {
            bail!(
                "{} exited ({st}) before {url} answered; log:\n{}",
                proc.name,
                tail(&proc.log)
            );
        }
        if Instant::now() > end {
            bail!(
                "{url} did not answer in {limit:?}; log:\n{}",
                tail(&proc.log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn tool(name: &str) -> anyhow::Result<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    // PostgreSQL's server binaries are not on PATH on Debian.
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        versions.sort();
        for v in versions.iter().rev() {
            let p = v.join("bin").join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "`{name}` is not installed (apt-get install postgresql redis-server); the benchmark and the fault suite need it"
    )
}

/// A dedicated Redis without persistence, on its own port and directory.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    pub proc: Proc,
}

impl Redis {
    pub async fn start(dir: &Path) -> anyhow::Result<Redis> {
        let port = free_port();
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir)?;
        let proc = Self::spawn(port, &dir)?;
        let r = Redis { port, dir, proc };
        r.wait().await?;
        Ok(r)
    }

    fn spawn(port: u16, dir: &Path) -> anyhow::Result<Proc> {
        let port_s = port.to_string();
        spawn(
            "redis",
            &tool("redis-server")?,
            &[
                "--port",
                &port_s,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.to_str().unwrap(),
                "--protected-mode",
                "yes",
            ],
            &HashMap::new(),
            dir,
        )
    }

    async fn wait(&self) -> anyhow::Result<()> {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            let ok = Command::new(tool("redis-cli")?)
                .args(["-p", &self.port.to_string(), "ping"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("redis on {} did not start", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// `SHUTDOWN NOSAVE`: the queue's contents are gone; then start it again, empty.
    pub async fn restart_empty(&mut self, down_for: Duration) -> anyhow::Result<()> {
        let _ = Command::new(tool("redis-cli")?)
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .output();
        if let Some(c) = self.proc.child.as_mut() {
            let _ = c.wait();
        }
        self.proc.child = None;
        tokio::time::sleep(down_for).await;
        self.proc = Self::spawn(self.port, &self.dir)?;
        self.wait().await
    }
}

/// A throwaway PostgreSQL cluster (initdb in a temporary directory, owned
/// by the `postgres` user when run as root), on its own port.
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    as_postgres: bool,
}

impl Postgres {
    pub fn start(dir: &Path) -> anyhow::Result<Postgres> {
        let port = free_port();
        let base = dir.join("pg");
        let data = base.join("data");
        std::fs::create_dir_all(&base)?;
        let as_postgres = is_root();
        if as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:postgres", base.to_str().unwrap()])
                .status()?;
        }
        let pg = Postgres {
            port,
            log: base.join("postgres.log"),
            data,
            as_postgres,
        };
        let initdb = tool("initdb")?;
        let out = pg
            .cmd(&initdb)
            .args([
                "-D",
                pg.data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ])
            .output()?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let conf = pg.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("\npg_stat_statements.track = none\n");
        std::fs::write(&conf, text)?;
        pg.pg_ctl_start()?;
        Ok(pg)
    }

    fn cmd(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let pg_ctl = tool("pg_ctl")?;
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.data.to_str().unwrap()
        );
        // Loaded, not tracking (postgresql.conf, so that `ALTER SYSTEM` can
        // override it): `--pg-statements` turns it on (crate::pgstat).
        if crate::pgstat::available(&pg_ctl) {
            opts.push_str(" -c shared_preload_libraries=pg_stat_statements");
        }
        let out = self
            .cmd(&pg_ctl)
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                self.log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "start",
            ])
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                tail(&self.log)
            );
        }
        Ok(())
    }

    fn pg_ctl_stop(&self, mode: &str) {
        if let Ok(pg_ctl) = tool("pg_ctl") {
            let _ = self
                .cmd(&pg_ctl)
                .args(["-D", self.data.to_str().unwrap(), "-m", mode, "-w", "stop"])
                .output();
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's pid (first line of `postmaster.pid`); its backends are its children.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let s = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        s.lines().next()?.trim().parse().ok()
    }

    /// Immediate stop (like a crash: no checkpoint), then start.
    pub async fn restart(&self, down_for: Duration) -> anyhow::Result<()> {
        self.pg_ctl_stop("immediate");
        tokio::time::sleep(down_for).await;
        self.pg_ctl_start()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.pg_ctl_stop("immediate");
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Clock ticks per second of `/proc/*/stat` and `/proc/stat` (`getconf CLK_TCK`; 100 on Linux).
pub fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// One process's `/proc/<pid>/stat`: parent pid, its own CPU (utime + stime,
/// all threads) and its waited-for children's (cutime + cstime), in ticks.
#[derive(Clone, Copy, Debug)]
pub struct StatCpu {
    pub ppid: u32,
    pub own: u64,
    pub reaped: u64,
}

pub fn stat_cpu(pid: &str) -> Option<StatCpu> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(StatCpu {
        ppid: n(1)? as u32,
        own: n(11)? + n(12)?,
        reaped: n(13)? + n(14)?,
    })
}

/// Every live process whose ancestry reaches `root` (with `root`).
pub fn tree(root: u32) -> Vec<(u32, StatCpu)> {
    let mut all: Vec<(u32, StatCpu)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if let (Ok(pid), Some(st)) = (name.parse::<u32>(), stat_cpu(name)) {
                all.push((pid, st));
            }
        }
    }
    let mut members = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, st) in &all {
            if members.contains(&st.ppid) && !members.contains(pid) {
                members.push(*pid);
                grew = true;
            }
        }
    }
    all.into_iter()
        .filter(|(pid, _)| members.contains(pid))
        .collect()
}

/// CPU ticks a process has used so far: its own, or with `whole_tree` the
/// sum over its live descendants too, each with its reaped children (a
/// PostgreSQL backend that exits moves from "live" to its parent's reaped
/// count, so the sum stays continuous).
pub fn cpu_ticks(pid: u32, whole_tree: bool) -> Option<u64> {
    if whole_tree {
        let t = tree(pid);
        if t.is_empty() {
            return None;
        }
        Some(t.iter().map(|(_, s)| s.own + s.reaped).sum())
    } else {
        stat_cpu(&pid.to_string()).map(|s| s.own)
    }
}

/// Whole-machine CPU from `/proc/stat`'s `cpu` line, ticks.
#[derive(Clone, Copy, Debug, Default)]
pub struct MachineCpu {
    pub user: u64,
    pub system: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub idle: u64,
    /// Context switches (`ctxt`): every hand-off between threads, of every
    /// process (on this 2-core machine a large share of the CPU).
    pub switches: u64,
}

impl MachineCpu {
    pub fn read() -> MachineCpu {
        let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let line = s.lines().find(|l| l.starts_with("cpu ")).unwrap_or("");
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let g = |i: usize| v.get(i).copied().unwrap_or(0);
        let switches = s
            .lines()
            .find_map(|l| l.strip_prefix("ctxt "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        MachineCpu {
            switches,
            // user + nice (guest time is already inside user)
            user: g(0) + g(1),
            system: g(2),
            idle: g(3) + g(4),
            irq: g(5),
            softirq: g(6),
            steal: g(7),
        }
    }

    pub fn busy(&self) -> u64 {
        self.user + self.system + self.irq + self.softirq + self.steal
    }

    pub fn since(&self, before: &MachineCpu) -> MachineCpu {
        MachineCpu {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
            irq: self.irq.saturating_sub(before.irq),
            softirq: self.softirq.saturating_sub(before.softirq),
            steal: self.steal.saturating_sub(before.steal),
            idle: self.idle.saturating_sub(before.idle),
            switches: self.switches.saturating_sub(before.switches),
        }
    }
}

/// Proportional set size (`Pss` of `smaps_rollup`), KiB: summable over the
/// processes of one program that share memory (PostgreSQL's shared buffers).
pub fn pss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
