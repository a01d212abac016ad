//! Classic pcap capture files (the libpcap format tcpdump and Wireshark
//! read), written into any caller-supplied `std::io::Write`.
//!
//! The engine itself does no I/O: a test writes into a `Vec<u8>`, the
//! runtime into a file. Fields are written little-endian so that a capture
//! is the same bytes on every host; readers detect byte order from the magic.

use super::TraceEvent;
use crate::time::Instant;
use std::io::{self, Write};

/// Microsecond-resolution pcap magic (nanosecond files use 0xa1b23c4d).
const MAGIC: u32 = 0xa1b2_c3d4;
const VERSION_MAJOR: u16 = 2;
const VERSION_MINOR: u16 = 4;
/// Largest IPv4 packet, so no packet is ever cut short.
pub const SNAPLEN: u32 = 65535;
/// LINKTYPE_RAW: each record is a bare IP packet, no link header. Chosen
/// over LINKTYPE_IPV4 (228) because every libpcap-based tool and old
/// Wireshark releases read 101, while 228 needs libpcap 1.3 or later.
pub const LINKTYPE_RAW: u32 = 101;
pub const GLOBAL_HEADER_LEN: usize = 24;
pub const RECORD_HEADER_LEN: usize = 16;

/// Writes a pcap global header, then one record per packet.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Start a capture: writes the 24-byte global header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        h[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
        h[6..8].copy_from_slice(&VERSION_MINOR.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) are zero: times are the
        // caller's epoch, with no timezone correction.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Append one IPv4 packet seen at `at`. A packet over the snap length
    /// is cut to it, with its original length kept in the record.
    pub fn write_packet(&mut self, at: Instant, bytes: &[u8]) -> io::Result<()> {
        let us = at.as_micros();
        // The format's seconds field is 32 bits; an Instant past it (136
        // years after the caller's epoch) is clamped rather than wrapped,
        // so the capture stays in time order.
        let secs = u32::try_from(us / 1_000_000).unwrap_or(u32::MAX);
        let micros = (us % 1_000_000) as u32;
        let orig_len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let incl_len = orig_len.min(SNAPLEN);
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&micros.to_le_bytes());
        h[8..12].copy_from_slice(&incl_len.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out
            .write_all(bytes.get(..incl_len as usize).unwrap_or(bytes))
    }

    /// Write a packet event; state changes and drops have no place in a
    /// packet capture and are skipped.
    pub fn write_event(&mut self, ev: &TraceEvent) -> io::Result<()> {
        match ev {
            TraceEvent::Packet { at, bytes, .. } => self.write_packet(*at, bytes),
            TraceEvent::StateChange { .. } | TraceEvent::Drop { .. } => Ok(()),
        }
    }

    /// Finish, handing back the writer (for example the capture `Vec`).
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::stats::DropReason;
    use crate::trace::format::format_packet;
    use crate::trace::format::tests::{
        data, echo, fin, icmp_error, rst, sack_ack, syn, syn_ack, tcp_packet, A, B,
    };
    use crate::trace::Direction;
    use crate::wire::TcpRepr;

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn global_header() {
        let file = PcapWriter::new(Vec::new()).unwrap().into_inner();
        assert_eq!(
            file,
            [
                0xd4, 0xc3, 0xb2, 0xa1, // magic, little-endian
                2, 0, 4, 0, // version 2.4
                0, 0, 0, 0, // thiszone
                0, 0, 0, 0, // sigfigs
                0xff, 0xff, 0, 0, // snaplen 65535
                101, 0, 0, 0, // LINKTYPE_RAW
            ]
        );
    }

    #[test]
    fn records_follow_the_header() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let first = tcp_packet(A, B, &syn(), &[]);
        let second = echo(B, A, 8, 1, 1, 64);
        w.write_packet(Instant::from_micros(3_000_250), &first)
            .unwrap();
        w.write_event(&TraceEvent::Drop {
            at: Instant::ZERO,
            reason: DropReason::NoSocket,
        })
        .unwrap();
        w.write_event(&TraceEvent::Packet {
            at: Instant::from_secs(4),
            dir: Direction::In,
            bytes: second.clone(),
        })
        .unwrap();
        let file = w.into_inner();

        let r1 = GLOBAL_HEADER_LEN;
        assert_eq!(le32(&file, r1), 3, "seconds");
        assert_eq!(le32(&file, r1 + 4), 250, "microseconds");
        assert_eq!(le32(&file, r1 + 8), first.len() as u32, "captured length");
        assert_eq!(le32(&file, r1 + 12), first.len() as u32, "original length");
        assert_eq!(&file[r1 + RECORD_HEADER_LEN..][..first.len()], &first[..]);

        // The drop wrote nothing: the next record follows directly.
        let r2 = r1 + RECORD_HEADER_LEN + first.len();
        assert_eq!([le32(&file, r2), le32(&file, r2 + 4)], [4, 0]);
        assert_eq!([le32(&file, r2 + 8), le32(&file, r2 + 12)], [84, 84]);
        assert_eq!(&file[r2 + RECORD_HEADER_LEN..], &second[..]);
    }

    #[test]
    fn oversized_packet_is_cut_to_snaplen() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(Instant::ZERO, &vec![0u8; 70_000]).unwrap();
        let file = w.into_inner();
        assert_eq!(le32(&file, GLOBAL_HEADER_LEN + 8), SNAPLEN);
        assert_eq!(le32(&file, GLOBAL_HEADER_LEN + 12), 70_000);
        assert_eq!(
            file.len(),
            GLOBAL_HEADER_LEN + RECORD_HEADER_LEN + SNAPLEN as usize
        );
    }

    /// The packets of the format tests, as one short connection. Port 80
    /// becomes 40080: tcpdump dissects port 80 payloads and appends
    /// `: HTTP`, an application-layer note this formatter does not make.
    fn sample_capture() -> Vec<(Instant, Vec<u8>)> {
        let unnamed = |mut r: TcpRepr| {
            for port in [&mut r.src_port, &mut r.dst_port] {
                if *port == 80 {
                    *port = 40080;
                }
            }
            r
        };
        vec![
            (
                Instant::from_micros(1_000),
                tcp_packet(A, B, &unnamed(syn()), &[]),
            ),
            (
                Instant::from_micros(1_200),
                tcp_packet(B, A, &unnamed(syn_ack()), &[]),
            ),
            (
                Instant::from_micros(2_000),
                tcp_packet(A, B, &unnamed(data()), &[0x55; 100]),
            ),
            (
                Instant::from_micros(2_300),
                tcp_packet(B, A, &unnamed(sack_ack()), &[]),
            ),
            (
                Instant::from_micros(3_000),
                tcp_packet(A, B, &unnamed(fin()), &[]),
            ),
            (
                Instant::from_micros(3_100),
                tcp_packet(B, A, &unnamed(rst()), &[]),
            ),
            (Instant::from_secs(1), echo(B, A, 8, 1, 1, 64)),
            (Instant::from_micros(1_000_050), echo(A, B, 0, 1, 1, 64)),
            (Instant::from_secs(2), icmp_error(3, 3, 0)),
            (Instant::from_secs(3), icmp_error(3, 4, 1400)),
            (Instant::from_secs(4), icmp_error(3, 13, 0)),
            (Instant::from_secs(5), icmp_error(11, 0, 0)),
        ]
    }

    /// Compare `format_packet` with tcpdump itself when it is installed.
    /// `-S` for absolute sequence numbers, `-tt` so its timestamps are the
    /// same `secs.micros` as `Instant`'s Display. Skipped (with a note)
    /// when tcpdump is absent or cannot run, so the suite needs no tools.
    #[test]
    fn matches_tcpdump_when_installed() {
        let capture = sample_capture();
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for (at, bytes) in &capture {
            w.write_packet(*at, bytes).unwrap();
        }
        let path = std::env::temp_dir().join(format!("utcp-trace-{}.pcap", std::process::id()));
        std::fs::write(&path, w.into_inner()).unwrap();
        let run = std::process::Command::new("tcpdump")
            .args(["-n", "-S", "-tt", "-r"])
            .arg(&path)
            .output();
        let _ = std::fs::remove_file(&path);
        let out = match run {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!(
                    "skipped: tcpdump failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            Err(e) => {
                eprintln!("skipped: tcpdump not available ({e})");
                return;
            }
        };
        let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        let ours: Vec<String> = capture
            .iter()
            .map(|(at, bytes)| format!("{at} IP {}", format_packet(bytes)))
            .collect();
        assert_eq!(ours, theirs);
    }
}
