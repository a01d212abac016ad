//! The transmission control block (RFC 9293 §3.3.1): one connection's
//! variables, its user calls (§3.10.1-6) and the one function through which
//! every state change passes.
//!
//! Segment arrival lives in `input.rs`, segment output in `output.rs`,
//! timers in `timer.rs`; they are all `impl Tcb` blocks on this struct.

use super::cc::{self, CongestionControl};
use super::config::TcpConfig;
use super::output::SEGMENT_OVERHEAD;
use super::recv_buf::RecvBuffer;
use super::rtt::RttEstimator;
use super::send_buf::SendBuffer;
use super::state::State;
use crate::socket::errno::Errno;
use crate::stack::Observer;
use crate::time::Instant;
use crate::wire::{SackBlock, SeqNum, TcpRepr};
use core::net::SocketAddrV4;
use core::time::Duration;
use std::collections::VecDeque;

/// RFC 9293 §3.7.1: the MSS assumed when the peer sends none.
pub const DEFAULT_PEER_MSS: u16 = 536;
/// Bytes the timestamp option adds to every segment (nop,nop,TS).
pub const TS_OPTION_LEN: usize = 12;
/// Linux: TCP_MAX_QUICKACKS, segments acknowledged at once at the start.
pub const QUICKACKS: u32 = 16;
/// Linux: tcp_invalid_ratelimit, the spacing of out-of-window and challenge ACKs.
pub const OOW_ACK_INTERVAL: Duration = Duration::from_millis(500);
/// Ranges of the peer's SACK blocks kept for retransmission (RFC 2018 §5).
pub(super) const MAX_SCOREBOARD: usize = 16;
/// Pure ACKs built while segments arrive and waiting for `poll_transmit`.
/// A runtime that reads a batch of 64 packets before it polls owes at most
/// one per segment (quick-ack mode); beyond this the owed ACKs coalesce.
pub(super) const MAX_QUEUED_ACKS: usize = 64;
/// Retransmissions of one recovery remembered for loss detection; the
/// oldest are forgotten beyond this (they are then left to the RTO).
pub(super) const MAX_RETRANSMITTED: usize = 64;

/// How the connection was opened, which decides where an RST in
/// SYN-RECEIVED leads (RFC 9293 §3.10.7.4 second check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    Active,
    Passive,
}

/// Timers. Each is a deadline; `None` is stopped.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timers {
    /// Retransmission (RFC 6298), also SYN/SYN-ACK retransmission.
    pub rto: Option<Instant>,
    pub delayed_ack: Option<Instant>,
    /// Zero-window probing (RFC 9293 §3.8.6.1).
    pub persist: Option<Instant>,
    pub keepalive: Option<Instant>,
    /// RFC 8985 §7: the probe timeout of a tail loss probe.
    pub tlp: Option<Instant>,
    /// RFC 8985 §6.3: the reordering timer, when a hole below SACKed data
    /// waits only for the reordering window to pass.
    pub rack: Option<Instant>,
    /// TIME-WAIT's 2*MSL, or an orphan's FIN-WAIT-2 limit.
    pub close: Option<Instant>,
}

impl Timers {
    pub fn earliest(&self) -> Option<Instant> {
        [self.rto, self.tlp, self.rack, self.delayed_ack, self.persist, self.keepalive, self.close].into_iter().flatten().min()
    }
}

/// A control segment owed to the peer outside the data flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// RFC 9293 §3.5.2: a reset, with the sequence number and optional ACK.
    Rst { seq: SeqNum, ack: Option<SeqNum> },
    /// A probe with seq SND.UNA-1 and no data: keepalive (RFC 9293 §3.8.4)
    /// or zero-window probe. Linux: tcp_xmit_probe_skb.
    Probe,
}

