//! A scripted peer for behaviour tests: it crafts segments to the stack
//! under test and reads back what the stack sends, on a fake clock.
//!
//! A test reads like the RFC: put a connection in a state, feed a segment,
//! expect segments and the next state.
#![allow(dead_code)]

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use utcp_core::stack::{SocketId, Stack, StackConfig, Transmit};
use utcp_core::tcp::State;
use utcp_core::wire::ipv4::{self, Ipv4Repr, PROTO_TCP};
use utcp_core::wire::{checksum, Flags, Options, SeqNum, TcpRepr};
use utcp_core::Instant;

/// The stack under test.
pub const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The scripted peer.
pub const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const PEER_PORT: u16 = 7000;
pub const LOCAL_PORT: u16 = 8000;
/// The peer's ISN in every script.
pub const PEER_ISS: u32 = 5000;

/// A segment as the peer sends it or as the stack sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seg {
    pub tcp: TcpRepr,
    pub data: Vec<u8>,
}

impl Seg {
    pub fn flags(&self) -> Flags {
        self.tcp.flags
    }
    pub fn seq(&self) -> u32 {
        self.tcp.seq.0
    }
    pub fn ack(&self) -> u32 {
        self.tcp.ack.0
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
}

/// Build a segment from the peer: `seg(Flags::SYN).seq(5000)...`.
pub fn seg(flags: Flags) -> SegBuilder {
    SegBuilder {
        tcp: TcpRepr { src_port: PEER_PORT, dst_port: LOCAL_PORT, flags, window: 65535, ..TcpRepr::default() },
        data: Vec::new(),
    }
}

pub struct SegBuilder {
    pub tcp: TcpRepr,
    pub data: Vec<u8>,
}

impl SegBuilder {
    pub fn seq(mut self, s: u32) -> Self {
        self.tcp.seq = SeqNum(s);
        self
    }
    pub fn ack(mut self, a: u32) -> Self {
        self.tcp.ack = SeqNum(a);
        self.tcp.flags |= Flags::ACK;
        self
    }
    pub fn win(mut self, w: u16) -> Self {
        self.tcp.window = w;
        self
    }
    pub fn data(mut self, d: &[u8]) -> Self {
        self.data = d.to_vec();
        self
    }
    pub fn opts(mut self, o: Options) -> Self {
        self.tcp.options = o;
        self
    }
    pub fn ports(mut self, src: u16, dst: u16) -> Self {
        self.tcp.src_port = src;
        self.tcp.dst_port = dst;
        self
    }
}

/// The stack under test, the fake clock and the peer's view.
pub struct Harness {
    pub stack: Stack,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(|_| {})
    }

    pub fn with_config(f: impl FnOnce(&mut StackConfig)) -> Harness {
        let mut cfg = StackConfig::new(LOCAL);
        cfg.seed = 1;
        f(&mut cfg);
        let mut stack = Stack::new(cfg);
        stack.set_tracing(true);
        Harness { stack, now: Instant::from_secs(1) }
    }

