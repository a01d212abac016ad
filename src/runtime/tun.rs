//! The TUN device: our own open (raw syscalls, so our hooks never see it),
//! created and configured when the process may (CAP_NET_ADMIN, e.g. root
//! in a network namespace), or joined when it exists already.
//!
//! # Offloads (UTCP_OFFLOAD, on by default)
//!
//! With IFF_VNET_HDR every packet in either direction is preceded by a
//! virtio-net header (linux/virtio_net.h), and TUNSETOFFLOAD(TUN_F_CSUM |
//! TUN_F_TSO4) lets both sides skip work: the kernel hands us TCP
//! super-packets of up to 64 KB (its senders' GSO) with the checksum left
//! partial (NEEDS_CSUM) or already checked (DATA_VALID), and takes from us
//! super-segments with gso_size = MSS and partial checksums, which it cuts
//! and completes itself only if the packet leaves through a device that
//! cannot. One syscall then moves up to 45 segments' worth of data, where
//! the per-packet cost of the TUN (a write runs the kernel's receive path,
//! about 4 µs) was the limit.

use crate::sys;
use core::ffi::c_int;
use core::net::Ipv4Addr;
use utcp_core::stack::{Offload, Stack, Transmit};
use utcp_core::Instant;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// _IOW('T', 208, unsigned int): the offloads the reader can take.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// _IOW('T', 216, int): the size of the header before each packet.
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUN_F_CSUM: libc::c_ulong = 0x01;
const TUN_F_TSO4: libc::c_ulong = 0x02;

/// struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start,
/// csum_offset. The 12-byte variant adds num_buffers, which a TUN ignores.
pub const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// Where the TCP checksum field sits in the TCP header (RFC 9293 §3.1).
const TCP_CSUM_OFFSET: u16 = 16;
/// The largest frame a read can return: a 64 KB packet and its header.
/// A shorter buffer would truncate a super-packet silently.
pub const MAX_FRAME: usize = 65536 + VNET_HDR_LEN;

/// An open TUN device and the addresses on its two sides.
#[derive(Debug)]
pub struct Tun {
    pub fd: c_int,
    pub name: String,
    /// The kernel's address on the device (the stack's gateway).
    pub peer: Ipv4Addr,
    pub prefix: u8,
    /// utcp's address.
    pub addr: Ipv4Addr,
    pub mtu: usize,
    /// Each packet is preceded by a virtio-net header.
    pub vnet_hdr: bool,
    /// What the device does for the stack (with `vnet_hdr` only).
    pub offload: Offload,
}

#[repr(C)]
struct IfReqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

#[repr(C)]
struct IfReqAddr {
    name: [u8; libc::IFNAMSIZ],
    addr: libc::sockaddr_in,
    _pad: [u8; 8],
}

#[repr(C)]
struct IfReqInt {
    name: [u8; libc::IFNAMSIZ],
    value: c_int,
    _pad: [u8; 20],
}

fn ifname(name: &str) -> [u8; libc::IFNAMSIZ] {
    let mut n = [0u8; libc::IFNAMSIZ];
    let b = name.as_bytes();
    let len = b.len().min(libc::IFNAMSIZ - 1);
    n[..len].copy_from_slice(&b[..len]);
    n
}

fn sockaddr(ip: Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
        sin_zero: [0; 8],
    }
}

