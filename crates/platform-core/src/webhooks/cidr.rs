//! A tiny CIDR type (`10.0.0.0/8`, `fd00::/8`, or a bare address) for the
//! SSRF block list and the operator's allowlist.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IP network: an address and a prefix length. The address is stored
/// with its host bits cleared, so `10.1.2.3/8` equals `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a CIDR range ({reason}); write e.g. 10.0.0.0/8 or fd00::/8")]
pub struct CidrError {
    pub input: String,
    pub reason: &'static str,
}

impl Cidr {
    /// `addr/prefix`; `None` if the prefix is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let max = max_prefix(addr);
        (prefix <= max).then(|| Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The network as written by `const` tables: `Cidr::v4([10,0,0,0], 8)`.
    pub const fn v4(octets: [u8; 4], prefix: u8) -> Self {
        Self {
            addr: IpAddr::V4(std::net::Ipv4Addr::new(
                octets[0], octets[1], octets[2], octets[3],
            )),
            prefix,
        }
    }

    pub const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        Self {
            addr: IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                segments[4],
                segments[5],
                segments[6],
                segments[7],
            )),
            prefix,
        }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside. An IPv4 network never contains an IPv6
    /// address (callers unwrap mapped forms themselves) and vice versa.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let m = bits_mask_32(self.prefix);
                u32::from(net) & m == u32::from(ip) & m
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let m = bits_mask_128(self.prefix);
                u128::from(net) & m == u128::from(ip) & m
            }
            _ => false,
        }
    }

    /// Parses a comma-separated list, ignoring empty items.
    pub fn parse_list(s: &str) -> Result<Vec<Cidr>, CidrError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        let err = |reason| CidrError {
            input: s.to_owned(),
            reason,
        };
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err("not an IP address"))?;
        let prefix = match prefix {
            None => max_prefix(addr),
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("the prefix length is not a number"));
                }
                p.parse::<u8>().map_err(|_| err("the prefix is too long"))?
            }
        };
        Cidr::new(addr, prefix).ok_or_else(|| err("the prefix is longer than the address"))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn bits_mask_32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn bits_mask_128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & bits_mask_32(prefix)).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & bits_mask_128(prefix)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert_eq!(c, Cidr::v4([10, 0, 0, 0], 8));
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert_eq!("127.0.0.1".parse::<Cidr>().unwrap().prefix(), 32);
        assert_eq!(
            " fd00::1/8 ".parse::<Cidr>().unwrap().to_string(),
            "fd00::/8"
        );
        assert_eq!("0.0.0.0/0".parse::<Cidr>().unwrap().prefix(), 0);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host/8",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/0008",
            "1.2.3.4 /8x",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} should not parse");
        }
        let e = "nope".parse::<Cidr>().unwrap_err();
        assert!(e.to_string().contains("nope"));
    }

    #[test]
    fn containment() {
        let c: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(c.contains(ip("172.16.0.1")));
        assert!(c.contains(ip("172.31.255.255")));
        assert!(!c.contains(ip("172.32.0.0")));
        assert!(!c.contains(ip("172.15.255.255")));
        assert!(!c.contains(ip("::ffff:172.16.0.1")), "families never mix");
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "fe80::/10".parse().unwrap();
        assert!(v6.contains(ip("fe80::1")));
        assert!(v6.contains(ip("febf::1")));
        assert!(!v6.contains(ip("fec0::1")));
        let host: Cidr = "::1".parse().unwrap();
        assert!(host.contains(ip("::1")));
        assert!(!host.contains(ip("::2")));
    }

    #[test]
    fn lists() {
        let l = Cidr::parse_list("127.0.0.0/8, ::1/128,,").unwrap();
        assert_eq!(l.len(), 2);
        assert!(Cidr::parse_list("").unwrap().is_empty());
        assert!(Cidr::parse_list("127.0.0.0/8,bad").is_err());
    }
}
