//! SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, answer
//! a SYN with a SYN-ACK whose ISN encodes, under a secret, everything needed
//! to rebuild the connection from the final ACK, and keep no state.
//!
//! Linux: the scheme is net/ipv4/syncookies.c's. The cookie ISN is
//!
//! ```text
//! hash(tuple, secret0) + client_isn + (count << 24)
//!     + ((hash(tuple, count, secret1) + mss_index) & 0x00ff_ffff)
//! ```
//!
//! with `count` a minute counter. Only the MSS (as an index into
//! [`MSS_TABLE`]) fits in the cookie; window scale and SACK-permitted ride in
//! the low bits of the SYN-ACK's TSval when the peer uses timestamps
//! ([`encode_ts`]), and are lost otherwise.
//!
//! Deciding when cookies are sent or accepted (Linux accepts a cookie ACK
//! only if the SYN queue overflowed recently) is the listener's job.

use std::net::SocketAddrV4;

use super::isn::{siphash24, tuple_bytes};
use crate::time::Instant;
use crate::wire::SeqNum;

/// Linux: `msstab` in syncookies.c. Four values, so the index costs two of
/// the 24 hashed bits; they cover the common paths (minimum IPv4 MSS,
/// tunnels, PPPoE-ish and plain Ethernet).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

/// Linux: `COOKIEBITS`, the low bits holding `hash2 + mss_index`; the top
/// eight carry the minute counter.
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;

/// Linux: `TCP_SYNCOOKIE_PERIOD` is `60 * HZ`, `tcp_cookie_time()` counts
/// those periods.
const PERIOD_US: u64 = 60_000_000;

/// Linux: `MAX_SYNCOOKIE_AGE`. A cookie is accepted in the minute it was
/// made and the next, so it lives between 60 and 120 s depending on where in
/// its minute it was made: long enough for an ACK through a slow path, short
/// enough that a captured cookie soon goes stale.
const MAX_AGE: u32 = 2;

/// How long a cookie can be accepted after it was made (at most).
pub const VALIDITY: core::time::Duration = core::time::Duration::from_micros(PERIOD_US * MAX_AGE as u64);

/// Stateless SYN-ACK ISNs for a listener under SYN flood.
#[derive(Clone)]
pub struct SynCookies {
    /// Linux: `syncookie_secret[2]`: `[0]` keys the per-tuple offset, `[1]`
    /// the per-minute hash that authenticates the count and MSS index.
    keys: [[u8; 16]; 2],
}

impl SynCookies {
    /// `secret` must come from a strong random source and stay fixed while
    /// cookies are outstanding; the two halves become the two hash keys.
    pub fn new(secret: [u8; 32]) -> Self {
        let mut keys = [[0; 16]; 2];
        keys[0].copy_from_slice(&secret[..16]);
        keys[1].copy_from_slice(&secret[16..]);
        SynCookies { keys }
    }

    /// Linux: `cookie_hash()`, siphash over the 4-tuple and a count.
    fn hash(&self, key: usize, local: SocketAddrV4, remote: SocketAddrV4, count: u32) -> u32 {
        let mut input = [0; 16];
        input[..12].copy_from_slice(&tuple_bytes(local, remote));
        input[12..].copy_from_slice(&count.to_be_bytes());
        siphash24(&self.keys[key], &input) as u32
    }

    /// RFC 4987 §3.6: the ISN for our SYN-ACK to a SYN with sequence
    /// number `client_isn` and MSS option `mss`, and the MSS the cookie
    /// actually carries: the largest [`MSS_TABLE`] entry not above `mss`. Linux: an `mss` below
    /// 536 still gets 536, the smallest entry (`__cookie_v4_init_sequence`).
    pub fn make(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        client_isn: SeqNum,
        mss: u16,
    ) -> (SeqNum, u16) {
        let index = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0);
        let count = minute(now);
        let low = self
            .hash(1, local, remote, count)
            .wrapping_add(index as u32)
            & COOKIE_MASK;
        let cookie = self
            .hash(0, local, remote, 0)
            .wrapping_add(client_isn.0)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(low);
        (SeqNum(cookie), MSS_TABLE[index])
    }

    /// Validate the cookie in a final ACK: pass the ACK's `seq - 1` as
    /// `client_isn` and its `ack - 1` as `cookie`. Returns the encoded MSS,
    /// or `None` when the cookie is forged, for another tuple or expired.
    ///
    /// As in Linux, the low 24 bits are the only authenticator: a random
    /// guess passes with probability about 2 * 4 / 2^24 (two live minutes,
    /// four indices), and a `client_isn` off by a few may alias to a
    /// neighbouring MSS index; the ACK must still match everything else.
    pub fn check(
        &self,
        now: Instant,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        client_isn: SeqNum,
        cookie: SeqNum,
    ) -> Option<u16> {
        let count = minute(now);
        // Peel off the per-tuple offset and the client's ISN, leaving
        // (count << 24) + (hash2 + index) mod 2^24.
        let rest = cookie
            .0
            .wrapping_sub(self.hash(0, local, remote, 0).wrapping_add(client_isn.0));
        // Only 8 bits of the count survive, so the age is taken mod 256; a
        // cookie "from the future" (a clock step back) shows up as age 255.
        let age = count.wrapping_sub(rest >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
        if age >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let index = rest.wrapping_sub(self.hash(1, local, remote, made)) & COOKIE_MASK;
        MSS_TABLE.get(index as usize).copied()
    }
}

