//! NewReno's window: RFC 5681 slow start and congestion avoidance, the
//! RFC 6582 fast recovery adjustments, an RFC 6928 initial window.

use core::time::Duration;

use super::{CongestionControl, Window};
use crate::time::Instant;

#[derive(Clone, Debug)]
pub struct NewReno {
    w: Window,
}

impl NewReno {
    pub fn new(mss: usize) -> Self {
        NewReno { w: Window::new(mss) }
    }
}

impl CongestionControl for NewReno {
    fn name(&self) -> &'static str {
        "reno"
    }

    fn cwnd(&self) -> usize {
        self.w.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.w.ssthresh
    }

    fn set_mss(&mut self, mss: usize) {
        self.w.set_mss(mss);
    }

    fn on_syn_retransmit(&mut self) {
        self.w.on_syn_retransmit();
    }

    fn on_ack(&mut self, _now: Instant, bytes_acked: usize, _rtt: Option<Duration>) {
        self.w.note_ack();
        let mut bytes = bytes_acked;
        if self.w.in_slow_start() {
            bytes = self.w.slow_start(bytes);
        }
        if bytes > 0 {
            self.w.reno_avoidance(bytes);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight_size: usize) {
        // RFC 5681 §3.2 step 2 (eq. 4): ssthresh = max(FlightSize/2, 2*SMSS).
        // Linux's reno halves cwnd instead (`tcp_reno_ssthresh`); the two
        // agree while the sender is cwnd-limited, which the caller ensures
        // by not growing cwnd otherwise.
        self.w.enter_recovery(flight_size / 2);
    }

    fn on_recovery_exit(&mut self, _now: Instant, flight_size: usize) {
        self.w.exit_recovery(flight_size);
    }

    fn on_rto(&mut self, _now: Instant, flight_size: usize) {
        // RFC 5681 §3.1 eq. 4, then cwnd = LW = 1 SMSS.
        self.w.on_rto(flight_size / 2);
    }

    fn undo(&mut self, _now: Instant, ssthresh: usize, cwnd: usize) {
        self.w.undo(ssthresh, cwnd);
    }

    fn on_idle(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        self.w.restart_after_idle(idle, rto);
    }
}

#[cfg(test)]
mod tests {
    use super::super::INFINITE_SSTHRESH;
    use super::*;

    const MSS: usize = 1000;
    const T: Instant = Instant::ZERO;

    fn reno() -> NewReno {
        NewReno::new(MSS)
    }

    /// Acks `total` bytes in ACKs of `per_ack` bytes.
    fn ack_in(cc: &mut NewReno, total: usize, per_ack: usize) {
        for _ in 0..total / per_ack {
            cc.on_ack(T, per_ack, None);
        }
    }

