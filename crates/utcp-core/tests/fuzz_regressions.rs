//! The fuzz targets' interpreters (utcp_core::testkit) on stable, without
//! libFuzzer: every crash input libFuzzer ever found (tests/fuzz-crashes/
//! TARGET/) replays here, and seeded random programs check that the
//! interpreters really reach the state machine, so a fuzz run that finds
//! nothing means something.

use std::path::Path;
use utcp_core::rng::Rng;
use utcp_core::stack::stats::DropReason;
use utcp_core::tcp::State;
use utcp_core::testkit::{self, Peer};

/// Every file in tests/fuzz-crashes/`target` except the README.
fn crash_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-crashes").join(target);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = e.unwrap().path();
        if path.file_name().is_some_and(|n| n != "README") {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn random_bytes(rng: &mut Rng, max: u64) -> Vec<u8> {
    (0..rng.below(max)).map(|_| rng.next_u32() as u8).collect()
}

/// A segment-target program of well-formed steps (see
/// `testkit::run_segments`): mostly segments at or near RCV.NXT with
/// an acceptable ACK, recv() calls, other socket calls and clock steps.
fn segment_program(rng: &mut Rng) -> Vec<u8> {
    let mut p = vec![rng.next_u32() as u8];
    let mut b = || rng.next_u32() as u8;
    for _ in 0..40 {
        match b() % 5 {
            0 => p.extend_from_slice(&[0x00, 0, b()]),
            1 => p.extend_from_slice(&[0x11, 0x0f, 0xfe]),
            2 => p.extend_from_slice(&[(b() << 3) | 1, b(), b()]),
            _ => {
                // k: a segment step (k % 8 in 2..=7), at RCV.NXT (bit 5),
                // raw options (bit 4 clear), not raw numbers (bit 3 clear).
                let k = (b() & 0xc0) | 0x20 | (2 + b() % 6);
                let flags = if b() % 4 == 0 { b() } else { 0x18 };
                p.extend_from_slice(&[k, flags, 0, 0, 0xff, 0xff, 0x01, b(), 0]);
            }
        }
    }
    p
}

#[test]
fn recorded_crash_inputs_replay_without_panic() {
    for (name, data) in crash_inputs("packets") {
        eprintln!("replaying {name}");
        testkit::run_packets(&data);
    }
    for (name, data) in crash_inputs("segments") {
        eprintln!("replaying {name}");
        testkit::run_segments(&data);
    }
    for (name, data) in crash_inputs("options") {
        eprintln!("replaying {name}");
        testkit::run_options(&data);
    }
}

#[test]
fn every_state_can_be_built_for_the_segment_target() {
    for s in State::ALL {
        let (p, id) = Peer::in_state(s);
        assert_eq!(p.stack.state(id).unwrap_or(State::Closed), s);
    }
}

/// Random programs reach the TCB checks of RFC 9293 §3.10.7.4 and RFC
/// 5961, not only the wire checks: if the interpreter stopped aiming
/// segments at the connection, these counters would stay at zero.
#[test]
fn segment_programs_reach_the_state_machine() {
    let mut rng = Rng::new(11);
    let mut total = utcp_core::stack::stats::Stats::default();
    let mut segs = 0;
    let mut read = 0;
    for i in 0..300 {
        // Half raw bytes, half programs built step by step (which read).
        let prog = if i % 2 == 0 { random_bytes(&mut rng, 3000) } else { segment_program(&mut rng) };
        let r = testkit::run_segments(&prog);
        read += r.bytes_read;
        let s = r.stats;
        segs += s.segments_in;
        for r in DropReason::ALL {
            for _ in 0..s.drops(*r) {
                total.count_drop(*r);
            }
        }
    }
    assert!(segs > 1000, "only {segs} segments reached TCP");
    assert!(read > 0, "no program read data back (the stream check never ran)");
    for r in [DropReason::OutOfWindow, DropReason::RstChallenged, DropReason::BadOptionLen, DropReason::NoSocket] {
        assert!(total.drops(r) > 0, "no {} drop in 300 random programs", r.name());
    }
}

#[test]
fn packet_programs_reach_connections_and_wire_checks() {
    let mut rng = Rng::new(12);
    let mut wire = 0;
    let mut tcb = 0;
    for _ in 0..300 {
        let s = testkit::run_packets(&random_bytes(&mut rng, 4000));
        wire += s.drops(DropReason::BadIpChecksum) + s.drops(DropReason::Truncated) + s.drops(DropReason::NotIpv4);
        tcb += s.drops(DropReason::OutOfWindow) + s.drops(DropReason::AckNotYetSent) + s.drops(DropReason::RstChallenged);
    }
    assert!(wire > 0, "no wire-level drops");
    assert!(tcb > 0, "no packet reached a connection's checks");
}

#[test]
fn option_programs_never_panic() {
    let mut rng = Rng::new(13);
    for _ in 0..20_000 {
        testkit::run_options(&random_bytes(&mut rng, 48));
    }
}

/// The segment target's stream check: an in-order segment in ESTABLISHED
/// and a recv() of it reads back the peer's bytes for that sequence range.
/// Program bytes: state, then a segment step (k = 0x22: bit 5, exactly at
/// RCV.NXT), flags ACK|PSH, ack offset 0, window, length 100, no options;
/// then a recv step (k = 0x11) of 100 bytes.
#[test]
fn an_in_order_segment_is_read_back_and_checked() {
    let established = State::ALL.iter().position(|s| *s == State::Established).unwrap() as u8;
    let prog = [established, 0x22, 0x18, 0, 0, 0xff, 0xff, 0, 100, 0, 0x11, 0, 100];
    let r = testkit::run_segments(&prog);
    assert_eq!(r.bytes_read, 100);
    assert_eq!(r.stats.total_drops(), 0);
}
