//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! The estimator keeps SRTT and RTTVAR the way Linux does (`tcp_rtt_estimator`):
//! as fixed-point integers scaled by 8 and 4, in microseconds, so that the
//! 1/8 and 1/4 gains are exact shifts-and-adds and rounding error does not
//! accumulate in the fractional bits.
//!
//! The caller's side of the contract:
//! - Karn's rule (RFC 6298 §3): feed [`RttEstimator::on_sample`] only with
//!   samples from segments that were never retransmitted, or from the TCP
//!   timestamp option (RFC 7323 §4), which is unambiguous.
//! - On a retransmission timeout call [`RttEstimator::backoff`] (§5.5), and
//!   after the next valid sample call [`RttEstimator::reset_backoff`] (§5.7);
//!   the two are separate because a sample and the end of backoff are not
//!   always the same event for the connection (an ACK of new data may carry
//!   no valid sample under Karn's rule).

use core::time::Duration;

/// Clock granularity G of RFC 6298 §2. utcp's clock counts microseconds,
/// but deadlines are served by timers that are only millisecond-accurate in
/// practice, so we take G = 1 ms (Linux's G is one jiffy, 1–10 ms).
/// With Linux's `rto_min` floor on the variance term it only matters when
/// `RtoConfig::min` is configured below 1 ms.
pub const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// RFC 6298 §5.7: the RTO for data after a handshake without RTT sample.
pub const SYN_FALLBACK_RTO: Duration = Duration::from_secs(3);

/// Bounds of the retransmission timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtoConfig {
    /// RTO before the first sample: 1 s (RFC 6298 §2.1; Linux `TCP_TIMEOUT_INIT`).
    pub initial: Duration,
    /// Lower bound: 200 ms (Linux `TCP_RTO_MIN`; RFC 6298 §2.4 says 1 s,
    /// but utcp mirrors Linux so its timings match the kernel's).
    pub min: Duration,
    /// Upper bound: 120 s (Linux `TCP_RTO_MAX`; RFC 6298 §2.5 allows any
    /// maximum of at least 60 s).
    pub max: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        RtoConfig {
            initial: Duration::from_secs(1),
            min: Duration::from_millis(200),
            max: Duration::from_secs(120),
        }
    }
}

/// SRTT, RTTVAR and the backed-off RTO of one connection.
#[derive(Clone, Debug)]
pub struct RttEstimator {
    cfg: RtoConfig,
    /// 8 * SRTT in µs; `None` until the first sample (RFC 6298 §2.1).
    srtt_x8: Option<u64>,
    /// 4 * RTTVAR in µs, which is exactly the K*RTTVAR term of the RTO (K = 4).
    rttvar_x4: u64,
    /// Number of consecutive doublings since the last valid sample.
    backoff: u32,
}

/// Samples are capped so that `8 * R` cannot overflow; anything this long
/// (over an hour) is clamped to `RtoConfig::max` by `rto()` anyway.
const MAX_SAMPLE_US: u64 = u64::MAX / 16;

impl RttEstimator {
    pub fn new(cfg: RtoConfig) -> Self {
        RttEstimator { cfg, srtt_x8: None, rttvar_x4: 0, backoff: 0 }
    }

    pub fn config(&self) -> RtoConfig {
        self.cfg
    }