// The secret must not leak through `{:?}` into logs or traces.
impl core::fmt::Debug for SynCookies {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SynCookies { .. }")
    }
}

/// Linux: `tcp_cookie_time()`, minutes since the epoch, truncated to 32 bits
/// like the kernel's.
fn minute(now: Instant) -> u32 {
    (now.as_micros() / PERIOD_US) as u32
}

/// The SYN's options that a cookie SYN-ACK must remember, carried in the low
/// bits of our TSval, which the peer echoes in every TSecr (RFC 7323 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CookieOpts {
    /// The peer's window scale shift, `None` if it sent no Window Scale.
    pub wscale: Option<u8>,
    /// The peer sent SACK-permitted.
    pub sack: bool,
}

/// Linux: `TSBITS`, the low TSval bits given over to options.
const TS_BITS: u32 = 6;
/// Linux: `TS_OPT_WSCALE_MASK`; all ones in the 4-bit field means "none",
/// which leaves 0..=14, every legal shift (RFC 7323 §2.3).
const TS_WSCALE_NONE: u32 = 0xf;
/// Linux: `TS_OPT_SACK`. Bit 5, Linux's `TS_OPT_ECN`, stays zero: we do
/// not negotiate ECN.
const TS_SACK: u32 = 1 << 4;

/// The TSval for a cookie SYN-ACK sent when our timestamp clock reads
/// `now_ts`: `now_ts` with its low 6 bits replaced by `opts`.
///
/// Linux: `cookie_init_timestamp()`. Our later segments carry the real clock,
/// so the encoded value must not be above `now_ts`, or the peer's PAWS check
/// (RFC 7323 §5) would see our next TSval go backwards and drop it; when the
/// options bits exceed `now_ts`'s, step back one 64-tick block.
pub fn encode_ts(now_ts: u32, opts: CookieOpts) -> u32 {
    // RFC 7323 §2.3: a shift above 14 is treated as 14.
    let mut options = opts.wscale.map_or(TS_WSCALE_NONE, |w| u32::from(w.min(14)));
    if opts.sack {
        options |= TS_SACK;
    }
    let ts = (now_ts >> TS_BITS << TS_BITS) | options;
    if ts > now_ts {
        // Wraps when now_ts < 64, to a value just behind now_ts mod 2^32,
        // which is what PAWS's modular comparison wants.
        ts.wrapping_sub(1 << TS_BITS)
    } else {
        ts
    }
}