    pub fn peer_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(PEER, PEER_PORT)
    }

    pub fn local_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(LOCAL, LOCAL_PORT)
    }

    /// Deliver a peer segment to the stack.
    pub fn send(&mut self, b: SegBuilder) {
        let pkt = packet(PEER, LOCAL, &b.tcp, &b.data);
        self.stack.receive(self.now, &pkt);
    }

    /// Deliver raw bytes as an IPv4 packet.
    pub fn send_raw(&mut self, pkt: &[u8]) {
        self.stack.receive(self.now, pkt);
    }

    /// Everything the stack sends now, parsed (checksums verified), as
    /// it leaves an offloading device: checksums completed, super-segments
    /// cut into their pieces.
    pub fn output(&mut self) -> Vec<Seg> {
        let mut out = Vec::new();
        for (t, pkt) in self.transmits() {
            for wire in device(t, &pkt) {
                let (ip, payload) = Ipv4Repr::parse(&wire).expect("stack sent a valid IPv4 packet");
                assert_eq!(ip.src, LOCAL);
                if ip.protocol != PROTO_TCP {
                    continue;
                }
                let (tcp, data) = TcpRepr::parse(payload, ip.src, ip.dst, true).expect("stack sent a valid segment");
                out.push(Seg { tcp, data: data.to_vec() });
            }
        }
        out
    }

    /// The packets the stack hands the device now, as it hands them.
    pub fn transmits(&mut self) -> Vec<(Transmit, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        for _ in 0..10_000 {
            let Some(t) = self.stack.transmit(self.now, &mut buf) else { break };
            out.push((t, buf[..t.len].to_vec()));
        }
        out
    }

    /// Raw packets the stack sends now (ICMP included).
    pub fn output_raw(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Some(n) = self.stack.poll_transmit(self.now, &mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// Exactly one segment out; panics otherwise.
    pub fn expect_one(&mut self) -> Seg {
        let out = self.output();
        assert_eq!(out.len(), 1, "expected one segment, got {out:#?}");
        out.into_iter().next().unwrap()
    }

    pub fn expect_none(&mut self) {
        let out = self.output();
        assert!(out.is_empty(), "expected nothing, got {out:#?}");
    }

    /// Move the clock and run due timers (not sending anything yet).
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.stack.handle_timeout(self.now);
    }

    /// Advance to the stack's next deadline (if any, and not in the past).
    pub fn advance_to_next_timer(&mut self) -> Option<Instant> {
        let t = self.stack.poll_at()?;
        if t > self.now {
            self.now = t;
        }
        self.stack.handle_timeout(self.now);
        Some(self.now)
    }

    pub fn state(&self, id: SocketId) -> State {
        self.stack.state(id).expect("socket exists")
    }

    /// A listener on LOCAL:LOCAL_PORT.
    pub fn listener(&mut self, backlog: i32) -> SocketId {
        let l = self.stack.socket();
        self.stack.bind(l, self.local_addr()).unwrap();
        self.stack.listen(l, backlog).unwrap();
        l
    }

    /// connect() from a socket bound to LOCAL_PORT; returns it and our SYN.
    pub fn connect(&mut self) -> (SocketId, Seg) {
        let c = self.stack.socket();
        self.stack.bind(c, self.local_addr()).unwrap();
        let now = self.now;
        let r = self.stack.connect(now, c, self.peer_addr());
        assert_eq!(r, Err(utcp_core::socket::Errno::EINPROGRESS));
        let syn = self.expect_one();
        assert_eq!(syn.flags(), Flags::SYN);
        (c, syn)
    }

    /// An active open completed by the scripted peer: ESTABLISHED, with
    /// the options given in the SYN-ACK. Returns the socket and our ISS.
    pub fn established_client_with(&mut self, opts: Options) -> (SocketId, u32) {
        let (c, syn) = self.connect();
        let iss = syn.seq();
        self.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1).opts(opts));
        let ack = self.expect_one();
        assert_eq!(ack.flags(), Flags::ACK);
        assert_eq!(ack.ack(), PEER_ISS + 1);
        assert_eq!(self.state(c), State::Established);
        (c, iss)
    }

    /// An active open with a plain SYN-ACK (MSS 1460, no other options).
    pub fn established_client(&mut self) -> (SocketId, u32) {
        self.established_client_with(Options { mss: Some(1460), ..Options::default() })
    }

    /// A passive open completed by the scripted peer and accepted.
    /// Returns (listener, connection, our ISS).
    pub fn established_server_with(&mut self, opts: Options) -> (SocketId, SocketId, u32) {
        let l = self.listener(8);
        self.send(seg(Flags::SYN).seq(PEER_ISS).opts(opts));
        let synack = self.expect_one();
        assert_eq!(synack.flags(), Flags::SYN | Flags::ACK);
        assert_eq!(synack.ack(), PEER_ISS + 1);
        let iss = synack.seq();
        self.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
        self.expect_none();
        let (c, peer) = self.stack.accept(l).expect("a connection to accept");
        assert_eq!(peer, self.peer_addr());
        (l, c, iss)
    }

    pub fn established_server(&mut self) -> (SocketId, SocketId, u32) {
        self.established_server_with(Options { mss: Some(1460), ..Options::default() })
    }

    /// Read everything readable now.
    pub fn read_all(&mut self, id: SocketId) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        let now = self.now;
        while let Ok(n) = self.stack.recv(now, id, &mut buf, false) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// The state changes traced so far, as "FROM -> TO" strings.
    pub fn transitions(&mut self) -> Vec<String> {
        let t: Vec<String> = self
            .stack
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                utcp_core::trace::TraceEvent::StateChange { from, to, .. } => Some(format!("{from} -> {to}")),
                _ => None,
            })
            .collect();
        log_edges(&t);
        t
    }
}

