//! utcp's demo, until the LD_PRELOAD library exists: two simulated stacks
//! talk TCP over an in-memory wire, and every segment and state change is
//! printed with an explanation.
//!
//!     cargo run -p utcp-core --example demo [-- --pcap demo.pcap]
//!
//! The client is 198.18.0.2, the server 198.18.0.1:80; the wire has 5 ms
//! of delay each way. One data segment is lost on purpose to show a
//! retransmission.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use utcp_core::sim::{Impairments, Node, Sim};
use utcp_core::stack::{SocketId, Stack, StackConfig};
use utcp_core::tcp::State;
use utcp_core::trace::{format_packet, Direction, PcapWriter, TraceEvent};
use utcp_core::Instant;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// A stack that can lose one chosen outgoing packet, and notes every
/// packet it sends (for the pcap).
struct Host {
    stack: Stack,
    name: &'static str,
    /// Lose the next data segment this host sends.
    lose_next_data: bool,
    lost: Vec<(Instant, Vec<u8>)>,
}

impl Node for Host {
    fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.stack.receive(now, packet)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        loop {
            let n = self.stack.poll_transmit(now, buf)?;
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            let has_data = total > ihl + usize::from(buf[ihl + 12] >> 4) * 4;
            if self.lose_next_data && has_data {
                self.lose_next_data = false;
                self.lost.push((now, buf[..n].to_vec()));
                continue;
            }
            return Some(n);
        }
    }
    fn poll_at(&self) -> Option<Instant> {
        self.stack.poll_at()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now)
    }
}

struct Demo {
    sim: Sim<Host, Host>,
    pcap: Option<PcapWriter<std::fs::File>>,
}

/// What the applications did, with the time, printed among the segments.
type Notes = std::rc::Rc<std::cell::RefCell<Vec<(Instant, String)>>>;

impl Demo {
    /// Print what happened since the last call: each host's sent packets
    /// (received ones are the same packets, one delay later), state changes,
    /// drops, and any packet the wire lost.
    fn show(&mut self, notes: &Notes) {
        let mut lines: Vec<(Instant, u8, String)> = Vec::new();
        let mut packets: Vec<(Instant, Vec<u8>)> = Vec::new();
        lines.extend(notes.borrow_mut().drain(..).map(|(at, n)| (at, 0, format!("{:<6} {}", "app", n))));
        for host in [&mut self.sim.a, &mut self.sim.b] {
            let lost: Vec<Vec<u8>> = host.lost.iter().map(|(_, b)| b.clone()).collect();
            for (at, bytes) in host.lost.drain(..) {
                lines.push((at, 0, format!("{:<6} LOST  {}   <- dropped on the wire", host.name, format_packet(&bytes))));
                packets.push((at, bytes));
            }
            for ev in host.stack.take_events() {
                match &ev {
                    // The stack sent it; the LOST line above shows it.
                    TraceEvent::Packet { dir: Direction::Out, bytes, .. } if lost.contains(bytes) => {}
                    TraceEvent::Packet { at, dir: Direction::Out, bytes } => {
                        lines.push((*at, 1, format!("{:<6} sends {}", host.name, format_packet(bytes))));
                        packets.push((*at, bytes.clone()));
                    }
                    TraceEvent::Packet { .. } => {}
                    TraceEvent::StateChange { at, from, to, .. } => {
                        lines.push((*at, 2, format!("{:<6} state {from} -> {to}", host.name)));
                    }
                    TraceEvent::Drop { at, reason } => {
                        lines.push((*at, 2, format!("{:<6} drops a segment ({})", host.name, reason.name())));
                    }
                }
            }
        }
        lines.sort_by_key(|(at, k, _)| (*at, *k));
        packets.sort_by_key(|(at, _)| *at);
        if let Some(p) = &mut self.pcap {
            for (at, bytes) in &packets {
                let _ = p.write_packet(*at, bytes);
            }
        }
        for (at, _, l) in lines {
            println!("  {at}  {l}");
        }
    }