fn errstr(e: c_int) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// What went wrong, as the line to print: it says what to run.
pub fn open(cfg: &super::config::Config) -> Result<Tun, String> {
    let fd = match sys::open(c"/dev/net/tun", libc::O_RDWR | libc::O_NONBLOCK) {
        Ok(fd) => fd,
        Err(libc::ENOENT) => {
            return Err("utcp: /dev/net/tun does not exist: load the tun module (modprobe tun) or create the node (mknod /dev/net/tun c 10 200)".into())
        }
        Err(e) => return Err(format!("utcp: cannot open /dev/net/tun: {}; run as root, or inside `unshare -rn` / `utcp run`", errstr(e))),
    };
    let names: Vec<String> = match &cfg.dev {
        Some(d) => vec![d.clone()],
        None => (0..64).map(|n| format!("utcp{n}")).collect(),
    };
    let mut last_err = 0;
    for (index, name) in names.iter().enumerate() {
        let vnet = if cfg.offload { IFF_VNET_HDR } else { 0 };
        let mut req = IfReqFlags { name: ifname(name), flags: IFF_TUN | IFF_NO_PI | vnet, _pad: [0; 22] };
        match sys::ioctl(fd, TUNSETIFF, &mut req as *mut _ as *mut libc::c_void) {
            Ok(_) => return configure(fd, name, index, cfg),
            // Attached to another process: try the next name.
            Err(libc::EBUSY) if cfg.dev.is_none() => last_err = libc::EBUSY,
            Err(e) => {
                let _ = sys::close(fd);
                return Err(match e {
                    libc::EPERM => format!("utcp: no permission to create TUN device {name}: run as root in a network namespace (scripts/netns, `unshare -rn`) or create it first: ip tuntap add {name} mode tun user $(id -u)"),
                    libc::EBUSY => format!("utcp: TUN device {name} (UTCP_DEV) is in use by another process"),
                    _ => format!("utcp: cannot attach TUN device {name}: {}", errstr(e)),
                });
            }
        }
    }
    let _ = sys::close(fd);
    Err(format!("utcp: no free TUN device utcp0..utcp63: {}", errstr(last_err)))
}

fn configure(fd: c_int, name: &str, index: usize, cfg: &super::config::Config) -> Result<Tun, String> {
    let ctl = sys::kernel_socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        .map_err(|e| format!("utcp: cannot make a control socket: {}", errstr(e)))?;
    let result = configure_with(ctl, fd, name, index, cfg);
    let _ = sys::close(ctl);
    if result.is_err() {
        let _ = sys::close(fd);
    }
    result
}

