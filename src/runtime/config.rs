//! Configuration from `UTCP_*` environment variables, read once. A bad
//! value is reported in one line naming the variable; nothing falls back
//! to a default silently.

use core::net::Ipv4Addr;
use utcp_core::sim::FaultSpec;

/// Every variable utcp reads, with what it means; a test checks that the
/// README's configuration table names each one.
#[cfg_attr(not(test), allow(dead_code))]
pub const VARIABLES: &[(&str, &str)] = &[
    ("UTCP_DEV", "TUN device to open or create (default: the first free utcpN)"),
    ("UTCP_ADDR", "utcp's own IPv4 address (default: 198.18.N.2, or the device's address + 1)"),
    ("UTCP_PEER", "the kernel side of the TUN, address/prefix (default: 198.18.N.1/24)"),
    ("UTCP_MTU", "device MTU, 576..65535 (default 1500); MSS = MTU - 40"),
    ("UTCP_TRACE", "1: print each segment and state change to stderr"),
    ("UTCP_PCAP", "file to write a pcap capture of the device traffic to"),
    ("UTCP_LOG", "error, warn, info or debug (default warn)"),
    ("UTCP_PASSTHROUGH", "comma-separated CIDRs served by the kernel instead (default 127.0.0.0/8)"),
    ("UTCP_SYN_RETRIES", "SYN retransmissions before ETIMEDOUT (default 6, as Linux)"),
    ("UTCP_FAULTS", "inject faults at the device, e.g. loss=5%,dup=1%,reorder=2%,delay=10ms,jitter=5ms,corrupt=0.1%,seed=7; in:/out: prefixes for one direction"),
    ("UTCP_SPIN_US", "how long a blocked call polls the TUN itself before it sleeps, in µs, when its thread waited moments ago (default 50; 0: always sleep at once)"),
    ("UTCP_OFFLOAD", "1 (default): virtio-net header with checksum offload and TSO/GSO on the TUN; 0: plain packets (UTCP_FAULTS turns it off)"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub dev: Option<String>,
    pub addr: Option<Ipv4Addr>,
    pub peer: Option<(Ipv4Addr, u8)>,
    pub mtu: usize,
    pub trace: bool,
    pub pcap: Option<String>,
    pub log: LogLevel,
    pub passthrough: Vec<(Ipv4Addr, u8)>,
    pub syn_retries: u32,
    /// None when unset or empty: packets cross the device untouched.
    pub faults: Option<FaultSpec>,
    /// Open the TUN with the virtio-net header and ask for offloads.
    pub offload: bool,
    /// µs a blocked call of an active thread polls the TUN before it
    /// sleeps (`Runtime::spin`).
    pub spin_us: u64,
}

impl Config {
    /// Read the environment. Err is the one line to print.
    pub fn from_env() -> Result<Config, String> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let bad = |k: &str, v: &str, why: &str| format!("utcp: {k}={v:?}: {why}");
        let dev = get("UTCP_DEV").map(|v| {
            if v.is_empty() || v.len() > 15 || v.contains('/') {
                Err(bad("UTCP_DEV", &v, "not a device name (1-15 characters, no '/')"))
            } else {
                Ok(v)
            }
        });
        let dev = dev.transpose()?;
        let addr = match get("UTCP_ADDR") {
            Some(v) => Some(v.parse::<Ipv4Addr>().map_err(|_| bad("UTCP_ADDR", &v, "not an IPv4 address"))?),
            None => None,
        };
        let peer = match get("UTCP_PEER") {
            Some(v) => Some(parse_cidr(&v).ok_or_else(|| bad("UTCP_PEER", &v, "expected ADDRESS/PREFIX, e.g. 198.18.0.1/24"))?),
            None => None,
        };
        let mtu = match get("UTCP_MTU") {
            Some(v) => match v.parse::<usize>() {
                Ok(m) if (576..=65535).contains(&m) => m,
                _ => return Err(bad("UTCP_MTU", &v, "expected a number from 576 to 65535")),
            },
            None => 1500,
        };
        let trace = match get("UTCP_TRACE").as_deref() {
            None | Some("0") | Some("") => false,
            Some("1") => true,
            Some(v) => return Err(bad("UTCP_TRACE", v, "expected 0 or 1")),
        };
        let pcap = get("UTCP_PCAP").filter(|v| !v.is_empty());
        let log = match get("UTCP_LOG").as_deref() {
            None | Some("warn") => LogLevel::Warn,
            Some("error") => LogLevel::Error,
            Some("info") => LogLevel::Info,
            Some("debug") => LogLevel::Debug,
            Some(v) => return Err(bad("UTCP_LOG", v, "expected error, warn, info or debug")),
        };
        let passthrough = match get("UTCP_PASSTHROUGH") {
            Some(v) if v.is_empty() || v == "none" => Vec::new(),
            Some(v) => v
                .split(',')
                .map(|c| parse_cidr(c.trim()).ok_or_else(|| bad("UTCP_PASSTHROUGH", &v, "expected CIDRs like 127.0.0.0/8,10.1.0.0/16")))
                .collect::<Result<_, _>>()?,
            None => vec![(Ipv4Addr::new(127, 0, 0, 0), 8)],
        };
        let syn_retries = match get("UTCP_SYN_RETRIES") {
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= 127 => n,
                _ => return Err(bad("UTCP_SYN_RETRIES", &v, "expected a number from 0 to 127")),
            },
            None => 6,
        };
        let faults = match get("UTCP_FAULTS") {
            Some(v) if !v.trim().is_empty() => Some(FaultSpec::parse(&v).map_err(|e| bad("UTCP_FAULTS", &v, &e))?),
            _ => None,
        };
        let offload = match get("UTCP_OFFLOAD").as_deref() {
            None | Some("1") | Some("") => true,
            Some("0") => false,
            Some(v) => return Err(bad("UTCP_OFFLOAD", v, "expected 0 or 1")),
        };
        let spin_us = match get("UTCP_SPIN_US") {
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= 10_000 => n,
                _ => return Err(bad("UTCP_SPIN_US", &v, "expected a number of µs from 0 to 10000")),
            },
            None => 50,
        };
        // The injector works on wire-sized packets: a lost 64 KB GSO
        // super-packet would be a burst of 45 losses, not one.
        let offload = offload && faults.is_none();
        Ok(Config { dev, addr, peer, mtu, trace, pcap, log, passthrough, syn_retries, faults, offload, spin_us })
    }

    /// Whether connections to `ip` go to the kernel, not through utcp.
    pub fn is_passthrough(&self, ip: Ipv4Addr) -> bool {
        self.passthrough.iter().any(|(net, len)| in_prefix(ip, *net, *len))
    }
}