/// A retransmission sent during fast recovery (RFC 8985 §6.2: a
/// retransmission can be lost too, and is detected like any segment).
#[derive(Clone, Copy, Debug)]
pub(super) struct Retransmitted {
    pub(super) seq: SeqNum,
    pub(super) end: SeqNum,
    pub(super) at: Instant,
    /// Data from here on was sent after it (SND.MAX in fast recovery,
    /// where the go-back-N walk goes on after a timeout).
    pub(super) after: SeqNum,
    /// Bytes above `after` SACKed since it went out (RFC 8985 §6.2:
    /// delivered data sent after it).
    pub(super) later: usize,
}

/// A fast recovery that may prove spurious (RFC 3522): the TSval of its
/// first retransmission and the windows before it.
#[derive(Clone, Copy, Debug)]
pub(super) struct RecoveryUndo {
    pub(super) retransmit_ts: u32,
    /// SND.UNA when it began: the segment retransmitted first.
    pub(super) seq: SeqNum,
    pub(super) cwnd: usize,
    pub(super) ssthresh: usize,
}

/// A retransmission timeout whose retransmissions are not yet all
/// acknowledged: what RFC 3522 needs to tell whether it was spurious and
/// RFC 4015 to undo it.
#[derive(Clone, Copy, Debug)]
pub(super) struct TimeoutEpisode {
    /// RFC 3522 §2 RetransmitTS: the TSval of the first retransmission.
    pub(super) retransmit_ts: u32,
    /// RFC 4015 §4 pipe_prev: max(FlightSize, ssthresh) at the timeout.
    pub(super) pipe_prev: usize,
    /// SND.MAX at the timeout: the episode ends when it is acknowledged.
    pub(super) high: SeqNum,
    /// The first acceptable ACK after the timeout has been examined.
    pub(super) checked: bool,
}

#[derive(Debug)]
pub struct Tcb {
    pub(super) state: State,
    pub(super) opening: Opening,
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub(super) cfg: TcpConfig,

    // Send sequence variables (RFC 9293 §3.3.1).
    pub(super) iss: SeqNum,
    pub(super) snd_una: SeqNum,
    pub(super) snd_nxt: SeqNum,
    /// Highest sequence number sent plus one; SND.NXT falls back below it
    /// after a timeout (go-back-N), ACKs up to it are still valid.
    pub(super) snd_max: SeqNum,
    pub(super) snd_wnd: usize,
    pub(super) max_snd_wnd: usize,
    pub(super) snd_wl1: SeqNum,
    pub(super) snd_wl2: SeqNum,
    /// Shift applied to the peer's window field (RFC 7323 §2.3).
    pub(super) snd_shift: u8,
    /// Both SYNs carried the window-scale option.
    pub(super) ws_enabled: bool,
    /// Payload bytes per full segment we send, options deducted.
    pub(super) snd_mss: usize,
    /// End of the last sub-MSS segment sent (Minshall's Nagle variant).
    pub(super) snd_sml: SeqNum,

    // Receive sequence variables.
    pub(super) irs: SeqNum,
    pub(super) rcv_nxt: SeqNum,
    /// Right edge of the window last advertised: never moved left
    /// (RFC 9293 §3.8.6.2.2, no shrinking).
    pub(super) rcv_adv: SeqNum,
    pub(super) rcv_shift: u8,
    /// Payload bytes per full segment the peer sends to us.
    pub(super) rcv_mss: usize,

    pub(super) send_buf: SendBuffer,
    pub(super) recv_buf: RecvBuffer,
    /// The user closed or shut down writing: a FIN follows the data.
    pub(super) fin_queued: bool,
    /// The sequence number of our FIN, fixed when it is queued (no data
    /// can follow it).
    pub(super) fin_at: SeqNum,
    /// A FIN from the peer beyond RCV.NXT, waiting for the gap to fill.
    pub(super) peer_fin_at: Option<SeqNum>,
    pub(super) fin_received: bool,

