//! SSRF guard for outgoing webhooks.
//!
//! An integrator chooses the URL, so without a guard Puente would happily
//! POST to its own admin ports, the cloud metadata service or the office
//! network. The guard:
//!
//! * resolves host names itself ([`GuardedResolver`], plugged into reqwest)
//!   and keeps only addresses that are publicly routable, so the address that
//!   was checked is the address that is connected to (no re-resolution gap);
//! * checks IP-literal URLs before sending ([`SsrfGuard::check_url`]): a
//!   custom resolver is never consulted for them;
//! * builds a client that follows no redirects and uses no proxy from the
//!   environment ([`guarded_client`]).
//!
//! Refused: every IPv4 and IPv6 range that is not globally reachable
//! (loopback, private, link-local, CGNAT, multicast, documentation,
//! benchmarking, reserved, …). IPv4-mapped IPv6 (`::ffff:a.b.c.d`), NAT64
//! (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are judged by the IPv4
//! address inside them. An operator allowlist of CIDR ranges
//! (`PUENTE_WEBHOOK_ALLOW_CIDRS`) lets chosen ranges through, e.g. loopback for
//! tests and the all-in-one demo.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::cidr::Cidr;

/// IPv4 ranges that are never webhook targets (IANA special-purpose
/// registry, entries not marked globally reachable, plus multicast).
pub const BLOCKED_V4: &[(Cidr, &str)] = &[
    (Cidr::v4([0, 0, 0, 0], 8), "\"this network\""),
    (Cidr::v4([10, 0, 0, 0], 8), "private"),
    (
        Cidr::v4([100, 64, 0, 0], 10),
        "shared address space (CGNAT)",
    ),
    (Cidr::v4([127, 0, 0, 0], 8), "loopback"),
    (Cidr::v4([169, 254, 0, 0], 16), "link-local"),
    (Cidr::v4([172, 16, 0, 0], 12), "private"),
    (Cidr::v4([192, 0, 0, 0], 24), "IETF protocol assignments"),
    (Cidr::v4([192, 0, 2, 0], 24), "documentation (TEST-NET-1)"),
    (
        Cidr::v4([192, 88, 99, 0], 24),
        "deprecated 6to4 relay anycast",
    ),
    (Cidr::v4([192, 168, 0, 0], 16), "private"),
    (Cidr::v4([198, 18, 0, 0], 15), "benchmarking"),
    (
        Cidr::v4([198, 51, 100, 0], 24),
        "documentation (TEST-NET-2)",
    ),
    (Cidr::v4([203, 0, 113, 0], 24), "documentation (TEST-NET-3)"),
    (Cidr::v4([224, 0, 0, 0], 4), "multicast"),
    (Cidr::v4([240, 0, 0, 0], 4), "reserved"),
    (Cidr::v4([255, 255, 255, 255], 32), "limited broadcast"),
];

/// IPv6 ranges that are never webhook targets. Mapped, NAT64 and 6to4
/// addresses are handled before this table (by their IPv4 address), and
/// anything outside global unicast `2000::/3` is refused after it.
pub const BLOCKED_V6: &[(Cidr, &str)] = &[
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (
        Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-compatible (deprecated)",
    ),
    (
        Cidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "local-use NAT64",
    ),
    (Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (
        Cidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF protocol assignments (Teredo, ORCHID, benchmarking)",
    ),
    (
        Cidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation",
    ),
    (Cidr::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), "documentation"),
    (
        Cidr::v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        "segment routing SIDs",
    ),
    (
        Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique local (private)",
    ),
    (Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (deprecated)",
    ),
    (Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

const NAT64: Cidr = Cidr::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR: Cidr = Cidr::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
const GLOBAL_UNICAST: Cidr = Cidr::v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Why an address may not be a webhook target, or `None` if it may.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4).map(|_| "IPv4-mapped non-public address");
            }
            if NAT64.contains(ip) {
                let embedded = Ipv4Addr::from(u128::from(v6) as u32);
                return blocked_v4(embedded).map(|_| "NAT64 of a non-public address");
            }
            if SIX_TO_FOUR.contains(ip) {
                let embedded = Ipv4Addr::from((u128::from(v6) >> 80) as u32);
                return blocked_v4(embedded).map(|_| "6to4 of a non-public address");
            }
            if let Some((_, why)) = BLOCKED_V6.iter().find(|(c, _)| c.contains(ip)) {
                return Some(why);
            }
            (!GLOBAL_UNICAST.contains(ip)).then_some("reserved (outside global unicast)")
        }
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    BLOCKED_V4
        .iter()
        .find(|(c, _)| c.contains(IpAddr::V4(ip)))
        .map(|(_, why)| *why)
}

