//! Two stacks over the simulated wire: handshake, transfer, close.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use utcp_core::sim::{Impairments, Sim};
use utcp_core::stack::{SocketId, Stack, StackConfig};
use utcp_core::tcp::State;
use utcp_core::Instant;

const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn stack(addr: Ipv4Addr, seed: u64) -> Stack {
    let mut cfg = StackConfig::new(addr);
    cfg.seed = seed;
    Stack::new(cfg)
}

fn link(delay_ms: u64) -> Impairments {
    Impairments { delay: Duration::from_millis(delay_ms), ..Impairments::default() }
}

#[test]
fn handshake_transfer_close() {
    let mut sim = Sim::new(stack(A, 1), stack(B, 2), link(5), link(5), 7);
    sim.a.set_tracing(true);
    let l = sim.b.socket();
    sim.b.bind(l, SocketAddrV4::new(B, 80)).unwrap();
    sim.b.listen(l, 16).unwrap();
    let c = sim.a.socket();
    let now = sim.now;
    assert_eq!(sim.a.connect(now, c, SocketAddrV4::new(B, 80)), Err(utcp_core::socket::Errno::EINPROGRESS));
    let deadline = Instant::from_secs(5);
    assert!(sim.run_until(deadline, |s| s.a.state(c) == Some(State::Established)));
    let mut server: Option<SocketId> = None;
    assert!(sim.run_until(deadline, |s| {
        if let Ok((id, _)) = s.b.accept(l) {
            server = Some(id);
        }
        server.is_some()
    }));
    let server = server.unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let ok = sim.run_until(Instant::from_secs(60), |s| {
        if sent < data.len() {
            if let Ok(n) = s.a.send(c, &data[sent..]) {
                sent += n;
            }
        }
        let now = s.now;
        while let Ok(n) = s.b.recv(now, server, &mut buf, false) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(ok, "received {} of {}", got.len(), data.len());
    assert_eq!(got, data);
    let now = sim.now;
    sim.a.close(now, c, false).unwrap();
    assert!(sim.run_until(Instant::from_secs(70), |s| s.b.state(server) == Some(State::CloseWait)));
    let now = sim.now;
    assert_eq!(sim.b.recv(now, server, &mut buf, false), Ok(0));
    sim.b.close(now, server, false).unwrap();
    sim.run_for(Duration::from_secs(1));
    for e in sim.a.take_events().iter().filter(|e| !matches!(e, utcp_core::trace::TraceEvent::Packet { .. })) {
        println!("{e}");
    }
    assert_eq!(sim.a.connection_count(), 1, "client in TIME-WAIT");
    sim.run_for(Duration::from_secs(61));
    assert_eq!(sim.a.connection_count(), 0);
    assert_eq!(sim.b.connection_count(), 0);
}
