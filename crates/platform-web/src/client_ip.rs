//! The client's IP address, for rate limits, login throttling and the audit
//! log.
//!
//! It is the TCP peer, unless the peer is one of the operator's reverse
//! proxies (`PUENTE_TRUSTED_PROXIES`). Then `X-Forwarded-For` is read from
//! the right: each proxy appends the address it received the request from,
//! so the right-most entry that is not itself a trusted proxy is the first
//! address no proxy of ours vouches for — the client. Entries to its left
//! were written by the client and are ignored, so a spoofed header gains
//! nothing. With no trusted proxies configured the header is never read.

use std::net::{IpAddr, SocketAddr};

use actix_web::{HttpRequest, web};
use platform_core::webhooks::cidr::Cidr;

use crate::state::AppState;

const HEADER: &str = "x-forwarded-for";

/// The client address of `req`, under this process's trusted proxies.
/// `None` only when the connection has no peer address (test requests).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    client_ip_with(req, trusted)
}

/// [`client_ip`] with the trusted ranges given.
pub fn client_ip_with(req: &HttpRequest, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if trusted.is_empty() {
        return Some(canonical(peer));
    }
    let values: Vec<&str> = req
        .headers()
        .get_all(HEADER)
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(resolve(
        peer,
        values.iter().flat_map(|v| v.split(',')),
        trusted,
    ))
}

/// The client address given the peer, the `X-Forwarded-For` entries in
/// order (left to right, across repeated headers) and the trusted ranges.
pub fn resolve<'a, I>(peer: IpAddr, forwarded_for: I, trusted: &[Cidr]) -> IpAddr
where
    I: DoubleEndedIterator<Item = &'a str>,
{
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut current = canonical(peer);
    if !is_trusted(current) {
        return current;
    }
    for entry in forwarded_for.rev() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        // Something that is not an address (`unknown`, garbage): stop at
        // the last hop we know, rather than guess further left.
        let Some(ip) = parse_entry(entry) else {
            return current;
        };
        current = ip;
        if !is_trusted(current) {
            return current;
        }
    }
    // Every hop is one of ours (or there was no header): the furthest one.
    current
}

/// `1.2.3.4`, `2001:db8::1`, and the forms some balancers write with a
/// port: `1.2.3.4:5678`, `[2001:db8::1]:443`, `[2001:db8::1]`.
fn parse_entry(s: &str) -> Option<IpAddr> {
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(canonical(ip))
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports
/// for an IPv4 client) as plain IPv4, so `10.0.0.0/8` matches it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidrs(s: &str) -> Vec<Cidr> {
        Cidr::parse_list(s).unwrap()
    }

    fn request(peer: &str, xff: &[&str]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for v in xff {
            r = r.append_header((HEADER, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let req = request("203.0.113.7:5000", &["198.51.100.1"]);
        assert_eq!(client_ip_with(&req, &[]), Some(ip("203.0.113.7")));
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
        let trusted = cidrs("10.0.0.0/8");
        let req = request("203.0.113.7:5000", &["10.0.0.5, 198.51.100.1"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("203.0.113.7")));
    }

    #[test]
    fn behind_one_proxy_the_appended_address_is_the_client() {
        let trusted = cidrs("127.0.0.1/32");
        let req = request("127.0.0.1:40000", &["198.51.100.9"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.9")));
        // The client wrote its own entries first; nginx appended the real one.
        let req = request("127.0.0.1:40000", &["1.1.1.1, 8.8.8.8, 198.51.100.9"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.9")));
    }

    #[test]
    fn a_chain_of_proxies_is_walked_from_the_right() {
        // client → CDN edge (trusted) → load balancer (trusted) → nginx (peer, trusted)
        let trusted = cidrs("10.0.0.0/8, 192.0.2.0/24");
        let req = request(
            "10.0.0.2:1234",
            &["6.6.6.6, 198.51.100.20, 192.0.2.10, 10.0.0.1"],
        );
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.20")));
        // The same chain split across repeated headers, in order.
        let req = request(
            "10.0.0.2:1234",
            &["6.6.6.6", "198.51.100.20, 192.0.2.10", "10.0.0.1"],
        );
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.20")));
        // Every hop trusted: the furthest one.
        let req = request("10.0.0.2:1234", &["10.0.0.9, 10.0.0.1"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("10.0.0.9")));
        // A trusted peer and no header: the peer.
        let req = request("10.0.0.2:1234", &[]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_peers_entries_and_mapped_addresses() {
        let trusted = cidrs("::1/128, fd00::/8, 10.0.0.0/8");
        let req = request("[::1]:8080", &["2001:db8::42"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("2001:db8::42")));
        let req = request("[fd00::2]:8080", &["[2001:db8::7]:443, fd00::1"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("2001:db8::7")));
        // A dual-stack listener reports an IPv4 proxy as ::ffff:10.0.0.3.
        let req = request("[::ffff:10.0.0.3]:8080", &["198.51.100.4:5555"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.4")));
        let req = request("[::ffff:203.0.113.1]:8080", &["198.51.100.4"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("203.0.113.1")));
        let req = request("[2001:db8::99]:8080", &["fd00::1"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("2001:db8::99")));
    }

    #[test]
    fn garbage_stops_at_the_last_known_hop() {
        let trusted = cidrs("10.0.0.0/8");
        let req = request("10.0.0.2:1234", &["198.51.100.1, unknown"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("10.0.0.2")));
        let req = request("10.0.0.2:1234", &["198.51.100.1, 10.0.0.1, not-an-ip"]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("10.0.0.2")));
        let req = request("10.0.0.2:1234", &["junk, 198.51.100.1,, "]);
        assert_eq!(client_ip_with(&req, &trusted), Some(ip("198.51.100.1")));
    }
}