/// A refused destination, with a message fit for the attempt log, which the
/// tenant reads: what a name resolved to is this network's DNS, so it goes
/// to the server log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error(
        "refused to connect to {ip} ({reason}); an operator can allow it with PUENTE_WEBHOOK_ALLOW_CIDRS"
    )]
    Address { ip: IpAddr, reason: &'static str },
    #[error(
        "refused to connect to {host}: it does not resolve to a public address; an operator can allow private ranges with PUENTE_WEBHOOK_ALLOW_CIDRS"
    )]
    Name { host: String, addrs: String },
    #[error("cannot resolve {host}: {message}")]
    Unresolvable { host: String, message: String },
    #[error("{0}")]
    Url(String),
}

/// The block list plus the operator's allowlist.
#[derive(Debug, Clone, Default)]
pub struct SsrfGuard {
    allow: Arc<Vec<Cidr>>,
}

impl SsrfGuard {
    pub fn new(allow: Vec<Cidr>) -> Self {
        Self {
            allow: Arc::new(allow),
        }
    }

    pub fn allowlist(&self) -> &[Cidr] {
        &self.allow
    }

    fn allowed_by_operator(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.allow
            .iter()
            .any(|c| c.contains(ip) || mapped.is_some_and(|m| c.contains(m)))
    }

    /// Whether Puente may connect to `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Blocked> {
        if self.allowed_by_operator(ip) {
            return Ok(());
        }
        match blocked_reason(ip) {
            None => Ok(()),
            Some(reason) => Err(Blocked::Address { ip, reason }),
        }
    }

    /// Checks what can be checked before resolving: an IP-literal host
    /// (which no resolver sees) against the lists.
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        let Some(host) = url.host_str() else {
            return Err(Blocked::Url("the URL has no host".into()));
        };
        // The URL parser has already normalised odd IPv4 spellings
        // (`0x7f.1`, `2130706433`) to dotted quads and bracketed IPv6.
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.check_ip(ip),
            Err(_) => Ok(()),
        }
    }

    /// Resolves `host` and keeps the permitted addresses; refuses when none is.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Blocked> {
        // A bracketless IPv6 literal or an IPv4 literal: no DNS needed.
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, 0)]);
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| Blocked::Unresolvable {
                host: host.to_owned(),
                message: e.to_string(),
            })?
            .collect();
        let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
            .into_iter()
            .partition(|a| self.check_ip(a.ip()).is_ok());
        if ok.is_empty() {
            if refused.is_empty() {
                return Err(Blocked::Unresolvable {
                    host: host.to_owned(),
                    message: "no addresses".into(),
                });
            }
            let addrs = refused
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(host, addrs = %addrs, "webhook target refused: resolves only to non-public addresses");
            return Err(Blocked::Name {
                host: host.to_owned(),
                addrs,
            });
        }
        Ok(ok)
    }
}

/// reqwest's DNS hook: every name the client connects to goes through
/// [`SsrfGuard::resolve`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: SsrfGuard,
}

