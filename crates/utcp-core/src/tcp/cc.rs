//! Congestion control: how much unacknowledged data the network may hold.
//!
//! Algorithms sit behind [`CongestionControl`] and count in bytes. They own
//! `cwnd` and `ssthresh` only; loss detection, the recovery state machine and
//! the fast-recovery window inflation belong to the connection, which calls
//! the hooks below at the points RFC 5681 §3 and RFC 6582 §3.2 name.
//!
//! # What the caller does
//!
//! Let `flight` be the bytes sent and not yet cumulatively acknowledged
//! (RFC 5681 FlightSize), measured *before* the ACK being processed removes
//! anything, unless a hook says otherwise.
//!
//! - **Handshake.** After the SYN exchange call [`set_mss`] with the
//!   negotiated MSS. Each SYN or SYN-ACK retransmission calls
//!   [`on_syn_retransmit`], *not* [`on_rto`]: the handshake is not
//!   congestion-controlled, it only shrinks the initial window.
//! - **New data ACKed, not in recovery.** Call [`on_ack`] with the bytes
//!   newly acknowledged and the RTT sample taken from this ACK, if Karn's
//!   rule allowed one. Linux grows cwnd only while the sender is
//!   cwnd-limited (`tcp_is_cwnd_limited`, RFC 7661): when the flight before
//!   the ACK was below cwnd because the application had nothing to send,
//!   skip the call.
//! - **Entering fast recovery** (third duplicate ACK, or SACK-based loss
//!   detection, and the ACK is above `recover`: RFC 6582 §3.2 step 2). Set
//!   `recover` to the highest sequence number sent, call
//!   [`on_congestion_event`] with `flight`, retransmit the first unacked
//!   segment, and from now on send against a *recovery window* of
//!   `cwnd() + 3*MSS` (RFC 5681 §3.2 step 3: the three segments that left
//!   the network). `cwnd()` itself is not inflated.
//! - **Each further duplicate ACK in recovery:** recovery window += MSS
//!   (RFC 5681 §3.2 step 4).
//! - **Partial ACK** (new data, not all of it up to `recover`: RFC 6582
//!   §3.2 step 3): retransmit the first unacked segment; recovery window
//!   -= bytes newly acked (saturating), then += MSS if at least one MSS was
//!   acked, so roughly one segment's worth of new data follows the
//!   retransmission. Do not call [`on_ack`]; the first partial ACK also
//!   re-arms the retransmission timer.
//! - **Full ACK** (covers `recover`): call [`on_recovery_exit`] with the
//!   flight *after* this ACK, drop the recovery window and send against
//!   `cwnd()` again. Do not call [`on_ack`] for this ACK.
//! - **Retransmission timeout:** call [`on_rto`] with `flight`, leave fast
//!   recovery if in it and set `recover` to the highest sequence sent
//!   (RFC 6582 §3.2 step 4). Repeated timeouts with no new data acked in
//!   between keep ssthresh (RFC 5681 §3.1); the algorithm tracks that.
//! - **Spurious timeout or fast retransmit** (RFC 3522 detection): call
//!   [`undo`] with the ssthresh and cwnd to resume from (RFC 4015 §4
//!   after a timeout; Linux's tcp_undo_cwnd_reduction after recovery).
//! - **Sending after idle:** before sending new data with nothing in flight,
//!   call [`on_idle`] with the time since the last data segment was sent and
//!   the current RTO (Linux: `tcp_slow_start_after_idle_check` and
//!   `CA_EVENT_TX_START`).
//!
//! [`set_mss`]: CongestionControl::set_mss
//! [`on_syn_retransmit`]: CongestionControl::on_syn_retransmit
//! [`on_ack`]: CongestionControl::on_ack
//! [`on_congestion_event`]: CongestionControl::on_congestion_event
//! [`on_recovery_exit`]: CongestionControl::on_recovery_exit
//! [`on_rto`]: CongestionControl::on_rto
//! [`on_idle`]: CongestionControl::on_idle
//! [`undo`]: CongestionControl::undo

use core::time::Duration;

use crate::time::Instant;

mod cubic;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

/// The algorithm a connection gets unless it asks for another.
/// Linux defaults to "cubic"; the project's plan makes NewReno the first
/// target because it is the RFC 5681/6582 baseline every kernel comparison
/// can reproduce (`sysctl net.ipv4.tcp_congestion_control=reno`), so it is
/// our default until the connection's loss recovery is proven against it.
pub const DEFAULT_CC: &str = "reno";

/// [`DEFAULT_CC`] as a kind.
pub const DEFAULT_CC_KIND: CcKind = CcKind::Reno;

