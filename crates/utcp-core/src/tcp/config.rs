//! Per-connection settings. Defaults mirror Linux where the RFCs leave a
//! choice, so a comparison with kernel TCP shows real differences only.

use super::rtt::RtoConfig;
use core::time::Duration;

/// SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub count: u32,
}

impl Default for Keepalive {
    /// Linux: tcp_keepalive_time 7200 s, tcp_keepalive_intvl 75 s, tcp_keepalive_probes 9.
    fn default() -> Self {
        Keepalive { idle: Duration::from_secs(7200), interval: Duration::from_secs(75), count: 9 }
    }
}

/// What the device does for the stack (a TUN with the virtio-net header
/// and TUNSETOFFLOAD). The engine only shapes its packets for it; the
/// runtime negotiates it and fills in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// The device completes TCP checksums (virtio-net NEEDS_CSUM): outgoing
    /// segments carry only the pseudo-header sum, and received segments
    /// the device vouches for are not summed again.
    pub checksum: bool,
    /// The device cuts a TCP super-segment of up to 64 KB into MSS-sized
    /// segments (TSO, virtio-net GSO_TCPV4). Needs `checksum`: Linux takes
    /// GSO packets from a TUN only with a partial checksum.
    pub tso: bool,
}

#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// The MSS we advertise: device MTU - 40.
    pub mss: u16,
    pub send_buf: usize,
    pub recv_buf: usize,
    /// Largest receive buffer the socket may grow to; sets our window scale.
    pub max_recv_buf: usize,
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    pub rto: RtoConfig,
    /// Linux: tcp_syn_retries 6 (the SYN is sent 7 times, ~127 s).
    pub syn_retries: u32,
    /// Linux: tcp_synack_retries 5.
    pub synack_retries: u32,
    /// Linux: tcp_retries2 15 consecutive RTOs on an established connection.
    pub data_retries: u32,
    /// TIME-WAIT length, 2*MSL. Linux: TCP_TIMEWAIT_LEN 60 s.
    pub time_wait: Duration,
    /// How long an orphaned FIN-WAIT-2 waits. Linux: tcp_fin_timeout 60 s.
    pub fin_wait2_timeout: Duration,
    /// Linux: TCP_DELACK_MIN 40 ms.
    pub delayed_ack: Duration,
    pub nodelay: bool,
    pub cork: bool,
    pub keepalive: Option<Keepalive>,
    /// Congestion control by Linux's TCP_CONGESTION name.
    pub congestion: super::cc::CcKind,
    /// The device's offloads (the stack copies `StackConfig::offload`).
    pub offload: Offload,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            // Linux: tcp_wmem[1] 16 KiB and tcp_rmem[1] 128 KiB grow with
            // autotuning; utcp starts at sizes that fill a fast local path.
            send_buf: 256 * 1024,
            recv_buf: 256 * 1024,
            // Linux: tcp_rmem[2] 6 MiB, which gives window scale 7.
            max_recv_buf: 6 * 1024 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            rto: RtoConfig::default(),
            syn_retries: 6,
            synack_retries: 5,
            data_retries: 15,
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            delayed_ack: Duration::from_millis(40),
            nodelay: false,
            cork: false,
            keepalive: None,
            congestion: super::cc::DEFAULT_CC_KIND,
            offload: Offload::default(),
        }
    }
}

impl TcpConfig {
    /// Our window-scale shift: the smallest that lets the largest receive
    /// buffer be advertised in 16 bits (RFC 7323 §2.3, at most 14).
    pub fn window_shift(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.max_recv_buf >> shift) > 65535 {
            shift += 1;
        }
        shift
    }
}
