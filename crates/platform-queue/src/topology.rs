//! Where Redis is and how to reach it: one node, a master found through Sentinel, or a
//! Cluster — chosen by the URL's scheme.
//!
//! ```text
//! redis://[[user]:password@]host[:6379][/db]                 one node (also rediss://, unix://)
//! redis+sentinel://[[user]:password@]host[:26379][,host[:port]]…/service[/db]
//!                  [?sentinel_username=…&sentinel_password=…]
//! redis+cluster://[[user]:password@]host[:6379][,host[:port]]…
//! ```
//!
//! With Sentinel, `user:password` and `db` are for the master; the sentinels' own
//! credentials, if they have any, go in the query. With Cluster, any reachable node of
//! the list is enough to discover the others. Special characters in credentials are
//! percent-encoded, as in any URL.
//!
//! Every operation of the crate goes through a [`Conn`], so the backend code is the same
//! for the three: commands of a script or a multi-key command always name keys of one
//! hash slot (see the key layout in the crate's documentation).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, Value,
};
use tokio::time::Instant;

use crate::QueueError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Asking the sentinels (and checking the master they name) takes at most this long.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed master lookup, callers fail fast for this long instead of each asking
/// the sentinels again (a failover takes seconds; this only spares the sentinels).
const LOOKUP_RETRY: Duration = Duration::from_millis(250);
const DEFAULT_PORT: u16 = 6379;
const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// How to reach Redis, parsed from the URL; no connection is made yet.
// One per `Queue`: the size of the Cluster variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Connector {
    Node(redis::Client),
    Sentinel(Arc<SentinelLookup>),
    Cluster {
        /// For the event bus, which subscribes on any one node.
        nodes: Arc<Vec<redis::Client>>,
        next_node: Arc<AtomicUsize>,
        commands: ClusterClient,
        /// Same nodes with a response timeout longer than any blocking read.
        blocking: ClusterClient,
    },
}

/// A connection of any topology. Cheap to clone; every clone shares the connection.
#[derive(Clone)]
pub(crate) enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

/// Where the event bus opens its pub/sub connection.
#[derive(Clone)]
pub(crate) enum PubSubTarget {
    Node(redis::Client),
    /// The current master: PUBLISH and SUBSCRIBE must meet on one server, and a
    /// reconnect after a failover asks the sentinels again.
    Sentinel(Arc<SentinelLookup>),
    /// Any node: a Cluster propagates (non-sharded) PUBLISH to every node. A reconnect
    /// moves on to the next node, so a dead node is left behind.
    Cluster {
        nodes: Arc<Vec<redis::Client>>,
        next_node: Arc<AtomicUsize>,
    },
}

