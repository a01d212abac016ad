//! SEGMENT ARRIVES (RFC 9293 §3.10.7.3-4), checked in the RFC's order, with
//! RFC 5961's defences and RFC 7323's PAWS. LISTEN is the stack's business
//! (a listener is not a TCB); every other state is handled here.

use super::cc::CongestionControl as _;
use super::state::State;
use super::tcb::{Pending, Tcb, OOW_ACK_INTERVAL};
use crate::socket::errno::Errno;
use crate::stack::stats::DropReason;
use crate::stack::Observer;
use crate::time::Instant;
use crate::wire::{SackBlock, SeqNum, TcpRepr};
use core::time::Duration;

/// Retransmissions allowed at once when fast recovery starts.
const RECOVERY_BURST: u32 = 4;

/// RFC 7323 §5.5: a ts_recent older than 24 days is no basis for PAWS.
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// RFC 8985 §7.2 WCDelAckT: the longest a peer may delay its ACK of a
/// lone segment (Linux adds TCP_RTO_MIN, the same 200 ms).
const WC_DEL_ACK: Duration = Duration::from_millis(200);

/// The smallest reordering window: the timestamp clock's tick.
const MIN_REO_WND: Duration = Duration::from_millis(1);

/// Linux: TCP_TIMEOUT_MIN (2 jiffies), the PTO's slack beyond 2*SRTT.
const TLP_MIN_SLACK: Duration = Duration::from_millis(2);

/// Linux: TCP_PAWS_WINDOW, the ticks a TSval may lag TS.Recent and pass.
const PAWS_WINDOW: i32 = 1;

