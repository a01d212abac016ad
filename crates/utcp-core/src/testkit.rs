//! A scripted peer and input interpreters for fuzzing the engine.
//!
//! The fuzz targets in `fuzz/` are one-line wrappers around [`run_packets`],
//! [`run_segments`] and [`run_options`]: the logic lives here so that a
//! crash input found by libFuzzer replays as an ordinary `cargo test` on
//! stable (see `tests/fuzz_regressions.rs`), and so that the tests can run
//! the same interpreters over seeded random bytes without libFuzzer.
//!
//! Each interpreter reads the fuzz input as a little program: which state to
//! put a connection in, then segments, time steps and socket calls. Raw
//! bytes alone almost never carry a valid checksum or an in-window sequence
//! number, so the interpreters can repair checksums and aim segments at the
//! live connection; that is what lets the fuzzer reach TCB code at all.
//!
//! Oracles beyond "no panic": every packet the stack sends must parse with
//! valid checksums and come from the stack's address, and the clock never
//! has to go backwards (`poll_at` is honoured). The interpreters return
//! the stack's counters so tests can check they reach TCB code.

use crate::socket::Errno;
use crate::stack::stats::Stats;
use crate::stack::{Shutdown, SocketId, Stack, StackConfig};
use crate::tcp::State;
use crate::wire::ipv4::{self, Ipv4Repr, PROTO_TCP};
use crate::wire::{checksum, Flags, Options, SeqNum, TcpRepr};
use crate::Instant;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;

/// The stack under test.
pub const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The scripted peer.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_PORT: u16 = 7000;
pub const LOCAL_PORT: u16 = 8000;
/// The peer's ISN in every script.
pub const PEER_ISS: u32 = 5000;

/// A whole IPv4 packet carrying `tcp` with `data`, checksums valid.
pub fn packet(src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpRepr, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; ipv4::HEADER_LEN + tcp.header_len() + data.len()];
    let n = tcp.emit(&mut buf[ipv4::HEADER_LEN..], src, dst, data);
    Ipv4Repr::new(src, dst, PROTO_TCP, n).emit(&mut buf);
    buf
}

/// A TCP segment with raw option bytes (padded with EOL to a multiple of
/// 4, at most 40), so malformed options reach the parser; checksums valid.
pub fn raw_packet(src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpRepr, raw_opts: &[u8], data: &[u8]) -> Vec<u8> {
    let olen = raw_opts.len().min(40).div_ceil(4) * 4;
    let hlen = 20 + olen;
    let mut t = vec![0u8; hlen + data.len()];
    t[0..2].copy_from_slice(&tcp.src_port.to_be_bytes());
    t[2..4].copy_from_slice(&tcp.dst_port.to_be_bytes());
    t[4..8].copy_from_slice(&tcp.seq.0.to_be_bytes());
    t[8..12].copy_from_slice(&tcp.ack.0.to_be_bytes());
    t[12] = ((hlen / 4) as u8) << 4;
    t[13] = tcp.flags.0;
    t[14..16].copy_from_slice(&tcp.window.to_be_bytes());
    t[18..20].copy_from_slice(&tcp.urgent.to_be_bytes());
    let n = raw_opts.len().min(40);
    t[20..20 + n].copy_from_slice(&raw_opts[..n]);
    t[hlen..].copy_from_slice(data);
    let acc = checksum::pseudo_header(src, dst, PROTO_TCP, t.len());
    let c = checksum::finish(checksum::sum(acc, &t));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0u8; 20 + t.len()];
    Ipv4Repr::new(src, dst, PROTO_TCP, t.len()).emit(&mut p);
    p[20..].copy_from_slice(&t);
    p
}

/// Repair what random bytes get wrong: the IP total length (when `fix_len`),
/// the IP header checksum, and (for an unfragmented TCP packet) the TCP
/// checksum. Anything too short or with a bad header length is left as is.
pub fn fix_checksums(pkt: &mut [u8], fix_len: bool) {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return;
    }
    let ihl = ((pkt[0] & 0x0f) as usize) * 4;
    if ihl < 20 || ihl > pkt.len() {
        return;
    }
    if fix_len {
        let total = pkt.len().min(65535) as u16;
        pkt[2..4].copy_from_slice(&total.to_be_bytes());
    }
    pkt[10] = 0;
    pkt[11] = 0;
    let c = checksum::checksum(&pkt[..ihl]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let total = (u16::from_be_bytes([pkt[2], pkt[3]]) as usize).min(pkt.len());
    let unfragmented = pkt[6] & 0x3f == 0 && pkt[7] == 0;
    if pkt[9] == PROTO_TCP && unfragmented && total >= ihl + 20 {
        let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
        let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
        let seg = &mut pkt[ihl..total];
        seg[16] = 0;
        seg[17] = 0;
        let acc = checksum::pseudo_header(src, dst, PROTO_TCP, seg.len());
        let c = checksum::finish(checksum::sum(acc, seg));
        seg[16..18].copy_from_slice(&c.to_be_bytes());
    }
}