    fn say(&self, text: &str) {
        println!();
        for line in text.lines() {
            println!("# {line}");
        }
    }

    fn run_until(&mut self, secs: u64, notes: &Notes, done: impl FnMut(&mut Sim<Host, Host>) -> bool) {
        let deadline = self.sim.now + Duration::from_secs(secs);
        assert!(self.sim.run_until(deadline, done), "the demo got stuck at {}", self.sim.now);
        self.show(notes);
    }
}

fn host(addr: Ipv4Addr, name: &'static str, seed: u64) -> Host {
    let mut cfg = StackConfig::new(addr);
    cfg.seed = seed;
    // A short TIME-WAIT so the demo can show it ending (Linux: 60 s).
    cfg.tcp.time_wait = Duration::from_secs(2);
    let mut stack = Stack::new(cfg);
    stack.set_tracing(true);
    Host { stack, name, lose_next_data: false, lost: Vec::new() }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut pcap_path = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pcap" => pcap_path = Some(args.next().expect("--pcap needs a file name")),
            _ => {
                eprintln!("usage: demo [--pcap FILE]");
                std::process::exit(2);
            }
        }
    }
    let pcap = pcap_path.as_ref().map(|p| PcapWriter::new(std::fs::File::create(p).expect("create pcap")).expect("pcap header"));
    let wire = Impairments { delay: Duration::from_millis(5), ..Impairments::default() };
    let sim = Sim::new(host(CLIENT, "client", 1), host(SERVER, "server", 2), wire, wire, 3);
    let mut d = Demo { sim, pcap };
    let notes: Notes = Default::default();
    let note = |at: Instant, text: String| notes.borrow_mut().push((at, text));

    println!("utcp demo: a client (198.18.0.2) and a server (198.18.0.1:80), each a complete");
    println!("utcp TCP stack, joined by a simulated wire with 5 ms of delay each way.");
    println!("Times are virtual seconds; segments print as tcpdump -n -S prints them.");

    d.say("The server opens a listening socket on port 80: socket(), bind(), listen().");
    let l = d.sim.b.stack.socket();
    d.sim.b.stack.bind(l, SocketAddrV4::new(SERVER, 80)).unwrap();
    d.sim.b.stack.listen(l, 16).unwrap();

    d.say(
        "The three-way handshake (RFC 9293 §3.5). The client's connect() sends a SYN [S]\n\
         with its initial sequence number and options: MSS, SACK permitted, timestamps,\n\
         window scale. The server answers SYN-ACK [S.], acknowledging the client's ISN + 1,\n\
         and the client's ACK [.] completes the handshake.",
    );
    let c = d.sim.a.stack.socket();
    let now = d.sim.now;
    let _ = d.sim.a.stack.connect(now, c, SocketAddrV4::new(SERVER, 80));
    let mut s = None;
    d.run_until(5, &notes, |sim| {
        s = s.or_else(|| sim.b.stack.accept(l).ok().map(|(id, _)| id));
        s.is_some() && sim.a.stack.state(c) == Some(State::Established)
    });
    let s: SocketId = s.unwrap();

    d.say(
        "A small request and its response. Each data segment carries [P.] (push, ack)\n\
         and a byte range seq A:B; the other side acknowledges B, by itself or on its\n\
         own data.",
    );
    let request = b"GET / HTTP/1.1\r\nHost: 198.18.0.1\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, utcp!\n";
    note(d.sim.now, format!("client writes {} bytes", request.len()));
    d.sim.a.stack.send(c, request).unwrap();
    let mut buf = [0u8; 2048];
    let mut answered = false;
    let mut got = Vec::new();
    d.run_until(5, &notes, |sim| {
        let now = sim.now;
        if !answered {
            if let Ok(n @ 1..) = sim.b.stack.recv(now, s, &mut buf, false) {
                let line = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string();
                note(now, format!("server reads {n} bytes ({line:?}) and answers"));
                sim.b.stack.send(s, response).unwrap();
                answered = true;
            }
        }
        while let Ok(n @ 1..) = sim.a.stack.recv(now, c, &mut buf, false) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == response.len()
    });
    println!("  client read the response: {:?}", String::from_utf8_lossy(&got).lines().next().unwrap_or(""));
    // Let the delayed ACK go out.
    d.sim.run_for(Duration::from_millis(100));
    d.show(&notes);

    d.say(
        "A lost segment. The client sends a second request, and the wire drops it.\n\
         Nothing comes back, so after the retransmission timeout (RTO, RFC 6298: here\n\
         the 200 ms minimum plus the measured round trip) the client sends the same\n\
         bytes again, and the server acknowledges them.",
    );
    d.sim.a.lose_next_data = true;
    let second = b"GET /again HTTP/1.1\r\n\r\n";
    note(d.sim.now, format!("client writes {} bytes", second.len()));
    d.sim.a.stack.send(c, second).unwrap();
    let mut got2 = 0;
    d.run_until(5, &notes, |sim| {
        let now = sim.now;
        if let Ok(n @ 1..) = sim.b.stack.recv(now, s, &mut buf, false) {
            got2 += n;
        }
        got2 == second.len() && sim.a.stack.queued_bytes(c) == 0
    });
    println!("  server got the {got2} bytes; client retransmissions so far: {}", d.sim.a.stack.stats().retransmits);

    d.say(
        "The four-way close. The client calls close(): it sends FIN [F.] and goes to\n\
         FIN-WAIT-1, then FIN-WAIT-2 once the FIN is acknowledged. The server reads\n\
         end-of-file (recv returns 0) in CLOSE-WAIT, closes too, sends its own FIN and\n\
         waits in LAST-ACK. The client acknowledges that FIN and enters TIME-WAIT;\n\
         the server, on that ACK, is CLOSED.",
    );
    let now = d.sim.now;
    note(now, "client calls close()".into());
    d.sim.a.stack.close(now, c, false).unwrap();
    let mut server_closed = false;
    d.run_until(5, &notes, |sim| {
        let now = sim.now;
        if !server_closed && sim.b.stack.recv(now, s, &mut buf, false) == Ok(0) {
            note(now, "server reads end-of-file and calls close()".into());
            sim.b.stack.close(now, s, false).unwrap();
            server_closed = true;
        }
        server_closed && sim.b.stack.connection_count() == 0 && sim.a.stack.state(c) == Some(State::TimeWait)
    });

    d.say(
        "TIME-WAIT. The client, which closed first, keeps the connection for 2*MSL so\n\
         that a lost last ACK can be repeated and old duplicates die out (RFC 9293\n\
         §3.6). Linux waits 60 s; this demo configures 2 s. Then the client is CLOSED\n\
         too and the connection is gone from both stacks.",
    );
    d.run_until(10, &notes, |sim| sim.a.stack.connection_count() == 0);
    println!("  both stacks now hold {} connections", d.sim.a.stack.connection_count() + d.sim.b.stack.connection_count());

    d.say("Counters.");
    for host in [&d.sim.a, &d.sim.b] {
        let st = host.stack.stats();
        println!(
            "  {:<6} segments out {:>3}, in {:>3}; retransmits {} (timeouts {}, fast {}); connections opened {}",
            host.name, st.segments_out, st.segments_in, st.retransmits, st.rto_expirations, st.fast_retransmits, st.conns_opened
        );
        for (name, n) in st.nonzero_drops() {
            println!("  {:<6} dropped {n} ({name})", host.name);
        }
    }
    let (ab, ba) = (d.sim.a_to_b.stats(), d.sim.b_to_a.stats());
    println!(
        "  wire   client->server {} packets carried, server->client {} (the lost segment never reached it)",
        ab.sent, ba.sent
    );
    if let (Some(p), Some(path)) = (d.pcap.take(), pcap_path) {
        drop(p.into_inner());
        println!("\nWrote {path}: read it with `tcpdump -n -S -r {path}` or Wireshark.");
    }
}