impl Tcb {
    /// Process one segment addressed to this connection.
    pub fn on_segment(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8], obs: &mut Observer) {
        match self.state {
            State::Closed | State::Listen => {
                // The stack answers segments for closed connections itself.
                obs.drop(now, DropReason::NoSocket);
            }
            State::SynSent => self.on_segment_syn_sent(now, seg, payload, obs),
            _ => self.on_segment_synchronized(now, seg, payload, obs),
        }
    }

    /// §3.10.7.3: SYN-SENT.
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr, _payload: &[u8], obs: &mut Observer) {
        let f = seg.flags;
        // First, check the ACK bit.
        if f.ack() && (seg.ack <= self.iss || seg.ack > self.snd_max) {
            // An old or forged ACK: reset it, unless it is itself a reset.
            if !f.rst() {
                self.pending = Some(Pending::Rst { seq: seg.ack, ack: None });
            }
            obs.drop(now, DropReason::SynSentBadAck);
            return;
        }
        // Second, the RST bit: only with an acceptable ACK (RFC 5961 §3.2
        // for SYN-SENT), "connection reset" -> ECONNREFUSED.
        if f.rst() {
            if f.ack() {
                self.fail(now, Errno::ECONNREFUSED, obs);
            } else {
                obs.drop(now, DropReason::SynSentRstNoAck);
            }
            return;
        }
        // Fourth, the SYN bit.
        if !f.syn() {
            obs.drop(now, DropReason::SynSentNoSyn);
            return;
        }
        self.take_syn(now, seg);
        if f.ack() {
            // Our SYN is acknowledged: ESTABLISHED, and ACK their SYN.
            self.ack_advance(now, seg.ack, seg.options.timestamps.map(|(_, ecr)| ecr), obs);
            self.update_window(seg);
            self.set_state(now, State::Established, obs);
            self.ack_now = true;
        } else {
            // Simultaneous open: SYN-RECEIVED, send SYN,ACK with our ISS
            // (the four-segment handshake). The SYN,ACK starts its own
            // retransmission timer when it goes out.
            self.snd_nxt = self.iss;
            self.timers.rto = None;
            self.set_state(now, State::SynReceived, obs);
        }
    }

    /// §3.10.7.4: SYN-RECEIVED and every synchronized state.
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpRepr, payload: &[u8], obs: &mut Observer) {
        let f = seg.flags;
        let mut seg_len = seg.seq_len(payload.len());
        if !payload.is_empty() {
            self.queue_owed_ack(now, obs);
        }

        // Linux (tcp_check_req): the peer's SYN again in SYN-RECEIVED means
        // our SYN,ACK was lost; send it again now rather than wait for the
        // timer (RFC 9293 would answer with a bare ACK the peer cannot use).
        if self.state == State::SynReceived && f.syn() && !f.ack() && !f.rst() && seg.seq == self.irs {
            if self.snd_una == self.iss {
                self.snd_nxt = self.iss;
                obs.stats.retransmits += 1;
            }
            return;
        }

        // RFC 7323 §5.3 R1: PAWS, before the sequence check.
        if self.ts_enabled && !f.rst() {
            if let Some((val, _)) = seg.options.timestamps {
                if self.paws_rejects(now, seg, val, payload.len()) {
                    // Linux (tcp_send_dupack): a rejected duplicate is
                    // reported in a D-SACK block (RFC 2883), which tells the
                    // sender its retransmission was spurious.
                    if !payload.is_empty() && seg.seq < self.rcv_nxt {
                        let len = seg.seq.dist_to(self.rcv_nxt).min(payload.len());
                        self.note_duplicate(seg.seq, len);
                    }
                    self.oow_ack(now, payload.len(), obs);
                    obs.drop(now, DropReason::PawsRejected);
                    return;
                }
            }
        }

        // §3.5 Figure 7 line 6: in a simultaneous open the peer's SYN,ACK
        // <SEQ=IRS><ACK=ISS+1> takes SYN-RECEIVED to ESTABLISHED. Its SYN
        // sits just below RCV.NXT, which the checks below would only
        // challenge (Linux: the TCP_SYN_RECV exception in tcp_validate_incoming).
        let crossed_syn_ack = self.state == State::SynReceived
            && self.opening == super::tcb::Opening::Active
            && f.syn()
            && f.ack()
            && !f.rst()
            && !f.fin()
            && payload.is_empty()
            && seg.seq + 1 == self.rcv_nxt
            && seg.ack == self.snd_nxt;
        if crossed_syn_ack {
            // Linux (tcp_data_queue): the SYN in it is a duplicate, answered
            // at once, with a D-SACK block when SACK is on (RFC 2883).
            self.note_duplicate(seg.seq, 1);
        }

        // First, check the sequence number (the four acceptability cases).
        let wnd = self.rcv_wnd();
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => seg.seq.in_range(self.rcv_nxt, self.rcv_nxt + wnd),
            (_, 0) => false,
            (_, _) => {
                seg.seq.in_range(self.rcv_nxt, self.rcv_nxt + wnd)
                    || (seg.seq + (seg_len - 1)).in_range(self.rcv_nxt, self.rcv_nxt + wnd)
            }
        };
        if !acceptable && !crossed_syn_ack {
            // A zero-window probe or keepalive lands here and gets its ACK.
            if f.rst() {
                obs.drop(now, DropReason::RstOutOfWindow);
            } else if f.syn() {
                // RFC 5961 §4.2: any SYN in a synchronized state gets a challenge ACK.
                self.challenge_ack(now, obs);
                obs.drop(now, DropReason::SynChallenged);
            } else {
                if self.state == State::TimeWait && f.fin() {
                    // §3.10.7.4 fifth check, TIME-WAIT: the peer's FIN again
                    // (it is below RCV.NXT, so it lands here): ACK it and
                    // restart the 2 MSL timeout (Linux: tcp_timewait_state_process).
                    self.timers.close = Some(now + self.cfg.time_wait);
                }
                if !payload.is_empty() && seg.seq + payload.len() <= self.rcv_nxt {
                    self.note_duplicate(seg.seq, payload.len());
                }
                self.oow_ack(now, payload.len(), obs);
                obs.drop(now, DropReason::OutOfWindow);
            }
            return;
        }

        // Second, the RST bit (RFC 5961 §3.2): only an exact match resets.
        if f.rst() {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(now, obs);
                obs.drop(now, DropReason::RstChallenged);
                return;
            }
            self.on_reset(now, obs);
            return;
        }

        // Fourth, the SYN bit (RFC 5961 §4.2): challenge ACK, drop.
        if f.syn() && !crossed_syn_ack {
            self.challenge_ack(now, obs);
            obs.drop(now, DropReason::SynChallenged);
            return;
        }

        // Fifth, the ACK field.
        if !f.ack() {
            obs.drop(now, DropReason::NoAck);
            return;
        }
        if self.state == State::SynReceived {
            if self.snd_una < seg.ack && seg.ack <= self.snd_max {
                self.set_state(now, State::Established, obs);
                if self.fin_queued {
                    // §3.10.4: a CLOSE in SYN-RECEIVED takes effect now.
                    self.set_state(now, State::FinWait1, obs);
                }
                obs.stats.conns_accepted += (self.opening == super::tcb::Opening::Passive) as u64;
                // RFC 9293: SND.WND <- SEG.WND, WL1 <- SEG.SEQ, WL2 <- SEG.ACK.
                self.snd_wnd = (seg.window as usize) << self.snd_shift;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg.seq;
                self.snd_wl2 = seg.ack;
            } else {
                self.pending = Some(Pending::Rst { seq: seg.ack, ack: None });
                obs.drop(now, DropReason::SynRecvBadAck);
                return;
            }
        }
        // RFC 5961 §5.2: an ACK below SND.UNA - MAX.SND.WND is a blind guess.
        if seg.ack < self.snd_una - self.max_snd_wnd.max(1) {
            self.challenge_ack(now, obs);
            obs.drop(now, DropReason::AckTooOld);
            return;
        }
        if seg.ack > self.snd_max {
            // §3.10.7.4: ACKs something not yet sent: send an ACK, drop.
            self.oow_ack(now, payload.len(), obs);
            obs.drop(now, DropReason::AckNotYetSent);
            return;
        }

        // RFC 7323 §4.3: record the timestamp of an in-order segment.
        if let Some((val, _)) = seg.options.timestamps {
            if self.ts_enabled && seg.seq <= self.last_ack_sent && (val.wrapping_sub(self.ts_recent) as i32) >= 0 {
                self.ts_recent = val;
                self.ts_recent_at = now;
            }
        }
        self.last_recv = now;
        self.keepalive_probes = 0;
        self.arm_keepalive(now);

        self.on_ack(now, seg, payload.len(), obs);
        if self.state == State::Closed {
            return;
        }

        // Sixth, URG: utcp does not deliver urgent data separately; the
        // byte stays in the stream (as with SO_OOBINLINE).

        // Seventh, the segment text.
        let mut seq = seg.seq;
        let mut data = payload;
        // Trim what we already have (RFC 9293 §3.10.7.4: "the segment may be
        // trimmed to the window").
        if seq < self.rcv_nxt {
            let dup = seq.dist_to(self.rcv_nxt).min(data.len());
            data = &data[dup..];
            seq += dup;
            seg_len = seg_len.saturating_sub(dup);
        }
        let _ = seg_len;
        if !data.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.orphaned {
                        // Linux: data for a closed socket resets the connection
                        // (tcp_rcv_state_process, RCV_SHUTDOWN with new data).
                        self.pending = Some(Pending::Rst { seq: self.snd_nxt, ack: None });
                        self.fail(now, Errno::ECONNRESET, obs);
                        return;
                    }
                    self.receive_data(now, seq, data, obs);
                }
                _ => {
                    // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer
                    // already sent its FIN; this cannot be new data.
                    obs.drop(now, DropReason::DataAfterFin);
                }
            }
        }

        // Eighth, the FIN bit.
        if seg.flags.fin() {
            let fin_at = seg.seq + payload.len();
            if fin_at == self.rcv_nxt || self.fin_received {
                self.on_fin(now, obs);
            } else if fin_at > self.rcv_nxt {
                self.peer_fin_at = Some(fin_at);
                self.ack_now = true;
            }
        }
    }

    /// RFC 7323 §5.3 R1: SEG.TSval < TS.Recent makes a segment
    /// unacceptable, with the slack Linux allows (tcp_paws_discard).
    fn paws_rejects(&self, now: Instant, seg: &TcpRepr, val: u32, payload_len: usize) -> bool {
        let behind = self.ts_recent.wrapping_sub(val) as i32;
        // Linux: TCP_PAWS_WINDOW, one tick of slack: segments sent in the
        // same millisecond-ish and reordered by a hair are not old.
        if behind <= PAWS_WINDOW {
            return false;
        }
        // RFC 7323 §5.5: a TS.Recent idle for 24 days is no longer valid.
        if now.saturating_since(self.ts_recent_at) > PAWS_IDLE {
            return false;
        }
        // Linux (tcp_paws_check): some peers send TSval 0 on the handshake
        // and real values after it; 0 recorded is no basis for rejection.
        if self.ts_recent == 0 {
            return false;
        }
        // Linux (tcp_disordered_ack): a pure duplicate ACK at RCV.NXT that
        // would not update the window, with a TSval within the replay
        // window (the RTO, in 1200 Hz ticks: tcp_tsval_replay), is a
        // reordered ACK, not an old duplicate: rejecting it would only
        // hide a duplicate ACK from loss detection.
        let f = seg.flags;
        let wnd = (seg.window as usize) << self.snd_shift;
        let may_update_window = seg.ack > self.snd_una
            || seg.seq > self.snd_wl1
            || (seg.seq == self.snd_wl1 && (wnd > self.snd_wnd || wnd == 0));
        let replay_window = (self.rtt.rto().as_millis() * 6 / 5).min(i32::MAX as u128) as i32;
        let disordered_ack = f.ack()
            && !f.syn()
            && !f.fin()
            && payload_len == 0
            && seg.seq == self.rcv_nxt
            && seg.ack == self.snd_una
            && !may_update_window
            && behind <= replay_window;
        !disordered_ack
    }

    /// An ACK is owed for what arrived before this segment and the caller
    /// has not polled since (a runtime reads a batch of packets, then
    /// polls once): build it now, with the acknowledgment number, window
    /// and SACK blocks of that moment. RFC 9293 §3.8.6.3 and RFC 5681 §4.2
    /// ask for an ACK at least every second full-sized segment, and a
    /// sender's congestion window grows per ACK (RFC 5681 §3.1); one ACK
    /// per batch would also make each lost ACK cost a whole batch. Linux
    /// acknowledges each such segment as it processes it.
    fn queue_owed_ack(&mut self, now: Instant, obs: &mut Observer) {
        if !self.ack_now || self.queued_acks.len() >= super::tcb::MAX_QUEUED_ACKS {
            return;
        }
        let mut pkt = [0u8; super::output::SEGMENT_OVERHEAD];
        if let Some(n) = self.emit_ack_if_owed(now, &mut pkt, obs) {
            self.queued_acks.push_back((pkt, n));
        }
    }

    /// The peer sent again what we hold already: ACK at once and, with
    /// SACK, report it in a D-SACK block (RFC 2883 §4; Linux tcp_dsack_set).
    fn note_duplicate(&mut self, seq: SeqNum, len: usize) {
        if self.sack_enabled {
            self.dsack = Some(SackBlock { left: seq, right: seq + len });
        }
        self.ack_now = true;
        // Linux (tcp_data_queue, out_of_window: tcp_enter_quickack_mode):
        // the sender is retransmitting what arrived, so its ACKs were lost
        // or late; ACK every segment for a while.
        self.quickacks = super::tcb::QUICKACKS;
    }

    /// RST accepted (RFC 9293 §3.10.7.4 second check).
    fn on_reset(&mut self, now: Instant, obs: &mut Observer) {
        match self.state {
            State::SynReceived if self.opening == super::tcb::Opening::Passive => {
                // "return this connection to LISTEN": the listener never saw
                // it, so the connection simply goes away.
                self.set_state(now, State::Closed, obs);
            }
            State::SynReceived => self.fail(now, Errno::ECONNREFUSED, obs),
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                // Linux: a reset in CLOSE-WAIT reports EPIPE to the writer (tcp_reset).
                let err = if self.state == State::CloseWait { Errno::EPIPE } else { Errno::ECONNRESET };
                self.send_buf.consume(self.send_buf.len());
                self.fail(now, err, obs);
            }
            _ => self.set_state(now, State::Closed, obs),
        }
    }

    /// An ACK for an unacceptable segment. Linux rate-limits those of
    /// segments without data (tcp_oow_rate_limited); data always gets one.
    fn oow_ack(&mut self, now: Instant, payload_len: usize, obs: &mut Observer) {
        if payload_len > 0 {
            self.ack_now = true;
        } else {
            self.challenge_ack(now, obs);
        }
    }

    /// RFC 5961 §7: challenge ACKs, rate-limited per connection.
    fn challenge_ack(&mut self, now: Instant, obs: &mut Observer) {
        if self.last_oow_ack.is_some_and(|t| now.saturating_since(t) < OOW_ACK_INTERVAL) {
            obs.drop(now, DropReason::ChallengeAckLimited);
            return;
        }
        self.last_oow_ack = Some(now);
        obs.stats.challenge_acks += 1;
        self.ack_now = true;
    }

    /// The ACK field of an acceptable segment, ESTABLISHED onwards.
    fn on_ack(&mut self, now: Instant, seg: &TcpRepr, payload_len: usize, obs: &mut Observer) {
        let sacked_before = self.sacked_bytes();
        if self.sack_enabled {
            self.note_sacks(seg.options.sacks());
        }
        let prev_una = self.snd_una;
        let old_wnd = self.snd_wnd;
        if let Some((seq, sent)) = self.rtt_probe {
            // Linux (tcp_sacktag_one, sack_rtt_us): the timed segment, sent
            // once, SACKed: as good a sample as its cumulative ACK, and
            // after a timeout it may be the only one for a while (RFC 6298
            // §5.7: the backed-off RTO stays until a valid sample).
            if seq >= self.snd_una && self.scoreboard.iter().any(|b| seq.in_range(b.left, b.right)) {
                self.rtt_probe = None;
                self.rtt.on_sample(now.saturating_since(sent));
                self.rtt.reset_backoff();
            }
        }
        if seg.ack > self.snd_una {
            self.ack_advance(now, seg.ack, seg.options.timestamps.map(|(_, ecr)| ecr), obs);
        }
        let window_changed = self.update_window(seg);
        let mut dup = false;
        if seg.ack == prev_una && seg.ack < self.snd_max {
            // RFC 5681 §2 (DUPLICATE ACKNOWLEDGMENT): no data, no window
            // change, outstanding data, ack == SND.UNA.
            dup = payload_len == 0 && !seg.flags.fin() && !window_changed && self.snd_wnd == old_wnd;
            if dup {
                self.on_dupack(now, obs);
            }
        }
        if self.in_recovery {
            // Packet conservation (RFC 6675 §5, in the spirit of PRR,
            // RFC 6937): each ACK in recovery means segments left the
            // network, and lets a few more retransmissions go; without it a
            // burst of queued holes floods the path and loses more.
            self.rexmit_budget = (self.rexmit_budget + 2).min(2 * RECOVERY_BURST);
        }
        if self.sack_enabled && !dup && !seg.options.sacks().is_empty() {
            // RFC 6675 §5: SACK information finds losses even when the ACKs
            // carry data (a duplex transfer has no pure duplicate ACKs).
            if self.in_recovery {
                self.queue_sack_holes(now, obs);
            } else if self.past_recover() && self.is_lost_by_sack() {
                self.enter_recovery(now, obs);
            }
        }
        if self.in_loss {
            // RFC 8985 §6.2 after a timeout too (Linux runs RACK in
            // TCP_CA_Loss, tcp_identify_packet_loss): a go-back-N
            // retransmission that the SACKs of later ones show lost goes
            // again now, not a backed-off RTO later.
            self.queue_lost_retransmissions(now, obs);
        }
        if self.tlp_high.is_some() {
            self.on_probe_ack(now, seg, obs);
        }
        if self.in_recovery && self.sack_enabled {
            // RFC 6675 §5: with SACK, what may be sent is cwnd - pipe, and
            // SACKed bytes are not in the pipe. Sending checks
            // cwnd + inflation against everything since SND.UNA, so the
            // inflation is the SACKed bytes: exact on every ACK, where
            // RFC 5681's one MSS per duplicate ACK undercounts each lost
            // ACK and stalls the recovery until the RTO.
            self.inflation = self.scoreboard.iter().map(|b| b.left.dist_to(b.right)).sum();
        }
        if let Some(sample) = self.grow_on_ack.take() {
            if !self.in_recovery {
                // Linux (tcp_cong_control): cwnd grows by the segments this
                // ACK delivered, newly SACKed ones included
                // (tp->delivered), not only those cumulatively
                // acknowledged: SACKed bytes acknowledged later, during a
                // recovery, would never count.
                let delivered = (prev_una.dist_to(self.snd_una) + self.sacked_bytes()).saturating_sub(sacked_before);
                self.cc.on_ack(now, delivered.max(1), sample);
            }
        }
        self.arm_reorder_timer(now);

        match self.state {
            State::FinWait1 if self.fin_acked() => {
                self.set_state(now, State::FinWait2, obs);
                if self.orphaned {
                    self.timers.close = Some(now + self.cfg.fin_wait2_timeout);
                }
            }
            State::Closing if self.fin_acked() => self.set_state(now, State::TimeWait, obs),
            State::LastAck if self.fin_acked() => self.set_state(now, State::Closed, obs),
            State::TimeWait if seg.flags.fin() => {
                // The peer's retransmitted FIN: ACK it, restart 2*MSL.
                self.ack_now = true;
                self.timers.close = Some(now + self.cfg.time_wait);
            }
            _ => {}
        }
    }

    /// SND.UNA < SEG.ACK <= SND.MAX: data (and maybe SYN/FIN) acknowledged.
    pub(super) fn ack_advance(&mut self, now: Instant, ack: SeqNum, tsecr: Option<u32>, obs: &mut Observer) {
        let acked_seq = self.snd_una.dist_to(ack);
        let prev_una = self.snd_una;
        // This ACK is the first for our SYN (or SYN,ACK), which was sent
        // more than once.
        let syn_retransmitted = prev_una == self.iss && self.retries > 0;
        // Data bytes acknowledged: exclude our SYN and FIN.
        let data_start = self.data_start();
        let data_acked = data_start.dist_to(ack).min(self.send_buf.len());
        self.send_buf.consume(data_acked);
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        self.scoreboard.retain(|b| b.right > ack);
        self.rexmit.retain(|s| *s >= ack);
        self.retries = 0;

        // RFC 6298 §5.3 + Karn: an RTT sample from the timed segment.
        let mut sample = None;
        if let Some((seq, sent)) = self.rtt_probe {
            if ack > seq {
                // Linux (tcp_clean_rtx_queue, FLAG_RETRANS_DATA_ACKED):
                // not when the ACK covers retransmitted data too, as it
                // may answer the retransmission.
                if self.rexmit_end <= prev_una {
                    sample = Some(now.saturating_since(sent));
                }
                self.rtt_probe = None;
            }
        }
        // An echo of a TSval sent before the last timeout: the ACK answers
        // an original transmission, not the retransmission (RFC 3522 §3.2).
        let echo_before_timeout = match (self.timeout, tsecr) {
            (Some(t), Some(ecr)) => (ecr.wrapping_sub(t.retransmit_ts) as i32) < 0,
            _ => false,
        };
        let mut undone = false;
        if let Some(t) = self.timeout.as_mut() {
            let first_ack = !t.checked;
            t.checked = true;
            if first_ack && echo_before_timeout {
                self.undo_spurious_timeout(now, data_acked, obs);
                undone = true;
            }
        }
        // RFC 7323 §4: with timestamps, the echoed TSval measures the round
        // trip even when the data was retransmitted (Linux: tcp_rtt_tsopt_us,
        // used when there is no clean sample, at least 1 ms). But not an
        // echo from before a timeout: the peer echoes TS.Recent, the TSval
        // of the last segment that advanced its window (RFC 7323 §4.3), and
        // after lost ACKs or a spurious timeout that segment was sent a
        // whole backed-off RTO before the retransmission this ACK answers.
        // Such a "sample" of seconds would hold the RTO at seconds long
        // after the loss (RFC 6298 §3, Karn: only unambiguous samples).
        // The same for a later timeout's retransmission: when the ACK of a
        // retransmission is lost, the peer's next
        // ACK (drawn by the retransmission after it, a duplicate that does
        // not move TS.Recent) still echoes the earlier one, and measures
        // the lost ACKs and the backed-off timer: seconds, and after a few
        // in a row a minute (RFC 6298 §3, Karn: ambiguous). Only an echo of
        // the latest retransmission or later is a sample.
        let echo_before_latest = match (self.karn_ts, tsecr) {
            (Some(k), Some(ecr)) => (ecr.wrapping_sub(k) as i32) < 0,
            _ => false,
        };
        if !echo_before_latest && tsecr.is_some() {
            self.karn_ts = None;
        }
        // Nor from the ACK of a SYN sent again, even when it echoes the
        // last SYN: when the peer's answer was lost as well, the echo
        // measures the peer's own SYN,ACK timer (1 s), and that sample
        // held the RTO at 3 s for the first hundred RTTs of the transfer.
        // Karn's rule without the timestamp exception (RFC 6298 §3; Linux
        // takes no SYN,ACK sample once it was retransmitted,
        // tcp_synack_rtt_meas). RFC 6298 §5.7's 3 s RTO holds until the
        // first data sample.
        if sample.is_none() && self.ts_enabled && !echo_before_timeout && !echo_before_latest && !syn_retransmitted {
            if let Some(ecr) = tsecr.filter(|e| *e != 0) {
                let ms = self.ts_now(now).wrapping_sub(ecr) as i32;
                if (0..60_000).contains(&ms) {
                    sample = Some(Duration::from_millis(ms.max(1) as u64));
                }
            }
        }
        if sample.is_none() && ack > self.rexmit_end {
            // Karn's algorithm as first stated: the backed-off RTO is kept
            // until an ACK for data sent only once. This one covers such
            // data, though its echo is too old to time it (above), and
            // Linux, which takes that echo as a sample, would end the
            // backoff here (tcp_ack_update_rtt). Otherwise one lost ACK
            // after a run of timeouts left the RTO at seconds.
            self.rtt.reset_backoff();
        }
        if let Some(r) = sample {
            self.rtt.on_sample(r);
            // RFC 6298 §5 (after 5.7) and Karn: only a new measurement
            // collapses the backed-off RTO (Linux: tcp_ack_update_rtt).
            self.rtt.reset_backoff();
        }
        if self.timeout.is_some_and(|t| ack >= t.high) {
            self.timeout = None;
        }
        if self.in_loss && ack >= self.recover {
            // Everything sent before the timeout is acknowledged.
            self.in_loss = false;
            self.rexmit_sent.clear();
        }
        // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged,
        // otherwise restart it.
        self.timers.rto = if self.snd_una == self.snd_max { None } else { Some(now + self.rtt.rto()) };
        self.persist_probes = 0;

        if self.recovery_undo.is_some_and(|u| ack > u.seq) {
            self.check_spurious_recovery(now, tsecr, ack, obs);
        }
        match self.in_recovery {
            true if ack >= self.recover => {
                // RFC 6582 §3.2 step 3: a full acknowledgment ends recovery.
                self.in_recovery = false;
                self.inflation = 0;
                self.dupacks = 0;
                self.rexmit.clear();
                self.rexmit_sent.clear();
                self.cc.on_recovery_exit(now, self.flight_size());
            }
            true => {
                // RFC 6582 §3.2 step 5: a partial acknowledgment. Retransmit
                // the first unacknowledged segment, deflate by the amount
                // acknowledged, add back one MSS.
                self.inflation = self.inflation.saturating_sub(acked_seq) + self.snd_mss;
                // With SACK, a hole already retransmitted is in flight: its
                // loss is found by `queue_lost_retransmissions`, and a
                // second copy now would only be a spurious one (RFC 6675
                // §5 retransmits each hole once per its NextSeg rule).
                let resent = self.sack_enabled && self.snd_una < self.high_rxt;
                if !resent && !self.rexmit.contains(&self.snd_una) {
                    self.rexmit.insert(0, self.snd_una);
                }
                self.timers.rto = Some(now + self.rtt.rto());
            }
            false => {
                self.dupacks = 0;
                // The limited-transmit allowance ends with the duplicates.
                self.inflation = 0;
                // The undo's new cwnd already counts this ACK (RFC 4015 §4).
                if data_acked > 0 && !undone {
                    if self.sack_enabled {
                        // `on_ack` grows cwnd by what this ACK delivered,
                        // SACKed bytes included, once it has read the SACK
                        // blocks.
                        self.grow_on_ack = Some(sample);
                    } else {
                        self.cc.on_ack(now, data_acked, sample);
                    }
                }
            }
        }
        // After the recovery state is settled: a full ACK that ends
        // recovery leaves a flight the probe must cover.
        self.arm_tlp(now);
        let _ = obs;
    }

    /// RFC 3522 §3.2: the first ACK after a timeout echoes a TSval older
    /// than the retransmission's, so the original arrived and the timeout
    /// was spurious (a delay spike, or its ACKs were lost). RFC 4015 §4:
    /// take the congestion window back and stop resending what arrived.
    fn undo_spurious_timeout(&mut self, now: Instant, data_acked: usize, obs: &mut Observer) {
        let Some(t) = self.timeout else { return };
        obs.stats.spurious_rtos += 1;
        // RFC 4015 §4 step 4 (SPUR_TO): cwnd <- FlightSize + min(bytes_acked,
        // IW), ssthresh <- pipe_prev: slow start back to where it was,
        // not a burst of the whole old window at once.
        let iw = super::cc::INITIAL_WINDOW_SEGMENTS * self.snd_mss;
        let flight = self.snd_una.dist_to(self.snd_max);
        self.cc.undo(now, t.pipe_prev, flight + data_acked.min(iw));
        // RFC 4015 §4 step 6: resume with data never sent (SND.NXT <-
        // SND.MAX) instead of going back N over what the peer holds.
        self.snd_nxt = self.snd_nxt.max(self.snd_max);
        self.in_loss = false;
        self.rexmit_sent.clear();
        // RFC 6582 §4 held fast retransmit back from the duplicates a
        // go-back-N would draw; there is no go-back-N now, and a real loss
        // below the old SND.MAX may use fast recovery again.
        self.recover = self.snd_una;
    }

    /// RFC 3522 §3.2 for a fast retransmission: the first ACK of the
    /// retransmitted segment echoes a TSval older than the retransmission,
    /// so the original arrived (it was reordered, not lost). If that ACK
    /// also covers every retransmission and leaves no hole, nothing was
    /// lost: leave recovery with the windows from before it (Linux:
    /// tcp_try_undo_recovery / tcp_undo_cwnd_reduction). Reordering
    /// otherwise halves cwnd each time it looks like a loss.
    fn check_spurious_recovery(&mut self, now: Instant, tsecr: Option<u32>, ack: SeqNum, obs: &mut Observer) {
        let Some(u) = self.recovery_undo.take() else { return };
        let Some(ecr) = tsecr else { return };
        let original = (ecr.wrapping_sub(u.retransmit_ts) as i32) < 0;
        if !(self.in_recovery && original && self.high_rxt <= ack && self.scoreboard.is_empty()) {
            return;
        }
        obs.stats.spurious_recoveries += 1;
        self.in_recovery = false;
        self.inflation = 0;
        self.dupacks = 0;
        self.rexmit.clear();
        self.rexmit_sent.clear();
        self.timers.rack = None;
        self.cc.undo(now, u.ssthresh.max(self.cc.ssthresh()), u.cwnd.max(self.cc.cwnd()));
        // The recovery never was: a real loss next may start one at once.
        self.recover = self.snd_una;
    }

    /// RFC 9293 §3.10.7.4: update the send window from a newer segment.
    /// Returns whether the window value changed.
    fn update_window(&mut self, seg: &TcpRepr) -> bool {
        if self.snd_wl1 < seg.seq || (self.snd_wl1 == seg.seq && self.snd_wl2 <= seg.ack) {
            let wnd = if seg.flags.syn() { seg.window as usize } else { (seg.window as usize) << self.snd_shift };
            let changed = wnd != self.snd_wnd;
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            if wnd > 0 {
                self.timers.persist = None;
            }
            return changed;
        }
        false
    }

    /// RFC 5681 §3.2: fast retransmit on the third duplicate ACK, fast
    /// recovery after it (RFC 6582 for several losses in one window).
    fn on_dupack(&mut self, now: Instant, obs: &mut Observer) {
        self.dupacks += 1;
        if self.in_recovery {
            // Step 4: each further duplicate ACK means a segment left the network.
            self.inflation += self.snd_mss;
            self.queue_sack_holes(now, obs);
            return;
        }
        // RFC 6582 §3.2 step 2: the third duplicate ACK starts recovery only
        // if it covers more than `recover`, so data sent before an earlier
        // recovery or timeout cannot trigger another.
        // RFC 6675 §5 (C): or fewer duplicates whose SACK blocks already
        // show DupThresh segments above SND.UNA, when the others were lost.
        let lost = self.dupacks >= 3 || (self.sack_enabled && self.is_lost_by_sack());
        if lost && self.past_recover() {
            self.enter_recovery(now, obs);
        } else if self.dupacks < 3 {
            // RFC 3042 limited transmit: the first two duplicates each let
            // one new segment out beyond cwnd, so a small window still
            // collects the third duplicate instead of waiting for the RTO.
            self.inflation = self.dupacks as usize * self.snd_mss;
        }
    }

    /// RFC 6582 §3.2 step 2: a new recovery needs an acknowledgment that
    /// "covers more than recover", the highest sequence number sent when
    /// the last one began. `recover` here is one past it (SND.MAX then),
    /// so an ACK of exactly everything sent then qualifies: requiring one
    /// byte more kept the first loss after each recovery from fast
    /// retransmit, and each such loss cost an RTO.
    fn past_recover(&self) -> bool {
        self.snd_una >= self.recover
    }

    /// RFC 6675 §4 IsLost(SND.UNA): more than (DupThresh - 1) * SMSS bytes
    /// SACKed above the first unacknowledged byte.
    fn is_lost_by_sack(&self) -> bool {
        let sacked: usize = self.scoreboard.iter().map(|b| b.left.dist_to(b.right)).sum();
        sacked > 2 * self.snd_mss
    }

    /// Fast retransmit and enter fast recovery (RFC 5681 §3.2 step 2,
    /// RFC 6582 §3.2 step 2, RFC 6675 §5 step 4).
    fn enter_recovery(&mut self, now: Instant, obs: &mut Observer) {
        // RFC 3522 §3.1: the first retransmission's TSval (it goes out now).
        self.recovery_undo = self.ts_enabled.then(|| super::tcb::RecoveryUndo {
            retransmit_ts: self.ts_now(now),
            seq: self.snd_una,
            cwnd: self.cc.cwnd(),
            ssthresh: self.cc.ssthresh(),
        });
        self.cc.on_congestion_event(now, self.flight_size());
        self.in_recovery = true;
        self.in_loss = false;
        self.recover = self.snd_max;
        self.inflation = 3 * self.snd_mss;
        self.rexmit.clear();
        self.rexmit_sent.clear();
        self.rexmit.push(self.snd_una);
        self.high_rxt = self.snd_una;
        self.rexmit_budget = RECOVERY_BURST;
        // The probe did its work: recovery takes over (RFC 8985 §7.4).
        self.tlp_high = None;
        self.timers.tlp = None;
        self.timers.rack = None;
        self.queue_sack_holes(now, obs);
        obs.stats.fast_retransmits += 1;
    }

    /// Bytes in flight (RFC 5681 FlightSize).
    pub(super) fn flight_size(&self) -> usize {
        self.snd_una.dist_to(self.snd_nxt)
    }

    /// RFC 2018 §5: remember which ranges the peer holds above SND.UNA.
    fn note_sacks(&mut self, blocks: &[SackBlock]) {
        let old = self.scoreboard.len();
        for b in blocks {
            // RFC 2883 D-SACK blocks (at or below SND.UNA) and blocks past
            // what we sent carry nothing to retransmit around.
            if b.right <= self.snd_una || b.right > self.snd_max || b.left >= b.right {
                continue;
            }
            let b = SackBlock { left: b.left.max(self.snd_una), right: b.right };
            if !self.rexmit_sent.is_empty() {
                // The parts no earlier block covered were delivered just
                // now (the scoreboard is sorted and merged up to `old`).
                let mut seq = b.left;
                for s in &self.scoreboard[..old] {
                    if s.right <= seq {
                        continue;
                    }
                    if s.left >= b.right {
                        break;
                    }
                    if s.left > seq {
                        credit_later(&mut self.rexmit_sent, seq, s.left);
                    }
                    seq = s.right;
                    if seq >= b.right {
                        break;
                    }
                }
                if seq < b.right {
                    credit_later(&mut self.rexmit_sent, seq, b.right);
                }
            }
            self.scoreboard.push(b);
        }
        if self.scoreboard.len() > 1 {
            self.scoreboard.sort_by(|a, b| a.left.diff(b.left).cmp(&0));
            let mut merged: Vec<SackBlock> = Vec::with_capacity(self.scoreboard.len());
            for b in self.scoreboard.drain(..) {
                match merged.last_mut() {
                    Some(last) if b.left <= last.right => last.right = last.right.max(b.right),
                    _ => merged.push(b),
                }
            }
            self.scoreboard = merged;
        }
        if self.scoreboard.len() > super::tcb::MAX_SCOREBOARD {
            let excess = self.scoreboard.len() - super::tcb::MAX_SCOREBOARD;
            self.scoreboard.drain(..excess);
        }
    }

    /// During recovery, queue a retransmission of each hole below the
    /// highest SACKed byte (the holes RFC 6675 calls lost), once each, and
    /// again each retransmission found lost.
    fn queue_sack_holes(&mut self, now: Instant, obs: &mut Observer) {
        self.queue_lost_retransmissions(now, obs);
        let Some(highest) = self.scoreboard.last().map(|b| b.right) else { return };
        // RFC 6675 §4 NextSeg (1.a): only holes above HighRxt. Without it
        // every duplicate ACK queued every hole again, and in a duplex
        // transfer each needless copy drew another duplicate ACK.
        let mut seq = self.snd_una.max(self.high_rxt);
        while seq < highest && self.rexmit.len() < 64 {
            if let Some(b) = self.scoreboard.iter().find(|b| seq.in_range(b.left, b.right)) {
                seq = b.right;
                continue;
            }
            if !self.rexmit.contains(&seq) {
                self.rexmit.push(seq);
            }
            let next_sacked = self.scoreboard.iter().map(|b| b.left).filter(|l| *l > seq).fold(highest, |a, l| a.min(l));
            seq = (seq + self.snd_mss).min(next_sacked);
        }
    }

    /// A retransmission went out during recovery, or after a timeout:
    /// remember when, and where the data sent after it begins, to tell
    /// later whether it was lost too. In fast recovery that is SND.MAX (new
    /// data); after a timeout the go-back-N walk sends in sequence order,
    /// so it is where the walk goes on (SND.NXT), and what the peer SACKed
    /// before the timeout is not counted (`later` only gathers SACKs that
    /// arrive after the retransmission).
    pub(super) fn note_retransmission(&mut self, now: Instant, seq: SeqNum, end: SeqNum) {
        if !self.sack_enabled || !(self.in_recovery || self.in_loss) {
            return;
        }
        self.rexmit_sent.retain(|r| r.seq != seq);
        if self.rexmit_sent.len() >= super::tcb::MAX_RETRANSMITTED {
            self.rexmit_sent.remove(0);
        }
        let after = if self.in_recovery { self.snd_max } else { end.max(self.snd_nxt) };
        self.rexmit_sent.push(super::tcb::Retransmitted { seq, end, at: now, after, later: 0 });
    }

    /// RFC 8985 §6.2 (RACK), applied to retransmissions: one is lost when
    /// data sent after it has been delivered and it has not, beyond what
    /// reordering explains. Without this a lost retransmission waits for
    /// the RTO, since RFC 6675's NextSeg never sends a hole twice. Data
    /// sent after it is what lies above `after` (see `note_retransmission`)
    /// and was SACKed since it went out. Reordering
    /// is allowed for by RFC 6675's DupThresh (three segments' worth
    /// SACKed above it) or by RACK's time: one RTT plus a quarter since
    /// it went out (RFC 8985 §6.2 step 5, reo_wnd = SRTT/4 here).
    fn queue_lost_retransmissions(&mut self, now: Instant, obs: &mut Observer) {
        if self.rexmit_sent.is_empty() {
            return;
        }
        let srtt = self.rtt.srtt().unwrap_or_else(|| self.rtt.rto());
        let (una, mss) = (self.snd_una, self.snd_mss);
        let scoreboard = &self.scoreboard;
        let mut lost = Vec::new();
        self.rexmit_sent.retain(|r| {
            if r.end <= una || scoreboard.iter().any(|b| b.left <= r.seq.max(una) && r.end <= b.right) {
                return false; // delivered
            }
            let later = r.later;
            let expired = now.saturating_since(r.at) >= srtt + srtt / 4;
            if later >= 3 * mss || (later > 0 && expired) {
                lost.push(r.seq.max(una));
                return false;
            }
            true
        });
        // Oldest first, ahead of the holes not yet sent once.
        for seq in lost.into_iter().rev() {
            obs.stats.lost_retransmits += 1;
            if !self.rexmit.contains(&seq) {
                self.rexmit.insert(0, seq);
            }
        }
    }

    /// RFC 8985 §6.3: when a loss is known but for the reordering window,
    /// wake up when the window has passed, as no ACK may come to say so.
    /// Outside recovery that is a hole at SND.UNA below SACKed data: data
    /// sent after it arrived, so it is lost once reordering no longer
    /// explains it (§6.2 step 5; reo_wnd = SRTT/4, Linux: min_rtt/4, at
    /// least 1 ms). In recovery it is the earliest retransmission with
    /// later data SACKed (see `queue_lost_retransmissions`).
    fn arm_reorder_timer(&mut self, now: Instant) {
        let Some(srtt) = self.rtt.srtt() else { return };
        if !self.sack_enabled || self.scoreboard.is_empty() {
            self.timers.rack = None;
        } else if self.in_recovery || self.in_loss {
            self.timers.rack =
                self.rexmit_sent.iter().filter(|r| r.later > 0).map(|r| r.at + srtt + srtt / 4).min();
        } else if self.timers.rack.is_none() && self.past_recover() && self.snd_nxt == self.snd_max {
            self.timers.rack = Some(now + (srtt / 4).max(MIN_REO_WND));
        }
    }

    /// RFC 8985 §6.3: the reordering timer expired. What is still missing
    /// below SACKed data is lost: enter recovery, or in recovery send the
    /// lost retransmissions again (one may go without waiting for an ACK).
    pub(super) fn on_reorder_timeout(&mut self, now: Instant, obs: &mut Observer) {
        if !self.sack_enabled || self.scoreboard.is_empty() {
            return;
        }
        if self.in_loss {
            self.queue_lost_retransmissions(now, obs);
            self.arm_reorder_timer(now);
        } else if self.in_recovery {
            self.queue_lost_retransmissions(now, obs);
            if !self.rexmit.is_empty() {
                self.rexmit_budget = self.rexmit_budget.max(1);
            }
            self.arm_reorder_timer(now);
        } else if self.past_recover() && self.snd_nxt == self.snd_max {
            self.enter_recovery(now, obs);
        }
    }

    /// RFC 8985 §7.2 conditions for a tail loss probe: SACK on (the probe's
    /// SACK is what finds the losses), an RTT known, data in flight, no
    /// recovery or timeout under way, and no probe already out.
    pub(super) fn tlp_allowed(&self) -> bool {
        matches!(self.state, State::Established | State::CloseWait | State::FinWait1 | State::Closing | State::LastAck)
            && self.sack_enabled
            && self.rtt.srtt().is_some()
            && self.snd_una < self.snd_max
            && self.snd_nxt == self.snd_max
            && !self.in_recovery
            && self.past_recover()
            && self.retries == 0
            && self.tlp_high.is_none()
    }

    /// RFC 8985 §7.2: arm the probe timeout after new data is sent or
    /// acknowledged: PTO = 2*SRTT, plus the peer's delayed-ACK time when a
    /// single segment is out (Linux: tcp_schedule_loss_probe, which adds
    /// TCP_TIMEOUT_MIN, 2 ms, otherwise), and no later than the RTO: then
    /// the probe goes at the RTO's instant, in its place (Linux).
    pub(super) fn arm_tlp(&mut self, now: Instant) {
        self.timers.tlp = None;
        let (Some(srtt), Some(rto)) = (self.rtt.srtt(), self.timers.rto) else { return };
        if !self.tlp_allowed() {
            return;
        }
        let extra = if self.snd_una.dist_to(self.snd_max) <= self.snd_mss { WC_DEL_ACK } else { TLP_MIN_SLACK };
        self.timers.tlp = Some((now + 2 * srtt + extra).min(rto));
    }

    /// RFC 8985 §7.4: what the ACKs after a tail loss probe say. The
    /// probe SACKed above unacknowledged data: that data, sent before the
    /// probe and a whole PTO ago, is lost (RACK), so recover now. An ACK
    /// past the probe without a D-SACK: the probe itself repaired a loss,
    /// a congestion signal (§7.4.2); with a D-SACK it was not needed.
    fn on_probe_ack(&mut self, now: Instant, seg: &TcpRepr, obs: &mut Observer) {
        let Some(high) = self.tlp_high else { return };
        // RFC 2883 §4: a D-SACK block comes first and lies below the ACK.
        let dsack = seg.options.sacks().first().is_some_and(|b| b.right <= seg.ack);
        let probe_sacked = self.scoreboard.iter().any(|b| b.left < high && high <= b.right);
        if dsack {
            self.tlp_high = None;
        } else if seg.ack >= high {
            self.tlp_high = None;
            self.cc.on_congestion_event(now, self.cc.cwnd());
        } else if probe_sacked && !self.in_recovery && self.past_recover() {
            self.enter_recovery(now, obs);
        }
    }

    /// Segment text in ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2.
    fn receive_data(&mut self, now: Instant, seq: SeqNum, data: &[u8], obs: &mut Observer) {
        // Linux (tcp_event_data_recv): data after a gap longer than the RTO
        // means the sender waited for a timeout, with a window of one
        // segment; ACK every segment while it grows again, so one lost
        // delayed ACK does not cost it another timeout.
        if self.last_data_at.is_some_and(|t| now.saturating_since(t) > self.rtt.rto()) {
            self.quickacks = super::tcb::QUICKACKS;
        }
        self.last_data_at = Some(now);
        let offset = self.rcv_nxt.dist_to(seq);
        let in_order = offset == 0;
        let had_ooo = self.recv_buf.has_ooo();
        match self.recv_buf.write_at(offset, data) {
            Ok(out) => {
                self.rcv_nxt += out.advanced;
                self.unacked_bytes += out.advanced;
                if let Some(fin) = self.peer_fin_at {
                    if fin == self.rcv_nxt {
                        self.on_fin(now, obs);
                    }
                }
            }
            Err(_) => {
                obs.drop(now, DropReason::OutOfOrderFull);
                self.ack_now = true;
                return;
            }
        }
        // Linux-like delayed ACK (RFC 9293 §3.8.6.3 allows it): ACK at once
        // for out-of-order data, for data that fills a hole, in quick-ack
        // mode, and for every second full-sized segment; otherwise within
        // the delayed-ACK time.
        if !in_order || had_ooo || self.quickacks > 0 || self.unacked_bytes >= 2 * self.rcv_mss {
            self.ack_now = true;
            self.quickacks = self.quickacks.saturating_sub(1);
        } else if self.timers.delayed_ack.is_none() {
            self.timers.delayed_ack = Some(now + self.cfg.delayed_ack);
        }
    }

    /// The peer's FIN, in order (RFC 9293 §3.10.7.4 eighth check).
    fn on_fin(&mut self, now: Instant, obs: &mut Observer) {
        if !self.fin_received {
            self.fin_received = true;
            self.peer_fin_at = None;
            self.rcv_nxt += 1;
        }
        self.ack_now = true;
        match self.state {
            State::SynReceived | State::Established => self.set_state(now, State::CloseWait, obs),
            State::FinWait1 => {
                if self.fin_acked() {
                    self.set_state(now, State::TimeWait, obs);
                } else {
                    self.set_state(now, State::Closing, obs);
                }
            }
            State::FinWait2 => self.set_state(now, State::TimeWait, obs),
            State::TimeWait => self.timers.close = Some(now + self.cfg.time_wait),
            _ => {}
        }
    }
}

/// Newly SACKed bytes `left..right` were delivered after every
/// retransmission whose later data starts below `right`.
fn credit_later(sent: &mut [super::tcb::Retransmitted], left: SeqNum, right: SeqNum) {
    for r in sent {
        if right > r.after {
            r.later += r.after.max(left).dist_to(right);
        }
    }
}
