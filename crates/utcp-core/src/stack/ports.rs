//! Ephemeral port selection (RFC 6056).
//!
//! A predictable source port lets an off-path attacker who also guesses the
//! sequence numbers inject into a connection (RFC 6056 §1). `connect()`
//! uses Algorithm 4, double-hash selection, as Linux's
//! `__inet_hash_connect` does; `bind(0)` and listen's autobind, which have
//! no remote to hash, use Algorithm 1, a random start and a walk.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;

use super::isn::siphash24;
use crate::rng::Rng;

/// The ephemeral port range and the per-destination-bucket counters of
/// RFC 6056 Algorithm 4.
pub struct EphemeralPorts {
    secret: [u8; 16],
    range: RangeInclusive<u16>,
    /// RFC 6056 §3.3.4 `table[]`: how far each bucket of destinations has
    /// advanced past its keyed offset. Linux: `table_perturb`.
    table: Vec<u32>,
    /// Linux's small random increments of a bucket after each pick.
    perturb: Rng,
}

impl EphemeralPorts {
    /// `range` is the ephemeral range (Linux default: `32768..=60999`,
    /// `net.ipv4.ip_local_port_range`). `table_size` is the number of
    /// buckets; more buckets leak less about other destinations' traffic.
    /// Linux: `INET_TABLE_PERTURB_SIZE`, 65536 since 2022 (it was 256
    /// until the Klein & Pinkas device-tracking attack).
    ///
    /// Panics when the range is empty or `table_size` is zero: both are
    /// configuration errors.
    pub fn new(secret: [u8; 16], range: RangeInclusive<u16>, table_size: usize) -> Self {
        assert!(!range.is_empty(), "empty ephemeral port range");
        assert!(table_size > 0, "ephemeral port table must have a bucket");
        // Zero rather than RFC 6056's random initial table: the keyed offset
        // already makes every bucket's starting port unpredictable.
        EphemeralPorts {
            secret,
            range,
            table: vec![0; table_size],
            perturb: Rng::new(siphash24(&secret, b"perturb")),
        }
    }

    pub fn range(&self) -> RangeInclusive<u16> {
        self.range.clone()
    }

    fn len(&self) -> u32 {
        u32::from(*self.range.end()) - u32::from(*self.range.start()) + 1
    }

    /// A local port for a connection from `local` to `remote`: the first
    /// port in the range for which `in_use` returns false, trying each port
    /// at most once. `None` means every port is taken (`EADDRNOTAVAIL`).
    ///
    /// RFC 6056 §3.3.4, Algorithm 4: `offset = F(local, remote, key1)`,
    /// `index = G(local, remote, key2)`, then try
    /// `min + (offset + table[index]++) % num_ephemeral`.
    pub fn pick(
        &mut self,
        local: Ipv4Addr,
        remote: SocketAddrV4,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let mut input = [0; 10];
        input[0..4].copy_from_slice(&local.octets());
        input[4..8].copy_from_slice(&remote.ip().octets());
        input[8..10].copy_from_slice(&remote.port().to_be_bytes());
        // Linux: one 64-bit siphash (secure_ipv4_port_ephemeral) yields both
        // F, its high half, and G, its low bits; two independent keys buy
        // nothing over the halves of one PRF output.
        let h = siphash24(&self.secret, &input);
        let offset = (h >> 32) as u32;
        let index = (h % self.table.len() as u64) as usize;
        let num = self.len();
        for tries in 0..num {
            // Advancing the bucket on every try, taken or not, makes the next
            // connection to this destination start past the ports just seen,
            // so reconnecting quickly does not collide with TIME-WAIT.
            let step = self.table[index];
            self.table[index] = step.wrapping_add(1);
            let port = self.nth(offset.wrapping_add(step) % num);
            if !in_use(port) {
                // Linux (__inet_hash_connect, since 5.18): the bucket advances
                // by max(tries, random 0..8) + 1, so one destination's ports
                // are not sequential and do not reveal the connection count.
                let extra = (self.perturb.below(8) as u32).saturating_sub(tries);
                self.table[index] = self.table[index].wrapping_add(extra);
                return Some(port);
            }
        }
        None
    }

    /// A port for `bind()` with port 0, or for `listen()` on an unbound
    /// socket: there is no remote to hash, so RFC 6056 §3.3.1 Algorithm 1,
    /// a random start in the range, then walk up (wrapping) trying each port
    /// at most once. `None` means every port is taken (`EADDRINUSE`).
    // Linux: inet_csk_find_open_port also starts at a random port and walks.
    pub fn pick_for_bind(
        &mut self,
        rng: &mut Rng,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let num = self.len();
        let start = rng.below(u64::from(num)) as u32;
        (0..num)
            .map(|i| self.nth((start + i) % num))
            .find(|&port| !in_use(port))
    }