    // Options agreed on the handshake.
    pub(super) ts_enabled: bool,
    pub(super) ts_recent: u32,
    pub(super) ts_recent_at: Instant,
    /// TSval = our clock in ms + this offset (Linux: per-connection random offset).
    pub(super) ts_offset: u32,
    pub(super) sack_enabled: bool,
    pub(super) last_ack_sent: SeqNum,
    /// A duplicate the peer sent, reported once as a D-SACK block (RFC 2883).
    pub(super) dsack: Option<SackBlock>,
    /// The peer's SACK blocks above SND.UNA, sorted, merged.
    pub(super) scoreboard: Vec<SackBlock>,

    // Retransmission and congestion control.
    pub(super) rtt: RttEstimator,
    /// Karn's rule: one timed segment, forgotten when anything is retransmitted.
    pub(super) rtt_probe: Option<(SeqNum, Instant)>,
    pub(super) cc: cc::Cc,
    pub(super) dupacks: u32,
    /// RFC 6582 `recover`, kept one past the RFC's: SND.MAX when fast
    /// recovery (or a timeout) began; recovery lasts until it is acknowledged.
    pub(super) recover: SeqNum,
    pub(super) in_recovery: bool,
    /// After a timeout, until everything sent before it is acknowledged
    /// (Linux: TCP_CA_Loss): go-back-N retransmissions are watched for loss.
    pub(super) in_loss: bool,
    /// Extra window during fast recovery: 3 MSS plus one per duplicate ACK
    /// (RFC 5681 §3.2 steps 3-4), shrunk by partial ACKs (RFC 6582 §3.2
    /// step 5); with SACK, the bytes SACKed (RFC 6675 §5 pipe).
    pub(super) inflation: usize,
    /// Segments to retransmit before new data, by starting sequence.
    pub(super) rexmit: Vec<SeqNum>,
    /// RFC 6675 HighRxt: the end of the highest retransmission in this
    /// recovery; SACK holes below it were already sent again.
    pub(super) high_rxt: SeqNum,
    /// Retransmissions the recovery may still send before the next ACK.
    pub(super) rexmit_budget: u32,
    /// This ACK may grow cwnd (outside recovery), with its RTT sample.
    pub(super) grow_on_ack: Option<Option<Duration>>,
    /// This recovery's retransmissions still unacknowledged, oldest first.
    pub(super) rexmit_sent: Vec<Retransmitted>,
    /// RFC 8985 §7.3 TLP.end_seq: SND.MAX when the tail loss probe went
    /// out, until an ACK settles what the probe found.
    pub(super) tlp_high: Option<SeqNum>,
    /// Where the highest segment sent so far starts: what a tail loss
    /// probe sends again (RFC 8985 §7.3).
    pub(super) last_seg: SeqNum,
    /// End of the highest data retransmitted so far (Karn's rule).
    pub(super) rexmit_end: SeqNum,
    /// Consecutive timeouts without progress.
    pub(super) retries: u32,
    /// TSval of the latest timeout retransmission, while no ACK has
    /// echoed it or anything later: older echoes give no RTT sample.
    pub(super) karn_ts: Option<u32>,
    /// The timeout being recovered from, with timestamps on.
    pub(super) timeout: Option<TimeoutEpisode>,
    /// The fast recovery under way, with timestamps on, until the ACK of
    /// its first retransmission tells whether it was needed.
    pub(super) recovery_undo: Option<RecoveryUndo>,
    pub(super) last_send: Instant,
    pub(super) last_recv: Instant,
    pub(super) keepalive_probes: u32,
    pub(super) persist_probes: u32,
    /// The persist timer fired with a small non-zero window: send a
    /// window-sized piece of a segment.
    pub(super) force_partial: bool,