    /// Takes one RTT measurement R (the caller has applied Karn's rule).
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = (rtt.as_micros().min(MAX_SAMPLE_US as u128)) as u64;
        match self.srtt_x8 {
            // RFC 6298 §2.2: first measurement: SRTT <- R, RTTVAR <- R/2.
            None => {
                self.srtt_x8 = Some(8 * r);
                self.rttvar_x4 = 2 * r;
            }
            // RFC 6298 §2.3: RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
            // with beta = 1/4, computed from the *old* SRTT, then
            // SRTT <- (1 - alpha) * SRTT + alpha * R' with alpha = 1/8.
            Some(srtt_x8) => {
                let err_x8 = srtt_x8.abs_diff(8 * r);
                // 4*RTTVAR' = 3/4 * (4*RTTVAR) + |SRTT - R'|, and |SRTT - R'| = err_x8 / 8.
                self.rttvar_x4 = self.rttvar_x4 - self.rttvar_x4 / 4 + err_x8 / 8;
                // 8*SRTT' = 7/8 * (8*SRTT) + R'.
                self.srtt_x8 = Some(srtt_x8 - srtt_x8 / 8 + r);
            }
        }
    }

    /// The RTO without backoff, clamped to `[min, max]`.
    fn base_rto(&self) -> Duration {
        let rto = match self.srtt_x8 {
            // RFC 6298 §2.1: before any sample, RTO <- 1 s (configurable).
            None => self.cfg.initial,
            Some(srtt_x8) => {
                // RFC 6298 §2.2/§2.3: RTO <- SRTT + max(G, K*RTTVAR), K = 4.
                let var = Duration::from_micros(self.rttvar_x4).max(CLOCK_GRANULARITY);
                // Linux: `__tcp_set_rto` uses srtt + max(mdev, rto_min): the
                // floor applies to the variance term, not to the sum, so a
                // 10 ms path gets 210 ms rather than 200 ms.
                Duration::from_micros(srtt_x8 / 8) + var.max(self.cfg.min)
            }
        };
        // RFC 6298 §2.4 (lower bound, here Linux's 200 ms) and §2.5 (upper bound).
        rto.clamp(self.cfg.min, self.cfg.max)
    }

    /// The current retransmission timeout, backoff included.
    pub fn rto(&self) -> Duration {
        let base = self.base_rto();
        // RFC 6298 §5.5: each expiry doubles the RTO; §2.5 caps it at max.
        // Linux: `icsk_rto = min(icsk_rto << 1, TCP_RTO_MAX)` — the same
        // value as doubling the base `backoff` times and capping once.
        let factor = 1u32.checked_shl(self.backoff).unwrap_or(u32::MAX);
        base.checked_mul(factor).map_or(self.cfg.max, |d| d.min(self.cfg.max))
    }

    /// The retransmission timer expired: double the RTO (RFC 6298 §5.5).
    pub fn backoff(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// A valid sample arrived after backoff: recompute the RTO from SRTT
    /// and RTTVAR again (RFC 6298 §5.7).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// The handshake is over. Without an RTT sample from it (the SYN or
    /// SYN-ACK was retransmitted), data starts with an RTO of at least 3 s
    /// (RFC 6298 §5.7; Linux: `TCP_TIMEOUT_FALLBACK` in tcp_init_metrics).
    pub fn handshake_done(&mut self) {
        if self.srtt_x8.is_none() {
            self.cfg.initial = self.cfg.initial.max(SYN_FALLBACK_RTO);
            self.backoff = 0;
        }
    }

    /// SRTT, or `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt_x8.map(|s| Duration::from_micros(s / 8))
    }

    /// RTTVAR (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(self.rttvar_x4 / 4)
    }

    /// How many times the RTO has been doubled since the last reset.
    pub fn backoff_count(&self) -> u32 {
        self.backoff
    }
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator::new(RtoConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn defaults_match_linux() {
        let c = RtoConfig::default();
        assert_eq!((c.initial, c.min, c.max), (ms(1000), ms(200), ms(120_000)));
    }

    #[test]
    fn initial_rto_before_any_sample() {
        // RFC 6298 §2.1.
        let e = RttEstimator::default();
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), Duration::ZERO);
        assert_eq!(e.rto(), ms(1000));
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        // RFC 6298 §2.2: SRTT = 100 ms, RTTVAR = 50 ms,
        // RTO = 100 + max(4*50, 200) = 300 ms.
        let mut e = RttEstimator::default();
        e.on_sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn later_samples_use_alpha_and_beta() {
        // RFC 6298 §2.3 with R' = 200 ms after the first sample of 100 ms:
        // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ms,
        // SRTT = 7/8*100 + 1/8*200 = 112.5 ms,
        // RTO = 112.5 + 4*62.5 = 362.5 ms.
        let mut e = RttEstimator::default();
        e.on_sample(ms(100));
        e.on_sample(ms(200));
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(362_500));
        // A sample below SRTT uses |SRTT - R'| as well:
        // RTTVAR = 3/4*62.5 + 1/4*|112.5-80| = 46.875 + 8.125 = 55 ms,
        // SRTT = 7/8*112.5 + 1/8*80 = 98.4375 + 10 = 108.4375 ms.
        e.on_sample(ms(80));
        assert_eq!(e.rttvar(), ms(55));
        assert_eq!(e.srtt(), Some(Duration::from_micros(108_437)));
        // RTO = 108.4375 + 220 (4*RTTVAR is above the 200 ms floor).
        assert_eq!(e.rto(), Duration::from_micros(328_437));
    }

    #[test]
    fn linux_floors_the_variance_term_not_the_sum() {
        // SRTT = 10 ms, 4*RTTVAR = 20 ms < rto_min: RTO = 10 + 200 ms.
        let mut e = RttEstimator::default();
        e.on_sample(ms(10));
        assert_eq!(e.rto(), ms(210));
    }

    #[test]
    fn clock_granularity_applies_without_rto_min() {
        // RFC 6298 §2.2: max(G, K*RTTVAR). With min = 0 and R = 1 ms the
        // variance term 4*0.5 ms = 2 ms wins: RTO = 3 ms. A constant RTT then
        // drives RTTVAR towards zero and the G term of 1 ms is what remains.
        let cfg = RtoConfig { min: Duration::ZERO, ..RtoConfig::default() };
        let mut e = RttEstimator::new(cfg);
        e.on_sample(ms(1));
        assert_eq!(e.rto(), ms(3));
        for _ in 0..100 {
            e.on_sample(ms(1));
        }
        assert_eq!(e.rttvar(), Duration::ZERO);
        assert_eq!(e.rto(), ms(2));
    }

    #[test]
    fn rto_clamped_to_max() {
        // RFC 6298 §2.5: 100 s + 4*50 s = 300 s, capped at 120 s.
        let mut e = RttEstimator::default();
        e.on_sample(ms(100_000));
        assert_eq!(e.rto(), ms(120_000));
    }

    #[test]
    fn rto_clamped_to_min() {
        // RFC 6298 §2.4: an initial RTO below the minimum is raised to it.
        let cfg = RtoConfig { initial: ms(50), ..RtoConfig::default() };
        assert_eq!(RttEstimator::new(cfg).rto(), ms(200));
    }

    #[test]
    fn backoff_doubles_up_to_max_and_resets() {
        // RFC 6298 §5.5: 1 s, 2, 4, ..., 64, then the 120 s cap.
        let mut e = RttEstimator::default();
        let mut seen = Vec::new();
        for _ in 0..9 {
            seen.push(e.rto().as_secs());
            e.backoff();
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 64, 120, 120]);
        assert_eq!(e.backoff_count(), 9);
        // Far past 32 doublings the shift cannot overflow.
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.rto(), ms(120_000));
        // RFC 6298 §5.7: a new sample, then the backoff is dropped.
        e.on_sample(ms(100));
        e.reset_backoff();
        assert_eq!(e.backoff_count(), 0);
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn backoff_applies_to_the_measured_rto() {
        let mut e = RttEstimator::default();
        e.on_sample(ms(100));
        e.backoff();
        assert_eq!(e.rto(), ms(600));
        e.backoff();
        assert_eq!(e.rto(), ms(1200));
    }
}