/// Initial window in segments (RFC 6928 §2; Linux `TCP_INIT_CWND`).
/// Linux uses 10 segments whatever the MSS, without RFC 6928's
/// 14600-byte cap; we follow Linux (the two agree for MSS 1460).
pub const INITIAL_WINDOW_SEGMENTS: usize = 10;

/// ssthresh before the first congestion event: "arbitrarily high"
/// (RFC 5681 §3.1). Linux's TCP_INFINITE_SSTHRESH is 0x7fffffff segments.
pub const INFINITE_SSTHRESH: usize = usize::MAX;

/// Appropriate byte counting limit L, in segments (RFC 3465 §2.2: L = 2).
/// Linux counts every acked segment in slow start with no limit; with an
/// ACK every two segments the two agree, they differ on stretch ACKs.
const ABC_LIMIT_SEGMENTS: usize = 2;

/// A congestion control algorithm, counting in bytes.
pub trait CongestionControl: core::fmt::Debug + Send {
    /// Linux's TCP_CONGESTION name: "reno", "cubic".
    fn name(&self) -> &'static str;

    /// The congestion window in bytes (not inflated by fast recovery).
    fn cwnd(&self) -> usize;

    /// The slow start threshold in bytes; [`INFINITE_SSTHRESH`] until the
    /// first congestion event.
    fn ssthresh(&self) -> usize;

    /// The sender's MSS after the handshake. If nothing has been acked or
    /// lost yet, cwnd becomes the initial window for this MSS (RFC 6928).
    /// Later calls (path MTU changes) keep cwnd, raised to one MSS.
    fn set_mss(&mut self, mss: usize);

    /// A SYN or SYN-ACK was retransmitted. RFC 5681 §3.1 and RFC 6298 §5.7
    /// then require an initial window of one segment.
    fn on_syn_retransmit(&mut self);

    /// New data cumulatively acknowledged outside fast recovery: slow start
    /// or congestion avoidance (RFC 5681 §3.1). `rtt` is this ACK's RTT
    /// sample, if Karn's rule allowed one.
    fn on_ack(&mut self, now: Instant, bytes_acked: usize, rtt: Option<Duration>);

    /// Loss detected by duplicate ACKs or SACK: fast recovery starts
    /// (RFC 5681 §3.2 step 2, RFC 6582 §3.2 step 2). Sets ssthresh and
    /// cwnd; the caller adds the 3*MSS inflation to its own recovery window.
    fn on_congestion_event(&mut self, now: Instant, flight_size: usize);

    /// Fast recovery ends with a full ACK (RFC 6582 §3.2 step 3);
    /// `flight_size` is measured after that ACK.
    fn on_recovery_exit(&mut self, now: Instant, flight_size: usize);

    /// The retransmission timer expired (RFC 5681 §3.1).
    fn on_rto(&mut self, now: Instant, flight_size: usize);

    /// The last timeout or fast recovery was spurious (RFC 3522): take
    /// these windows back, as if the reduction had not happened, and leave
    /// the state it put the algorithm in.
    fn undo(&mut self, now: Instant, ssthresh: usize, cwnd: usize);

    /// About to send new data with nothing in flight, `idle` after the last
    /// data segment was sent; `rto` is the current retransmission timeout.
    fn on_idle(&mut self, now: Instant, idle: Duration, rto: Duration);
}

/// An algorithm by kind: plain data, so that a connection holds no vtable
/// pointer (the stack may live in memory shared by processes running
/// different program images, where code addresses differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcKind {
    Reno,
    Cubic,
}

impl CcKind {
    /// By Linux's TCP_CONGESTION name.
    pub fn from_name(name: &str) -> Option<CcKind> {
        match name {
            "reno" => Some(CcKind::Reno),
            "cubic" => Some(CcKind::Cubic),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CcKind::Reno => "reno",
            CcKind::Cubic => "cubic",
        }
    }
}

/// One connection's congestion controller (an enum, not a trait object:
/// see [`CcKind`]).
#[derive(Debug)]
pub enum Cc {
    Reno(NewReno),
    Cubic(Cubic),
}