impl Connector {
    /// Parses `url`; see the module documentation for the forms.
    pub(crate) fn new(url: &str) -> Result<Self, QueueError> {
        let config = |m: String| QueueError::Config(format!("REDIS_URL: {m}"));
        if let Some(rest) = strip_scheme(url, &["redis+sentinel", "valkey+sentinel"]) {
            let parts = MultiHost::parse(rest, DEFAULT_SENTINEL_PORT).map_err(config)?;
            let mut segments = parts.path.trim_matches('/').split('/');
            let service = segments.next().unwrap_or_default();
            if service.is_empty() {
                return Err(config(
                    "a sentinel URL names its master after the hosts: redis+sentinel://host:26379/mymaster".into(),
                ));
            }
            let db = match segments.next() {
                None | Some("") => 0,
                Some(db) => db
                    .parse::<i64>()
                    .map_err(|_| config(format!("database {db:?} is not a number")))?,
            };
            if segments.next().is_some() {
                return Err(config("a sentinel URL's path is /service[/db]".into()));
            }
            let (mut s_user, mut s_pass) = (None, None);
            for pair in parts.query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("sentinel_username", v)) => s_user = Some(v),
                    Some(("sentinel_password", v)) => s_pass = Some(v),
                    _ => {
                        return Err(config(format!(
                            "unknown sentinel URL parameter {pair:?} (known: sentinel_username, sentinel_password)"
                        )));
                    }
                }
            }
            let sentinel_auth = match (s_user, s_pass) {
                (None, None) => None,
                (u, p) => Some(format!("{}:{}", u.unwrap_or(""), p.unwrap_or(""))),
            };
            let sentinels: Vec<String> = parts
                .hosts
                .iter()
                .map(|h| node_url(sentinel_auth.as_deref(), h))
                .collect();
            // The master's credentials and database, through the redis crate's own
            // URL parsing (percent-decoding included).
            let master = node_url(parts.userinfo, &("127.0.0.1".into(), DEFAULT_PORT));
            let master = format!("{master}{db}").into_connection_info()?;
            let node_info = SentinelNodeConnectionInfo::default()
                .set_redis_connection_info(master.redis_settings().clone());
            let client = SentinelClient::build(
                sentinels,
                service.to_owned(),
                Some(node_info),
                SentinelServerType::Master,
            )?;
            return Ok(Connector::Sentinel(Arc::new(SentinelLookup {
                state: tokio::sync::Mutex::new(LookupState {
                    client,
                    failed: None,
                }),
                db,
            })));
        }
        if let Some(rest) = strip_scheme(url, &["redis+cluster", "valkey+cluster"]) {
            let parts = MultiHost::parse(rest, DEFAULT_PORT).map_err(config)?;
            if !parts.path.trim_matches('/').is_empty() || !parts.query.is_empty() {
                return Err(config(
                    "a cluster URL has no path or parameters (a Cluster has one database)".into(),
                ));
            }
            let urls: Vec<String> = parts
                .hosts
                .iter()
                .map(|h| node_url(parts.userinfo, h))
                .collect();
            let builder = |response: Duration| {
                ClusterClientBuilder::new(urls.clone())
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(response)
                    .build()
            };
            let nodes = urls
                .iter()
                .map(|u| redis::Client::open(u.as_str()))
                .collect::<RedisResult<Vec<_>>>()?;
            return Ok(Connector::Cluster {
                nodes: Arc::new(nodes),
                next_node: Arc::default(),
                commands: builder(RESPONSE_TIMEOUT)?,
                blocking: builder(crate::redis_streams::MAX_BLOCK + RESPONSE_TIMEOUT)?,
            });
        }
        if url.contains("+sentinel://") || url.contains("+cluster://") {
            return Err(config(format!(
                "unsupported scheme in {:?}: use redis+sentinel:// or redis+cluster:// (TLS is not built in)",
                url.split("://").next().unwrap_or_default()
            )));
        }
        Ok(Connector::Node(redis::Client::open(url)?))
    }

    /// `"redis"`, `"redis-sentinel"` or `"redis-cluster"`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Connector::Node(_) => "redis",
            Connector::Sentinel(_) => "redis-sentinel",
            Connector::Cluster { .. } => "redis-cluster",
        }
    }

    /// Every key on one server, so a script may touch keys of different slots.
    pub(crate) fn one_keyspace(&self) -> bool {
        !matches!(self, Connector::Cluster { .. })
    }

    /// The shared, multiplexed connection for every non-blocking command. Fails when
    /// Redis cannot be reached now, so a bad URL or a server that is down fails at start.
    pub(crate) async fn connect(&self) -> Result<Conn, QueueError> {
        let conn = match self {
            Connector::Node(client) => {
                // Fail fast: the connection manager would first retry with backoff for
                // several seconds.
                let mut probe = client
                    .get_multiplexed_async_connection_with_config(
                        &AsyncConnectionConfig::new()
                            .set_connection_timeout(Some(CONNECT_TIMEOUT))
                            .set_response_timeout(Some(CONNECT_TIMEOUT)),
                    )
                    .await?;
                let _: String = redis::cmd("PING").query_async(&mut probe).await?;
                drop(probe);
                self.manager(client, RESPONSE_TIMEOUT).await?
            }
            _ => self.blocking_or_not(RESPONSE_TIMEOUT).await?,
        };
        let mut probe = conn.clone();
        let _: Value = redis::cmd("PING").query_async(&mut probe).await?;
        Ok(conn)
    }

    /// A connection of its own for blocking reads: a blocked XREADGROUP holds up every
    /// command behind it on its connection.
    pub(crate) async fn blocking(&self) -> Result<Conn, QueueError> {
        // Longer than any BLOCK sent, so a quiet stream is not taken for a dead connection.
        self.blocking_or_not(crate::redis_streams::MAX_BLOCK + RESPONSE_TIMEOUT)
            .await
    }

    async fn blocking_or_not(&self, response: Duration) -> Result<Conn, QueueError> {
        Ok(match self {
            Connector::Node(client) => self.manager(client, response).await?,
            Connector::Sentinel(lookup) => {
                let conn = SentinelConn::new(lookup.clone(), response);
                // Connect now, so that a master that cannot be found fails here.
                conn.current().await?;
                Conn::Sentinel(conn)
            }
            Connector::Cluster {
                commands, blocking, ..
            } => {
                let client = if response > RESPONSE_TIMEOUT {
                    blocking
                } else {
                    commands
                };
                Conn::Cluster(client.get_async_connection().await?)
            }
        })
    }

    async fn manager(&self, client: &redis::Client, response: Duration) -> RedisResult<Conn> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response));
        Ok(Conn::Node(
            ConnectionManager::new_with_config(client.clone(), config).await?,
        ))
    }

    pub(crate) fn pubsub(&self) -> PubSubTarget {
        match self {
            Connector::Node(client) => PubSubTarget::Node(client.clone()),
            Connector::Sentinel(lookup) => PubSubTarget::Sentinel(lookup.clone()),
            Connector::Cluster {
                nodes, next_node, ..
            } => PubSubTarget::Cluster {
                nodes: nodes.clone(),
                next_node: next_node.clone(),
            },
        }
    }
}

