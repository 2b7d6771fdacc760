//! Private Redis servers for the Sentinel and Cluster tests: Debian's `redis-server`
//! (which is also Sentinel, with `--sentinel`) on free loopback ports, each setup in a
//! temporary directory of its own. Dropping a setup kills its servers and removes the
//! directory, also after a panic; if the test process itself dies, the kernel kills
//! them (PR_SET_PDEATHSIG). A missing binary fails the test, it never skips.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "redis-server";
const START_TIMEOUT: Duration = Duration::from_secs(10);
pub const SERVICE: &str = "mymaster";

/// A port nobody listens on right now. Another test may take it before the server
/// binds it: [`Servers::spawn`] then tries another.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// A synchronous admin connection.
pub fn admin(port: u16) -> redis::Connection {
    let client = redis::Client::open(url(port)).unwrap();
    client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("admin connection to 127.0.0.1:{port}: {e}"))
}

fn answers(port: u16) -> bool {
    redis::Client::open(url(port))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Servers {
    dir: PathBuf,
    procs: Vec<(u16, Child)>,
}

impl Servers {
    fn new(kind: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "puente-{kind}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory for Redis servers");
        Servers {
            dir,
            procs: Vec::new(),
        }
    }

    /// Starts `redis-server` on a free port with `args(port)` and waits until it answers.
    fn spawn(&mut self, mut args: impl FnMut(u16, &Path) -> Vec<String>) -> u16 {
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(BIN);
            cmd.args(args(port, &self.dir))
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd.spawn().unwrap_or_else(|e| {
                panic!(
                    "cannot run `{BIN}` ({e}): the Sentinel and Cluster tests need Debian's \
                     redis-server package (scripts/test.sh installs it)"
                )
            });
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if answers(port) {
                    self.procs.push((port, child));
                    return port;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // most likely the port was taken meanwhile: another one
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{BIN} on port {port} did not answer within {START_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!(
            "{BIN} failed to start five times; see the logs in {}",
            self.dir.display()
        );
    }

    fn data_node(&mut self, extra: &[String]) -> u16 {
        let extra = extra.to_vec();
        self.spawn(move |port, dir| {
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                // A replica syncs at once, not after the default 5 s wait for others.
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
                &dir.to_string_lossy(),
                "--logfile",
                &dir.join(format!("redis-{port}.log")).to_string_lossy(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().cloned());
            args
        })
    }

    /// Kills one server now (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self, port: u16) {
        if let Some(i) = self.procs.iter().position(|(p, _)| *p == port) {
            let (_, mut child) = self.procs.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A master, `replicas` replicas of it and `sentinels` sentinels watching it (quorum 1,
/// so one sentinel can fail over alone), which take the master for down after
/// `down_after` without an answer.
pub struct SentinelSetup {
    pub servers: Servers,
    pub sentinels: Vec<u16>,
    pub replicas: Vec<u16>,
    pub first_master: u16,
}

impl SentinelSetup {
    pub fn start(replicas: usize, sentinels: usize, down_after: Duration) -> Self {
        let mut servers = Servers::new("sentinel");
        let master = servers.data_node(&[]);
        let replicas: Vec<u16> = (0..replicas)
            .map(|_| {
                servers.data_node(&["--replicaof".into(), "127.0.0.1".into(), master.to_string()])
            })
            .collect();
        // Synced is not enough: after the initial sync a master only starts streaming
        // writes to a replica at its first REPLCONF ACK (up to a second later), and a
        // master killed before then takes them along. A write seen by every replica
        // shows the stream flows.
        let _: () = redis::cmd("SET")
            .arg("setup:probe")
            .arg(1)
            .query(&mut admin(master))
            .unwrap();
        for &r in &replicas {
            wait_for("the replica to receive writes", START_TIMEOUT, || {
                redis::cmd("EXISTS")
                    .arg("setup:probe")
                    .query::<i64>(&mut admin(r))
                    .is_ok_and(|n| n == 1)
            });
        }
        let _: () = redis::cmd("DEL")
            .arg("setup:probe")
            .query(&mut admin(master))
            .unwrap();
        let sentinels: Vec<u16> = (0..sentinels)
            .map(|_| {
                servers.spawn(|port, dir| {
                    let conf = dir.join(format!("sentinel-{port}.conf"));
                    std::fs::write(
                        &conf,
                        format!(
                            "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel-{port}.log\n\
                             sentinel monitor {SERVICE} 127.0.0.1 {master} 1\n\
                             sentinel down-after-milliseconds {SERVICE} {down_after}\n\
                             sentinel failover-timeout {SERVICE} 3000\n",
                            dir = dir.display(),
                            down_after = down_after.as_millis()
                        ),
                    )
                    .expect("sentinel config");
                    vec![conf.to_string_lossy().into_owned(), "--sentinel".into()]
                })
            })
            .collect();
        // Each sentinel knows the replicas before a test may fail over to one.
        for &s in &sentinels {
            wait_for("the sentinel to see the replicas", START_TIMEOUT, || {
                let known: Vec<redis::Value> = redis::cmd("SENTINEL")
                    .arg("REPLICAS")
                    .arg(SERVICE)
                    .query(&mut admin(s))
                    .unwrap();
                known.len() == replicas.len()
            });
        }
        SentinelSetup {
            servers,
            sentinels,
            replicas,
            first_master: master,
        }
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{SERVICE}", hosts.join(","))
    }

    /// The master's port, as the first sentinel sees it.
    pub fn master(&self) -> u16 {
        let (_, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(SERVICE)
            .query(&mut admin(self.sentinels[0]))
            .unwrap();
        port
    }
}

/// A Cluster of `n` masters (no replicas), slots split evenly.
pub struct ClusterSetup {
    /// Kept for its drop: it stops the servers.
    _servers: Servers,
    pub nodes: Vec<u16>,
}

impl ClusterSetup {
    pub fn start(n: usize) -> Self {
        let mut servers = Servers::new("cluster");
        let mut nodes = Vec::new();
        let mut buses = Vec::new();
        for _ in 0..n {
            let bus = free_port();
            let node = servers.spawn(|port, dir| {
                [
                    "--port".to_string(),
                    port.to_string(),
                    "--bind".into(),
                    "127.0.0.1".into(),
                    "--save".into(),
                    "".into(),
                    "--appendonly".into(),
                    "no".into(),
                    "--dir".into(),
                    dir.to_string_lossy().into_owned(),
                    "--logfile".into(),
                    dir.join(format!("redis-{port}.log"))
                        .to_string_lossy()
                        .into_owned(),
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    dir.join(format!("nodes-{port}.conf"))
                        .to_string_lossy()
                        .into_owned(),
                    "--cluster-port".into(),
                    bus.to_string(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ]
                .to_vec()
            });
            nodes.push(node);
            buses.push(bus);
        }
        // What `redis-cli --cluster create` does, without its one-second sleeps.
        let per = 16384 / n;
        for (i, &node) in nodes.iter().enumerate() {
            let mut c = admin(node);
            let _: () = redis::cmd("CLUSTER")
                .arg("SET-CONFIG-EPOCH")
                .arg(i + 1)
                .query(&mut c)
                .unwrap();
            let last = if i + 1 == n { 16383 } else { (i + 1) * per - 1 };
            let _: () = redis::cmd("CLUSTER")
                .arg("ADDSLOTSRANGE")
                .arg(i * per)
                .arg(last)
                .query(&mut c)
                .unwrap();
        }
        let mut first = admin(nodes[0]);
        for i in 1..n {
            let _: () = redis::cmd("CLUSTER")
                .arg("MEET")
                .arg("127.0.0.1")
                .arg(nodes[i])
                .arg(buses[i])
                .query(&mut first)
                .unwrap();
        }
        for &node in &nodes {
            wait_for("the cluster to agree", START_TIMEOUT, || {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut admin(node))
                    .unwrap();
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{n}\r"))
                    && info.contains("cluster_slots_ok:16384")
            });
        }
        ClusterSetup {
            _servers: servers,
            nodes,
        }
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }
}
