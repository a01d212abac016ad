//! CUBIC (RFC 9438): the window grows as a cubic function of the time since
//! the last congestion event, centred on the window where that loss struck.
//!
//! The cubic arithmetic is in segments and seconds, as in the RFC (C is in
//! segments/s^3), in `f64`; the window itself stays in whole bytes, with the
//! fractional byte growth carried from ACK to ACK. Slow start and fast
//! recovery are Reno's (RFC 9438 §4.10, §1); HyStart, which Linux enables by
//! default and RFC 9438 §4.10 permits, is not implemented, so Linux may
//! leave its first slow start earlier than we do.

use core::time::Duration;

use super::{CongestionControl, Window};
use crate::time::Instant;

/// C, in segments per second cubed (RFC 9438 §5.1).
const C: f64 = 0.4;

/// beta_cubic as an exact fraction of bytes (RFC 9438 §4.6). Linux uses
/// 717/1024 (0.7002), a shift-friendly rounding of the same constant.
const BETA_NUM: usize = 7;
const BETA_DEN: usize = 10;
const BETA: f64 = 0.7;

/// alpha_cubic = 3 * (1 - beta) / (1 + beta) (RFC 9438 §4.3): Reno-friendly
/// additive increase, in segments per RTT.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// The state of the current congestion avoidance stage.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    /// t_epoch: when this congestion avoidance stage started (RFC 9438 §4.2).
    start: Instant,
    /// K in seconds: when W_cubic reaches W_max again (RFC 9438 §4.2 eq. 2).
    k: f64,
    /// W_est in segments: the window Reno would have now (RFC 9438 §4.3).
    w_est: f64,
}

#[derive(Clone, Debug)]
pub struct Cubic {
    w: Window,
    /// W_max in segments: the window just before the last reduction,
    /// lowered by fast convergence (RFC 9438 §4.7). `None` before the
    /// first congestion event and after a timeout (RFC 9438 §4.8).
    w_max: Option<f64>,
    epoch: Option<Epoch>,
    /// Growth below one byte, carried to the next ACK.
    carry: f64,
    /// The smallest RTT sample seen, for the t + RTT lookahead.
    min_rtt: Option<Duration>,
    /// W_max as it was before the last reduction changed it, for `undo`
    /// when that reduction proves spurious.
    w_max_prior: Option<f64>,
}

impl Cubic {
    pub fn new(mss: usize) -> Self {
        Cubic { w: Window::new(mss), w_max: None, epoch: None, carry: 0.0, min_rtt: None, w_max_prior: None }
    }

    /// W_max in segments, if a congestion event has set it.
    pub fn w_max(&self) -> Option<f64> {
        self.w_max
    }