impl PubSubTarget {
    pub(crate) async fn connect(&self) -> RedisResult<redis::aio::PubSub> {
        match self {
            PubSubTarget::Node(client) => client.get_async_pubsub().await,
            PubSubTarget::Sentinel(lookup) => lookup.master().await?.get_async_pubsub().await,
            PubSubTarget::Cluster { nodes, next_node } => {
                let mut last = None;
                for _ in 0..nodes.len() {
                    let i = next_node.fetch_add(1, Ordering::Relaxed) % nodes.len();
                    match nodes[i].get_async_pubsub().await {
                        Ok(p) => return Ok(p),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    RedisError::from((ErrorKind::InvalidClientConfig, "no cluster node given"))
                }))
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => Box::pin(async move {
                let (generation, mut c) = s.current().await?;
                let reply = c.req_packed_command(cmd).await;
                if let Err(e) = &reply {
                    s.after_error(generation, e);
                }
                reply
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(s) => Box::pin(async move {
                let (generation, mut c) = s.current().await?;
                let reply = c.req_packed_commands(pipeline, offset, count).await;
                if let Err(e) = &reply {
                    s.after_error(generation, e);
                }
                reply
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(_) => 0,
            Conn::Sentinel(s) => s.lookup.db,
        }
    }
}

/// Asks the sentinels where the master is. Shared by every connection of a `Queue`.
pub(crate) struct SentinelLookup {
    state: tokio::sync::Mutex<LookupState>,
    db: i64,
}

struct LookupState {
    client: SentinelClient,
    failed: Option<(Instant, RedisError)>,
}

impl SentinelLookup {
    /// A client for the current master (the crate checks the node says it is one).
    async fn master(&self) -> RedisResult<redis::Client> {
        let mut st = self.state.lock().await;
        if let Some((at, e)) = &st.failed
            && at.elapsed() < LOOKUP_RETRY
        {
            return Err(e.clone());
        }
        let found = match tokio::time::timeout(LOOKUP_TIMEOUT, st.client.async_get_client()).await {
            Ok(found) => found,
            Err(_) => Err(RedisError::from((
                ErrorKind::Io,
                "sentinel lookup timed out",
            ))),
        };
        match &found {
            Ok(_) => st.failed = None,
            Err(e) => {
                tracing::warn!(error = %e, "redis sentinel: no master found");
                st.failed = Some((Instant::now(), e.clone()));
            }
        }
        found
    }
}

/// A multiplexed connection to the master Sentinel names, replaced after any error that
/// says the connection or the server's role is wrong (it died, it was demoted after a
/// failover: READONLY, UNBLOCKED). The next command then asks the sentinels again. A
/// command that failed that way is not retried: the caller sees the error, as with a
/// connection drop on a single node.
#[derive(Clone)]
pub(crate) struct SentinelConn {
    lookup: Arc<SentinelLookup>,
    current: Arc<Mutex<Current>>,
    connecting: Arc<tokio::sync::Mutex<()>>,
    config: AsyncConnectionConfig,
}

#[derive(Default)]
struct Current {
    conn: Option<MultiplexedConnection>,
    generation: u64,
}

impl SentinelConn {
    fn new(lookup: Arc<SentinelLookup>, response: Duration) -> Self {
        SentinelConn {
            lookup,
            current: Arc::default(),
            connecting: Arc::default(),
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(response)),
        }
    }

    fn peek(&self) -> Option<(u64, MultiplexedConnection)> {
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        cur.conn.clone().map(|c| (cur.generation, c))
    }

    async fn current(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(c) = self.peek() {
            return Ok(c);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.peek() {
            return Ok(c);
        }
        let conn = self
            .lookup
            .master()
            .await?
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        cur.generation += 1;
        cur.conn = Some(conn.clone());
        Ok((cur.generation, conn))
    }

    fn after_error(&self, generation: u64, e: &RedisError) {
        let wrong_server = matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::BusyLoading
            )
        ) || e.code() == Some("UNBLOCKED");
        if wrong_server || e.is_io_error() || e.is_unrecoverable_error() {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            if cur.generation == generation && cur.conn.is_some() {
                tracing::info!(error = %e, "redis sentinel: connection to the master dropped; asking the sentinels again");
                cur.conn = None;
            }
        }
    }
}

fn strip_scheme<'a>(url: &'a str, schemes: &[&str]) -> Option<&'a str> {
    let (scheme, rest) = url.split_once("://")?;
    schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
        .then_some(rest)
}

