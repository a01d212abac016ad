//! Reading classic pcap files: the ones utcp writes (LINKTYPE_RAW) and the
//! ones tcpdump writes (Ethernet, Linux cooked SLL and SLL2, BSD loopback).
//! Each record comes back as the IPv4 packet it carries, or is skipped.

/// One captured IPv4 packet, with its time in microseconds since the epoch
/// of the capture and its bytes (possibly cut short by the snap length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub micros: u64,
    pub ip: Vec<u8>,
}

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_IPV4: u32 = 228;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// Parse a whole capture file. Records that carry no IPv4 packet (ARP,
/// IPv6, ...) are skipped; a file cut off mid-record keeps what came before.
pub fn read(file: &[u8]) -> Result<Vec<Record>, String> {
    if file.len() < 24 {
        return Err("not a pcap file: shorter than the 24-byte header".into());
    }
    let magic = [file[0], file[1], file[2], file[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            return Err("this is a pcapng file; write classic pcap (tcpdump -w does; or convert with `editcap -F pcap`)".into())
        }
        _ => return Err("not a pcap file: unknown magic number".into()),
    };
    let u32_at = |at: usize| -> u32 {
        let b = [file[at], file[at + 1], file[at + 2], file[at + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    // The link type is the low 16 bits (the upper ones hold FCS flags).
    let linktype = u32_at(20) & 0xffff;
    if !matches!(
        linktype,
        LINKTYPE_NULL
            | LINKTYPE_ETHERNET
            | LINKTYPE_RAW
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_LINUX_SLL2
    ) {
        return Err(format!(
            "link type {linktype} is not read here (raw IP 101/228, Ethernet 1, Linux SLL 113, SLL2 276, BSD loopback 0)"
        ));
    }
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= file.len() {
        let secs = u64::from(u32_at(at));
        let frac = u64::from(u32_at(at + 4));
        let incl = u32_at(at + 8) as usize;
        at += 16;
        let Some(data) = file.get(at..at + incl) else {
            break;
        };
        at += incl;
        let micros = secs * 1_000_000 + if nanos { frac / 1000 } else { frac };
        if let Some(ip) = ipv4_payload(linktype, data) {
            out.push(Record {
                micros,
                ip: ip.to_vec(),
            });
        }
    }
    Ok(out)
}

/// The IPv4 packet inside one link-layer frame, if it holds one.
fn ipv4_payload(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let be16 = |b: &[u8], at: usize| b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]));
    let ip = match linktype {
        LINKTYPE_RAW | LINKTYPE_IPV4 => frame,
        LINKTYPE_ETHERNET => {
            let mut off = 12;
            let mut ty = be16(frame, off)?;
            while ty == ETHERTYPE_VLAN {
                off += 4;
                ty = be16(frame, off)?;
            }
            (ty == ETHERTYPE_IPV4).then_some(())?;
            frame.get(off + 2..)?
        }
        LINKTYPE_LINUX_SLL => {
            (be16(frame, 14)? == ETHERTYPE_IPV4).then_some(())?;
            frame.get(16..)?
        }
        LINKTYPE_LINUX_SLL2 => {
            (be16(frame, 0)? == ETHERTYPE_IPV4).then_some(())?;
            frame.get(20..)?
        }
        LINKTYPE_NULL => {
            // The address family, in the byte order of the machine that
            // wrote it: AF_INET is 2 everywhere.
            let fam = frame.get(..4)?;
            (fam == [2, 0, 0, 0] || fam == [0, 0, 0, 2]).then_some(())?;
            &frame[4..]
        }
        _ => return None,
    };
    (ip.first()? >> 4 == 4).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(linktype: u32, frames: &[&[u8]], big_endian: bool) -> Vec<u8> {
        let put = |v: &mut Vec<u8>, x: u32| {
            if big_endian {
                v.extend_from_slice(&x.to_be_bytes())
            } else {
                v.extend_from_slice(&x.to_le_bytes())
            }
        };
        let mut v = Vec::new();
        put(&mut v, 0xa1b2_c3d4);
        let (maj, min) = (2u16, 4u16);
        if big_endian {
            v.extend_from_slice(&maj.to_be_bytes());
            v.extend_from_slice(&min.to_be_bytes());
        } else {
            v.extend_from_slice(&maj.to_le_bytes());
            v.extend_from_slice(&min.to_le_bytes());
        }
        put(&mut v, 0);
        put(&mut v, 0);
        put(&mut v, 65535);
        put(&mut v, linktype);
        for (i, f) in frames.iter().enumerate() {
            put(&mut v, 7);
            put(&mut v, i as u32);
            put(&mut v, f.len() as u32);
            put(&mut v, f.len() as u32);
            v.extend_from_slice(f);
        }
        v
    }

    const IP: &[u8] = &[
        0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    #[test]
    fn raw_ip_either_byte_order() {
        for be in [false, true] {
            let recs = read(&file(LINKTYPE_RAW, &[IP, IP], be)).unwrap();
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[1].micros, 7_000_001);
            assert_eq!(recs[0].ip, IP);
        }
    }

    #[test]
    fn link_headers_are_stripped_and_other_protocols_skipped() {
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(IP);
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 0]);
        let recs = read(&file(LINKTYPE_ETHERNET, &[&eth, &arp], false)).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].ip, IP);

        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(IP);
        assert_eq!(
            read(&file(LINKTYPE_LINUX_SLL, &[&sll], false)).unwrap()[0].ip,
            IP
        );

        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(IP);
        assert_eq!(
            read(&file(LINKTYPE_LINUX_SLL2, &[&sll2], false)).unwrap()[0].ip,
            IP
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(read(b"short").unwrap_err().contains("24-byte"));
        assert!(read(&[
            0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ])
        .unwrap_err()
        .contains("pcapng"));
        assert!(read(&file(147, &[], false))
            .unwrap_err()
            .contains("link type 147"));
        // A record cut off at the end: the whole ones before it are kept.
        let mut f = file(LINKTYPE_RAW, &[IP, IP], false);
        f.truncate(f.len() - 3);
        assert_eq!(read(&f).unwrap().len(), 1);
    }
}