    // Acknowledgment policy.
    pub(super) ack_now: bool,
    /// Bytes received since the last ACK we sent.
    pub(super) unacked_bytes: usize,
    pub(super) quickacks: u32,
    /// When the last data segment arrived (Linux: icsk_ack.lrcvtime).
    pub(super) last_data_at: Option<Instant>,
    pub(super) last_oow_ack: Option<Instant>,
    pub(super) pending: Option<Pending>,
    /// ACKs owed to segments that arrived before the caller polled, built
    /// when the next segment arrived (whole IPv4 packets and their lengths).
    pub(super) queued_acks: VecDeque<([u8; SEGMENT_OVERHEAD], usize)>,

    pub(super) timers: Timers,
    /// SO_ERROR: set by a reset, a timeout or a refused connect.
    pub(super) error: Option<Errno>,
    /// The user has closed the socket: the connection lives on its own
    /// (an orphan, in Linux's words) until it reaches CLOSED.
    pub(super) orphaned: bool,
    /// shutdown(SHUT_RD) or close(): reads see end of stream.
    pub(super) shut_rd: bool,
}

impl Tcb {
    fn new(
        cfg: &TcpConfig,
        opening: Opening,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
    ) -> Tcb {
        let snd_mss = DEFAULT_PEER_MSS as usize;
        Tcb {
            state: State::Closed,
            opening,
            local,
            remote,
            cfg: cfg.clone(),
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            snd_shift: 0,
            ws_enabled: false,
            snd_mss,
            snd_sml: iss,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_shift: 0,
            rcv_mss: DEFAULT_PEER_MSS as usize,
            send_buf: SendBuffer::new(cfg.send_buf),
            recv_buf: RecvBuffer::new(cfg.recv_buf),
            fin_queued: false,
            fin_at: SeqNum(0),
            peer_fin_at: None,
            fin_received: false,
            ts_enabled: false,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset,
            sack_enabled: false,
            last_ack_sent: SeqNum(0),
            dsack: None,
            scoreboard: Vec::new(),
            rtt: RttEstimator::new(cfg.rto),
            rtt_probe: None,
            cc: cc::Cc::new(cfg.congestion, snd_mss),
            dupacks: 0,
            recover: iss,
            in_recovery: false,
            in_loss: false,
            inflation: 0,
            rexmit: Vec::new(),
            high_rxt: iss,
            rexmit_budget: 0,
            grow_on_ack: None,
            rexmit_sent: Vec::new(),
            tlp_high: None,
            last_seg: iss,
            rexmit_end: iss,
            retries: 0,
            karn_ts: None,
            timeout: None,
            recovery_undo: None,
            last_send: now,
            last_recv: now,
            keepalive_probes: 0,
            persist_probes: 0,
            force_partial: false,
            ack_now: false,
            unacked_bytes: 0,
            quickacks: QUICKACKS,
            last_data_at: None,
            last_oow_ack: None,
            pending: None,
            queued_acks: VecDeque::new(),
            timers: Timers::default(),
            error: None,
            orphaned: false,
            shut_rd: false,
        }
    }

    /// Active OPEN (RFC 9293 §3.10.1): CLOSED -> SYN-SENT; the SYN goes out
    /// on the next `poll_transmit`.
    pub fn connect(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
        obs: &mut Observer,
    ) -> Tcb {
        let mut tcb = Tcb::new(cfg, Opening::Active, local, remote, iss, ts_offset, now);
        tcb.snd_nxt = iss;
        tcb.set_state(now, State::SynSent, obs);
        tcb
    }

    /// A SYN arrived at a listener (RFC 9293 §3.10.7.2, third check):
    /// LISTEN -> SYN-RECEIVED with RCV.NXT = SEG.SEQ+1 and a SYN-ACK owed.
    #[allow(clippy::too_many_arguments)]
    pub fn accept_syn(
        cfg: &TcpConfig,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        syn: &TcpRepr,
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
        obs: &mut Observer,
    ) -> Tcb {
        let mut tcb = Tcb::new(cfg, Opening::Passive, local, remote, iss, ts_offset, now);
        tcb.state = State::Listen;
        tcb.take_syn(now, syn);
        tcb.set_state(now, State::SynReceived, obs);
        tcb
    }