/// The state changes a test did not ask for are still logged.
impl Drop for Harness {
    fn drop(&mut self) {
        self.transitions();
    }
}

/// With `UTCP_EDGE_LOG=FILE`, every traced state change is appended to
/// FILE as a "FROM -> TO" line: scripts/pictures runs the tests so and
/// draws the state diagram with the edges they exercised. One write per
/// batch to a file opened for appending, so parallel tests and test
/// binaries do not interleave within a line.
fn log_edges(edges: &[String]) {
    use std::io::Write;
    if edges.is_empty() {
        return;
    }
    let Some(path) = std::env::var_os("UTCP_EDGE_LOG") else { return };
    let text: String = edges.iter().map(|e| format!("{e}\n")).collect();
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    if let Err(e) = file.and_then(|mut f| f.write_all(text.as_bytes())) {
        panic!("UTCP_EDGE_LOG={}: {e}", path.to_string_lossy());
    }
}

/// What an offloading device (Linux's GSO behind a TUN with the
/// virtio-net header) makes of one packet: a super-segment cut into
/// pieces of `segment_size` payload bytes, each with the headers copied,
/// the sequence number advanced, FIN and PSH on the last piece only, the
/// lengths and IPv4 checksum fixed (tcp_gso_segment); partial TCP
/// checksums completed.
pub fn device(t: Transmit, pkt: &[u8]) -> Vec<Vec<u8>> {
    let ihl = ipv4::HEADER_LEN;
    let complete = |p: &mut Vec<u8>| {
        if t.partial_checksum && p[9] == PROTO_TCP {
            // NEEDS_CSUM: the field holds the pseudo-header sum for the
            // super-segment's length; each piece's differs (Linux adjusts).
            let (src, dst) = (Ipv4Addr::new(p[12], p[13], p[14], p[15]), Ipv4Addr::new(p[16], p[17], p[18], p[19]));
            let tcp_len = p.len() - ihl;
            let acc = checksum::pseudo_header(src, dst, PROTO_TCP, tcp_len);
            p[ihl + 16..ihl + 18].copy_from_slice(&[0, 0]);
            let c = checksum::finish(checksum::sum(acc, &p[ihl..]));
            p[ihl + 16..ihl + 18].copy_from_slice(&c.to_be_bytes());
        }
    };
    let Some(size) = t.segment_size else {
        let mut p = pkt.to_vec();
        complete(&mut p);
        return vec![p];
    };
    let size = size as usize;
    let hlen = ihl + ((pkt[ihl + 12] >> 4) as usize) * 4;
    let seq = u32::from_be_bytes([pkt[ihl + 4], pkt[ihl + 5], pkt[ihl + 6], pkt[ihl + 7]]);
    let flags = pkt[ihl + 13];
    let payload = &pkt[hlen..];
    let n = payload.len().div_ceil(size);
    let mut out = Vec::new();
    for (i, chunk) in payload.chunks(size).enumerate() {
        let mut p = pkt[..hlen].to_vec();
        p.extend_from_slice(chunk);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&p[..ihl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[ihl + 4..ihl + 8].copy_from_slice(&seq.wrapping_add((i * size) as u32).to_be_bytes());
        if i + 1 < n {
            p[ihl + 13] = flags & !(Flags::FIN.0 | Flags::PSH.0);
        }
        complete(&mut p);
        out.push(p);
    }
    out
}

/// A whole IPv4 packet carrying `tcp` with `data`.
pub fn packet(src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpRepr, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; ipv4::HEADER_LEN + tcp.header_len() + data.len()];
    let n = tcp.emit(&mut buf[ipv4::HEADER_LEN..], src, dst, data);
    Ipv4Repr::new(src, dst, PROTO_TCP, n).emit(&mut buf);
    buf
}