fn configure_with(ctl: c_int, fd: c_int, name: &str, index: usize, cfg: &super::config::Config) -> Result<Tun, String> {
    let fail = |what: &str, e: c_int| format!("utcp: cannot {what} on {name}: {}", errstr(e));
    // An existing device keeps the address it has, unless UTCP_PEER says otherwise.
    let mut areq = IfReqAddr { name: ifname(name), addr: sockaddr(Ipv4Addr::UNSPECIFIED), _pad: [0; 8] };
    let existing = sys::ioctl(ctl, libc::SIOCGIFADDR, &mut areq as *mut _ as *mut libc::c_void)
        .ok()
        .map(|_| Ipv4Addr::from(u32::from_be(areq.addr.sin_addr.s_addr)));
    let (peer, prefix) = match (cfg.peer, existing) {
        (Some(p), _) => p,
        (None, Some(a)) => {
            let mut mreq = IfReqAddr { name: ifname(name), addr: sockaddr(Ipv4Addr::UNSPECIFIED), _pad: [0; 8] };
            let prefix = sys::ioctl(ctl, libc::SIOCGIFNETMASK, &mut mreq as *mut _ as *mut libc::c_void)
                .map(|_| u32::from_be(mreq.addr.sin_addr.s_addr).count_ones() as u8)
                .unwrap_or(24);
            (a, prefix)
        }
        (None, None) => (Ipv4Addr::new(198, 18, index as u8, 1), 24),
    };
    if existing != Some(peer) {
        let mut req = IfReqAddr { name: ifname(name), addr: sockaddr(peer), _pad: [0; 8] };
        sys::ioctl(ctl, libc::SIOCSIFADDR, &mut req as *mut _ as *mut libc::c_void).map_err(|e| fail("set the address", e))?;
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) };
        let mut req = IfReqAddr { name: ifname(name), addr: sockaddr(Ipv4Addr::from(mask)), _pad: [0; 8] };
        sys::ioctl(ctl, libc::SIOCSIFNETMASK, &mut req as *mut _ as *mut libc::c_void).map_err(|e| fail("set the netmask", e))?;
    }
    let mut req = IfReqInt { name: ifname(name), value: cfg.mtu as c_int, _pad: [0; 20] };
    sys::ioctl(ctl, libc::SIOCSIFMTU, &mut req as *mut _ as *mut libc::c_void).map_err(|e| fail("set the MTU", e))?;
    let mut req = IfReqFlags { name: ifname(name), flags: 0, _pad: [0; 22] };
    sys::ioctl(ctl, libc::SIOCGIFFLAGS, &mut req as *mut _ as *mut libc::c_void).map_err(|e| fail("read the flags", e))?;
    req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    sys::ioctl(ctl, libc::SIOCSIFFLAGS, &mut req as *mut _ as *mut libc::c_void).map_err(|e| fail("bring the device up", e))?;
    let mut txq = IfReqInt { name: ifname(name), value: 10_000, _pad: [0; 20] };
    // A longer queue than the default 500 keeps bursts from being dropped.
    let _ = sys::ioctl(ctl, libc::SIOCSIFTXQLEN, &mut txq as *mut _ as *mut libc::c_void);
    let addr = cfg.addr.unwrap_or_else(|| Ipv4Addr::from(u32::from(peer) + 1));
    if addr == peer {
        return Err(format!("utcp: UTCP_ADDR={addr} is the kernel's own address on {name}; pick another in its subnet"));
    }
    let offload = if cfg.offload {
        negotiate(fd).map_err(|e| fail("set up the virtio-net header", e))?
    } else {
        // The offloads are the device's, not the reader's: a persistent
        // device keeps those an earlier reader asked for, and would go on
        // sending super-packets with partial checksums.
        let _ = sys::ioctl(fd, TUNSETOFFLOAD, core::ptr::null_mut());
        Offload::default()
    };
    Ok(Tun { fd, name: name.to_string(), peer, prefix, addr, mtu: cfg.mtu, vnet_hdr: cfg.offload, offload })
}

/// Fix the header size (a persistent device keeps what an earlier user
/// set) and ask for checksum and TCPv4 segmentation offload. A kernel
/// that refuses the offloads still speaks the header: no offload then.
fn negotiate(fd: c_int) -> Result<Offload, c_int> {
    let mut size = VNET_HDR_LEN as c_int;
    sys::ioctl(fd, TUNSETVNETHDRSZ, &mut size as *mut c_int as *mut libc::c_void)?;
    // TUNSETOFFLOAD takes its flags as the argument itself, not a pointer.
    match sys::ioctl(fd, TUNSETOFFLOAD, (TUN_F_CSUM | TUN_F_TSO4) as *mut libc::c_void) {
        Ok(_) => Ok(Offload { checksum: true, tso: true }),
        Err(_) => Ok(Offload::default()),
    }
}

/// Hand one frame read from the device to the stack. With the header, a
/// packet whose checksum the kernel left partial (a local sender) or
/// checked already is received as trusted; it may be a super-packet
/// larger than the MTU, which the stack takes as one large segment.
pub fn deliver(stack: &mut Stack, now: Instant, frame: &[u8], vnet_hdr: bool) {
    if !vnet_hdr {
        return stack.receive(now, frame);
    }
    let Some((hdr, packet)) = frame.split_at_checked(VNET_HDR_LEN) else { return };
    if hdr[0] & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID) != 0 {
        stack.receive_trusted(now, packet)
    } else {
        stack.receive(now, packet)
    }
}

/// Room to leave before a packet for the header.
pub fn headroom(vnet_hdr: bool) -> usize {
    if vnet_hdr {
        VNET_HDR_LEN
    } else {
        0
    }
}