    /// Record the peer's SYN: IRS, RCV.NXT, and the options it offered.
    pub(super) fn take_syn(&mut self, now: Instant, syn: &TcpRepr) {
        self.irs = syn.seq;
        self.rcv_nxt = syn.seq + 1;
        // Any edge recorded before now (our SYN's, in an active open) was
        // relative to an RCV.NXT of 0, not to the peer's sequence space.
        self.rcv_adv = self.rcv_nxt;
        self.last_recv = now;
        let o = &syn.options;
        // RFC 7323 §2.2: window scaling only when both sides offer it;
        // otherwise both shifts are zero, whatever our SYN offered.
        self.ws_enabled = self.cfg.window_scaling && o.window_scale.is_some();
        self.snd_shift = if self.ws_enabled { o.window_scale.unwrap_or(0) } else { 0 };
        self.rcv_shift = if self.ws_enabled { self.cfg.window_shift() } else { 0 };
        // RFC 7323 §3.2: timestamps only when the SYN carries them.
        if self.cfg.timestamps {
            if let Some((val, _)) = o.timestamps {
                self.ts_enabled = true;
                self.ts_recent = val;
                self.ts_recent_at = now;
            }
        }
        self.sack_enabled = self.cfg.sack && o.sack_permitted;
        // RFC 9293 §3.7.1: send no more than the peer's MSS, and no more
        // than our own MTU allows.
        let peer_mss = o.mss.unwrap_or(DEFAULT_PEER_MSS).min(self.cfg.mss).max(64);
        let opt = if self.ts_enabled { TS_OPTION_LEN } else { 0 };
        self.snd_mss = peer_mss as usize - opt;
        self.rcv_mss = self.cfg.mss as usize - opt;
        self.cc.set_mss(self.snd_mss);
        // RFC 9293 §3.10.7.3: the window in a SYN is never scaled.
        self.snd_wnd = syn.window as usize;
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = syn.seq;
        self.snd_wl2 = syn.ack;
    }

    /// Every state change passes here, so every change is traced.
    pub(super) fn set_state(&mut self, now: Instant, to: State, obs: &mut Observer) {
        if self.state == to {
            return;
        }
        obs.state_change(now, self.local, self.remote, self.state, to);
        self.state = to;
        match to {
            State::Closed => {
                self.timers = Timers::default();
                self.rexmit.clear();
                self.rexmit_sent.clear();
                // Owed to a connection that no longer exists.
                self.queued_acks.clear();
            }
            State::TimeWait => {
                // RFC 9293 §3.10.7.4: only the 2*MSL timer runs in TIME-WAIT.
                self.timers = Timers { close: Some(now + self.cfg.time_wait), ..Timers::default() };
                self.send_buf.consume(self.send_buf.len());
            }
            State::Established => {
                obs.stats.conns_opened += 1;
                self.rtt.handshake_done();
                self.arm_keepalive(now);
            }
            _ => {}
        }
    }

    /// The connection failed: record the error for SO_ERROR and close.
    pub(super) fn fail(&mut self, now: Instant, err: Errno, obs: &mut Observer) {
        self.error = Some(err);
        self.set_state(now, State::Closed, obs);
    }

    /// RFC 5927: an ICMP error ended a connection attempt.
    pub fn fail_icmp(&mut self, now: Instant, err: Errno, obs: &mut Observer) {
        self.fail(now, err, obs);
    }

    /// A new SYN took over this TIME-WAIT 4-tuple (the stack decides).
    pub fn end_time_wait(&mut self, now: Instant, obs: &mut Observer) {
        self.set_state(now, State::Closed, obs);
    }

    /// Close without a word to the peer: a SYN-RECEIVED child of a listener
    /// that went away (Linux drops request socks silently).
    pub fn forget(&mut self, now: Instant, obs: &mut Observer) {
        self.set_state(now, State::Closed, obs);
    }