/// The stack under test and a fake clock, seen from the scripted peer.
pub struct Peer {
    pub stack: Stack,
    pub now: Instant,
    buf: Vec<u8>,
}

impl Default for Peer {
    fn default() -> Peer {
        Peer::new()
    }
}

impl Peer {
    pub fn new() -> Peer {
        let mut cfg = StackConfig::new(LOCAL);
        cfg.seed = 1;
        // Small buffers so that the fuzzer reaches full-buffer and
        // zero-window paths with short inputs.
        cfg.tcp.send_buf = 8192;
        cfg.tcp.recv_buf = 8192;
        cfg.tcp.max_recv_buf = 16384;
        Peer { stack: Stack::new(cfg), now: Instant::from_secs(1), buf: vec![0u8; 65536] }
    }

    pub fn deliver(&mut self, tcp: &TcpRepr, data: &[u8]) {
        let pkt = packet(PEER, LOCAL, tcp, data);
        self.stack.receive(self.now, &pkt);
    }

    /// Take everything the stack sends now; panics if a packet is not
    /// valid IPv4 from LOCAL or a TCP segment fails to parse. Returns the
    /// TCP segments (header, payload length).
    pub fn drain(&mut self) -> Vec<(TcpRepr, usize)> {
        let mut out = Vec::new();
        // Bounded: a stack that never stops sending is a bug, not a hang.
        for _ in 0..100_000 {
            let Some(n) = self.stack.poll_transmit(self.now, &mut self.buf) else { return out };
            let (ip, payload) = Ipv4Repr::parse(&self.buf[..n]).expect("the stack sent an invalid IPv4 packet");
            assert_eq!(ip.src, LOCAL, "the stack sent from a foreign address");
            if ip.protocol == PROTO_TCP {
                let (tcp, data) =
                    TcpRepr::parse(payload, ip.src, ip.dst, true).expect("the stack sent an invalid TCP segment");
                out.push((tcp, data.len()));
            }
        }
        panic!("the stack kept sending: 100000 packets without a pause");
    }

    /// Move the clock by `d`, or to the stack's next deadline when `d` is
    /// zero, and run timers.
    pub fn advance(&mut self, d: Duration) {
        if d.is_zero() {
            if let Some(t) = self.stack.poll_at() {
                if t > self.now {
                    self.now = t;
                }
            }
        } else {
            self.now += d;
        }
        self.stack.handle_timeout(self.now);
    }

    /// Let every timer run out (retransmissions, TIME-WAIT, keepalives),
    /// at most 64 deadlines, draining what each sends.
    pub fn run_out_timers(&mut self) {
        for _ in 0..64 {
            if self.stack.poll_at().is_none() {
                break;
            }
            self.advance(Duration::ZERO);
            self.drain();
        }
    }

    fn local(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(LOCAL, port)
    }

    fn peer(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(PEER, port)
    }

    pub fn listener(&mut self, port: u16, backlog: i32) -> SocketId {
        let l = self.stack.socket();
        self.stack.bind(l, Self::local(port)).expect("bind a listener");
        self.stack.listen(l, backlog).expect("listen");
        l
    }

    /// connect() from LOCAL:`port` to PEER:PEER_PORT; returns the socket
    /// and our ISS.
    pub fn connect(&mut self, port: u16) -> (SocketId, u32) {
        let c = self.stack.socket();
        self.stack.bind(c, Self::local(port)).expect("bind");
        let now = self.now;
        assert_eq!(self.stack.connect(now, c, Self::peer(PEER_PORT)), Err(Errno::EINPROGRESS));
        let out = self.drain();
        assert_eq!(out.len(), 1, "one SYN");
        assert_eq!(out[0].0.flags, Flags::SYN);
        (c, out[0].0.seq.0)
    }