impl Cc {
    pub fn new(kind: CcKind, mss: usize) -> Cc {
        match kind {
            CcKind::Reno => Cc::Reno(NewReno::new(mss)),
            CcKind::Cubic => Cc::Cubic(Cubic::new(mss)),
        }
    }

    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Cc::Reno(c) => c,
            Cc::Cubic(c) => c,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Cc::Reno(c) => c,
            Cc::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Cc {
    fn name(&self) -> &'static str {
        self.inner().name()
    }
    fn cwnd(&self) -> usize {
        self.inner().cwnd()
    }
    fn ssthresh(&self) -> usize {
        self.inner().ssthresh()
    }
    fn set_mss(&mut self, mss: usize) {
        self.inner_mut().set_mss(mss)
    }
    fn on_syn_retransmit(&mut self) {
        self.inner_mut().on_syn_retransmit()
    }
    fn on_ack(&mut self, now: Instant, bytes_acked: usize, rtt: Option<Duration>) {
        self.inner_mut().on_ack(now, bytes_acked, rtt)
    }
    fn on_congestion_event(&mut self, now: Instant, flight_size: usize) {
        self.inner_mut().on_congestion_event(now, flight_size)
    }
    fn on_recovery_exit(&mut self, now: Instant, flight_size: usize) {
        self.inner_mut().on_recovery_exit(now, flight_size)
    }
    fn on_rto(&mut self, now: Instant, flight_size: usize) {
        self.inner_mut().on_rto(now, flight_size)
    }
    fn undo(&mut self, now: Instant, ssthresh: usize, cwnd: usize) {
        self.inner_mut().undo(now, ssthresh, cwnd)
    }
    fn on_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        self.inner_mut().on_idle(now, idle, rto)
    }
}

/// A congestion controller by its Linux name, starting with `mss`.
pub fn new_cc(name: &str, mss: usize) -> Option<Cc> {
    CcKind::from_name(name).map(|k| Cc::new(k, mss))
}

/// The state every algorithm shares: the windows, the slow start and the
/// Reno bookkeeping, in bytes.
#[derive(Clone, Debug)]
struct Window {
    mss: usize,
    cwnd: usize,
    ssthresh: usize,
    /// Bytes acked in congestion avoidance since cwnd last grew
    /// (RFC 5681 §3.1's byte counting; Linux `snd_cwnd_cnt`).
    ca_acked: usize,
    syn_retransmits: u32,
    /// Something has been acked or lost since the handshake, so `set_mss`
    /// must no longer reset cwnd to the initial window.
    started: bool,
    /// An RTO happened and no new data has been acked since.
    after_rto: bool,
}

impl Window {
    fn new(mss: usize) -> Self {
        let mss = mss.max(1);
        Window {
            mss,
            cwnd: INITIAL_WINDOW_SEGMENTS * mss,
            ssthresh: INFINITE_SSTHRESH,
            ca_acked: 0,
            syn_retransmits: 0,
            started: false,
            after_rto: false,
        }
    }

    fn initial_window(&self) -> usize {
        // Linux: `tcp_init_transfer` drops to one segment only after more
        // than one SYN/SYN-ACK retransmission, because the 1 s initial RTO
        // of RFC 6298 makes a single spurious one likely; RFC 5681 §3.1 asks
        // for one segment after any.
        if self.syn_retransmits > 1 {
            self.mss
        } else {
            INITIAL_WINDOW_SEGMENTS * self.mss
        }
    }

    fn set_mss(&mut self, mss: usize) {
        self.mss = mss.max(1);
        if self.started {
            self.cwnd = self.cwnd.max(self.mss);
        } else {
            self.cwnd = self.initial_window();
        }
    }

    fn on_syn_retransmit(&mut self) {
        self.syn_retransmits = self.syn_retransmits.saturating_add(1);
        if !self.started {
            self.cwnd = self.initial_window();
        }
    }

    /// ssthresh after a loss: never below 2*SMSS (RFC 5681 §3.1 eq. 4).
    fn loss_ssthresh(&self, reduced: usize) -> usize {
        reduced.max(2 * self.mss)
    }

    fn in_slow_start(&self) -> bool {
        // RFC 5681 §3.1: slow start while cwnd < ssthresh; at equality
        // either is allowed and, like Linux, we do congestion avoidance.
        self.cwnd < self.ssthresh
    }

    /// New data was acked: the window is in use, and a later RTO is no
    /// longer a repeated one for RFC 5681 §3.1's ssthresh rule.
    fn note_ack(&mut self) {
        self.started = true;
        self.after_rto = false;
    }

    /// Slow start with appropriate byte counting (RFC 3465 §2.2, L = 2*SMSS),
    /// stopping at ssthresh. Returns the acked bytes left over once cwnd
    /// reaches ssthresh, for congestion avoidance (Linux: `tcp_slow_start`
    /// returns them to `tcp_cong_avoid_ai` the same way).
    fn slow_start(&mut self, bytes_acked: usize) -> usize {
        let counted = bytes_acked.min(ABC_LIMIT_SEGMENTS * self.mss);
        let room = self.ssthresh - self.cwnd;
        if counted <= room {
            self.cwnd += counted;
            0
        } else {
            self.cwnd = self.ssthresh;
            counted - room
        }
    }

