//! TCP_INFO in Linux's `struct tcp_info` layout (linux/tcp.h).

use utcp_core::stack::TcpInfo;
use utcp_core::tcp::State;

/// Linux's struct is 232 bytes today; the fields utcp fills end at 104.
const LINUX_SIZE: usize = 232;

/// Write `info` into `out` as Linux would; returns the length reported.
pub fn encode(info: &TcpInfo, state: Option<State>, out: &mut [u8]) -> usize {
    let mut b = [0u8; LINUX_SIZE];
    b[0] = state.map_or(7, |s| s.linux_number());
    b[2] = info.retransmits.min(255) as u8;
    let mut opts = 0u8;
    if info.options_ts {
        opts |= 1;
    }
    if info.options_sack {
        opts |= 2;
    }
    if info.options_wscale {
        opts |= 4;
    }
    b[5] = opts;
    b[6] = (info.snd_wscale & 0xf) | (info.rcv_wscale << 4);
    let mut put = |off: usize, v: u64| b[off..off + 4].copy_from_slice(&(v.min(u32::MAX as u64) as u32).to_ne_bytes());
    put(8, info.rto_us);
    put(16, info.snd_mss as u64);
    put(20, info.rcv_mss as u64);
    put(24, info.unacked as u64);
    put(68, info.rtt_us);
    put(72, info.rttvar_us);
    put(76, info.snd_ssthresh as u64);
    put(80, info.snd_cwnd as u64);
    put(84, info.snd_mss as u64);
    put(100, info.total_retrans);
    let n = out.len().min(LINUX_SIZE);
    out[..n].copy_from_slice(&b[..n]);
    n
}
