//! TCP header and options parse and emit (RFC 9293 §3.1, RFC 7323, RFC 2018).

use super::checksum;
use super::ipv4::PROTO_TCP;
use super::seq::SeqNum;
use super::WireError;
use core::fmt;
use core::net::Ipv4Addr;

pub const HEADER_LEN: usize = 20;
pub const MAX_HEADER_LEN: usize = 60;
/// RFC 2018: at most 4 blocks fit in 40 option bytes (3 beside timestamps).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The control bits. Only the bits TCP defines are kept.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);
    pub const URG: Flags = Flags(0x20);
    pub const ECE: Flags = Flags(0x40);
    pub const CWR: Flags = Flags(0x80);
    pub const NONE: Flags = Flags(0);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    pub fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    pub fn rst(self) -> bool {
        self.contains(Flags::RST)
    }
    pub fn psh(self) -> bool {
        self.contains(Flags::PSH)
    }
    pub fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    pub fn urg(self) -> bool {
        self.contains(Flags::URG)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}

impl core::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, o: Flags) {
        self.0 |= o.0;
    }
}

impl fmt::Debug for Flags {
    /// tcpdump's letters: `S`, `S.`, `F.`, `R`, `P.`, `.` for a bare ACK.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        // tcpdump's order: F S R P . U E W.
        for (flag, c) in [
            (Flags::FIN, 'F'),
            (Flags::SYN, 'S'),
            (Flags::RST, 'R'),
            (Flags::PSH, 'P'),
            (Flags::ACK, '.'),
            (Flags::URG, 'U'),
            (Flags::ECE, 'E'),
            (Flags::CWR, 'W'),
        ] {
            if self.contains(flag) {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push_str("none");
        }
        f.write_str(&s)
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A SACK block: `[left, right)` in sequence space (RFC 2018 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackBlock {
    pub left: SeqNum,
    pub right: SeqNum,
}

/// The options utcp understands. Unknown options are skipped on parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr), RFC 7323 §3.
    pub timestamps: Option<(u32, u32)>,
    pub sack_blocks: [SackBlock; MAX_SACK_BLOCKS],
    pub sack_len: u8,
}

impl Options {
    pub fn sacks(&self) -> &[SackBlock] {
        &self.sack_blocks[..self.sack_len as usize]
    }

    /// Replace the SACK blocks, keeping as many as fit beside the other options.
    pub fn set_sacks(&mut self, blocks: &[SackBlock]) {
        let room = if self.timestamps.is_some() { 3 } else { 4 };
        let n = blocks.len().min(room);
        // Clear the slots past n too: equality and Debug see the whole array.
        self.sack_blocks = [SackBlock::default(); MAX_SACK_BLOCKS];
        self.sack_blocks[..n].copy_from_slice(&blocks[..n]);
        self.sack_len = n as u8;
    }

    /// Encoded length, padded to a multiple of 4.
    ///
    /// Layout follows Linux, so captures compare byte for byte: a SYN is
    /// `mss, sackOK+TS` (or `nop,nop,sackOK` without TS), `nop,wscale`;
    /// other segments `nop,nop,TS` then `nop,nop,sack`.
    pub fn encoded_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        match (self.sack_permitted, self.timestamps.is_some()) {
            (true, true) => n += 12,   // sackOK(2) + TS(10)
            (false, true) => n += 12,  // nop,nop,TS
            (true, false) => n += 4,   // nop,nop,sackOK
            (false, false) => {}
        }
        if self.window_scale.is_some() {
            n += 4; // nop,wscale(3)
        }
        if self.sack_len > 0 {
            n += 4 + 8 * self.sack_len as usize; // nop,nop,kind,len,blocks
        }
        n
    }

    fn emit(&self, buf: &mut [u8]) -> usize {
        let mut i = 0;
        let mut put = |bytes: &[u8]| {
            buf[i..i + bytes.len()].copy_from_slice(bytes);
            i += bytes.len();
        };
        if let Some(mss) = self.mss {
            let m = mss.to_be_bytes();
            put(&[2, 4, m[0], m[1]]);
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some((val, ecr))) => {
                put(&[4, 2, 8, 10]);
                put(&val.to_be_bytes());
                put(&ecr.to_be_bytes());
            }
            (false, Some((val, ecr))) => {
                put(&[1, 1, 8, 10]);
                put(&val.to_be_bytes());
                put(&ecr.to_be_bytes());
            }
            (true, None) => put(&[1, 1, 4, 2]),
            (false, None) => {}
        }
        if let Some(ws) = self.window_scale {
            put(&[1, 3, 3, ws]);
        }
        if self.sack_len > 0 {
            put(&[1, 1, 5, 2 + 8 * self.sack_len]);
            for b in self.sacks() {
                put(&b.left.0.to_be_bytes());
                put(&b.right.0.to_be_bytes());
            }
        }
        i
    }