    /// The SYN-ACK went out statelessly (a SYN cookie): SND.NXT is past it.
    pub fn syn_ack_sent(&mut self, _now: Instant) {
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_nxt;
        self.timers.rto = None;
    }

    // ----- What the socket layer reads -----

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn opening(&self) -> Opening {
        self.opening
    }

    pub fn error(&self) -> Option<Errno> {
        self.error
    }

    /// SO_ERROR reads and clears the pending error.
    pub fn take_error(&mut self) -> Option<Errno> {
        self.error.take()
    }

    pub fn readable(&self) -> usize {
        self.recv_buf.readable()
    }

    /// The peer's FIN has been received in order (read side at EOF once drained).
    pub fn fin_received(&self) -> bool {
        self.fin_received
    }

    pub fn send_free(&self) -> usize {
        if self.fin_queued {
            0
        } else {
            self.send_buf.free()
        }
    }

    pub fn send_queued(&self) -> usize {
        self.send_buf.len()
    }

    pub fn send_capacity(&self) -> usize {
        self.send_buf.capacity()
    }

    pub fn recv_capacity(&self) -> usize {
        self.recv_buf.capacity()
    }

    /// Bytes sent but not yet acknowledged (SIOCOUTQ counts all queued).
    pub fn unacked(&self) -> usize {
        self.snd_una.dist_to(self.snd_max)
    }

    pub fn is_orphaned(&self) -> bool {
        self.orphaned
    }

    pub fn write_shut(&self) -> bool {
        self.fin_queued
    }

    pub fn read_shut(&self) -> bool {
        self.shut_rd
    }

    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    pub fn mss(&self) -> usize {
        self.snd_mss
    }

    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    pub fn cwnd(&self) -> usize {
        self.cc.cwnd()
    }

    pub fn ssthresh(&self) -> usize {
        self.cc.ssthresh()
    }