    /// The `i`th port of the range; `i < self.len()`.
    fn nth(&self, i: u32) -> u16 {
        (u32::from(*self.range.start()) + i) as u16
    }
}

// The secret must not leak through `{:?}` into logs or traces.
impl core::fmt::Debug for EphemeralPorts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EphemeralPorts")
            .field("range", &self.range)
            .field("table_size", &self.table.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn remote(a: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, a), port)
    }

    #[test]
    fn ports_stay_in_range_and_are_unique_until_exhausted() {
        let mut p = EphemeralPorts::new([1; 16], 40000..=40099, 64);
        let mut used = HashSet::new();
        for i in 0..100 {
            // Spread over destinations so many buckets are exercised.
            let r = remote(i as u8 % 7, 80);
            let port = p
                .pick(LOCAL, r, |q| used.contains(&q))
                .expect("a free port");
            assert!(p.range().contains(&port), "{port}");
            assert!(used.insert(port), "{port} handed out twice");
        }
        assert_eq!(p.pick(LOCAL, remote(1, 80), |q| used.contains(&q)), None);
    }

    #[test]
    fn tries_each_port_once_and_skips_in_use() {
        let mut p = EphemeralPorts::new([1; 16], 50000..=50009, 16);
        let mut tried = Vec::new();
        let got = p.pick(LOCAL, remote(1, 443), |q| {
            tried.push(q);
            true
        });
        assert_eq!(got, None);
        tried.sort_unstable();
        assert_eq!(tried, (50000..=50009).collect::<Vec<_>>());

        // Everything taken but one port: that one is found.
        let got = p.pick(LOCAL, remote(1, 443), |q| q != 50007);
        assert_eq!(got, Some(50007));
    }

    #[test]
    fn full_u16_range_works() {
        let mut p = EphemeralPorts::new([1; 16], 0..=u16::MAX, 1);
        assert!(p.pick(LOCAL, remote(1, 80), |_| false).is_some());
        let mut rng = Rng::new(1);
        assert!(p.pick_for_bind(&mut rng, |_| false).is_some());
    }

    #[test]
    fn destinations_start_at_unrelated_ports() {
        // Algorithm 4's point: what an attacker learns from the ports used
        // towards its own server says nothing about ports towards another.
        let mut p = EphemeralPorts::new([9; 16], 32768..=60999, 65536);
        let firsts: Vec<u16> = (1..=20)
            .map(|a| p.pick(LOCAL, remote(a, 80), |_| false).unwrap())
            .collect();
        for w in firsts.windows(2) {
            let d = (i32::from(w[1]) - i32::from(w[0])).abs();
            assert!(
                d > 8,
                "first ports {} and {} for neighbouring remotes",
                w[0],
                w[1]
            );
        }
        // Towards one destination the bucket advances, so consecutive
        // connections get distinct ports even when nothing is held.
        let r = remote(1, 80);
        let a = p.pick(LOCAL, r, |_| false).unwrap();
        let b = p.pick(LOCAL, r, |_| false).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, firsts[0]);
    }

    #[test]
    fn deterministic_with_fixed_secret() {
        let run = |secret| {
            let mut p = EphemeralPorts::new(secret, 32768..=60999, 256);
            (0..10)
                .map(|i| p.pick(LOCAL, remote(i, 80), |_| false).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run([3; 16]), run([3; 16]));
        assert_ne!(run([3; 16]), run([4; 16]));
    }

    #[test]
    fn bind_picks_random_start_and_walks() {
        let mut p = EphemeralPorts::new([1; 16], 40000..=40019, 16);
        let mut rng = Rng::new(5);
        let mut used = HashSet::new();
        for _ in 0..20 {
            let port = p.pick_for_bind(&mut rng, |q| used.contains(&q)).unwrap();
            assert!(p.range().contains(&port));
            assert!(used.insert(port));
        }
        assert_eq!(p.pick_for_bind(&mut rng, |q| used.contains(&q)), None);

        // Same seed, same choices; the start is not always the range's low end.
        let starts: Vec<u16> = (0..8)
            .map(|_| p.pick_for_bind(&mut Rng::new(5), |_| false).unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]));
        let mut rng = Rng::new(6);
        let spread: HashSet<u16> = (0..16)
            .map(|_| p.pick_for_bind(&mut rng, |_| false).unwrap())
            .collect();
        assert!(spread.len() > 4, "{spread:?}");
    }

    #[test]
    fn debug_hides_secret() {
        let p = EphemeralPorts::new([0xab; 16], 1000..=2000, 4);
        let s = format!("{p:?}");
        assert!(!s.contains("171"), "{s}");
        assert!(s.contains("1000..=2000"), "{s}");
    }
}
