//! Wall-clock speed of two stacks over the simulated wire: bulk goodput
//! and segment rate over a lossless wire with no delay and with 1 ms each
//! way, and connection setup plus teardown rate.
//!
//! `cargo bench -p utcp-core --bench sim_pair` (no harness: prints a table).
//! `UTCP_BENCH_MIB=n` changes the bulk size (default 256).

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use std::time::Instant as Wall;
use utcp_core::sim::{Impairments, Sim};
use utcp_core::stack::{SocketId, Stack, StackConfig};
use utcp_core::tcp::State;
use utcp_core::Instant;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn pair(delay: Duration) -> Sim<Stack, Stack> {
    let imp = Impairments { delay, ..Impairments::default() };
    let mut a = StackConfig::new(CLIENT);
    a.seed = 1;
    let mut b = StackConfig::new(SERVER);
    b.seed = 2;
    Sim::new(Stack::new(a), Stack::new(b), imp, imp, 3)
}

fn connect(sim: &mut Sim<Stack, Stack>, l: SocketId, port: u16) -> (SocketId, SocketId) {
    let c = sim.a.socket();
    let _ = sim.a.connect(sim.now, c, SocketAddrV4::new(SERVER, port));
    let mut s = None;
    let deadline = sim.now + Duration::from_secs(10);
    assert!(sim.run_until(deadline, |sim| {
        if s.is_none() {
            s = sim.b.accept(l).ok().map(|(id, _)| id);
        }
        s.is_some() && sim.a.state(c) == Some(State::Established)
    }));
    (c, s.unwrap())
}

fn listener(sim: &mut Sim<Stack, Stack>, port: u16) -> SocketId {
    let l = sim.b.socket();
    sim.b.bind(l, SocketAddrV4::new(SERVER, port)).unwrap();
    sim.b.listen(l, 4096).unwrap();
    l
}

struct Bulk {
    wall: f64,
    virt: f64,
    segments: u64,
    retransmits: u64,
}

/// Client sends `bytes` to the server, which reads and discards them.
fn bulk(delay: Duration, bytes: usize) -> Bulk {
    let mut sim = pair(delay);
    let l = listener(&mut sim, 80);
    let (c, s) = connect(&mut sim, l, 80);
    let chunk = vec![0x5au8; 1 << 20];
    let mut buf = vec![0u8; 1 << 20];
    let (mut sent, mut got) = (0usize, 0usize);
    let seg0 = sim.a.stats().segments_out;
    let (t0, v0) = (Wall::now(), sim.now);
    let ok = sim.run_until(Instant::from_secs(3600), |sim| {
        while sent < bytes {
            match sim.a.send(c, &chunk[..chunk.len().min(bytes - sent)]) {
                Ok(n) if n > 0 => sent += n,
                _ => break,
            }
        }
        let now = sim.now;
        while let Ok(n @ 1..) = sim.b.recv(now, s, &mut buf, false) {
            got += n;
        }
        got == bytes
    });
    let wall = t0.elapsed().as_secs_f64();
    assert!(ok, "bulk transfer stalled at {got} of {bytes}");
    Bulk {
        wall,
        virt: (sim.now - v0).as_secs_f64(),
        segments: sim.a.stats().segments_out - seg0,
        retransmits: sim.a.stats().retransmits,
    }
}

/// Connections opened, one 100-byte request answered, closed by both, one
/// after another (TIME-WAIT left to run out at the end).
fn churn(n: usize) -> (f64, usize) {
    let mut sim = pair(Duration::ZERO);
    let l = listener(&mut sim, 80);
    let mut buf = [0u8; 256];
    let t0 = Wall::now();
    for _ in 0..n {
        let (c, s) = connect(&mut sim, l, 80);
        sim.a.send(c, &[1u8; 100]).unwrap();
        let now = sim.now;
        sim.a.close(now, c, false).unwrap();
        let mut closed = false;
        let deadline = sim.now + Duration::from_secs(10);
        assert!(sim.run_until(deadline, |sim| {
            let now = sim.now;
            if !closed {
                loop {
                    match sim.b.recv(now, s, &mut buf, false) {
                        Ok(0) => {
                            sim.b.close(now, s, false).unwrap();
                            closed = true;
                            break;
                        }
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
            }
            closed && sim.b.state(s).is_none() && matches!(sim.a.state(c), Some(State::TimeWait) | None)
        }));
    }
    let wall = t0.elapsed().as_secs_f64();
    let tw = sim.a.connection_count();
    sim.run_for(Duration::from_secs(61));
    assert_eq!(sim.a.connection_count(), 0);
    (wall, tw)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too,
    // so keep a quick mode for it.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mib: usize = std::env::var("UTCP_BENCH_MIB").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick { 8 } else { 256 });
    println!("utcp-core sim_pair: two stacks, one bulk connection, {mib} MiB, MTU 1500, wall-clock time");
    println!("{:<22} {:>9} {:>10} {:>12} {:>11} {:>9}", "wire", "wall s", "Gbit/s", "segments/s", "virtual s", "rexmits");
    for (name, delay) in [("lossless, no delay", Duration::ZERO), ("lossless, 1 ms each way", Duration::from_millis(1))] {
        let r = bulk(delay, mib << 20);
        println!(
            "{:<22} {:>9.3} {:>10.2} {:>12.0} {:>11.3} {:>9}",
            name,
            r.wall,
            (mib << 20) as f64 * 8.0 / r.wall / 1e9,
            r.segments as f64 / r.wall,
            r.virt,
            r.retransmits
        );
    }
    // Each TIME-WAIT left behind makes the stack's poll_at scan longer
    // (a scan over connections, no timer wheel yet), so the rate falls as
    // connections pile up; 2000 keeps the run short.
    let n = if quick { 200 } else { 2000 };
    let (wall, tw) = churn(n);
    println!(
        "connect + 100 B + close, no delay: {n} connections in {wall:.3} s = {:.0} connections/s ({tw} left in TIME-WAIT, then expired)",
        n as f64 / wall
    );
}