/// Fill in the header for `t`, whose packet follows it in `frame`, and
/// return the frame's length. The fields are in native byte order (the
/// legacy virtio layout a TUN uses unless told otherwise).
pub fn frame(frame: &mut [u8], vnet_hdr: bool, t: Transmit) -> usize {
    if !vnet_hdr {
        return t.len;
    }
    let (hdr, packet) = frame.split_at_mut(VNET_HDR_LEN);
    hdr.fill(0);
    if t.partial_checksum {
        // The checksum covers the TCP header onwards (csum_start).
        let ihl = ((packet[0] & 0x0f) as u16) * 4;
        hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr[6..8].copy_from_slice(&ihl.to_ne_bytes());
        hdr[8..10].copy_from_slice(&TCP_CSUM_OFFSET.to_ne_bytes());
        if let Some(size) = t.segment_size {
            let tcp_hlen = ((packet[ihl as usize + 12] >> 4) as u16) * 4;
            hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
            // hdr_len: the headers copied into every piece.
            hdr[2..4].copy_from_slice(&(ihl + tcp_hlen).to_ne_bytes());
            hdr[4..6].copy_from_slice(&size.to_ne_bytes());
        }
    }
    VNET_HDR_LEN + t.len
}

#[cfg(test)]
mod tests {
    use super::*;
    use utcp_core::stack::StackConfig;

    /// A 20-byte IPv4 header and a 32-byte TCP header (data offset 8).
    fn packet() -> Vec<u8> {
        let mut p = vec![0u8; 20 + 32 + 3000];
        p[0] = 0x45;
        p[20 + 12] = 8 << 4;
        p
    }

    #[test]
    fn a_super_segment_gets_needs_csum_and_gso_tcpv4() {
        let mut f = vec![0u8; VNET_HDR_LEN];
        f.extend(packet());
        let t = Transmit { len: f.len() - VNET_HDR_LEN, segment_size: Some(1448), partial_checksum: true };
        assert_eq!(frame(&mut f, true, t), f.len());
        let u16_at = |i: usize| u16::from_ne_bytes([f[i], f[i + 1]]);
        assert_eq!((f[0], f[1]), (VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4));
        assert_eq!((u16_at(2), u16_at(4), u16_at(6), u16_at(8)), (52, 1448, 20, 16));
    }

    #[test]
    fn a_full_checksum_packet_gets_an_empty_header() {
        let mut f = vec![0xffu8; VNET_HDR_LEN];
        f.extend(packet());
        let t = Transmit { len: f.len() - VNET_HDR_LEN, segment_size: None, partial_checksum: false };
        frame(&mut f, true, t);
        assert_eq!(&f[..VNET_HDR_LEN], &[0; VNET_HDR_LEN]);
        assert_eq!(frame(&mut f, false, t), t.len);
    }

    #[test]
    fn only_a_vouched_for_checksum_skips_verification() {
        // A SYN with a partial checksum, as the kernel hands it over.
        let mut stack = Stack::new(StackConfig::new(Ipv4Addr::new(198, 18, 0, 2)));
        let mut p = packet();
        p.truncate(40);
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[9] = 6;
        p[12..16].copy_from_slice(&[198, 18, 0, 1]);
        p[16..20].copy_from_slice(&[198, 18, 0, 2]);
        let c = utcp_core::wire::checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[20..24].copy_from_slice(&[0x9c, 0x40, 0x1f, 0x40]);
        p[32] = 5 << 4;
        p[33] = 0x02;
        let mut f = vec![0u8; VNET_HDR_LEN];
        f.extend(&p);
        deliver(&mut stack, Instant::ZERO, &f, true);
        assert_eq!(stack.stats().drops(utcp_core::stack::DropReason::BadTcpChecksum), 1);
        f[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        deliver(&mut stack, Instant::ZERO, &f, true);
        // No listener: the SYN reached TCP and was refused, not dropped as corrupt.
        assert_eq!(stack.stats().drops(utcp_core::stack::DropReason::BadTcpChecksum), 1);
        assert_eq!(stack.stats().drops(utcp_core::stack::DropReason::NoSocket), 1);
    }
}
