//! The TUN device: our own open (raw syscalls, so our hooks never see it),
//! created and configured when the process may (CAP_NET_ADMIN, e.g. root
//! in a network namespace), or joined when it exists already.

use crate::sys;
use core::ffi::c_int;
use core::net::Ipv4Addr;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;

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
        let mut req = IfReqFlags { name: ifname(name), flags: IFF_TUN | IFF_NO_PI, _pad: [0; 22] };
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
    Ok(Tun { fd, name: name.to_string(), peer, prefix, addr, mtu: cfg.mtu })
}