/// `[userinfo@]host[:port][,host[:port]]…[/path][?query]`
struct MultiHost<'a> {
    userinfo: Option<&'a str>,
    hosts: Vec<(String, u16)>,
    path: &'a str,
    query: &'a str,
}

impl<'a> MultiHost<'a> {
    fn parse(rest: &'a str, default_port: u16) -> Result<Self, String> {
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let hosts = hosts
            .split(',')
            .map(|h| parse_host(h, default_port))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MultiHost {
            userinfo,
            hosts,
            path,
            query,
        })
    }
}

fn parse_host(h: &str, default_port: u16) -> Result<(String, u16), String> {
    let h = h.trim();
    let (host, port) = if let Some(v6) = h.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in host {h:?}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    if host.is_empty() {
        return Err("a host is missing (hosts are separated by commas)".into());
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse()
            .map_err(|_| format!("port {p:?} of host {host:?} is not a number"))?,
    };
    Ok((host.to_owned(), port))
}

fn node_url(userinfo: Option<&str>, (host, port): &(String, u16)) -> String {
    let auth = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    if host.contains(':') {
        format!("redis://{auth}[{host}]:{port}/")
    } else {
        format!("redis://{auth}{host}:{port}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls() {
        let Connector::Sentinel(s) =
            Connector::new("redis+sentinel://:s3cr%40t@10.0.0.1,10.0.0.2:26380/mymaster/2")
                .unwrap()
        else {
            panic!("not a sentinel connector")
        };
        assert_eq!(s.db, 2);
        let parts = MultiHost::parse(":p@a,b:1,[::1]:2/svc?x=1", 26379).unwrap();
        assert_eq!(parts.userinfo, Some(":p"));
        assert_eq!(
            parts.hosts,
            [
                ("a".to_owned(), 26379),
                ("b".to_owned(), 1),
                ("::1".to_owned(), 2)
            ]
        );
        assert_eq!((parts.path, parts.query), ("/svc", "x=1"));
        assert_eq!(node_url(None, &("::1".into(), 2)), "redis://[::1]:2/");

        for bad in [
            "redis+sentinel://h1:26379",
            "redis+sentinel://h1:26379/",
            "redis+sentinel://h1:x/m",
            "redis+sentinel://h1,,h2/m",
            "redis+sentinel://h1/m/notadb",
            "redis+sentinel://h1/m?password=x",
            "redis+cluster://h1:7000/0",
            "rediss+cluster://h1:7000",
        ] {
            assert!(
                matches!(Connector::new(bad), Err(QueueError::Config(_))),
                "{bad} should be refused"
            );
        }
        assert!(Connector::new("redis+sentinel://h1/m?sentinel_password=x").is_ok());
    }

    #[test]
    fn cluster_and_node_urls() {
        let c = Connector::new("redis+cluster://u:p@127.0.0.1:7000,127.0.0.1:7001").unwrap();
        assert_eq!(c.name(), "redis-cluster");
        assert!(!c.one_keyspace());
        let n = Connector::new("redis://127.0.0.1:6379/0").unwrap();
        assert_eq!(n.name(), "redis");
        assert!(n.one_keyspace());
    }
}
