//! Initial sequence numbers (RFC 6528) and the keyed hash the stack's
//! secrets go through ([`siphash24`], also used by ports and SYN cookies).
//!
//! An off-path attacker who can guess a connection's ISN can inject data or
//! resets into it (RFC 6528 §1), so the ISN must be unpredictable per
//! 4-tuple while still advancing with time for each tuple, so that a new
//! incarnation of a connection starts above the old one's sequence space.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::time::Instant;
use crate::wire::SeqNum;

/// SipHash-2-4 of `data` under `key`, the 64-bit output as an integer
/// (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012).
///
/// Our own copy because `std::hash::SipHasher` is deprecated and
/// `DefaultHasher`'s keys cannot be set. Linux keys its ISNs, port offsets
/// and SYN cookies with SipHash too (`siphash_3u32`, `siphash_4u32`).
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let k0 = load_le(&key[..8]);
    let k1 = load_le(&key[8..]);
    // The constants spell "somepseudorandomlygeneratedbytes".
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        compress(&mut v, load_le(block));
    }
    // The last block carries the message length mod 256 in its top byte,
    // so messages that differ only in trailing zero bytes hash differently.
    compress(
        &mut v,
        ((data.len() as u64) << 56) | load_le(blocks.remainder()),
    );
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Up to 8 bytes as a little-endian integer (short input zero-extended).
fn load_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Absorb one message word with the "2" of SipHash-2-4: two rounds.
fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// A connection's 4-tuple as hash input: local ip, local port, remote ip,
/// remote port, in network byte order.
pub(crate) fn tuple_bytes(local: SocketAddrV4, remote: SocketAddrV4) -> [u8; 12] {
    let mut b = [0; 12];
    b[0..4].copy_from_slice(&local.ip().octets());
    b[4..6].copy_from_slice(&local.port().to_be_bytes());
    b[6..10].copy_from_slice(&remote.ip().octets());
    b[10..12].copy_from_slice(&remote.port().to_be_bytes());
    b
}

/// ISN generator, RFC 6528 §3: `ISN = M + F(localip, localport, remoteip,
/// remoteport, secretkey)`, with F = SipHash-2-4 and M a 16 MHz clock.
#[derive(Clone)]
pub struct IsnGenerator {
    secret: [u8; 16],
    /// The host clock's reading, in µs, when the stack's clock was zero.
    host_clock_us: u64,
}