    /// K in seconds, once the current congestion avoidance stage has begun.
    pub fn k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }

    fn segments(&self, bytes: usize) -> f64 {
        bytes as f64 / self.w.mss as f64
    }

    /// W_cubic(t) = C * (t - K)^3 + W_max (RFC 9438 §4.2 eq. 1), segments.
    fn w_cubic(k: f64, w_max: f64, t: f64) -> f64 {
        C * (t - k).powi(3) + w_max
    }

    /// Raises cwnd to `target` bytes (fractional), never lowering it.
    fn grow_to(&mut self, target: f64) {
        let have = self.w.cwnd as f64 + self.carry;
        if target > have {
            let whole = target.floor();
            self.w.cwnd = whole as usize;
            self.carry = target - whole;
        }
    }

    /// A congestion avoidance stage begins now, at the current cwnd
    /// (cwnd_epoch). K per RFC 9438 §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C).
    /// With no W_max above cwnd (no loss yet, after a timeout, or a window
    /// that grew back past it in slow start) the curve starts at its
    /// plateau: K = 0, W_max = cwnd_epoch (RFC 9438 §4.8; Linux
    /// `bictcp_update` sets bic_K = 0, origin = cwnd the same way).
    fn start_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd = self.segments(self.w.cwnd);
        let w_max = self.w_max.filter(|&m| m > cwnd).unwrap_or(cwnd);
        self.w_max = Some(w_max);
        let e = Epoch { start: now, k: ((w_max - cwnd) / C).cbrt(), w_est: cwnd };
        self.epoch = Some(e);
        self.carry = 0.0;
        e
    }

    /// Congestion avoidance (RFC 9438 §4.2–§4.5) for `bytes_acked`.
    fn avoidance(&mut self, now: Instant, bytes_acked: usize) {
        let cwnd = self.segments(self.w.cwnd);
        let epoch = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(now),
        };
        let w_max = self.w_max.unwrap_or(cwnd);
        let acked = self.segments(bytes_acked);
        let t = now.saturating_since(epoch.start).as_secs_f64();

        // RFC 9438 §4.3: W_est += alpha * segments_acked / cwnd, with alpha
        // raised to 1 once W_est has reached W_max.
        let alpha = if epoch.w_est >= w_max { 1.0 } else { ALPHA };
        let w_est = epoch.w_est + alpha * acked / cwnd;
        self.epoch = Some(Epoch { w_est, ..epoch });

        let mss = self.w.mss as f64;
        if Self::w_cubic(epoch.k, w_max, t) < w_est {
            // RFC 9438 §4.3: Reno-friendly region, cwnd = W_est.
            self.grow_to(w_est * mss);
        } else {
            // RFC 9438 §4.4/§4.5: concave and convex regions alike aim at
            // the curve one RTT ahead, target clamped to [cwnd, 1.5 cwnd]
            // (§4.2), and grow by (target - cwnd) / cwnd per acked segment.
            // Linux: the RTT is the minimum observed (`delay_min`) rather
            // than the smoothed RTT of §4.2, so queueing does not speed up
            // growth.
            let rtt = self.min_rtt.unwrap_or(Duration::ZERO).as_secs_f64();
            let target = Self::w_cubic(epoch.k, w_max, t + rtt).clamp(cwnd, 1.5 * cwnd);
            let grown = self.w.cwnd as f64 + self.carry + (target - cwnd) / cwnd * acked * mss;
            self.grow_to(grown);
        }
    }

    /// RFC 9438 §4.6 multiplicative decrease: ssthresh = flight * beta_cubic.
    /// Linux multiplies cwnd instead (`cubictcp_recalc_ssthresh`); RFC 9438
    /// allows that only if cwnd cannot grow while not cwnd-limited, which
    /// the caller guarantees, so the two agree in bulk transfers.
    fn reduced(flight_size: usize) -> usize {
        flight_size / BETA_DEN * BETA_NUM + flight_size % BETA_DEN * BETA_NUM / BETA_DEN
    }

    /// A loss ends the congestion avoidance stage; the next ACK in
    /// congestion avoidance starts a new one.
    fn end_epoch(&mut self) {
        self.epoch = None;
        self.carry = 0.0;
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
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

    fn on_ack(&mut self, now: Instant, bytes_acked: usize, rtt: Option<Duration>) {
        if let Some(r) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        }
        self.w.note_ack();
        let mut bytes = bytes_acked;
        if self.w.in_slow_start() {
            // RFC 9438 §4.10: slow start as in RFC 5681.
            bytes = self.w.slow_start(bytes);
        }
        if bytes > 0 {
            self.avoidance(now, bytes);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight_size: usize) {
        let cwnd = self.segments(self.w.cwnd);
        self.w_max_prior = self.w_max;
        // RFC 9438 §4.7 fast convergence: a loss below the previous W_max
        // means a new flow is taking bandwidth; release some by aiming the
        // next plateau lower, at cwnd * (1 + beta) / 2.
        self.w_max = Some(match self.w_max {
            Some(prev) if cwnd < prev => cwnd * (1.0 + BETA) / 2.0,
            _ => cwnd,
        });
        // RFC 9438 §4.6: cwnd = ssthresh = max(flight * beta, 2 SMSS).
        self.w.enter_recovery(Self::reduced(flight_size));
        self.end_epoch();
    }

    fn on_recovery_exit(&mut self, now: Instant, flight_size: usize) {
        // RFC 9438 leaves fast recovery to NewReno/SACK: RFC 6582 §3.2 step 3.
        self.w.exit_recovery(flight_size);
        // RFC 9438 §4.2: t_epoch is when congestion avoidance starts, which
        // is now unless the deflated window is below ssthresh and slow start
        // comes first (then the first ACK in congestion avoidance starts it).
        // Linux starts it at the first ACK after recovery, one ACK later.
        if self.w.in_slow_start() {
            self.end_epoch();
        } else {
            self.start_epoch(now);
        }
    }

    fn on_rto(&mut self, _now: Instant, flight_size: usize) {
        // RFC 9438 §4.8: Reno's timeout response with ssthresh from beta_cubic,
        // and the next stage starts with K = 0 and W_max = cwnd at its start
        // (Linux: `bictcp_reset` on entering TCP_CA_Loss clears last_max_cwnd).
        if self.w.on_rto(Self::reduced(flight_size)) {
            self.w_max_prior = self.w_max.take();
        }
        self.end_epoch();
    }

    fn undo(&mut self, _now: Instant, ssthresh: usize, cwnd: usize) {
        self.w.undo(ssthresh, cwnd);
        // RFC 9438 §4.9: after a spurious congestion event, restore W_max
        // too, so the curve aims at the old plateau again.
        if let Some(w) = self.w_max_prior.take() {
            self.w_max = Some(w);
        }
    }

    fn on_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        self.w.restart_after_idle(idle, rto);
        // Linux: `cubictcp_cwnd_event(CA_EVENT_TX_START)` moves t_epoch
        // forward by the idle time, so the curve resumes where it stopped
        // instead of jumping ahead (RFC 9438 §5.8: no growth while
        // application-limited).
        if let Some(e) = &mut self.epoch {
            e.start = (e.start + idle).min(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::INFINITE_SSTHRESH;
    use super::*;

    const MSS: usize = 1000;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// A CUBIC that lost at a window of 36 segments and is back in
    /// congestion avoidance at 25.2 segments, with a 100 ms min RTT:
    /// K = cbrt((36 - 25.2) / 0.4) = cbrt(27) = 3 s.
    fn after_loss_at_36() -> Cubic {
        let mut cc = Cubic::new(MSS);
        // Slow start from 10 to 36 segments in 2-segment ACKs.
        for _ in 0..13 {
            cc.on_ack(at(0), 2 * MSS, Some(Duration::from_millis(100)));
        }
        assert_eq!(cc.cwnd(), 36_000);
        cc.on_congestion_event(at(0), 36_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (25_200, 25_200));
        cc.on_recovery_exit(at(0), 30_000);
        assert_eq!(cc.cwnd(), 25_200);
        cc
    }

    #[test]
    fn starts_like_reno() {
        let cc = Cubic::new(1460);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (14_600, INFINITE_SSTHRESH));
        assert_eq!(cc.name(), "cubic");
        assert_eq!(cc.w_max(), None);
    }

    #[test]
    fn multiplicative_decrease_is_0_7() {
        // RFC 9438 §4.6: W_max = 36, ssthresh = cwnd = 0.7 * 36 = 25.2 segments.
        let cc = after_loss_at_36();
        assert_eq!(cc.w_max(), Some(36.0));
        // ... and never below 2 SMSS.
        let mut cc = Cubic::new(MSS);
        cc.on_congestion_event(at(0), 2000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (2000, 2000));
    }

    #[test]
    fn k_from_w_max_and_cwnd_epoch() {
        // Congestion avoidance starts when fast recovery ends.
        let cc = after_loss_at_36();
        assert!(close(cc.k().unwrap(), 3.0), "{:?}", cc.k());
    }

    #[test]
    fn window_function_at_given_times() {
        // RFC 9438 §4.2 eq. 1 with K = 3, W_max = 36: the curve leaves
        // 25.2 at t = 0, is 32.8 at 1 s, reaches 36 at K, then 36.4 at 4 s
        // and 39.2 at 5 s.
        let k = 3.0;
        for (t, w) in [(0.0, 25.2), (1.0, 32.8), (3.0, 36.0), (4.0, 36.4), (5.0, 39.2)] {
            assert!(close(Cubic::w_cubic(k, 36.0, t), w), "t={t}");
        }
    }

    #[test]
    fn growth_follows_the_curve_one_rtt_ahead() {
        // An ACK of a whole window (25.2 segments) at t = K = 3 s: the
        // target is W_cubic(3.1) = 36.0004, so cwnd grows by
        // (36.0004 - 25.2) / 25.2 * 25.2 segments = 10.8004 segments.
        let mut cc = after_loss_at_36();
        cc.on_ack(at(3000), 25_200, None);
        assert_eq!(cc.cwnd(), 36_000);
    }

    #[test]
    fn target_is_capped_at_one_and_a_half_cwnd() {
        // At t = 5 s, W_cubic(5.1) = 39.7 > 1.5 * 25.2 = 37.8: capped.
        let mut cc = after_loss_at_36();
        cc.on_ack(at(5000), 25_200, None);
        assert_eq!(cc.cwnd(), 37_800);
    }

    #[test]
    fn reno_friendly_region() {
        // RFC 9438 §4.3: right after the loss W_cubic(0) = 25.2 is below
        // W_est = 25.2 + alpha * 25.2 / 25.2 = 25.2 + 0.5294 segments, so
        // cwnd follows W_est: 25729.41 bytes.
        let mut cc = after_loss_at_36();
        cc.on_ack(at(0), 25_200, None);
        assert_eq!(cc.cwnd(), 25_729);
        // alpha = 3 * 0.3 / 1.7
        assert!(close(ALPHA, 9.0 / 17.0));
    }

    #[test]
    fn reno_friendly_alpha_becomes_one_past_w_max() {
        // After an RTO, W_max is the window the stage starts with, so
        // W_est >= W_max at once and grows by a full segment per window.
        let mut cc = Cubic::new(MSS);
        cc.on_rto(at(0), 20_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 14_000));
        for _ in 0..6 {
            cc.on_ack(at(0), 2 * MSS, None);
        }
        cc.on_ack(at(0), MSS, None);
        assert_eq!(cc.cwnd(), 14_000);
        assert_eq!(cc.k(), None);
        cc.on_ack(at(0), 14_000, None);
        assert_eq!(cc.k(), Some(0.0));
        assert_eq!(cc.w_max(), Some(14.0));
        // W_cubic(0) = 14 < W_est = 14 + 1 * 14 / 14 = 15.
        assert_eq!(cc.cwnd(), 15_000);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        // RFC 9438 §4.7: a loss at 25.2 segments, below W_max = 36, sets
        // W_max = 25.2 * (1 + 0.7) / 2 = 21.42 segments.
        let mut cc = after_loss_at_36();
        cc.on_congestion_event(at(100), 25_200);
        assert!(close(cc.w_max().unwrap(), 21.42));
        assert_eq!(cc.cwnd(), 17_640);
        // A loss at or above W_max records cwnd itself.
        let mut cc = after_loss_at_36();
        cc.on_ack(at(5000), 25_200, None);
        assert_eq!(cc.cwnd(), 37_800);
        cc.on_congestion_event(at(5000), 37_800);
        assert_eq!(cc.w_max(), Some(37.8));
        assert_eq!(cc.cwnd(), 26_460);
    }

    #[test]
    fn rto_collapses_to_one_segment_and_forgets_w_max() {
        let mut cc = after_loss_at_36();
        cc.on_rto(at(1000), 20_000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 14_000));
        assert_eq!(cc.w_max(), None);
        // A repeated timeout keeps ssthresh (RFC 5681 §3.1).
        cc.on_rto(at(2000), 1000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1000, 14_000));
    }

    #[test]
    fn idle_shifts_the_epoch() {
        // Linux: after 2 s of idle the curve resumes at the same point.
        let rto = Duration::from_secs(10);
        let mut a = after_loss_at_36();
        a.on_ack(at(3000), 25_200, None);
        let mut b = after_loss_at_36();
        b.on_idle(at(2000), Duration::from_secs(2), rto);
        b.on_ack(at(5000), 25_200, None);
        assert_eq!(b.cwnd(), a.cwnd());
    }

    #[test]
    fn min_rtt_tracks_the_smallest_sample() {
        let mut cc = Cubic::new(MSS);
        cc.on_ack(at(0), MSS, Some(Duration::from_millis(80)));
        cc.on_ack(at(0), MSS, Some(Duration::from_millis(50)));
        cc.on_ack(at(0), MSS, Some(Duration::from_millis(70)));
        assert_eq!(cc.min_rtt, Some(Duration::from_millis(50)));
    }
}