pub fn in_prefix(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    let len: u8 = l.parse().ok()?;
    (len <= 32).then_some(())?;
    Some((a.parse().ok()?, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.mtu, 1500);
        assert!(c.is_passthrough(Ipv4Addr::LOCALHOST));
        assert!(!c.is_passthrough(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(c.syn_retries, 6);
        assert!(c.faults.is_none());
        assert!(c.offload);
        assert!(!cfg(&[("UTCP_OFFLOAD", "0")]).unwrap().offload);
        assert_eq!(c.spin_us, 50);
        assert_eq!(cfg(&[("UTCP_SPIN_US", "0")]).unwrap().spin_us, 0);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("UTCP_ADDR", "1.2.3"),
            ("UTCP_MTU", "9"),
            ("UTCP_PEER", "198.18.0.1"),
            ("UTCP_TRACE", "yes"),
            ("UTCP_LOG", "loud"),
            ("UTCP_PASSTHROUGH", "10.0.0.0/40"),
            ("UTCP_DEV", "a/b"),
            ("UTCP_SYN_RETRIES", "-1"),
            ("UTCP_FAULTS", "loss=5"),
            ("UTCP_FAULTS", "in:jitter=5"),
            ("UTCP_OFFLOAD", "on"),
            ("UTCP_SPIN_US", "forever"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert!(e.starts_with(&format!("utcp: {k}=")), "{e}");
        }
    }

    #[test]
    fn readme_documents_every_variable() {
        let readme = include_str!("../../README.md");
        for (name, _) in VARIABLES {
            assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
        }
    }

    #[test]
    fn parses_values() {
        let c = cfg(&[("UTCP_ADDR", "198.18.5.2"), ("UTCP_PEER", "198.18.5.1/24"), ("UTCP_PASSTHROUGH", "none")]).unwrap();
        assert_eq!(c.addr, Some(Ipv4Addr::new(198, 18, 5, 2)));
        assert_eq!(c.peer, Some((Ipv4Addr::new(198, 18, 5, 1), 24)));
        assert!(!c.is_passthrough(Ipv4Addr::LOCALHOST));
        let f = cfg(&[("UTCP_FAULTS", "loss=5%,out:dup=1%,seed=3")]).unwrap().faults.unwrap();
        assert_eq!((f.inbound.loss, f.outbound.dup, f.seed), (0.05, 0.01, 3));
    }
}