/// The options a cookie SYN-ACK encoded, read back from the TSecr of the
/// ACK that completes the handshake. Linux: `cookie_timestamp_decode()`.
pub fn decode_ts(tsecr: u32) -> CookieOpts {
    let wscale = tsecr & TS_WSCALE_NONE;
    CookieOpts {
        wscale: (wscale != TS_WSCALE_NONE).then_some(wscale as u8),
        sack: tsecr & TS_SACK != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use std::net::Ipv4Addr;

    fn secret() -> [u8; 32] {
        core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
    }

    fn local() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80)
    }

    fn remote() -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 7), 51000)
    }

    const CLIENT_ISN: SeqNum = SeqNum(0xdead_beef);

    #[test]
    fn round_trip_every_mss() {
        let c = SynCookies::new(secret());
        let t = Instant::from_secs(1_000);
        for mss in MSS_TABLE {
            let (cookie, enc) = c.make(t, local(), remote(), CLIENT_ISN, mss);
            assert_eq!(enc, mss);
            assert_eq!(c.check(t, local(), remote(), CLIENT_ISN, cookie), Some(mss));
        }
        // Across a sequence-number wrap of the client's ISN too.
        let (cookie, _) = c.make(t, local(), remote(), SeqNum(u32::MAX), 1460);
        assert_eq!(
            c.check(t, local(), remote(), SeqNum(u32::MAX), cookie),
            Some(1460)
        );
    }

    #[test]
    fn mss_rounds_down() {
        let c = SynCookies::new(secret());
        let t = Instant::from_secs(1_000);
        let cases = [
            (65535, 1460),
            (1460, 1460),
            (1459, 1440),
            (1400, 1300),
            (1299, 536),
            (536, 536),
        ];
        for (mss, want) in cases {
            let (cookie, enc) = c.make(t, local(), remote(), CLIENT_ISN, mss);
            assert_eq!(enc, want, "mss {mss}");
            assert_eq!(
                c.check(t, local(), remote(), CLIENT_ISN, cookie),
                Some(want)
            );
        }
        // Below the table: Linux's fallback to the smallest entry.
        assert_eq!(c.make(t, local(), remote(), CLIENT_ISN, 100).1, 536);
    }

    #[test]
    fn wrong_tuple_or_secret_fails() {
        let c = SynCookies::new(secret());
        let t = Instant::from_secs(1_000);
        let (cookie, _) = c.make(t, local(), remote(), CLIENT_ISN, 1460);
        let other_port = SocketAddrV4::new(*remote().ip(), 51001);
        let other_ip = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 8), 51000);
        assert_eq!(c.check(t, local(), other_port, CLIENT_ISN, cookie), None);
        assert_eq!(c.check(t, local(), other_ip, CLIENT_ISN, cookie), None);
        assert_eq!(c.check(t, remote(), local(), CLIENT_ISN, cookie), None);
        let mut s = secret();
        s[31] ^= 1;
        assert_eq!(
            SynCookies::new(s).check(t, local(), remote(), CLIENT_ISN, cookie),
            None
        );
    }

    #[test]
    fn tampered_cookie_fails() {
        let c = SynCookies::new(secret());
        let t = Instant::from_secs(1_000);
        let (cookie, _) = c.make(t, local(), remote(), CLIENT_ISN, 536);
        // Every single-bit flip above the two index bits: the low 24 bits
        // are the MAC, the top 8 the count.
        for bit in 2..32 {
            let forged = SeqNum(cookie.0 ^ (1 << bit));
            assert_eq!(
                c.check(t, local(), remote(), CLIENT_ISN, forged),
                None,
                "bit {bit}"
            );
        }
    }

    #[test]
    fn client_isn_mismatch_fails() {
        let c = SynCookies::new(secret());
        let t = Instant::from_secs(1_000);
        let (cookie, _) = c.make(t, local(), remote(), CLIENT_ISN, 1460);
        for wrong in [
            CLIENT_ISN + 1000,
            CLIENT_ISN - 4096,
            SeqNum(0),
            SeqNum(CLIENT_ISN.0 ^ 1 << 31),
        ] {
            assert_eq!(
                c.check(t, local(), remote(), wrong, cookie),
                None,
                "{wrong}"
            );
        }
    }

    #[test]
    fn expires_after_two_minute_counts() {
        let c = SynCookies::new(secret());
        let made = Instant::from_secs(60 * 500 + 30);
        let (cookie, _) = c.make(made, local(), remote(), CLIENT_ISN, 1440);
        let at = |s: u64| {
            c.check(
                made + Duration::from_secs(s),
                local(),
                remote(),
                CLIENT_ISN,
                cookie,
            )
        };
        // Same minute, the next minute: accepted.
        assert_eq!(at(0), Some(1440));
        assert_eq!(at(29), Some(1440));
        assert_eq!(at(89), Some(1440));
        // Two counts on: expired, and so is anything further out, including
        // a count that has gone round the 8-bit field.
        assert_eq!(at(90), None);
        assert_eq!(at(600), None);
        assert_eq!(at(256 * 60), None);
        // Checked before it was made (clock stepped back): rejected.
        assert_eq!(
            c.check(
                Instant::from_secs(60 * 499 + 30),
                local(),
                remote(),
                CLIENT_ISN,
                cookie
            ),
            None
        );
    }

    #[test]
    fn timestamp_options_round_trip() {
        for wscale in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                let opts = CookieOpts { wscale, sack };
                for now in [0, 5, 63, 64, 1_000_003, u32::MAX] {
                    let ts = encode_ts(now, opts);
                    assert_eq!(decode_ts(ts), opts, "{opts:?} at {now}");
                    // Never ahead of the clock, never more than one block
                    // behind it (mod 2^32, as PAWS compares).
                    let behind = now.wrapping_sub(ts);
                    assert!(behind < 1 << 7, "{opts:?} at {now}: ts {ts}");
                }
            }
        }
    }

    #[test]
    fn timestamp_encoding_details() {
        let none = CookieOpts {
            wscale: None,
            sack: false,
        };
        assert_eq!(encode_ts(0x1000_007f, none), 0x1000_004f);
        // Options bits above now's: step back a block instead of going ahead.
        assert_eq!(encode_ts(0x1000_0040, none), 0x1000_000f);
        let opts = CookieOpts {
            wscale: Some(7),
            sack: true,
        };
        assert_eq!(encode_ts(0x1000_0040, opts), 0x1000_0017);
        // Shifts above 14 are clamped (RFC 7323 §2.3).
        assert_eq!(
            decode_ts(encode_ts(
                1 << 20,
                CookieOpts {
                    wscale: Some(15),
                    sack: false
                }
            ))
            .wscale,
            Some(14)
        );
        // Linux's ECN bit is ignored.
        assert_eq!(decode_ts(0x2f), none);
    }

    #[test]
    fn debug_hides_secret() {
        assert_eq!(
            format!("{:?}", SynCookies::new(secret())),
            "SynCookies { .. }"
        );
    }
}