    pub fn congestion_name(&self) -> &'static str {
        self.cc.name()
    }

    pub fn retries(&self) -> u32 {
        self.retries
    }

    pub fn snd_una(&self) -> SeqNum {
        self.snd_una
    }

    pub fn snd_nxt(&self) -> SeqNum {
        self.snd_nxt
    }

    pub fn rcv_nxt(&self) -> SeqNum {
        self.rcv_nxt
    }

    pub fn iss(&self) -> SeqNum {
        self.iss
    }

    pub fn irs(&self) -> SeqNum {
        self.irs
    }

    pub fn timestamps_enabled(&self) -> bool {
        self.ts_enabled
    }

    pub fn sack_enabled(&self) -> bool {
        self.sack_enabled
    }

    pub fn window_shifts(&self) -> (u8, u8) {
        (self.snd_shift, self.rcv_shift)
    }

    pub fn peer_window(&self) -> usize {
        self.snd_wnd
    }

    pub fn ts_recent(&self) -> u32 {
        self.ts_recent
    }

    /// The earliest running timer (RTO, delayed ACK, persist, keepalive,
    /// TIME-WAIT), without the "something is owed now" of `poll_at`.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    pub fn poll_at(&self) -> Option<Instant> {
        let syn_owed = matches!(self.state, State::SynSent | State::SynReceived) && self.snd_nxt == self.iss;
        // Queued retransmissions wait for recovery's per-ACK budget.
        let rexmit_ready = !self.rexmit.is_empty() && (!self.in_recovery || self.rexmit_budget > 0);
        if self.pending.is_some() || self.ack_now || !self.queued_acks.is_empty() || rexmit_ready || syn_owed {
            // Something is owed now; the caller polls transmit first.
            return Some(Instant::ZERO);
        }
        self.timers.earliest()
    }

    // ----- User calls (RFC 9293 §3.10) -----

    /// SEND (§3.10.2): queue as much of `data` as fits. Errors per Linux's
    /// tcp_sendmsg: a pending error first, then EPIPE once writing is shut.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.state {
            State::Established | State::CloseWait if !self.fin_queued => {}
            State::SynSent | State::SynReceived => return Err(Errno::EAGAIN),
            _ => return Err(Errno::EPIPE),
        }
        let n = self.send_buf.push(data);
        if n == 0 && !data.is_empty() {
            return Err(Errno::EAGAIN);
        }
        Ok(n)
    }

    /// RECEIVE (§3.10.3) into `out`; `peek` leaves the data queued
    /// (MSG_PEEK). Ok(0) is end of stream.
    pub fn recv(&mut self, now: Instant, out: &mut [u8], peek: bool) -> Result<usize, Errno> {
        let avail = self.recv_buf.readable();
        if avail == 0 {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            if self.fin_received || self.shut_rd {
                return Ok(0);
            }
            return match self.state {
                // Linux: a reset connection reads as EOF once SO_ERROR was taken.
                State::Closed => Ok(0),
                _ => Err(Errno::EAGAIN),
            };
        }
        if out.is_empty() {
            return Ok(0);
        }
        let n = if peek { self.recv_buf.peek(out) } else { self.recv_buf.read(out) };
        if !peek {
            self.after_read(now);
        }
        Ok(n)
    }

    /// The application freed receive space: tell the peer when the window
    /// opened enough to matter (RFC 9293 §3.8.6.2.2, receiver SWS avoidance).
    fn after_read(&mut self, _now: Instant) {
        if !matches!(self.state, State::Established | State::FinWait1 | State::FinWait2) {
            return;
        }
        let advertised = self.rcv_nxt.dist_to(self.rcv_adv);
        // What the 16-bit field can carry: without window scaling a larger
        // window is still 65535, and an update would change nothing.
        let window = self.recv_buf.window().min(65535 << self.rcv_shift);
        let threshold = (self.recv_buf.capacity() / 2).min(self.rcv_mss);
        if window >= advertised + threshold.max(1) && (advertised < self.rcv_mss || window >= 2 * advertised) {
            self.ack_now = true;
        }
    }

    /// CLOSE (§3.10.4) or shutdown(SHUT_WR): queue a FIN after the data.
    pub fn shutdown_write(&mut self, now: Instant, obs: &mut Observer) {
        match self.state {
            State::SynSent => {
                // §3.10.4: CLOSE in SYN-SENT deletes the TCB.
                self.set_state(now, State::Closed, obs);
            }
            State::SynReceived | State::Established => {
                // §3.10.4: in SYN-RECEIVED nothing can be queued yet (send()
                // is EAGAIN), so the FIN goes now, as from ESTABLISHED.
                self.queue_fin();
                self.set_state(now, State::FinWait1, obs);
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(now, State::LastAck, obs);
            }
            _ => {}
        }
    }

    /// shutdown(SHUT_RD): reads return end of stream from now on.
    pub fn shutdown_read(&mut self) {
        self.shut_rd = true;
    }

    /// close(): the socket is gone. Linux sends an RST instead of a FIN
    /// when unread data is discarded (RFC 2525 §2.17, tcp_close).
    pub fn close(&mut self, now: Instant, obs: &mut Observer) {
        self.orphaned = true;
        self.shut_rd = true;
        if self.recv_buf.readable() > 0 {
            self.abort(now, obs);
            return;
        }
        self.shutdown_write(now, obs);
        if self.state == State::FinWait2 {
            self.timers.close = Some(now + self.cfg.fin_wait2_timeout);
        }
    }

    /// ABORT (§3.10.5), SO_LINGER with a zero timeout: send RST and close.
    pub fn abort(&mut self, now: Instant, obs: &mut Observer) {
        match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.pending = Some(Pending::Rst { seq: self.snd_nxt, ack: Some(self.rcv_nxt) });
            }
            _ => {}
        }
        self.send_buf.consume(self.send_buf.len());
        self.set_state(now, State::Closed, obs);
    }

    pub fn set_nodelay(&mut self, on: bool) {
        self.cfg.nodelay = on;
    }

    pub fn set_cork(&mut self, on: bool) {
        self.cfg.cork = on;
    }

    pub fn set_keepalive(&mut self, now: Instant, ka: Option<super::config::Keepalive>) {
        self.cfg.keepalive = ka;
        self.arm_keepalive(now);
    }

    pub fn set_send_capacity(&mut self, n: usize) {
        self.send_buf.set_capacity(n);
    }

    pub fn set_recv_capacity(&mut self, n: usize) {
        self.recv_buf.set_capacity(n);
    }

    /// Request an immediate ACK (TCP_QUICKACK).
    pub fn quickack(&mut self) {
        self.quickacks = QUICKACKS;
    }

    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        self.timers.keepalive = match (self.cfg.keepalive, self.state) {
            (Some(ka), State::Established | State::CloseWait | State::FinWait2) => Some(now + ka.idle),
            _ => None,
        };
    }

    // ----- Loss recovery helpers -----

    /// Bytes the peer has SACKed above SND.UNA.
    pub(super) fn sacked_bytes(&self) -> usize {
        self.scoreboard.iter().filter(|b| b.right > self.snd_una).map(|b| b.left.max(self.snd_una).dist_to(b.right)).sum()
    }

    // ----- Sequence-space helpers -----

    /// Sequence number of the first byte in the send buffer.
    pub(super) fn data_start(&self) -> SeqNum {
        // Until our SYN is acknowledged the first data byte is ISS+1. Not
        // `snd_una.max(iss + 1)`: sequence numbers compare modulo 2^32, so
        // once 2 GiB have been acknowledged SND.UNA looks *before* ISS+1
        // and the send buffer would stop draining (a bulk send stalled).
        if self.snd_una == self.iss {
            self.iss + 1
        } else {
            self.snd_una
        }
    }

    /// Sequence number just past the last queued data byte.
    pub(super) fn data_end(&self) -> SeqNum {
        self.data_start() + self.send_buf.len()
    }

    /// The sequence number our FIN occupies, once queued.
    pub(super) fn fin_seq(&self) -> Option<SeqNum> {
        self.fin_queued.then_some(self.fin_at)
    }

    fn queue_fin(&mut self) {
        if !self.fin_queued {
            self.fin_at = self.data_end();
            self.fin_queued = true;
        }
    }

    pub(super) fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|f| self.snd_una > f)
    }

    /// The window we offer now, in bytes, never shrinking the right edge.
    pub(super) fn rcv_wnd(&self) -> usize {
        let wnd = self.recv_buf.window();
        let edge = self.rcv_nxt + wnd;
        if edge < self.rcv_adv {
            self.rcv_nxt.dist_to(self.rcv_adv)
        } else {
            wnd
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Observer;

    /// RFC 9293 §3.4: sequence numbers compare modulo 2^32, so "before
    /// ISS+1" stops meaning anything once half the space has gone by.
    #[test]
    fn data_starts_at_snd_una_after_half_the_sequence_space() {
        let a = SocketAddrV4::new(core::net::Ipv4Addr::new(198, 18, 0, 2), 40000);
        let b = SocketAddrV4::new(core::net::Ipv4Addr::new(198, 18, 0, 1), 7000);
        let iss = SeqNum(1000);
        let mut t = Tcb::connect(&TcpConfig::default(), a, b, iss, 0, Instant::from_micros(0), &mut Observer::default());
        assert_eq!(t.data_start(), iss + 1, "SYN not acknowledged yet");
        for acked in [1usize, 1 << 20, (1 << 31) - 1, 1 << 31, (1 << 31) + 5, 3 << 31] {
            t.snd_una = iss + 1 + acked;
            assert_eq!(t.data_start(), t.snd_una, "{acked} bytes acknowledged");
        }
    }
}