    /// Congestion avoidance by byte counting (RFC 5681 §3.1, RFC 3465 §2.1):
    /// one SMSS per cwnd of acknowledged bytes.
    fn reno_avoidance(&mut self, bytes_acked: usize) {
        self.ca_acked = self.ca_acked.saturating_add(bytes_acked);
        if self.ca_acked >= self.cwnd {
            // Linux: `tcp_cong_avoid_ai` credits every whole window an ACK
            // covers, so a stretch ACK does not lose growth.
            let windows = self.ca_acked / self.cwnd;
            self.ca_acked -= windows * self.cwnd;
            self.cwnd = self.cwnd.saturating_add(windows.saturating_mul(self.mss));
        }
    }

    /// RFC 5681 §3.2 step 2 with the given new ssthresh: cwnd = ssthresh.
    fn enter_recovery(&mut self, ssthresh: usize) {
        self.started = true;
        self.ssthresh = self.loss_ssthresh(ssthresh);
        self.cwnd = self.ssthresh;
        self.ca_acked = 0;
    }

    /// RFC 6582 §3.2 step 3, full acknowledgment, option (2): cwnd =
    /// ssthresh, also where RFC 6937 (PRR) ends. Linux:
    /// tcp_end_cwnd_reduction. Option (1), min(ssthresh, max(FlightSize,
    /// SMSS) + SMSS), avoids a burst of up to ssthresh when little is in
    /// flight (utcp does not pace), but at heavy loss little is always in
    /// flight when the full ACK comes (the rest was SACKed or lost): it
    /// left cwnd at two segments after every recovery, too few for the
    /// next loss to be found without a timeout (1 MiB up at 20 % loss and
    /// 100 us RTT: 33 instead of 22 virtual s in `tests/sim_loss.rs`).
    fn exit_recovery(&mut self, _flight_size: usize) {
        self.cwnd = self.ssthresh;
        self.ca_acked = 0;
    }

    /// RFC 5681 §3.1 on a timeout: ssthresh per eq. 4 (the reduced value
    /// given), cwnd = LW = 1 SMSS. Returns whether ssthresh was recomputed:
    /// "when ... the given segment has already been retransmitted by way of
    /// the retransmission timer at least once, the value of ssthresh is held
    /// constant", which we detect as an RTO with no new data acked since the
    /// previous one (Linux: `tcp_enter_loss` skips `ssthresh()` when already
    /// in Loss state with retransmissions outstanding).
    fn on_rto(&mut self, reduced_ssthresh: usize) -> bool {
        let first = !self.after_rto;
        if first {
            self.ssthresh = self.loss_ssthresh(reduced_ssthresh);
        }
        self.started = true;
        self.after_rto = true;
        self.cwnd = self.mss;
        self.ca_acked = 0;
        first
    }

    /// RFC 4015 §4: the reduction was spurious; a later real timeout is a
    /// first one again for RFC 5681 §3.1's ssthresh rule.
    fn undo(&mut self, ssthresh: usize, cwnd: usize) {
        self.ssthresh = ssthresh.max(2 * self.mss);
        self.cwnd = cwnd.max(self.mss);
        self.ca_acked = 0;
        self.after_rto = false;
    }

    /// Restart after idle (RFC 5681 §4.1): only after more than an RTO.
    fn restart_after_idle(&mut self, idle: Duration, rto: Duration) {
        if idle <= rto {
            return;
        }
        // RFC 2861 §3 / Linux `tcp_current_ssthresh`: remember 3/4 of the
        // window being given up, so slow start climbs back to it quickly.
        self.ssthresh = self.ssthresh.max(self.cwnd / 2 + self.cwnd / 4);
        // RFC 5681 §4.1: RW = min(IW, cwnd).
        let restart = self.initial_window().min(self.cwnd);
        // Linux: `tcp_cwnd_restart` halves cwnd once per RTO of idle time
        // beyond the first, down to RW, rather than dropping straight to RW
        // as RFC 5681 §4.1 says (RFC 7661 §4.3 discusses that middle ground).
        let mut cwnd = self.cwnd;
        let mut left = idle;
        while left > rto && cwnd > restart {
            left -= rto;
            cwnd /= 2;
        }
        self.cwnd = cwnd.max(restart);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_cc_knows_linux_names() {
        assert_eq!(new_cc("reno", 1460).unwrap().name(), "reno");
        assert_eq!(new_cc("cubic", 1460).unwrap().name(), "cubic");
        assert_eq!(new_cc(DEFAULT_CC, 1460).unwrap().name(), "reno");
        assert!(new_cc("bbr", 1460).is_none());
        let cc = new_cc("cubic", 1460).unwrap();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (14600, INFINITE_SSTHRESH));
    }
}