impl IsnGenerator {
    /// `secret` must come from a strong random source and stay fixed for the
    /// stack's lifetime: changing it breaks the per-tuple monotonicity that
    /// protects old duplicates (RFC 6528 §3 suggests rekeying only rarely).
    /// `host_clock_us` places the stack's clock on the host's, so that
    /// stacks sharing the secret also share M and the timestamp clock.
    pub fn new(secret: [u8; 16], host_clock_us: u64) -> Self {
        IsnGenerator { secret, host_clock_us }
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`.
    /// The offset added to our timestamp clock for connections between
    /// two hosts (RFC 7323 §5.4: per-connection offsets hide the clock).
    /// Linux: secure_tcp_ts_off hashes the two addresses, not the ports, so
    /// a new connection on a reused 4-tuple carries a newer TSval than the
    /// old one and a peer in TIME-WAIT takes its SYN (RFC 6191).
    pub fn ts_offset(&self, local: Ipv4Addr, remote: Ipv4Addr) -> u32 {
        let mut b = [0u8; 9];
        b[..4].copy_from_slice(&local.octets());
        b[4..8].copy_from_slice(&remote.octets());
        b[8] = b'T';
        // TSval = stack clock in ms + offset: adding the host clock's start
        // makes it count on the host clock (Linux: tcp_clock_ms, boot-based).
        let host_ms = (self.host_clock_us / 1000) as u32;
        (siphash24(&self.secret, &b) as u32).wrapping_add(host_ms)
    }

    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        // RFC 6528 §3: F hides the tuple's offset from anyone without the
        // secret; only the low 32 bits are needed.
        let f = siphash24(&self.secret, &tuple_bytes(local, remote)) as u32;
        // Linux: secure_tcp_seq adds seq_scale(), ktime_get_real_ns() >> 6,
        // a 64 ns tick (15.6 MHz) chosen so the clock outruns any sender up
        // to ~10 Gb/s (RFC 793's 4 µs tick assumed 2 Mb/s) while the 32-bit
        // space still takes 274 s to wrap, longer than 2 * MSL. Our clock is
        // in µs, and 1 µs = 15.625 such ticks; * 16 is the nearest power of
        // two: a 16 MHz clock that wraps every 268 s, the same trade-off.
        let m = now.as_micros().wrapping_add(self.host_clock_us).wrapping_mul(16) as u32;
        SeqNum(m.wrapping_add(f))
    }
}

// The secret must not leak through `{:?}` into logs or traces.
impl core::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnGenerator { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(a: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, a), port)
    }

    #[test]
    fn siphash_reference_vectors() {
        // Key 00..0f and message 00..(len-1), from the paper's appendix and
        // the reference implementation's vectors.h. Lengths 0, 7, 8 and 15
        // cover the empty, tail-only, block-only and block + tail paths.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let msg: Vec<u8> = (0..15).collect();
        let cases = [
            (0, 0x726f_db47_dd0e_0e31),
            (1, 0x74f8_39c5_93dc_67fd),
            (7, 0xab02_00f5_8b01_d137),
            (8, 0x93f5_f579_9a93_2462),
            (15, 0xa129_ca61_49be_45e5),
        ];
        for (len, want) in cases {
            assert_eq!(siphash24(&key, &msg[..len]), want, "len {len}");
        }
    }

    #[test]
    fn same_tuple_same_time_same_isn() {
        let g = IsnGenerator::new([7; 16], 0);
        let t = Instant::from_secs(3);
        assert_eq!(
            g.isn(t, addr(1, 80), addr(2, 40000)),
            g.isn(t, addr(1, 80), addr(2, 40000))
        );
        assert_eq!(
            IsnGenerator::new([7; 16], 0).isn(t, addr(1, 80), addr(2, 40000)),
            g.isn(t, addr(1, 80), addr(2, 40000)),
        );
    }

    #[test]
    fn different_tuples_and_secrets_differ() {
        let g = IsnGenerator::new([7; 16], 0);
        let t = Instant::from_secs(3);
        let base = g.isn(t, addr(1, 80), addr(2, 40000));
        assert_ne!(base, g.isn(t, addr(1, 81), addr(2, 40000)));
        assert_ne!(base, g.isn(t, addr(3, 80), addr(2, 40000)));
        assert_ne!(base, g.isn(t, addr(1, 80), addr(4, 40000)));
        assert_ne!(base, g.isn(t, addr(1, 80), addr(2, 40001)));
        // Swapping ends is a different connection.
        assert_ne!(base, g.isn(t, addr(2, 40000), addr(1, 80)));
        assert_ne!(
            base,
            IsnGenerator::new([8; 16], 0).isn(t, addr(1, 80), addr(2, 40000))
        );
    }

    #[test]
    fn advances_with_time() {
        let g = IsnGenerator::new([7; 16], 0);
        let (l, r) = (addr(1, 80), addr(2, 40000));
        let t0 = Instant::from_secs(100);
        let a = g.isn(t0, l, r);
        assert_eq!(
            g.isn(t0 + core::time::Duration::from_micros(1), l, r)
                .diff(a),
            16
        );
        assert_eq!(
            g.isn(t0 + core::time::Duration::from_secs(1), l, r).diff(a),
            16_000_000
        );
        assert!(g.isn(t0 + core::time::Duration::from_secs(60), l, r) > a);
    }

    #[test]
    fn consecutive_ports_are_not_sequential() {
        // An attacker who sees the ISN of its own connection from port p
        // must not learn the ISN for port p + 1 (RFC 6528 §1).
        let g = IsnGenerator::new([7; 16], 0);
        let t = Instant::from_secs(5);
        let isns: Vec<SeqNum> = (40000..40064)
            .map(|p| g.isn(t, addr(1, 80), addr(2, p)))
            .collect();
        for w in isns.windows(2) {
            let d = w[1].diff(w[0]).unsigned_abs();
            assert!(d > 1 << 16, "ISNs {} and {} are only {d} apart", w[0], w[1]);
        }
    }

    #[test]
    fn debug_hides_secret() {
        assert_eq!(
            format!("{:?}", IsnGenerator::new([0xab; 16], 0)),
            "IsnGenerator { .. }"
        );
    }
}