impl GuardedResolver {
    pub fn new(guard: SsrfGuard) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = guard.resolve(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A client that resolves through the guard, follows no redirects, ignores
/// proxy environment variables and gives up after `timeout`.
pub fn guarded_client(guard: &SsrfGuard, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(super::USER_AGENT)
        .build()
        // Only fails when the TLS backend cannot start, which is a broken build.
        .expect("building the webhook HTTP client")
}

/// The IPv4 or IPv6 address embedded in a NAT64 address (for messages and tests).
pub fn nat64_embedded(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    NAT64
        .contains(IpAddr::V6(v6))
        .then(|| Ipv4Addr::from(u128::from(v6) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// One address inside, at each edge of, every blocked range.
    #[test]
    fn every_blocked_v4_range() {
        let inside = [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ];
        for a in inside {
            assert!(blocked_reason(ip(a)).is_some(), "{a} should be blocked");
        }
        // Neighbours just outside the ranges are public.
        let outside = [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.112.255",
            "223.255.255.255",
            "8.8.8.8",
        ];
        for a in outside {
            assert_eq!(blocked_reason(ip(a)), None, "{a} should be allowed");
        }
        for (c, _) in BLOCKED_V4 {
            assert!(blocked_reason(c.addr()).is_some(), "{c}");
        }
    }

    #[test]
    fn every_blocked_v6_range() {
        let inside = [
            "::",
            "::1",
            "::2",
            "::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:20::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "4000::1",
            "8000::1",
            "1::1",
        ];
        for a in inside {
            assert!(blocked_reason(ip(a)).is_some(), "{a} should be blocked");
        }
        for (c, _) in BLOCKED_V6 {
            assert!(blocked_reason(c.addr()).is_some(), "{c}");
        }
        for a in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2800:3f0:4001::1",
        ] {
            assert_eq!(blocked_reason(ip(a)), None, "{a} should be allowed");
        }
    }

    #[test]
    fn mapped_nat64_and_6to4_are_judged_by_their_ipv4() {
        for a in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
        ] {
            assert!(blocked_reason(ip(a)).is_some(), "{a} should be blocked");
        }
        assert_eq!(blocked_reason(ip("::ffff:8.8.8.8")), None);
        for a in [
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::10.1.2.3",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(blocked_reason(ip(a)).is_some(), "{a} should be blocked");
        }
        assert_eq!(blocked_reason(ip("64:ff9b::8.8.8.8")), None);
        assert_eq!(
            nat64_embedded("64:ff9b::7f00:1".parse().unwrap()),
            Some(Ipv4Addr::LOCALHOST)
        );
        assert!(
            blocked_reason(ip("2002:7f00:1::1")).is_some(),
            "6to4 of 127.0.0.1"
        );
        assert!(
            blocked_reason(ip("2002:c0a8:101::1")).is_some(),
            "6to4 of 192.168.1.1"
        );
        assert_eq!(
            blocked_reason(ip("2002:808:808::1")),
            None,
            "6to4 of 8.8.8.8"
        );
    }

    #[test]
    fn allowlist_lets_chosen_ranges_through() {
        let none = SsrfGuard::default();
        assert!(none.check_ip(ip("127.0.0.1")).is_err());
        let g = SsrfGuard::new(Cidr::parse_list("127.0.0.0/8,fd00::/8").unwrap());
        assert!(g.check_ip(ip("127.0.0.1")).is_ok());
        assert!(
            g.check_ip(ip("::ffff:127.0.0.1")).is_ok(),
            "mapped form of an allowed v4"
        );
        assert!(g.check_ip(ip("fd00::5")).is_ok());
        assert!(g.check_ip(ip("::1")).is_err(), "only what is listed");
        assert!(g.check_ip(ip("10.0.0.1")).is_err());
        assert!(g.check_ip(ip("8.8.8.8")).is_ok());
        let e = none.check_ip(ip("10.0.0.1")).unwrap_err().to_string();
        assert!(e.contains("10.0.0.1") && e.contains("private"), "{e}");
    }

    #[test]
    fn ip_literal_urls_are_checked() {
        let g = SsrfGuard::default();
        for u in [
            "http://127.0.0.1/x",
            "http://[::1]:8080/",
            "http://[::ffff:10.0.0.1]/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://[64:ff9b::7f00:1]/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let url = Url::parse(u).unwrap();
            assert!(g.check_url(&url).is_err(), "{u} should be refused");
        }
        assert!(
            g.check_url(&Url::parse("https://example.com/").unwrap())
                .is_ok()
        );
        assert!(
            g.check_url(&Url::parse("https://8.8.8.8/").unwrap())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let g = SsrfGuard::default();
        let e = g.resolve("localhost").await.unwrap_err();
        assert!(matches!(e, Blocked::Name { .. }), "{e}");
        assert!(e.to_string().contains("localhost"));
        // What it resolved to stays out of the tenant's attempt log.
        assert!(!e.to_string().contains("127.0.0.1"), "{e}");
        let allowed = SsrfGuard::new(Cidr::parse_list("127.0.0.0/8,::1").unwrap());
        assert!(!allowed.resolve("localhost").await.unwrap().is_empty());
    }
}