    fn parse(mut data: &[u8]) -> Result<Options, WireError> {
        let mut o = Options::default();
        while let Some(&kind) = data.first() {
            match kind {
                0 => break, // EOL
                1 => {
                    data = &data[1..];
                    continue;
                }
                _ => {}
            }
            let len = *data.get(1).ok_or(WireError::BadOptionLen)? as usize;
            if len < 2 || len > data.len() {
                return Err(WireError::BadOptionLen);
            }
            let body = &data[2..len];
            match (kind, len) {
                (2, 4) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                // RFC 7323 §2.3: a shift over 14 is used as 14.
                (3, 3) => o.window_scale = Some(body[0].min(14)),
                (4, 2) => o.sack_permitted = true,
                (8, 10) => {
                    o.timestamps = Some((
                        u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                        u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                    ))
                }
                (5, _) if (len - 2).is_multiple_of(8) && len > 2 => {
                    // RFC 2018 §3: an option carries (len - 2) / 8 blocks.
                    // A second SACK option replaces the first whole: blocks
                    // left over from a longer first one would survive past
                    // sack_len and make equal option sets compare unequal
                    // (found by fuzz/options; tests/options.rs).
                    o.sack_blocks = [SackBlock::default(); MAX_SACK_BLOCKS];
                    let n = ((len - 2) / 8).min(MAX_SACK_BLOCKS);
                    for (k, c) in body.chunks_exact(8).take(n).enumerate() {
                        o.sack_blocks[k] = SackBlock {
                            left: SeqNum(u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
                            right: SeqNum(u32::from_be_bytes([c[4], c[5], c[6], c[7]])),
                        };
                    }
                    o.sack_len = n as u8;
                }
                // A known kind with the wrong length is malformed.
                (2, _) | (3, _) | (4, _) | (5, _) | (8, _) => return Err(WireError::BadOptionLen),
                _ => {} // unknown option: skip by its length (RFC 9293 §3.1)
            }
            data = &data[len..];
        }
        Ok(o)
    }
}

/// A TCP header with its options, independent of any buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    /// Meaningful only when `flags.ack()`.
    pub ack: SeqNum,
    pub flags: Flags,
    /// The raw 16-bit window field (unscaled).
    pub window: u16,
    pub urgent: u16,
    pub options: Options,
}

