//! Segment output: what the connection sends next, and the bytes of it.
//!
//! One segment per `poll_transmit` call, in this order: an owed reset or
//! probe, our SYN, retransmissions, new data (with FIN when it is last),
//! a lone FIN, then a pure ACK if one is owed.

use super::cc::CongestionControl as _;
use super::state::State;
use super::tcb::{Pending, Tcb};
use crate::stack::Observer;
use crate::time::Instant;
use crate::wire::ipv4::{self, Ipv4Repr, PROTO_TCP};
use crate::wire::tcp::MAX_HEADER_LEN;
use crate::wire::{Flags, Options, SackBlock, SeqNum, TcpRepr};

/// Room a segment needs beyond its payload: IPv4 and full TCP header.
pub const SEGMENT_OVERHEAD: usize = ipv4::HEADER_LEN + MAX_HEADER_LEN;

/// The largest packet a TSO super-segment may be: the IPv4 total length
/// field's limit (RFC 791), also Linux's GSO limit for a TUN (64 KB).
pub const TSO_MAX_PACKET: usize = 65535;

/// One packet from `poll_transmit`, with what the device must do to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes of the IPv4 packet in the caller's buffer.
    pub len: usize,
    /// A TSO super-segment: the device cuts its payload into pieces of
    /// this many bytes, each with a copy of the headers (virtio-net
    /// `gso_size`). None for an ordinary packet.
    pub segment_size: Option<u16>,
    /// The TCP checksum holds only the pseudo-header sum: the device
    /// completes it (virtio-net NEEDS_CSUM, from the TCP header at
    /// `csum_start` = the IPv4 header length, the field at offset 16).
    pub partial_checksum: bool,
}