    /// A NewReno in congestion avoidance with cwnd = ssthresh = `cwnd`.
    fn in_avoidance(cwnd: usize) -> NewReno {
        let mut cc = reno();
        cc.on_congestion_event(T, 2 * cwnd);
        cc.on_recovery_exit(T, 2 * cwnd);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (cwnd, cwnd));
        cc
    }

    #[test]
    fn initial_window_is_ten_segments() {
        // RFC 6928 §2.
        let cc = NewReno::new(1460);
        assert_eq!(cc.cwnd(), 14_600);
        assert_eq!(cc.ssthresh(), INFINITE_SSTHRESH);
        assert_eq!(cc.name(), "reno");
    }

    #[test]
    fn set_mss_resets_iw_only_before_anything_is_acked() {
        let mut cc = NewReno::new(536);
        cc.set_mss(1460);
        assert_eq!(cc.cwnd(), 14_600);
        cc.on_ack(T, 1460, None);
        assert_eq!(cc.cwnd(), 16_060);
        cc.set_mss(1200);
        assert_eq!(cc.cwnd(), 16_060);
    }

    #[test]
    fn syn_retransmits_shrink_the_initial_window() {
        // Linux: one retransmitted SYN keeps IW, a second one drops it to
        // one segment (RFC 5681 §3.1 would already after the first).
        let mut cc = reno();
        cc.on_syn_retransmit();
        cc.set_mss(MSS);
        assert_eq!(cc.cwnd(), 10 * MSS);
        cc.on_syn_retransmit();
        assert_eq!(cc.cwnd(), MSS);
        cc.set_mss(MSS);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), INFINITE_SSTHRESH);
    }

    #[test]
    fn slow_start_doubles_per_round_trip() {
        // RFC 5681 §3.1: one RTT acks the whole window. With an ACK every
        // two segments (delayed ACKs) each ACK adds 2*SMSS (RFC 3465 L=2).
        let mut cc = reno();
        ack_in(&mut cc, 10_000, 2 * MSS);
        assert_eq!(cc.cwnd(), 20_000);
        ack_in(&mut cc, 20_000, 2 * MSS);
        assert_eq!(cc.cwnd(), 40_000);
        // One ACK per segment doubles too.
        ack_in(&mut cc, 40_000, MSS);
        assert_eq!(cc.cwnd(), 80_000);
    }

    #[test]
    fn slow_start_byte_counting_is_limited_to_two_segments() {
        // RFC 3465 §2.2: a stretch ACK of 5 segments adds only L = 2 SMSS.
        let mut cc = reno();
        cc.on_ack(T, 5 * MSS, None);
        assert_eq!(cc.cwnd(), 12_000);
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_the_rest_counts_for_avoidance() {
        // After an RTO: ssthresh 5000, cwnd 1000. Slow start reaches 5000,
        // then congestion avoidance needs a further 5000 bytes for +1 SMSS.
        let mut cc = reno();
        cc.on_rto(T, 10_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 5000));
        ack_in(&mut cc, 4000, 2 * MSS);
        assert_eq!(cc.cwnd(), 5000);
        // At cwnd = ssthresh this is congestion avoidance.
        ack_in(&mut cc, 4000, MSS);
        assert_eq!(cc.cwnd(), 5000);
        cc.on_ack(T, MSS, None);
        assert_eq!(cc.cwnd(), 6000);

        // A 2-segment ACK that crosses ssthresh carries its leftover over.
        let mut cc = reno();
        cc.on_rto(T, 9000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 4500));
        ack_in(&mut cc, 2000, 2 * MSS); // 3000
        ack_in(&mut cc, 2000, 2 * MSS); // 4500, 500 bytes toward avoidance
        assert_eq!(cc.cwnd(), 4500);
        cc.on_ack(T, 4000, None); // 4500 counted >= cwnd: +1 SMSS
        assert_eq!(cc.cwnd(), 5500);
    }

    #[test]
    fn congestion_avoidance_adds_one_segment_per_window() {
        // RFC 5681 §3.1 / RFC 3465 §2.1: +SMSS once cwnd bytes are acked.
        let mut cc = in_avoidance(20_000);
        ack_in(&mut cc, 19_000, MSS);
        assert_eq!(cc.cwnd(), 20_000);
        cc.on_ack(T, MSS, None);
        assert_eq!(cc.cwnd(), 21_000);
        ack_in(&mut cc, 21_000, MSS);
        assert_eq!(cc.cwnd(), 22_000);
        // A stretch ACK of two windows credits both.
        cc.on_ack(T, 44_000, None);
        assert_eq!(cc.cwnd(), 24_000);
    }

    #[test]
    fn fast_recovery_halves_the_flight() {
        // RFC 5681 §3.2 step 2: ssthresh = max(FlightSize/2, 2*SMSS), and
        // cwnd = ssthresh (the caller adds 3*SMSS to its recovery window).
        let mut cc = reno();
        ack_in(&mut cc, 30_000, 2 * MSS);
        assert_eq!(cc.cwnd(), 40_000);
        cc.on_congestion_event(T, 37_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (18_500, 18_500));
    }

    #[test]
    fn ssthresh_never_drops_below_two_segments() {
        let mut cc = reno();
        cc.on_congestion_event(T, 3000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (2000, 2000));
        let mut cc = reno();
        cc.on_rto(T, 1000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 2000));
    }

    #[test]
    fn recovery_exit_sets_cwnd_to_ssthresh() {
        // RFC 6582 §3.2 step 3 option 2 and RFC 6937 §3: cwnd = ssthresh,
        // however little is in flight when the full ACK comes (Linux:
        // tcp_end_cwnd_reduction).
        for flight in [0, 5000, 19_500] {
            let mut cc = reno();
            cc.on_congestion_event(T, 40_000);
            cc.on_recovery_exit(T, flight);
            assert_eq!((cc.cwnd(), cc.ssthresh()), (20_000, 20_000), "flight {flight}");
        }
    }

    #[test]
    fn rto_collapses_to_one_segment_and_holds_ssthresh_when_repeated() {
        let mut cc = in_avoidance(30_000);
        // RFC 5681 §3.1: ssthresh = FlightSize/2, cwnd = LW = 1 SMSS.
        cc.on_rto(T, 30_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 15_000));
        // The retransmission times out again: ssthresh is held constant.
        cc.on_rto(T, 1000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 15_000));
        // New data acked: the next timeout computes it afresh.
        cc.on_ack(T, MSS, None);
        assert_eq!(cc.cwnd(), 2000);
        cc.on_rto(T, 8000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 4000));
    }

    #[test]
    fn idle_restart() {
        let rto = Duration::from_millis(300);
        let mut cc = reno();
        ack_in(&mut cc, 30_000, 2 * MSS);
        assert_eq!(cc.cwnd(), 40_000);
        // Not idle for longer than an RTO: nothing happens.
        cc.on_idle(T, rto, rto);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (40_000, INFINITE_SSTHRESH));
        // Linux: one halving for an idle time in (RTO, 2*RTO]; ssthresh
        // keeps 3/4 of the old window (RFC 2861 §3) once it is finite.
        let mut c2 = in_avoidance(40_000);
        c2.on_idle(T, Duration::from_millis(450), rto);
        assert_eq!((c2.cwnd(), c2.ssthresh()), (20_000, 40_000));
        let mut c3 = in_avoidance(16_000);
        c3.on_idle(T, Duration::from_millis(301), rto);
        assert_eq!((c3.cwnd(), c3.ssthresh()), (10_000, 16_000));
        // Long idle: down to RW = min(IW, cwnd) (RFC 5681 §4.1).
        cc.on_idle(T, Duration::from_secs(10), rto);
        assert_eq!(cc.cwnd(), 10_000);
        let mut c4 = in_avoidance(4000);
        c4.on_idle(T, Duration::from_secs(10), rto);
        assert_eq!(c4.cwnd(), 4000);
    }
}