    fn peer_seg(flags: Flags, seq: u32, ack: u32, local_port: u16) -> TcpRepr {
        TcpRepr {
            src_port: PEER_PORT,
            dst_port: local_port,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 65535,
            options: Options { mss: Some(1460), ..Options::default() },
            ..TcpRepr::default()
        }
    }

    /// An active open from LOCAL:`port` completed by the peer.
    pub fn established_client(&mut self, port: u16) -> (SocketId, u32) {
        let (c, iss) = self.connect(port);
        self.deliver(&Self::peer_seg(Flags::SYN | Flags::ACK, PEER_ISS, iss + 1, port), &[]);
        self.drain();
        assert_eq!(self.stack.state(c), Some(State::Established));
        (c, iss)
    }

    /// A passive open on LOCAL:`port` completed by the peer and accepted.
    /// Returns (listener, connection, our ISS).
    pub fn established_server(&mut self, port: u16) -> (SocketId, SocketId, u32) {
        let l = self.listener(port, 8);
        self.deliver(&Self::peer_seg(Flags::SYN, PEER_ISS, 0, port), &[]);
        let out = self.drain();
        assert_eq!(out.len(), 1, "one SYN-ACK");
        let iss = out[0].0.seq.0;
        let mut ack = Self::peer_seg(Flags::ACK, PEER_ISS + 1, iss + 1, port);
        ack.options = Options::default();
        self.deliver(&ack, &[]);
        self.drain();
        let (c, _) = self.stack.accept(l).expect("a connection to accept");
        (l, c, iss)
    }

    /// A socket on LOCAL:LOCAL_PORT in `state`, reached the way the
    /// scripted tests reach it (RFC 9293 §3.3.2 Figure 5). The peer is
    /// PEER:PEER_PORT with ISN PEER_ISS. Closed is a connection that was
    /// reset; Listen is a listener; every other state is a connection.
    pub fn in_state(state: State) -> (Peer, SocketId) {
        let mut p = Peer::new();
        let port = LOCAL_PORT;
        let ack = |p: &mut Peer, flags: Flags, seq: u32, ack: u32| {
            let mut t = Self::peer_seg(flags | Flags::ACK, seq, ack, port);
            t.options = Options::default();
            p.deliver(&t, &[]);
            p.drain();
        };
        let close = |p: &mut Peer, c: SocketId| {
            let now = p.now;
            p.stack.close(now, c, false).expect("close");
            p.drain();
        };
        let id = match state {
            State::Listen => p.listener(port, 4),
            State::SynSent => p.connect(port).0,
            State::SynReceived => {
                // Simultaneous open: the peer's SYN crosses ours.
                let (c, _) = p.connect(port);
                p.deliver(&Self::peer_seg(Flags::SYN, PEER_ISS, 0, port), &[]);
                p.drain();
                c
            }
            State::Closed => {
                let (c, iss) = p.established_client(port);
                ack(&mut p, Flags::RST, PEER_ISS + 1, iss + 1);
                c
            }
            State::Established => p.established_client(port).0,
            State::FinWait1 => {
                let (c, _) = p.established_client(port);
                close(&mut p, c);
                c
            }
            State::FinWait2 | State::TimeWait => {
                let (c, iss) = p.established_client(port);
                close(&mut p, c);
                ack(&mut p, Flags::NONE, PEER_ISS + 1, iss + 2);
                if state == State::TimeWait {
                    ack(&mut p, Flags::FIN, PEER_ISS + 1, iss + 2);
                }
                c
            }
            State::Closing => {
                let (c, iss) = p.established_client(port);
                close(&mut p, c);
                ack(&mut p, Flags::FIN, PEER_ISS + 1, iss + 1);
                c
            }
            State::CloseWait | State::LastAck => {
                let (c, iss) = p.established_client(port);
                ack(&mut p, Flags::FIN, PEER_ISS + 1, iss + 1);
                if state == State::LastAck {
                    close(&mut p, c);
                }
                c
            }
        };
        debug_assert_eq!(p.stack.state(id).unwrap_or(State::Closed), state);
        (p, id)
    }
}

/// Reads a fuzz input front to back; past the end it yields zeros, so
/// every input is a complete program.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        let (&b, rest) = self.data.split_first().unwrap_or((&0, &[]));
        self.data = rest;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

