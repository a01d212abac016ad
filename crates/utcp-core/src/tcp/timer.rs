//! Timeouts (RFC 9293 §3.10.8): retransmission, delayed ACK, persist,
//! keepalive, TIME-WAIT and the orphaned FIN-WAIT-2 limit.

use super::cc::CongestionControl as _;
use super::state::State;
use super::tcb::{Pending, Tcb};
use crate::socket::errno::Errno;
use crate::stack::Observer;
use crate::time::Instant;

fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

impl Tcb {
    /// Run every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, obs: &mut Observer) {
        if due(self.timers.close, now) {
            self.timers.close = None;
            if self.state == State::FinWait2 {
                // Linux: an orphan that waited tcp_fin_timeout is reset.
                self.pending = Some(super::tcb::Pending::Rst { seq: self.snd_nxt, ack: Some(self.rcv_nxt) });
            }
            self.set_state(now, State::Closed, obs);
            return;
        }
        // The probe first: Linux arms it for the RTO's own instant when
        // the RTO comes sooner than 2*SRTT, and then the probe goes instead
        // of the timeout (it re-arms the RTO).
        if due(self.timers.tlp, now) {
            self.timers.tlp = None;
            self.on_probe_timeout(now, obs);
        }
        if due(self.timers.rto, now) {
            self.timers.rto = None;
            self.on_rto(now, obs);
        }
        if due(self.timers.rack, now) {
            self.timers.rack = None;
            self.on_reorder_timeout(now, obs);
        }
        if due(self.timers.delayed_ack, now) {
            self.timers.delayed_ack = None;
            self.ack_now = true;
        }
        if due(self.timers.persist, now) {
            self.timers.persist = None;
            self.on_persist(now);
        }
        if due(self.timers.keepalive, now) {
            self.timers.keepalive = None;
            self.on_keepalive(now, obs);
        }
    }

    /// RFC 6298 §5.4-5.7: retransmit the earliest unacknowledged segment,
    /// back the timer off, collapse the congestion window (RFC 5681 §3.1).
    fn on_rto(&mut self, now: Instant, obs: &mut Observer) {
        self.retries += 1;
        obs.stats.rto_expirations += 1;
        match self.state {
            State::SynSent => {
                if self.retries > self.cfg.syn_retries {
                    self.fail(now, Errno::ETIMEDOUT, obs);
                    return;
                }
                self.snd_nxt = self.iss;
            }
            State::SynReceived => {
                if self.retries > self.cfg.synack_retries {
                    // Linux drops the request silently (no RST) after
                    // tcp_synack_retries; a simultaneous open times out.
                    if self.opening == super::tcb::Opening::Active {
                        self.fail(now, Errno::ETIMEDOUT, obs);
                    } else {
                        self.set_state(now, State::Closed, obs);
                    }
                    return;
                }
                self.snd_nxt = self.iss;
            }
            // A CLOSE in SYN-RECEIVED: our SYN,ACK is unacknowledged.
            State::FinWait1 if self.snd_una == self.iss => {
                if self.retries > self.cfg.synack_retries {
                    self.fail(now, Errno::ETIMEDOUT, obs);
                    return;
                }
                self.snd_nxt = self.iss;
            }
            State::Established | State::FinWait1 | State::Closing | State::LastAck | State::CloseWait => {
                if self.snd_una == self.snd_max {
                    return;
                }
                if self.retries > self.cfg.data_retries {
                    self.fail(now, Errno::ETIMEDOUT, obs);
                    return;
                }
                let flight = self.flight_size();
                if self.ts_enabled && self.timeout.is_none() {
                    // RFC 3522 §3.1: remember the TSval of the first
                    // retransmission (it goes out now); RFC 4015 §4 step 1:
                    // and pipe_prev, in case the timeout proves spurious.
                    self.timeout = Some(super::tcb::TimeoutEpisode {
                        retransmit_ts: self.ts_now(now),
                        pipe_prev: flight.max(self.cc.ssthresh()),
                        high: self.snd_max,
                        checked: false,
                    });
                }
                self.cc.on_rto(now, flight);
                // Go back to SND.UNA: everything after it is sent again as
                // the window allows, skipping what the peer SACKed.
                // Linux (tcp_enter_loss) keeps SACK information over a
                // timeout; a second timeout in a row forgets it (RFC 2018 §8),
                // in case the receiver reneged on what it SACKed.
                self.snd_nxt = self.snd_una;
                if self.retries > 1 {
                    self.scoreboard.clear();
                }
                self.rexmit.clear();
                self.rexmit_sent.clear();
                self.recovery_undo = None;
                self.tlp_high = None;
                self.timers.tlp = None;
                self.timers.rack = None;
                self.dupacks = 0;
                self.inflation = 0;
                // RFC 6582 §4: no fast retransmit for data sent before the timeout.
                self.in_recovery = false;
                self.in_loss = self.sack_enabled;
                self.recover = self.snd_max;
                // Go-back-N resends everything up to SND.MAX.
                self.high_rxt = self.snd_max;
            }
            _ => return,
        }
        self.rtt_probe = None;
        if self.ts_enabled {
            // The retransmission goes out now, with this TSval.
            self.karn_ts = Some(self.ts_now(now));
        }
        self.rtt.backoff();
        self.timers.rto = Some(now + self.rtt.rto());
    }

    /// RFC 8985 §7.3: the probe timeout expired with no ACK: send a
    /// probe, so that a lost tail of the flight draws SACK information
    /// (and fast recovery) instead of waiting for the RTO.
    fn on_probe_timeout(&mut self, now: Instant, obs: &mut Observer) {
        if !self.tlp_allowed() {
            return;
        }
        // RFC 8985 §7.3 prefers a new segment when one may go; utcp always
        // resends the highest one sent (the RFC's other choice, and
        // Linux's when it has nothing new), which needs no window and is
        // never held by Nagle or cork.
        let seq = self.last_seg.max(self.snd_una);
        if !self.rexmit.contains(&seq) {
            self.rexmit.insert(0, seq);
        }
        self.tlp_high = Some(self.snd_max);
        obs.stats.tlp_probes += 1;
        // RFC 8985 §7.3: after the probe, the RTO and not another probe.
        self.timers.rto = Some(now + self.rtt.rto());
    }

    /// RFC 9293 §3.8.6.1: probe a zero window, backing off like the RTO.
    fn on_persist(&mut self, now: Instant) {
        if self.snd_una != self.snd_max || self.send_buf.is_empty() && !self.fin_queued {
            return;
        }
        if self.snd_wnd == 0 {
            self.pending = Some(Pending::Probe);
        } else {
            self.force_partial = true;
        }
        self.persist_probes += 1;
        let backoff = 1u32 << self.persist_probes.min(16);
        let next = (self.rtt.rto() * backoff).min(self.cfg.rto.max);
        self.timers.persist = Some(now + next);
    }

    /// RFC 9293 §3.8.4 keep-alive: probe an idle connection, give up after
    /// `count` unanswered probes.
    fn on_keepalive(&mut self, now: Instant, obs: &mut Observer) {
        let Some(ka) = self.cfg.keepalive else { return };
        if !matches!(self.state, State::Established | State::CloseWait | State::FinWait2) {
            return;
        }
        // Only an idle connection is probed; data in flight has its own timer.
        if self.snd_una != self.snd_max {
            self.timers.keepalive = Some(now + ka.idle);
            return;
        }
        let idle = now.saturating_since(self.last_recv);
        if idle < ka.idle && self.keepalive_probes == 0 {
            self.timers.keepalive = Some(self.last_recv + ka.idle);
            return;
        }
        if self.keepalive_probes >= ka.count {
            // Linux: tcp_keepalive_timer resets the peer and reports ETIMEDOUT.
            self.pending = Some(Pending::Rst { seq: self.snd_nxt, ack: Some(self.rcv_nxt) });
            self.fail(now, Errno::ETIMEDOUT, obs);
            return;
        }
        self.keepalive_probes += 1;
        self.pending = Some(Pending::Probe);
        self.timers.keepalive = Some(now + ka.interval);
    }
}