impl Tcb {
    /// Write the next segment, as a whole IPv4 packet, into `buf`.
    ///
    /// `buf` is one MTU, or with the TSO offload up to [`TSO_MAX_PACKET`]
    /// bytes: ordinary segments still fit the MTU (`segment_room`), only a
    /// run of full-sized segments becomes one super-segment.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> Option<Transmit> {
        let len = self.next_packet(now, buf, obs)?;
        // Only `emit_data` grows a payload past SND.MSS, and only with TSO.
        let tcp_hlen = ((buf[ipv4::HEADER_LEN + 12] >> 4) as usize) * 4;
        let payload = len - ipv4::HEADER_LEN - tcp_hlen;
        let segment_size = (payload > self.snd_mss).then_some(self.snd_mss as u16);
        debug_assert!(segment_size.is_none() || self.cfg.offload.tso);
        Some(Transmit { len, segment_size, partial_checksum: self.cfg.offload.checksum })
    }

    fn next_packet(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> Option<usize> {
        if buf.len() < SEGMENT_OVERHEAD {
            return None;
        }
        // ACKs built as segments arrived go first: they are older than
        // anything decided now (see `queue_owed_ack`).
        if let Some((pkt, n)) = self.queued_acks.pop_front() {
            buf[..n].copy_from_slice(&pkt[..n]);
            return Some(n);
        }
        if let Some(p) = self.pending.take() {
            return Some(match p {
                Pending::Rst { seq, ack } => self.emit_rst(now, buf, seq, ack, obs),
                Pending::Probe => {
                    // Linux: tcp_xmit_probe_skb, an old sequence number and
                    // no data, which the peer must answer with an ACK.
                    self.emit(now, buf, self.snd_una - 1, Flags::ACK, 0, obs)
                }
            });
        }
        match self.state {
            State::Closed | State::Listen | State::TimeWait => return self.emit_ack_if_owed(now, buf, obs),
            State::SynSent | State::SynReceived => {
                if self.snd_nxt == self.iss {
                    return Some(self.emit_syn(now, buf, obs));
                }
                return self.emit_ack_if_owed(now, buf, obs);
            }
            // CLOSE in SYN-RECEIVED: the SYN,ACK may still be owed.
            _ if self.snd_nxt == self.iss => return Some(self.emit_syn(now, buf, obs)),
            _ => {}
        }
        if let Some(n) = self.emit_retransmission(now, buf, obs) {
            return Some(n);
        }
        if let Some(n) = self.emit_data(now, buf, obs) {
            return Some(n);
        }
        self.emit_ack_if_owed(now, buf, obs)
    }

    pub(super) fn emit_ack_if_owed(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> Option<usize> {
        if !self.ack_now || !matches!(self.state, s if s.is_synchronized() || s == State::SynReceived) {
            self.ack_now = false;
            return None;
        }
        // SND.MAX, not SND.NXT: after a timeout SND.NXT falls back to
        // SND.UNA, below the peer's RCV.NXT, and a bare ACK with that
        // sequence number fails the peer's acceptability test (RFC 9293
        // §3.10.7.4) and its acknowledgment is thrown away. Linux:
        // tcp_acceptable_seq.
        Some(self.emit(now, buf, self.snd_max, Flags::ACK, 0, obs))
    }

    /// SYN (active open) or SYN,ACK (passive or simultaneous open).
    fn emit_syn(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> usize {
        let flags = if self.state == State::SynSent { Flags::SYN } else { Flags::SYN | Flags::ACK };
        // Decided before emit() moves SND.MAX past the SYN.
        let first = self.snd_max == self.iss;
        let n = self.emit(now, buf, self.iss, flags, 0, obs);
        // RFC 6298 §5.1: the timer runs from the (re)transmission; the
        // caller only asks for the SYN to go out, never arms it.
        self.timers.rto = Some(now + self.rtt.rto());
        if first {
            self.rtt_probe = Some((self.iss, now));
        } else {
            // A retransmitted SYN gives no RTT sample (Karn), not even
            // from the timestamp echo (see `ack_advance`).
            self.rtt_probe = None;
            self.cc.on_syn_retransmit();
            obs.stats.retransmits += 1;
        }
        self.snd_nxt = self.iss + 1;
        self.snd_max = self.snd_max.max(self.snd_nxt);
        n
    }

    /// A segment from the retransmission queue (fast retransmit, partial
    /// ACKs, SACK holes).
    fn emit_retransmission(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> Option<usize> {
        while !self.rexmit.is_empty() {
            if self.in_recovery && self.rexmit_budget == 0 {
                return None;
            }
            let seq = self.rexmit.remove(0);
            if seq < self.snd_una || seq >= self.snd_max {
                continue;
            }
            let end = self.data_end();
            let next_sacked =
                self.scoreboard.iter().map(|b| b.left).filter(|l| *l > seq).fold(self.snd_max, |a, l| a.min(l));
            let want = seq.dist_to(end).min(seq.dist_to(next_sacked)).min(self.snd_mss);
            let len = want.min(self.segment_room(buf.len()));
            if len < want && !self.rexmit.contains(&(seq + len)) {
                // SACK blocks took room: the rest of the hole goes next.
                self.rexmit.insert(0, seq + len);
            }
            let mut flags = Flags::ACK;
            if len > 0 {
                flags |= Flags::PSH;
            }
            if self.fin_seq() == Some(seq + len) && seq + len < self.snd_max {
                flags |= Flags::FIN;
            }
            if len == 0 && !flags.fin() {
                continue;
            }
            obs.stats.retransmits += 1;
            self.rexmit_budget = self.rexmit_budget.saturating_sub(1);
            self.karn(seq, seq + len);
            self.high_rxt = self.high_rxt.max(seq + len);
            self.note_retransmission(now, seq, seq + len);
            return Some(self.emit(now, buf, seq, flags, len, obs));
        }
        None
    }

    /// New data from SND.NXT (or data again after a timeout), with the
    /// FIN when it fits, within the send and congestion windows.
    fn emit_data(&mut self, now: Instant, buf: &mut [u8], obs: &mut Observer) -> Option<usize> {
        // After a timeout SND.NXT walks from SND.UNA again: skip what the
        // peer has SACKed (RFC 6675 §5.1, as Linux retransmits only the
        // segments not SACKed).
        while self.snd_nxt < self.snd_max {
            match self.scoreboard.iter().find(|b| self.snd_nxt.in_range(b.left, b.right)) {
                Some(b) => self.snd_nxt = b.right,
                None => break,
            }
        }
        let end = self.data_end();
        let fin_seq = self.fin_seq();
        let fin_pending = fin_seq.is_some_and(|f| self.snd_nxt <= f);
        let remaining = self.snd_nxt.dist_to(end);
        if remaining == 0 && !fin_pending {
            return None;
        }
        let wnd = self.snd_wnd.min(self.cc.cwnd() + self.inflation);
        let in_flight = self.flight_size();
        let usable = wnd.saturating_sub(in_flight);
        let mut len = remaining.min(self.snd_mss).min(self.segment_room(buf.len()));
        let next_sacked =
            self.scoreboard.iter().map(|b| b.left).filter(|l| *l > self.snd_nxt).min_by(|a, b| a.diff(*b).cmp(&0));
        if let Some(next_sacked) = next_sacked {
            len = len.min(self.snd_nxt.dist_to(next_sacked));
        }
        if len > usable {
            // Linux (tcp_snd_wnd_test): do not split a segment to fit a small
            // window; the persist timer sends a window-sized piece instead.
            if self.force_partial && usable > 0 {
                len = usable;
            } else {
                self.arm_persist(now);
                return None;
            }
        }
        self.force_partial = false;
        // Only new data waits; a retransmission (after a timeout) goes now.
        if len > 0 && len < self.snd_mss && len == remaining && !fin_pending && self.snd_nxt >= self.snd_max {
            // Nagle (RFC 9293 §3.7.4) and TCP_CORK: hold a small segment
            // while an earlier small segment is unacknowledged, or always
            // when corked. Linux: Minshall's variant (tcp_minshall_check),
            // so the tail of one large write is not held behind its own
            // full-sized segments.
            let small_in_flight = self.snd_sml > self.snd_una;
            let nagle_ok = (self.cfg.nodelay || !small_in_flight) && !self.cfg.cork;
            // RFC 9293 §3.8.6.2.1: or when it is at least half the largest
            // window the peer has offered.
            let sws_ok = len >= self.max_snd_wnd / 2 && !self.cfg.cork;
            if !nagle_ok && !sws_ok {
                return None;
            }
        }
        let seq = self.snd_nxt;
        if self.cfg.offload.tso && len == self.snd_mss && !self.sack_option_due() {
            len = self.tso_len(seq, remaining, usable, self.payload_room(buf.len()), next_sacked);
        }
        let mut flags = Flags::ACK;
        if len > 0 && seq + len == end {
            flags |= Flags::PSH;
        }
        if fin_seq == Some(seq + len) {
            flags |= Flags::FIN;
        }
        if len == 0 && !flags.fin() {
            return None;
        }
        let retransmit = seq < self.snd_max;
        if len > 0 && len < self.snd_mss {
            self.snd_sml = seq + len;
        }
        if !retransmit && in_flight == 0 {
            // RFC 5681 §4.1: restart from a smaller window after idling.
            let idle = now.saturating_since(self.last_send);
            let rto = self.rtt.rto();
            if idle > rto {
                self.cc.on_idle(now, idle, rto);
            }
        }
        if retransmit {
            obs.stats.retransmits += len.div_ceil(self.snd_mss).max(1) as u64;
            self.karn(seq, seq + len);
            self.note_retransmission(now, seq, seq + len);
        } else if self.rtt_probe.is_none() && len > 0 {
            self.rtt_probe = Some((seq, now));
        }
        Some(self.emit(now, buf, seq, flags, len, obs))
    }

    /// Karn's rule (RFC 6298 §3) for data `seq..end` sent again: the timed
    /// segment is timed no more if this is it; a segment sent once keeps
    /// its timing (Linux times every segment not retransmitted), but an
    /// ACK that also covers retransmitted data gives no sample (see
    /// `ack_advance`).
    fn karn(&mut self, seq: SeqNum, end: SeqNum) {
        if self.rtt_probe.is_some_and(|(s, _)| s.in_range(seq, end)) {
            self.rtt_probe = None;
        }
        self.rexmit_end = self.rexmit_end.max(end);
    }

    /// TSO: grow a full-sized segment at `seq` into a super-segment of as
    /// many whole MSS pieces as the data, the send and congestion windows
    /// (`usable`), the buffer (`room`) and the next SACKed block allow. The
    /// device's pieces are then exactly the segments sent one by one would
    /// have been (Linux: tcp_tso_autosize, tcp_mss_split_point), so the
    /// byte-counting congestion control (RFC 5681 counts bytes in flight)
    /// sees the same flight either way. A retransmission after a timeout
    /// stops at SND.MAX so that new data is not counted as retransmitted.
    fn tso_len(&self, seq: SeqNum, remaining: usize, usable: usize, room: usize, next_sacked: Option<SeqNum>) -> usize {
        let mss = self.snd_mss;
        let mut limit = remaining.min(usable).min(room);
        if let Some(s) = next_sacked {
            limit = limit.min(seq.dist_to(s));
        }
        if seq < self.snd_max {
            limit = limit.min(seq.dist_to(self.snd_max));
        }
        (limit / mss * mss).max(mss)
    }

    /// Payload room for one ordinary segment: within the MTU whatever the
    /// buffer (it is larger with TSO). `cfg.mss` is the MTU less 40
    /// (`StackConfig::tcp_config`; TCP_MAXSEG only lowers it).
    fn segment_room(&self, buf_len: usize) -> usize {
        let mtu = self.cfg.mss as usize + ipv4::HEADER_LEN + crate::wire::tcp::HEADER_LEN;
        self.payload_room(buf_len.min(mtu))
    }

    /// The next segment carries SACK blocks (RFC 2018 §4): out-of-order
    /// data held, or a duplicate to report (RFC 2883).
    fn sack_option_due(&self) -> bool {
        self.sack_enabled && (self.recv_buf.has_ooo() || self.dsack.is_some())
    }

    /// Payload bytes that fit in `buf_len` beside the IPv4 header and the
    /// TCP header with the options this segment carries: SND.MSS already
    /// deducts timestamps, but SACK blocks come and go (Linux:
    /// tcp_current_mss; RFC 9293 §3.7.1, RFC 2018 §3).
    fn payload_room(&self, buf_len: usize) -> usize {
        let mut opts = if self.ts_enabled { super::tcb::TS_OPTION_LEN } else { 0 };
        if self.sack_option_due() {
            let room = if self.ts_enabled { 3 } else { 4 };
            let blocks = self.recv_buf.ooo_ranges().count() + self.dsack.is_some() as usize;
            opts += 4 + 8 * blocks.min(room);
        }
        buf_len.saturating_sub(ipv4::HEADER_LEN + crate::wire::tcp::HEADER_LEN + opts)
    }

    fn arm_persist(&mut self, now: Instant) {
        if self.snd_una == self.snd_max && self.timers.persist.is_none() && self.timers.rto.is_none() {
            self.timers.persist = Some(now + self.rtt.rto());
        }
    }

    /// An RST per RFC 9293 §3.5.2: `<SEQ=seq><CTL=RST>` or, with `ack`,
    /// `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
    fn emit_rst(&mut self, now: Instant, buf: &mut [u8], seq: SeqNum, ack: Option<SeqNum>, obs: &mut Observer) -> usize {
        obs.stats.rst_sent += 1;
        // Linux (tcp_send_active_reset): an abort's RST,ACK carries the
        // timestamp option and the current window like any segment; an
        // RST answering a bad segment (no ACK) carries neither.
        let (options, window) = if ack.is_some() {
            let mut o = Options::default();
            if self.ts_enabled {
                o.timestamps = Some((self.ts_now(now), self.ts_recent));
            }
            (o, self.window_field(false))
        } else {
            (Options::default(), 0)
        };
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: ack.unwrap_or_default(),
            flags: if ack.is_some() { Flags::RST | Flags::ACK } else { Flags::RST },
            window,
            options,
            ..TcpRepr::default()
        };
        self.write_packet(now, buf, &repr, None, obs)
    }

    /// Build and write one segment of `len` payload bytes from the send
    /// buffer starting at `seq`; updates SND.NXT/SND.MAX and the timers.
    fn emit(&mut self, now: Instant, buf: &mut [u8], seq: SeqNum, flags: Flags, len: usize, obs: &mut Observer) -> usize {
        let syn = flags.syn();
        let mut options = Options::default();
        if syn {
            options.mss = Some(self.cfg.mss);
            let passive = self.state != State::SynSent;
            // On a SYN,ACK offer only what the peer's SYN offered (RFC 7323
            // §1.3, RFC 2018 §2); `take_syn` recorded that.
            if self.cfg.window_scaling && (!passive || self.ws_enabled) {
                options.window_scale = Some(self.cfg.window_shift());
            }
            if self.cfg.sack && (!passive || self.sack_enabled) {
                options.sack_permitted = true;
            }
            if self.cfg.timestamps && (!passive || self.ts_enabled) {
                options.timestamps = Some((self.ts_now(now), if flags.ack() { self.ts_recent } else { 0 }));
            }
        } else {
            if self.ts_enabled {
                options.timestamps = Some((self.ts_now(now), self.ts_recent));
            }
            if flags.ack() && self.sack_option_due() {
                let mut blocks = [SackBlock::default(); crate::wire::tcp::MAX_SACK_BLOCKS];
                let mut n = 0;
                // RFC 2883 §4: a D-SACK block, reporting a duplicate, goes first.
                if let Some(d) = self.dsack.take() {
                    blocks[0] = d;
                    n = 1;
                }
                for (start, end) in self.recv_buf.ooo_ranges().take(blocks.len() - n) {
                    blocks[n] = SackBlock { left: self.rcv_nxt + start, right: self.rcv_nxt + end };
                    n += 1;
                }
                options.set_sacks(&blocks[..n]);
            }
        }
        let window = self.window_field(syn);
        let repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq,
            ack: self.rcv_nxt,
            flags,
            window,
            urgent: 0,
            options,
        };
        let n = self.write_packet(now, buf, &repr, Some((seq, len)), obs);

        // Bookkeeping for what was sent.
        let seq_len = repr.seq_len(len);
        if seq_len > 0 && seq >= self.snd_una {
            let end = seq + seq_len;
            if end > self.snd_nxt {
                self.snd_nxt = end;
            }
            let new_data = end > self.snd_max;
            if new_data {
                self.snd_max = end;
            }
            if self.timers.rto.is_none() {
                self.timers.rto = Some(now + self.rtt.rto());
            }
            if new_data {
                // RFC 8985 §7.2: (re)start the probe timer after new data.
                self.last_seg = seq;
                self.arm_tlp(now);
            }
            self.timers.persist = None;
        }
        if flags.ack() {
            self.ack_now = false;
            self.unacked_bytes = 0;
            self.timers.delayed_ack = None;
            self.last_ack_sent = self.rcv_nxt;
        }
        self.last_send = now;
        n
    }

    /// The 16-bit window field, and the right edge it advertises.
    fn window_field(&mut self, syn: bool) -> u16 {
        let wnd = self.rcv_wnd();
        if syn {
            // RFC 7323 §2.2: never scaled in a SYN. Linux rounds it down to
            // a multiple of the MSS (64240 for 1460).
            let mss = self.cfg.mss as usize - if self.ts_enabled { super::tcb::TS_OPTION_LEN } else { 0 };
            let w = wnd.min(65535) / mss * mss;
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt + w);
            return w as u16;
        }
        let field = (wnd >> self.rcv_shift).min(65535);
        let edge = self.rcv_nxt + (field << self.rcv_shift);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        field as u16
    }

    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Write IPv4 header, TCP header and payload (copied once, straight
    /// from the send buffer) into `buf`.
    fn write_packet(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        repr: &TcpRepr,
        data: Option<(SeqNum, usize)>,
        obs: &mut Observer,
    ) -> usize {
        let hlen = repr.header_len();
        let (seq, len) = data.unwrap_or((repr.seq, 0));
        let start = ipv4::HEADER_LEN + hlen;
        if len > 0 {
            let offset = self.data_start().dist_to(seq);
            let copied = self.send_buf.read_at(offset, &mut buf[start..start + len]);
            debug_assert_eq!(copied, len);
        }
        let (src, dst) = (*self.local.ip(), *self.remote.ip());
        let tcp_len = repr.emit_in_place_with(&mut buf[ipv4::HEADER_LEN..], src, dst, len, self.cfg.offload.checksum);
        let ip = Ipv4Repr::new(src, dst, PROTO_TCP, tcp_len);
        ip.emit(buf);
        let total = ipv4::HEADER_LEN + tcp_len;
        // A super-segment leaves the device as this many segments.
        obs.stats.segments_out += len.div_ceil(self.snd_mss).max(1) as u64;
        obs.packet(now, crate::trace::Direction::Out, &buf[..total]);
        total
    }
}