/// The live sequence numbers of `id`, or the last ones seen once it is gone.
fn live(stack: &Stack, id: SocketId, last: &mut (u32, u32, u32)) -> (u32, u32, u32) {
    if let Some(t) = stack.tcb(id) {
        *last = (t.rcv_nxt().0, t.snd_una().0, t.ts_recent());
    }
    *last
}

/// A user call on `id`, chosen by `op`.
/// The peer's byte at sequence number `seq`: every segment the segment
/// target sends carries the bytes of its own sequence range, so whatever
/// the application reads can be checked against its stream offset however
/// the segments were cut, repeated, overlapped or reordered.
pub fn stream_byte(seq: u32) -> u8 {
    (seq.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// A user call on `id`, chosen by `op`. Returns what a recv() returned
/// (and whether it was a peek), for the caller to check.
fn user_call(p: &mut Peer, id: SocketId, op: u8, arg: u16) -> Option<(Vec<u8>, bool)> {
    let now = p.now;
    let mut buf = [0u8; 4096];
    // Results are ignored: the fuzzer calls in every state, and an errno
    // is a correct answer; only a panic or an invalid packet is a bug.
    match op % 8 {
        0 | 1 => {
            let data = vec![0x5a; arg as usize % 20_000];
            let _ = p.stack.send(id, &data);
        }
        2 => {
            let peek = arg & 1 == 1;
            if let Ok(n) = p.stack.recv(now, id, &mut buf[..(arg as usize % 4096).max(1)], peek) {
                return Some((buf[..n].to_vec(), peek));
            }
        }
        3 => {
            let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][arg as usize % 3];
            let _ = p.stack.shutdown(now, id, how);
        }
        4 => {
            let _ = p.stack.close(now, id, arg & 1 == 1);
        }
        5 => {
            let _ = p.stack.accept(id);
        }
        6 => {
            let _ = p.stack.set_buffer_sizes(id, Some(arg as usize * 4), Some(arg as usize * 2));
        }
        _ => {
            let _ = p.stack.set_nodelay(id, arg & 1 == 1);
            let _ = p.stack.take_error(id);
            let _ = p.stack.readiness(id);
        }
    }
    None
}

/// Fuzz target (a): arbitrary IPv4 packets into a stack that has a
/// listener, a passively opened and an actively opened connection with
/// data in flight, interleaved with time steps and socket calls.
///
/// Each step starts with a control byte:
/// - `0b00xx_xx00`: advance the clock by a u16 of milliseconds (0: to the
///   next timer);
/// - `0b11xx_xxxx`: a socket call on one of the sockets;
/// - otherwise a packet of u16 % 2048 bytes follows, which bits 2..5 may
///   aim at us (bit 2: addresses), at a connection (bit 3: a plain IPv4
///   TCP header, ports, and sequence numbers as offsets from the live
///   ones; bit 6 picks the connection), and repair (bit 4:
///   IP length and checksums; bit 5: keep the packet's own IP length).
pub fn run_packets(data: &[u8]) -> Stats {
    let mut inp = Input::new(data);
    let mut p = Peer::new();
    let (l, server, _) = p.established_server(LOCAL_PORT);
    let (client, _) = p.established_client(LOCAL_PORT + 1);
    let _ = p.stack.send(server, &[7u8; 3000]);
    let _ = p.stack.send(client, &[9u8; 100]);
    p.drain();
    let ids = [server, client, l];
    let ports = [LOCAL_PORT, LOCAL_PORT + 1, LOCAL_PORT];
    let mut last = [(PEER_ISS + 1, 0, 0); 3];
    for _ in 0..256 {
        if inp.is_empty() {
            break;
        }
        let c = inp.u8();
        if c & 0xc3 == 0 {
            p.advance(Duration::from_millis(inp.u16() as u64));
        } else if c & 0xc0 == 0xc0 {
            let which = (c as usize >> 3) % 3;
            let (op, arg) = (c, inp.u16());
            let _ = user_call(&mut p, ids[which], op, arg);
        } else {
            let len = inp.u16() as usize % 2048;
            let mut pkt = inp.bytes(len).to_vec();
            if c & 0x04 != 0 && pkt.len() >= 20 {
                pkt[12..16].copy_from_slice(&PEER.octets());
                pkt[16..20].copy_from_slice(&LOCAL.octets());
            }
            if c & 0x08 != 0 && pkt.len() >= 40 {
                // Aimed at a connection: a plain unfragmented IPv4/TCP header.
                pkt[0] = 0x45;
                pkt[6] &= 0x40;
                pkt[7] = 0;
                pkt[9] = PROTO_TCP;
            }
            let ihl = pkt.first().map_or(0, |b| ((b & 0x0f) as usize) * 4).max(20);
            if c & 0x08 != 0 && pkt.len() >= ihl + 20 {
                let which = (c as usize >> 6) % 2;
                let (rcv_nxt, snd_una, _) = live(&p.stack, ids[which], &mut last[which]);
                let t = &mut pkt[ihl..];
                t[0..2].copy_from_slice(&PEER_PORT.to_be_bytes());
                t[2..4].copy_from_slice(&ports[which].to_be_bytes());
                let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
                let ack = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
                // Small signed offsets from the live numbers: mostly in window.
                let seq = rcv_nxt.wrapping_add(seq as i16 as i32 as u32);
                let ack = snd_una.wrapping_add(ack as i16 as i32 as u32);
                t[4..8].copy_from_slice(&seq.to_be_bytes());
                t[8..12].copy_from_slice(&ack.to_be_bytes());
            }
            if c & 0x10 != 0 {
                fix_checksums(&mut pkt, c & 0x20 == 0);
            }
            let now = p.now;
            p.stack.receive(now, &pkt);
        }
        p.drain();
    }
    p.run_out_timers();
    p.stack.stats().clone()
}

/// What a segment program did: the stack's counters, and how many bytes
/// the application read (each checked against the peer's stream).
pub struct SegmentsReport {
    pub stats: Stats,
    pub bytes_read: u64,
}

/// Fuzz target (b): a sequence of segments from the peer into a socket
/// in any of the 11 states (first byte), with checksums always valid and
/// sequence numbers relative to the live ones, so that every segment gets
/// past the wire checks into the state machine; mixed with time steps
/// and socket calls.
///
/// Each step starts with a control byte `k`:
/// - `k % 8 == 0`: clock step of u16 ms (0: to the next timer);
/// - `k % 8 == 1`: a socket call;
/// - otherwise a segment: flags byte, seq and ack as i16 offsets from
///   RCV.NXT and SND.UNA (or raw u32s when bit 3 of `k` is set; with bit
///   5 instead, seq is RCV.NXT itself), window,
///   options (bit 4: well-formed from [`Options`] fields, else up to 40
///   raw bytes), and a payload of up to 2047 bytes, the [`stream_byte`]s
///   of its sequence range: what the application reads must be exactly
///   the stream from IRS + 1 on.
pub fn run_segments(data: &[u8]) -> SegmentsReport {
    let mut inp = Input::new(data);
    let state = State::ALL[inp.u8() as usize % State::ALL.len()];
    let (mut p, id) = Peer::in_state(state);
    let mut last = (PEER_ISS + 1, 0, 0);
    // The application's read position in the peer's stream, from IRS + 1.
    let mut read = 0u32;
    let mut bytes_read = 0u64;
    for _ in 0..256 {
        if inp.is_empty() {
            break;
        }
        let k = inp.u8();
        match k % 8 {
            0 => p.advance(Duration::from_millis(inp.u16() as u64)),
            1 => {
                let arg = inp.u16();
                // The IRS as of now: a SYN-SENT socket learns it later.
                let irs = p.stack.tcb(id).map(|t| t.irs().0);
                if let (Some((got, peek)), Some(irs)) = (user_call(&mut p, id, k >> 3, arg), irs) {
                    // RFC 9293 §3.10.7.4 (seventh, segment text): data reaches
                    // the user in sequence order, each byte exactly once.
                    for (i, &b) in got.iter().enumerate() {
                        let seq = irs.wrapping_add(1).wrapping_add(read).wrapping_add(i as u32);
                        assert_eq!(b, stream_byte(seq), "byte {} of the stream (seq {seq}) is wrong", read as usize + i);
                    }
                    if !peek {
                        read = read.wrapping_add(got.len() as u32);
                        bytes_read += got.len() as u64;
                    }
                }
            }
            _ => {
                let (rcv_nxt, snd_una, ts_recent) = live(&p.stack, id, &mut last);
                let flags = Flags(inp.u8());
                let (seq, ack) = if k & 0x08 != 0 {
                    (inp.u32(), inp.u32())
                } else {
                    // Bit 5: exactly at RCV.NXT, the in-order case, so that
                    // even random programs deliver data to read back.
                    let off = if k & 0x20 != 0 { 0 } else { inp.u16() as i16 as i32 as u32 };
                    (rcv_nxt.wrapping_add(off), snd_una.wrapping_add(inp.u16() as i16 as i32 as u32))
                };
                let window = inp.u16();
                let mut tcp = TcpRepr {
                    src_port: PEER_PORT,
                    dst_port: LOCAL_PORT,
                    seq: SeqNum(seq),
                    ack: SeqNum(ack),
                    flags,
                    window,
                    ..TcpRepr::default()
                };
                let len = inp.u16() as usize % 2048;
                // Data starts after the SYN's sequence number, if any.
                let start = seq.wrapping_add(flags.syn() as u32);
                let data: Vec<u8> = (0..len as u32).map(|k| stream_byte(start.wrapping_add(k))).collect();
                let data = &data[..];
                let pkt = if k & 0x10 != 0 {
                    let sel = inp.u8();
                    let o = &mut tcp.options;
                    o.mss = (sel & 1 != 0).then(|| inp.u16());
                    o.window_scale = (sel & 2 != 0).then(|| inp.u8() % 16);
                    o.sack_permitted = sel & 4 != 0;
                    if sel & 8 != 0 {
                        // TSval near the last one seen, so PAWS is exercised both ways.
                        let val = ts_recent.wrapping_add(inp.u16() as i16 as i32 as u32);
                        o.timestamps = Some((val, inp.u32()));
                    }
                    if sel & 0x30 != 0 {
                        let n = ((sel >> 4) & 3) as usize;
                        let mut blocks = [crate::wire::SackBlock::default(); 3];
                        for b in blocks.iter_mut().take(n) {
                            let left = snd_una.wrapping_add(inp.u16() as i16 as i32 as u32);
                            *b = crate::wire::SackBlock {
                                left: SeqNum(left),
                                right: SeqNum(left.wrapping_add(inp.u16() as u32)),
                            };
                        }
                        o.set_sacks(&blocks[..n]);
                    }
                    packet(PEER, LOCAL, &tcp, data)
                } else {
                    let olen = inp.u8() as usize % 41;
                    let opts = inp.bytes(olen);
                    raw_packet(PEER, LOCAL, &tcp, opts, data)
                };
                let now = p.now;
                p.stack.receive(now, &pkt);
            }
        }
        p.drain();
    }
    p.run_out_timers();
    SegmentsReport { stats: p.stack.stats().clone(), bytes_read }
}

/// Fuzz target (c): TCP option parsing. The input is the option bytes of
/// a header (at most 40, RFC 9293 §3.1); the property is that parsing
/// never panics, and that whatever parses re-encodes (when it fits) to
/// bytes that parse to the same options.
pub fn run_options(data: &[u8]) {
    let opts = &data[..data.len().min(40)];
    let tcp = TcpRepr { src_port: 1, dst_port: 2, flags: Flags::ACK, ..TcpRepr::default() };
    let pkt = raw_packet(PEER, LOCAL, &tcp, opts, &[]);
    let seg = &pkt[20..];
    // Without checksum verification too: the parser must not rely on it.
    let parsed = TcpRepr::parse(seg, PEER, LOCAL, true);
    assert_eq!(parsed.map(|(t, _)| t), TcpRepr::parse(seg, PEER, LOCAL, false).map(|(t, _)| t));
    if let Ok((t, payload)) = parsed {
        assert!(payload.is_empty(), "option bytes leaked into the payload");
        if t.options.encoded_len() <= 40 {
            let again = packet(PEER, LOCAL, &t, &[]);
            let (t2, _) = TcpRepr::parse(&again[20..], PEER, LOCAL, true).expect("our own encoding parses");
            assert_eq!(t2.options, t.options, "options changed in a round trip");
        }
    }
    // The option walk inside the IPv4 parser path as well: any data offset
    // over the same bytes, with a header length that may overrun them.
    let mut raw = seg.to_vec();
    if let Some(&b) = data.get(40) {
        raw[12] = b & 0xf0;
        let _ = TcpRepr::parse(&raw, PEER, LOCAL, false);
    }
}