impl TcpRepr {
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.encoded_len()
    }

    /// Sequence space the segment occupies: payload plus one each for SYN and FIN.
    pub fn seq_len(&self, payload_len: usize) -> usize {
        payload_len + self.flags.syn() as usize + self.flags.fin() as usize
    }

    /// Parse a TCP segment (header + payload) carried from `src` to `dst`.
    /// Returns the header and the payload.
    pub fn parse(
        segment: &[u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        verify_checksum: bool,
    ) -> Result<(TcpRepr, &[u8]), WireError> {
        if segment.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let data_off = ((segment[12] >> 4) as usize) * 4;
        if data_off < HEADER_LEN || data_off > segment.len() {
            return Err(WireError::BadDataOffset);
        }
        if verify_checksum {
            let acc = checksum::pseudo_header(src, dst, PROTO_TCP, segment.len());
            if checksum::finish(checksum::sum(acc, segment)) != 0 {
                return Err(WireError::BadTcpChecksum);
            }
        }
        let flags = Flags(segment[13]);
        if flags.syn() && flags.fin() {
            return Err(WireError::SynFin);
        }
        if flags.syn() && flags.rst() {
            return Err(WireError::SynRst);
        }
        let src_port = u16::from_be_bytes([segment[0], segment[1]]);
        let dst_port = u16::from_be_bytes([segment[2], segment[3]]);
        if src_port == 0 || dst_port == 0 {
            return Err(WireError::ZeroPort);
        }
        let repr = TcpRepr {
            src_port,
            dst_port,
            seq: SeqNum(u32::from_be_bytes([segment[4], segment[5], segment[6], segment[7]])),
            ack: SeqNum(u32::from_be_bytes([segment[8], segment[9], segment[10], segment[11]])),
            flags,
            window: u16::from_be_bytes([segment[14], segment[15]]),
            urgent: u16::from_be_bytes([segment[18], segment[19]]),
            options: Options::parse(&segment[HEADER_LEN..data_off])?,
        };
        Ok((repr, &segment[data_off..]))
    }

    /// Write header, options and payload into `buf` with the checksum for
    /// `src -> dst`. Returns bytes written. `buf` must hold
    /// `header_len() + payload.len()` bytes.
    pub fn emit(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> usize {
        let hlen = self.header_len();
        buf[hlen..hlen + payload.len()].copy_from_slice(payload);
        self.emit_in_place(buf, src, dst, payload.len())
    }

    /// Like [`emit`](Self::emit), for a payload of `payload_len` bytes the
    /// caller already wrote at `buf[header_len()..]`: the output path copies
    /// data from the send buffer straight into the packet.
    pub fn emit_in_place(&self, buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, payload_len: usize) -> usize {
        self.emit_in_place_with(buf, src, dst, payload_len, false)
    }

    /// Like [`emit_in_place`](Self::emit_in_place); with `partial_checksum`
    /// the checksum field gets only the folded pseudo-header sum, not
    /// complemented, for a device that completes it (virtio-net
    /// NEEDS_CSUM: it sums from the TCP header to the end, this field
    /// included, and stores the complement). That is what Linux leaves in
    /// a CHECKSUM_PARTIAL segment (`__tcp_v4_send_check`), and its GSO
    /// code adjusts the length in it for each piece of a super-segment
    /// (`tcp_gso_segment`).
    pub fn emit_in_place_with(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
        partial_checksum: bool,
    ) -> usize {
        let hlen = self.header_len();
        let total = hlen + payload_len;
        buf[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        buf[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        buf[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        let ack = if self.flags.ack() { self.ack.0 } else { 0 };
        buf[8..12].copy_from_slice(&ack.to_be_bytes());
        buf[12] = ((hlen / 4) as u8) << 4;
        buf[13] = self.flags.0;
        buf[14..16].copy_from_slice(&self.window.to_be_bytes());
        buf[16..18].copy_from_slice(&[0, 0]);
        buf[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        let olen = self.options.emit(&mut buf[HEADER_LEN..hlen]);
        debug_assert_eq!(olen, hlen - HEADER_LEN);
        let acc = checksum::pseudo_header(src, dst, PROTO_TCP, total);
        let c = if partial_checksum { !checksum::finish(acc) } else { checksum::finish(checksum::sum(acc, &buf[..total])) };
        buf[16..18].copy_from_slice(&c.to_be_bytes());
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    fn syn() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            flags: Flags::SYN,
            window: 64240,
            options: Options {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                ..Options::default()
            },
            ..TcpRepr::default()
        }
    }

    fn encode(r: &TcpRepr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; r.header_len() + payload.len()];
        r.emit(&mut buf, A, B, payload);
        buf
    }

    #[test]
    fn syn_round_trip_with_linux_option_layout() {
        let r = syn();
        let buf = encode(&r, &[]);
        assert_eq!(buf.len(), 40);
        // mss 1460, sackOK, TS, nop, wscale 7: the bytes Linux sends.
        assert_eq!(&buf[20..24], &[2, 4, 0x05, 0xb4]);
        assert_eq!(&buf[24..28], &[4, 2, 8, 10]);
        assert_eq!(&buf[36..40], &[1, 3, 3, 7]);
        let (back, payload) = TcpRepr::parse(&buf, A, B, true).unwrap();
        assert_eq!(back, r);
        assert!(payload.is_empty());
    }

    #[test]
    fn sack_blocks_round_trip() {
        let mut r = syn();
        r.flags = Flags::ACK;
        r.options = Options { timestamps: Some((5, 6)), ..Options::default() };
        let blocks = [
            SackBlock { left: SeqNum(10), right: SeqNum(20) },
            SackBlock { left: SeqNum(30), right: SeqNum(40) },
            SackBlock { left: SeqNum(50), right: SeqNum(60) },
            SackBlock { left: SeqNum(70), right: SeqNum(80) },
        ];
        r.options.set_sacks(&blocks);
        assert_eq!(r.options.sacks().len(), 3, "TS leaves room for three");
        let buf = encode(&r, b"hi");
        let (back, payload) = TcpRepr::parse(&buf, A, B, true).unwrap();
        assert_eq!(back.options.sacks(), &blocks[..3]);
        assert_eq!(payload, b"hi");
    }

    #[test]
    fn rejects_malformed() {
        let buf = encode(&syn(), b"");
        assert_eq!(TcpRepr::parse(&buf[..19], A, B, false), Err(WireError::Truncated));
        let mut bad_sum = buf.clone();
        bad_sum[4] ^= 0x80;
        assert_eq!(TcpRepr::parse(&bad_sum, A, B, true), Err(WireError::BadTcpChecksum));
        let mut off = buf.clone();
        off[12] = 0x40; // 16 bytes < 20
        assert_eq!(TcpRepr::parse(&off, A, B, false), Err(WireError::BadDataOffset));
        off[12] = 0xf0; // 60 bytes > segment
        assert_eq!(TcpRepr::parse(&off, A, B, false), Err(WireError::BadDataOffset));
        let mut synfin = buf.clone();
        synfin[13] = 0x03;
        assert_eq!(TcpRepr::parse(&synfin, A, B, false), Err(WireError::SynFin));
        let mut synrst = buf.clone();
        synrst[13] = 0x06;
        assert_eq!(TcpRepr::parse(&synrst, A, B, false), Err(WireError::SynRst));
        let mut optlen = buf.clone();
        optlen[21] = 40; // MSS option claims 40 bytes
        assert_eq!(TcpRepr::parse(&optlen, A, B, false), Err(WireError::BadOptionLen));
        optlen[21] = 0; // zero-length option
        assert_eq!(TcpRepr::parse(&optlen, A, B, false), Err(WireError::BadOptionLen));
        optlen[21] = 3; // MSS must be 4
        assert_eq!(TcpRepr::parse(&optlen, A, B, false), Err(WireError::BadOptionLen));
    }

    #[test]
    fn partial_checksum_completed_as_a_device_does_verifies() {
        let mut r = syn();
        r.flags = Flags::ACK;
        let payload = b"some payload, odd length";
        let mut buf = vec![0u8; r.header_len() + payload.len()];
        let hlen = r.header_len();
        buf[hlen..].copy_from_slice(payload);
        let n = r.emit_in_place_with(&mut buf, A, B, payload.len(), true);
        assert_eq!(TcpRepr::parse(&buf[..n], A, B, true), Err(WireError::BadTcpChecksum));
        // virtio-net NEEDS_CSUM: sum from csum_start to the end, the field
        // included, store the complement at csum_offset 16.
        let c = checksum::finish(checksum::sum(0, &buf[..n]));
        buf[16..18].copy_from_slice(&c.to_be_bytes());
        let (back, data) = TcpRepr::parse(&buf[..n], A, B, true).unwrap();
        assert_eq!((back, data), (r, &payload[..]));
    }

    #[test]
    fn eol_and_unknown_options() {
        // NOP, unknown kind 30 len 3, EOL, garbage after EOL ignored.
        let o = Options::parse(&[1, 30, 3, 9, 0, 0xff, 0xff]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(Options::parse(&[2]), Err(WireError::BadOptionLen));
        assert_eq!(Options::parse(&[3, 3, 20]).unwrap().window_scale, Some(14));
    }

    #[test]
    fn flags_render_like_tcpdump() {
        assert_eq!(format!("{}", Flags::SYN), "S");
        assert_eq!(format!("{}", Flags::SYN | Flags::ACK), "S.");
        assert_eq!(format!("{}", Flags::FIN | Flags::ACK), "F.");
        assert_eq!(format!("{}", Flags::PSH | Flags::ACK), "P.");
        assert_eq!(format!("{}", Flags::ACK), ".");
        assert_eq!(format!("{}", Flags::RST), "R");
    }
}
