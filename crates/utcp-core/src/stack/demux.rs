//! The receive path: IPv4 checks, fragments, ICMP, and TCP demux to a
//! connection, a listener (RFC 9293 §3.10.7.2) or the closed-port reset
//! (§3.10.7.1).

use super::socket::{Kind, Listener, Socket, SocketId};
use super::stats::DropReason;
use super::{cookies, Stack};
use crate::socket::errno::Errno;
use crate::tcp::{State, Tcb};
use crate::time::Instant;
use crate::trace::Direction;
use crate::wire::icmp::{self, IcmpRepr};
use crate::wire::ipv4::{self, Ipv4Repr, PROTO_ICMP, PROTO_TCP};
use crate::wire::{Flags, Options, SeqNum, TcpRepr};
use core::net::SocketAddrV4;

impl Stack {
    /// One IPv4 packet from the device.
    pub fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.receive_packet(now, packet, true)
    }

    /// One IPv4 packet whose TCP checksum the device vouches for
    /// (virtio-net DATA_VALID, or NEEDS_CSUM: a local sender left it
    /// partial, and the checksum field holds only the pseudo-header sum).
    /// The IPv4 header checksum is still checked. Such a packet may be a
    /// GRO/GSO super-segment larger than the MTU: it is ordinary TCP data
    /// to the connection (RFC 9293 bounds segments by the window, and the
    /// MSS option only limits what the peer sends per wire segment).
    pub fn receive_trusted(&mut self, now: Instant, packet: &[u8]) {
        self.receive_packet(now, packet, false)
    }

    fn receive_packet(&mut self, now: Instant, packet: &[u8], verify_checksum: bool) {
        self.obs.packet(now, Direction::In, packet);
        let (ip, payload) = match Ipv4Repr::parse(packet) {
            Ok(v) => v,
            Err(e) => return self.obs.drop(now, e.into()),
        };
        if ip.dst != self.cfg.addr {
            return self.obs.drop(now, DropReason::WrongDestination);
        }
        if ip.is_fragment() {
            let expired = self.frags.expire(now);
            for _ in 0..expired {
                self.obs.drop(now, DropReason::FragTimeout);
            }
            match self.frags.push(now, &ip, payload) {
                Ok(Some((whole, data))) => {
                    self.obs.stats.frags_reassembled += 1;
                    // Never offloaded: a sender completes the checksum
                    // before it fragments (Linux: ip_do_fragment).
                    self.dispatch(now, &whole, &data, true);
                }
                Ok(None) => {}
                Err(reason) => self.obs.drop(now, reason),
            }
            return;
        }
        self.dispatch(now, &ip, payload, verify_checksum);
    }

    fn dispatch(&mut self, now: Instant, ip: &Ipv4Repr, payload: &[u8], verify_checksum: bool) {
        match ip.protocol {
            PROTO_TCP => match TcpRepr::parse(payload, ip.src, ip.dst, verify_checksum) {
                Ok((seg, data)) => {
                    self.obs.stats.segments_in += 1;
                    self.tcp_input(now, ip, &seg, data);
                }
                Err(e) => self.obs.drop(now, e.into()),
            },
            PROTO_ICMP => self.icmp_input(now, ip, payload),
            _ => self.obs.drop(now, DropReason::UnknownProtocol),
        }
    }

    fn icmp_input(&mut self, now: Instant, ip: &Ipv4Repr, payload: &[u8]) {
        let msg = match IcmpRepr::parse(payload) {
            Ok(m) => m,
            Err(e) => return self.obs.drop(now, e.into()),
        };
        match msg {
            IcmpRepr::EchoRequest { .. } => {
                let local = self.cfg.addr;
                let ip = *ip;
                self.queue_control(now, |buf| icmp::echo_reply(local, &ip, payload, buf));
                self.obs.stats.icmp_echo_replies += 1;
            }
            IcmpRepr::DestUnreachable { code, original, .. } => self.icmp_unreachable(now, code, original),
            _ => {}
        }
    }

    /// RFC 5927 / RFC 1122 §4.2.3.9: an unreachable for a connection in
    /// SYN-SENT ends the attempt (Linux: tcp_v4_err does so for every
    /// code); on a synchronized connection it is only advisory.
    fn icmp_unreachable(&mut self, now: Instant, code: u8, original: &[u8]) {
        let Some(q) = icmp::quoted_tcp(original) else { return };
        let key = (SocketAddrV4::new(q.src, q.src_port), SocketAddrV4::new(q.dst, q.dst_port));
        let Some(&id) = self.conns.get(&key) else { return };
        let Some((tcb, obs)) = self.tcb_obs(id) else { return };
        // RFC 5927 §4.1: the quoted sequence number must be in flight.
        if tcb.state() != State::SynSent || !q.seq.in_range(tcb.snd_una(), tcb.snd_nxt()) {
            return;
        }
        let err = match code {
            icmp::CODE_NET_UNREACHABLE => Errno::ENETUNREACH,
            icmp::CODE_HOST_UNREACHABLE => Errno::EHOSTUNREACH,
            _ => Errno::ECONNREFUSED,
        };
        let before = tcb.state();
        tcb.fail_icmp(now, err, obs);
        self.bump_events(id);
        self.after_tcb(id, before);
    }

    fn tcp_input(&mut self, now: Instant, ip: &Ipv4Repr, seg: &TcpRepr, data: &[u8]) {
        let local = SocketAddrV4::new(ip.dst, seg.dst_port);
        let remote = SocketAddrV4::new(ip.src, seg.src_port);
        if let Some(&id) = self.conns.get(&(local, remote)) {
            if self.time_wait_reuse(now, id, seg) {
                // Fall through to the listener with the old connection gone.
            } else {
                return self.conn_input(now, id, seg, data);
            }
        }
        if let Some(lid) = self.find_listener(local) {
            return self.listen_input(now, lid, local, remote, seg, data);
        }
        self.obs.drop(now, DropReason::NoSocket);
        self.reset_closed(now, local, remote, seg, data.len());
    }

    fn conn_input(&mut self, now: Instant, id: SocketId, seg: &TcpRepr, data: &[u8]) {
        // Linux: with a full accept queue the third ACK is dropped and the
        // child stays in SYN-RECEIVED (tcp_abort_on_overflow=0), so the
        // SYN-ACK is retransmitted and the client's ACK tried again.
        let parent = self.sock(id).and_then(|s| s.parent);
        let in_syn_recv = self.sock(id).and_then(|s| s.tcb()).is_some_and(|t| t.state() == State::SynReceived);
        if in_syn_recv && seg.flags.ack() && !seg.flags.rst() {
            if let Some(l) = parent.and_then(|p| self.sock(p)).and_then(|s| s.listener()) {
                if l.accept_full() {
                    return self.obs.drop(now, DropReason::AcceptQueueFull);
                }
            }
        }
        let Some((tcb, obs)) = self.tcb_obs(id) else { return };
        let before = tcb.state();
        tcb.on_segment(now, seg, data, obs);
        self.bump_events(id);
        self.after_tcb(id, before);
        self.mark_dirty(id);
    }

    /// Linux (tcp_timewait_state_process): a SYN for a 4-tuple in
    /// TIME-WAIT with a higher sequence number, or a newer timestamp, ends
    /// the TIME-WAIT and opens a new connection.
    fn time_wait_reuse(&mut self, now: Instant, id: SocketId, seg: &TcpRepr) -> bool {
        if seg.flags != Flags::SYN {
            return false;
        }
        let Some(sock) = self.sock(id) else { return false };
        let Some(tcb) = sock.tcb() else { return false };
        if tcb.state() != State::TimeWait {
            return false;
        }
        let newer_ts = match seg.options.timestamps {
            Some((val, _)) if tcb.timestamps_enabled() => (val.wrapping_sub(tcb.ts_recent()) as i32) > 0,
            _ => false,
        };
        if !(seg.seq > tcb.rcv_nxt() || newer_ts) {
            return false;
        }
        let key = (tcb.local, tcb.remote);
        let next_iss = tcb.snd_nxt() + 65537;
        let before = tcb.state();
        if let Some((t, obs)) = self.tcb_obs(id) {
            t.end_time_wait(now, obs);
        }
        self.after_tcb(id, before);
        self.conns.remove(&key);
        self.tw_next_iss = Some((key, next_iss));
        self.reap(id);
        true
    }

    /// The listener for a local address: one bound to it, or to 0.0.0.0.
    fn find_listener(&self, local: SocketAddrV4) -> Option<SocketId> {
        let ids = self.listeners.get(&local.port())?;
        let exact = ids.iter().find(|id| self.sock(**id).and_then(|s| s.local).is_some_and(|a| a.ip() == local.ip()));
        exact.or_else(|| ids.first()).copied()
    }

    /// RFC 9293 §3.10.7.2: segment arrives in LISTEN.
    fn listen_input(
        &mut self,
        now: Instant,
        lid: SocketId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        seg: &TcpRepr,
        data: &[u8],
    ) {
        let f = seg.flags;
        // First, an RST is ignored.
        if f.rst() {
            return self.obs.drop(now, DropReason::ListenRst);
        }
        // Second, an ACK: a SYN cookie's third ACK, or an RST <SEQ=SEG.ACK>.
        if f.ack() {
            if f.syn() {
                // A SYN,ACK to a listener: §3.10.7.2 resets it like any ACK.
            } else if self.cfg.syn_cookies {
                if let Some(mss) = self.cookies.check(now, local, remote, seg.seq - 1, seg.ack - 1) {
                    return self.accept_cookie(now, lid, local, remote, seg, data, mss);
                }
            }
            // Linux counts a failed cookie only while cookies are in use
            // (SYNCOOKIESFAILED after a recent SYN-queue overflow).
            let cookies_in_use = self.last_cookie_sent.is_some_and(|t| now.saturating_since(t) < cookies::VALIDITY);
            let reason = if cookies_in_use && !f.syn() { DropReason::BadSynCookie } else { DropReason::ListenAck };
            self.obs.drop(now, reason);
            let repr = TcpRepr { seq: seg.ack, flags: Flags::RST, ..reply_ports(seg) };
            return self.queue_segment(now, local, remote, &repr);
        }
        // Third, a SYN.
        if !f.syn() {
            return self.obs.drop(now, DropReason::ListenNoSyn);
        }
        let Some(Kind::Listener(l)) = self.sock(lid).map(|s| &s.kind) else { return };
        // Linux: a full accept queue drops SYNs outright (LISTENOVERFLOWS).
        if l.accept_full() {
            return self.obs.drop(now, DropReason::AcceptQueueFull);
        }
        if l.syn_full() {
            if !self.cfg.syn_cookies {
                return self.obs.drop(now, DropReason::SynQueueFull);
            }
            return self.send_cookie(now, local, remote, seg);
        }
        let cfg = self.sock(lid).map(|s| s.cfg.clone()).unwrap_or_else(|| self.tcp_defaults.clone());
        let iss = match self.tw_next_iss.take() {
            Some((key, iss)) if key == (local, remote) => iss,
            _ => self.isn.isn(now, local, remote),
        };
        let ts_offset = self.isn.ts_offset(*local.ip(), *remote.ip());
        let tcb = Tcb::accept_syn(&cfg, local, remote, seg, iss, ts_offset, now, &mut self.obs);
        let mut child = Socket::new(cfg);
        child.local = Some(local);
        child.parent = Some(lid);
        child.phase = super::socket::ConnectPhase::Connected;
        if let Some(p) = self.sock(lid) {
            child.reuse_addr = p.reuse_addr;
            child.reuse_port = p.reuse_port;
        }
        child.kind = Kind::Conn(Box::new(tcb));
        let id = self.alloc(child);
        self.conns.insert((local, remote), id);
        if let Some(Kind::Listener(l)) = self.sock_mut(lid).map(|s| &mut s.kind) {
            l.syn_queue += 1;
        }
        self.mark_dirty(id);
    }

    /// RFC 4987 §3.6: the SYN queue is full, answer statelessly with a
    /// cookie as our ISN.
    fn send_cookie(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4, syn: &TcpRepr) {
        let peer_mss = syn.options.mss.unwrap_or(crate::tcp::tcb::DEFAULT_PEER_MSS).min(self.tcp_defaults.mss);
        let (cookie, mss) = self.cookies.make(now, local, remote, syn.seq, peer_mss);
        self.obs.stats.syn_cookies_sent += 1;
        self.last_cookie_sent = Some(now);
        let mut options = Options { mss: Some(self.tcp_defaults.mss), ..Options::default() };
        // Linux: with timestamps, the window scale and SACK the client
        // offered ride in our TSval, to be recovered from its TSecr.
        if let (true, Some((val, _))) = (self.tcp_defaults.timestamps, syn.options.timestamps) {
            let opts = cookies::CookieOpts {
                wscale: syn.options.window_scale.filter(|_| self.tcp_defaults.window_scaling),
                sack: syn.options.sack_permitted && self.tcp_defaults.sack,
            };
            let ts = cookies::encode_ts(now.as_millis() as u32, opts);
            options.timestamps = Some((ts, val));
            options.sack_permitted = opts.sack;
            if opts.wscale.is_some() {
                options.window_scale = Some(self.tcp_defaults.window_shift());
            }
        }
        let _ = mss;
        let repr = TcpRepr {
            seq: cookie,
            ack: syn.seq + 1,
            flags: Flags::SYN | Flags::ACK,
            window: self.tcp_defaults.recv_buf.min(65535) as u16,
            options,
            ..reply_ports(syn)
        };
        self.queue_segment(now, local, remote, &repr);
    }

    /// The third ACK carried a valid cookie: rebuild the connection from
    /// it and put it straight on the accept queue.
    #[allow(clippy::too_many_arguments)]
    fn accept_cookie(
        &mut self,
        now: Instant,
        lid: SocketId,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        ack: &TcpRepr,
        data: &[u8],
        mss: u16,
    ) {
        let Some(l) = self.sock(lid).and_then(|s| s.listener()) else { return };
        if l.accept_full() {
            return self.obs.drop(now, DropReason::AcceptQueueFull);
        }
        self.obs.stats.syn_cookies_accepted += 1;
        let cfg = self.sock(lid).map(|s| s.cfg.clone()).unwrap_or_else(|| self.tcp_defaults.clone());
        // Reconstruct the client's SYN as the cookie remembers it.
        let mut syn_opts = Options { mss: Some(mss), ..Options::default() };
        if let Some((val, ecr)) = ack.options.timestamps {
            let opts = cookies::decode_ts(ecr);
            syn_opts.timestamps = Some((val, 0));
            syn_opts.window_scale = opts.wscale;
            syn_opts.sack_permitted = opts.sack;
        }
        let syn = TcpRepr {
            seq: ack.seq - 1,
            flags: Flags::SYN,
            window: ack.window,
            options: syn_opts,
            ..reply_ports(&reply_ports(ack))
        };
        let iss = ack.ack - 1;
        // The cookie SYN-ACK's TSval was our clock with no offset.
        let ts_offset = 0;
        let mut tcb = Tcb::accept_syn(&cfg, local, remote, &syn, iss, ts_offset, now, &mut self.obs);
        tcb.syn_ack_sent(now);
        let mut child = Socket::new(cfg);
        child.local = Some(local);
        child.parent = Some(lid);
        child.phase = super::socket::ConnectPhase::Connected;
        child.kind = Kind::Conn(Box::new(tcb));
        let id = self.alloc(child);
        self.conns.insert((local, remote), id);
        if let Some(Kind::Listener(l)) = self.sock_mut(lid).map(|s| &mut s.kind) {
            l.syn_queue += 1;
        }
        self.conn_input(now, id, ack, data);
    }

    /// RFC 9293 §3.10.7.1: a segment for no connection gets a reset,
    /// unless it is one.
    fn reset_closed(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4, seg: &TcpRepr, len: usize) {
        if seg.flags.rst() {
            return;
        }
        let repr = if seg.flags.ack() {
            TcpRepr { seq: seg.ack, flags: Flags::RST, ..reply_ports(seg) }
        } else {
            TcpRepr { seq: SeqNum(0), ack: seg.seq + seg.seq_len(len), flags: Flags::RST | Flags::ACK, ..reply_ports(seg) }
        };
        self.queue_segment(now, local, remote, &repr);
    }

    fn queue_segment(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4, repr: &TcpRepr) {
        if repr.flags.rst() {
            self.obs.stats.rst_sent += 1;
        }
        let repr = *repr;
        self.queue_control(now, |buf| {
            let n = repr.emit(&mut buf[ipv4::HEADER_LEN..], *local.ip(), *remote.ip(), &[]);
            Ipv4Repr::new(*local.ip(), *remote.ip(), PROTO_TCP, n).emit(buf);
            Some(ipv4::HEADER_LEN + n)
        });
    }

    /// A listener goes away: its children go with it (Linux:
    /// inet_csk_listen_stop resets the established ones).
    pub(super) fn drop_listener_children(&mut self, now: Instant, lid: SocketId) {
        let children: Vec<SocketId> = (0..self.sockets.len() as u32)
            .map(SocketId)
            .filter(|id| self.sock(*id).is_some_and(|s| s.parent == Some(lid)))
            .collect();
        for id in children {
            if let Some(s) = self.sock_mut(id) {
                s.user_closed = true;
                s.parent = None;
            }
            if let Some((t, obs)) = self.tcb_obs(id) {
                if t.state() == State::SynReceived {
                    t.forget(now, obs);
                } else {
                    t.abort(now, obs);
                }
            }
            self.mark_dirty(id);
        }
        if let Some(Kind::Listener(l)) = self.sock_mut(lid).map(|s| &mut s.kind) {
            *l = Listener { backlog: l.backlog, syn_queue: 0, accept_queue: Default::default() };
        }
    }
}

/// A header answering `seg`: ports swapped, nothing else set.
fn reply_ports(seg: &TcpRepr) -> TcpRepr {
    TcpRepr { src_port: seg.dst_port, dst_port: seg.src_port, ..TcpRepr::default() }
}
