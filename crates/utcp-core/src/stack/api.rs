//! The socket calls, with the errno Linux returns for each in each state.

use super::socket::{ConnectPhase, Kind, Listener, Socket, SocketId};
use super::Stack;
use crate::socket::errno::Errno;
use crate::socket::readiness::Readiness;
use crate::tcp::{Keepalive, State, Tcb};
use crate::time::Instant;
use core::net::{Ipv4Addr, SocketAddrV4};

/// Which directions shutdown() closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    Read,
    Write,
    Both,
}

/// The fields of Linux's `struct tcp_info` that utcp fills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub state: u8,
    pub retransmits: u32,
    pub rto_us: u64,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    pub rtt_us: u64,
    pub rttvar_us: u64,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub options_ts: bool,
    pub options_sack: bool,
    pub options_wscale: bool,
    pub total_retrans: u64,
}

impl Stack {
    /// The socket behind a descriptor the application still holds. After
    /// close() a connection lives on in the stack (FIN-WAIT, TIME-WAIT),
    /// but its descriptor is gone: every call on it is EBADF, as on Linux.
    fn user_sock(&self, id: SocketId) -> Result<&Socket, Errno> {
        self.sock(id).filter(|s| !s.user_closed).ok_or(Errno::EBADF)
    }

    fn user_sock_mut(&mut self, id: SocketId) -> Result<&mut Socket, Errno> {
        self.sock_mut(id).filter(|s| !s.user_closed).ok_or(Errno::EBADF)
    }

    /// socket(AF_INET, SOCK_STREAM, 0).
    pub fn socket(&mut self) -> SocketId {
        let cfg = self.tcp_defaults.clone();
        self.alloc(Socket::new(cfg))
    }

    /// bind(2). EINVAL if already bound, EADDRNOTAVAIL for a foreign
    /// address, EADDRINUSE on a conflict (Linux's inet_csk_bind_conflict).
    pub fn bind(&mut self, id: SocketId, addr: SocketAddrV4) -> Result<(), Errno> {
        let sock = self.user_sock(id)?;
        if sock.local.is_some() || !matches!(sock.kind, Kind::Fresh) {
            return Err(Errno::EINVAL);
        }
        if !addr.ip().is_unspecified() && *addr.ip() != self.cfg.addr {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let port = if addr.port() == 0 {
            let mut rng = crate::rng::Rng::new(self.rng.next_u64());
            let taken: Vec<u16> = self.sockets.iter().flatten().filter_map(|s| s.local.map(|a| a.port())).collect();
            self.ports.pick_for_bind(&mut rng, |p| taken.contains(&p)).ok_or(Errno::EADDRINUSE)?
        } else {
            if self.bind_conflict(id, addr) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        };
        if let Some(s) = self.sock_mut(id) {
            s.local = Some(SocketAddrV4::new(*addr.ip(), port));
        }
        Ok(())
    }

    /// Linux: two sockets may share a port when both set SO_REUSEPORT, or
    /// both set SO_REUSEADDR and the other is not listening. TIME-WAIT
    /// connections keep the flags of the socket they came from.
    fn bind_conflict(&self, id: SocketId, addr: SocketAddrV4) -> bool {
        let Some(me) = self.sock(id) else { return false };
        self.sockets.iter().enumerate().any(|(i, s)| {
            let Some(s) = s else { return false };
            if i == id.index() || s.user_closed && s.tcb().is_none_or(|t| t.state() != State::TimeWait) {
                return false;
            }
            let Some(other) = s.local else { return false };
            if other.port() != addr.port() {
                return false;
            }
            if !(other.ip().is_unspecified() || addr.ip().is_unspecified() || other.ip() == addr.ip()) {
                return false;
            }
            if s.tcb().is_some_and(|t| t.is_closed()) {
                return false;
            }
            let listening = matches!(s.kind, Kind::Listener(_));
            if me.reuse_port && s.reuse_port {
                return false;
            }
            !(me.reuse_addr && s.reuse_addr && !listening)
        })
    }

    /// listen(2). A second listen() changes the backlog. EINVAL on a
    /// connection.
    pub fn listen(&mut self, id: SocketId, backlog: i32) -> Result<(), Errno> {
        let max = self.cfg.max_backlog;
        let backlog = (backlog.max(0) as usize).min(max);
        let sock = self.user_sock(id)?;
        match sock.kind {
            Kind::Conn(_) => return Err(Errno::EINVAL),
            Kind::Listener(_) => {
                if let Some(Kind::Listener(l)) = self.sock_mut(id).map(|s| &mut s.kind) {
                    l.backlog = backlog;
                }
                return Ok(());
            }
            Kind::Fresh => {}
        }
        if sock.local.is_none() {
            self.bind(id, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        }
        let local = self.sock(id).and_then(|s| s.local).ok_or(Errno::EINVAL)?;
        // Linux: a second listener on a port needs SO_REUSEPORT on both.
        let me_reuseport = self.sock(id).is_some_and(|s| s.reuse_port);
        if let Some(ids) = self.listeners.get(&local.port()) {
            let clash = ids.iter().any(|o| {
                self.sock(*o).is_some_and(|s| {
                    !(me_reuseport && s.reuse_port)
                        && s.local.is_some_and(|a| a.ip().is_unspecified() || local.ip().is_unspecified() || a.ip() == local.ip())
                })
            });
            if clash {
                return Err(Errno::EADDRINUSE);
            }
        }
        if let Some(s) = self.sock_mut(id) {
            s.kind = Kind::Listener(Listener { backlog, syn_queue: 0, accept_queue: Default::default() });
        }
        self.listeners.entry(local.port()).or_default().push(id);
        Ok(())
    }

    /// connect(2). Starting returns EINPROGRESS (a blocking caller waits
    /// for writability and calls again); then EALREADY while pending, 0
    /// once when it completed, EISCONN after; a failure returns its errno
    /// once and leaves the socket unconnected, as Linux does.
    pub fn connect(&mut self, now: Instant, id: SocketId, remote: SocketAddrV4) -> Result<(), Errno> {
        let sock = self.user_sock(id)?;
        match (&sock.kind, sock.phase) {
            (Kind::Listener(_), _) => return Err(Errno::EISCONN),
            (Kind::Conn(_), ConnectPhase::Connected) => return Err(Errno::EISCONN),
            (Kind::Conn(t), ConnectPhase::Connecting) => {
                return match t.state() {
                    State::SynSent | State::SynReceived => Err(Errno::EALREADY),
                    State::Closed => {
                        let err = self.sock_mut(id).and_then(|s| s.tcb_mut()).and_then(|t| t.take_error());
                        self.disconnect(id);
                        Err(err.unwrap_or(Errno::ECONNABORTED))
                    }
                    _ => {
                        if let Some(s) = self.sock_mut(id) {
                            s.phase = ConnectPhase::Connected;
                        }
                        Ok(())
                    }
                };
            }
            (Kind::Conn(_), ConnectPhase::Unconnected) => return Err(Errno::EISCONN),
            (Kind::Fresh, _) => {}
        }
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        let bound = sock.local;
        let cfg = sock.cfg.clone();
        let local_ip = self.cfg.addr;
        let port = match bound {
            Some(a) if a.port() != 0 => a.port(),
            _ => {
                let conns = &self.conns;
                self.ports
                    .pick(local_ip, remote, |p| conns.contains_key(&(SocketAddrV4::new(local_ip, p), remote)))
                    .ok_or(Errno::EADDRNOTAVAIL)?
            }
        };
        let local = SocketAddrV4::new(local_ip, port);
        if self.conns.contains_key(&(local, remote)) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let iss = self.isn.isn(now, local, remote);
        let ts_offset = self.isn.ts_offset(*local.ip(), *remote.ip());
        let tcb = Tcb::connect(&cfg, local, remote, iss, ts_offset, now, &mut self.obs);
        if let Some(s) = self.sock_mut(id) {
            s.local = Some(local);
            s.kind = Kind::Conn(Box::new(tcb));
            s.phase = ConnectPhase::Connecting;
        }
        self.conns.insert((local, remote), id);
        self.mark_dirty(id);
        Err(Errno::EINPROGRESS)
    }

    /// Back to a fresh socket after a failed connect (the port is released
    /// unless bind() chose it).
    fn disconnect(&mut self, id: SocketId) {
        let Some(s) = self.sock_mut(id) else { return };
        if let Kind::Conn(t) = &s.kind {
            let key = (t.local, t.remote);
            s.kind = Kind::Fresh;
            s.phase = ConnectPhase::Unconnected;
            s.local = None;
            if self.conns.get(&key) == Some(&id) {
                self.conns.remove(&key);
            }
        }
    }

    /// accept(2): the next established connection, EAGAIN if none, EINVAL
    /// if not listening.
    pub fn accept(&mut self, id: SocketId) -> Result<(SocketId, SocketAddrV4), Errno> {
        let Some(Kind::Listener(l)) = self.sock_mut(id).map(|s| &mut s.kind) else {
            return Err(if self.user_sock(id).is_ok() { Errno::EINVAL } else { Errno::EBADF });
        };
        let child = l.accept_queue.pop_front().ok_or(Errno::EAGAIN)?;
        let s = self.sock_mut(child).ok_or(Errno::ECONNABORTED)?;
        s.parent = None;
        let remote = s.tcb().map(|t| t.remote).ok_or(Errno::ECONNABORTED)?;
        Ok((child, remote))
    }

    /// send(2) without flags: how many bytes were queued.
    pub fn send(&mut self, id: SocketId, data: &[u8]) -> Result<usize, Errno> {
        let sock = self.user_sock_mut(id)?;
        let r = match &mut sock.kind {
            // Linux: tcp_sendmsg on an unconnected socket is EPIPE.
            Kind::Fresh | Kind::Listener(_) => Err(Errno::EPIPE),
            Kind::Conn(t) => t.send(data),
        };
        if r.is_ok() {
            self.mark_dirty(id);
        }
        r
    }

    /// recv(2): Ok(0) at end of stream, EAGAIN when nothing is there yet.
    pub fn recv(&mut self, now: Instant, id: SocketId, out: &mut [u8], peek: bool) -> Result<usize, Errno> {
        let sock = self.user_sock_mut(id)?;
        let r = match &mut sock.kind {
            Kind::Fresh | Kind::Listener(_) => Err(Errno::ENOTCONN),
            Kind::Conn(t) => t.recv(now, out, peek),
        };
        self.mark_dirty(id);
        r
    }

    /// shutdown(2). ENOTCONN unless connected (Linux: also after the
    /// connection closed).
    pub fn shutdown(&mut self, now: Instant, id: SocketId, how: Shutdown) -> Result<(), Errno> {
        let sock = self.user_sock_mut(id)?;
        let rd = matches!(how, Shutdown::Read | Shutdown::Both);
        let wr = matches!(how, Shutdown::Write | Shutdown::Both);
        sock.shut_rd |= rd;
        sock.shut_wr |= wr;
        match &mut sock.kind {
            Kind::Fresh => Err(Errno::ENOTCONN),
            Kind::Listener(_) => {
                // Linux: SHUT_RD on a listener stops it listening.
                if rd {
                    self.stop_listening(now, id);
                    if let Some(s) = self.sock_mut(id) {
                        s.kind = Kind::Fresh;
                    }
                }
                Ok(())
            }
            Kind::Conn(_) => {
                let (t, obs) = self.tcb_obs(id).ok_or(Errno::EBADF)?;
                let before = t.state();
                match before {
                    State::Closed => return Err(Errno::ENOTCONN),
                    // Linux: shutdown in SYN-SENT disconnects.
                    State::SynSent => t.abort(now, obs),
                    _ => {
                        if rd {
                            t.shutdown_read();
                        }
                        if wr {
                            t.shutdown_write(now, obs);
                        }
                    }
                }
                self.bump_events(id);
                self.after_tcb(id, before);
                self.mark_dirty(id);
                Ok(())
            }
        }
    }

    /// close(2). A connection goes on alone (FIN, or RST when unread data
    /// is thrown away); `linger_abort` (SO_LINGER with zero timeout) resets it.
    pub fn close(&mut self, now: Instant, id: SocketId, linger_abort: bool) -> Result<(), Errno> {
        let sock = self.user_sock_mut(id)?;
        sock.user_closed = true;
        match &mut sock.kind {
            Kind::Fresh => {}
            Kind::Listener(_) => self.stop_listening(now, id),
            Kind::Conn(_) => {
                let (t, obs) = self.tcb_obs(id).ok_or(Errno::EBADF)?;
                let before = t.state();
                if linger_abort {
                    t.abort(now, obs);
                } else {
                    t.close(now, obs);
                }
                self.after_tcb(id, before);
                self.mark_dirty(id);
                return Ok(());
            }
        }
        self.sockets[id.index()] = None;
        self.free_ids.push(id.0);
        Ok(())
    }

    fn stop_listening(&mut self, now: Instant, id: SocketId) {
        self.drop_listener_children(now, id);
        let port = self.sock(id).and_then(|s| s.local).map(|a| a.port());
        if let Some(port) = port {
            if let Some(v) = self.listeners.get_mut(&port) {
                v.retain(|l| *l != id);
                if v.is_empty() {
                    self.listeners.remove(&port);
                }
            }
        }
    }

    /// getsockname(2): 0.0.0.0:0 before bind.
    pub fn local_addr(&self, id: SocketId) -> Result<SocketAddrV4, Errno> {
        let s = self.user_sock(id)?;
        Ok(s.local.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))
    }

    /// getpeername(2): ENOTCONN unless a connection exists.
    pub fn peer_addr(&self, id: SocketId) -> Result<SocketAddrV4, Errno> {
        let s = self.user_sock(id)?;
        // Linux: ENOTCONN in CLOSE and SYN-SENT (inet_getname).
        match s.tcb() {
            Some(t) if !matches!(t.state(), State::Closed | State::SynSent) => Ok(t.remote),
            _ => Err(Errno::ENOTCONN),
        }
    }

    /// getsockopt(SO_ERROR): read and clear the pending error.
    pub fn take_error(&mut self, id: SocketId) -> Result<Option<Errno>, Errno> {
        let s = self.user_sock_mut(id)?;
        Ok(s.tcb_mut().and_then(|t| t.take_error()))
    }

    /// What poll would report, computed as Linux's tcp_poll does.
    pub fn readiness(&self, id: SocketId) -> Readiness {
        let Some(s) = self.sock(id) else { return Readiness::default() };
        match &s.kind {
            Kind::Listener(l) => Readiness { readable: !l.accept_queue.is_empty(), ..Readiness::default() },
            // Linux: a socket never connected is TCP_CLOSE: POLLOUT|POLLHUP.
            Kind::Fresh => Readiness { writable: true, hup: true, ..Readiness::default() },
            Kind::Conn(t) => {
                let closed = t.is_closed();
                let rd_shut = t.fin_received() || t.read_shut() || closed;
                let wr_shut = t.write_shut() || closed;
                let mut r = Readiness { error: t.error().is_some(), ..Readiness::default() };
                r.hup = (rd_shut && wr_shut) || closed;
                if rd_shut {
                    r.readable = true;
                    r.read_hup = true;
                }
                if !matches!(t.state(), State::SynSent | State::SynReceived) {
                    if t.readable() > 0 {
                        r.readable = true;
                    }
                    // Linux: sk_stream_is_writeable, free space at least
                    // half of what is queued.
                    r.writable = wr_shut || (t.send_free() > 0 && t.send_free() >= t.send_queued() / 2);
                }
                if r.error {
                    r.readable = true;
                    r.writable = true;
                }
                r
            }
        }
    }

    /// A counter bumped on every event that may change what `readiness`
    /// reports: each segment a connection handles (data, ACKs, FIN, RST),
    /// an ICMP error, shutdown(), a state change by a timer (give-up,
    /// TIME-WAIT end), each child joining a listener's accept queue. Not
    /// by timers that change nothing (delayed ACK, retransmission) nor by
    /// recv/send/accept, which only take readiness away. Edge-triggered epoll reports a socket again
    /// when this moved and the readiness still intersects the interest,
    /// which is when Linux's wakeup callbacks would fire (sometimes more).
    pub fn event_seq(&self, id: SocketId) -> u64 {
        self.sock(id).map_or(0, |s| s.events)
    }

    pub fn is_listener(&self, id: SocketId) -> bool {
        self.sock(id).is_some_and(|s| s.listener().is_some())
    }

    pub fn state(&self, id: SocketId) -> Option<State> {
        let s = self.sock(id)?;
        Some(match &s.kind {
            Kind::Fresh => State::Closed,
            Kind::Listener(_) => State::Listen,
            Kind::Conn(t) => t.state(),
        })
    }

    /// The connection's TCB, for inspection (tests, TCP_INFO, tracing).
    pub fn tcb(&self, id: SocketId) -> Option<&Tcb> {
        self.sock(id)?.tcb()
    }

    /// Bytes ready to read (FIONREAD).
    pub fn readable_bytes(&self, id: SocketId) -> usize {
        self.tcb(id).map_or(0, |t| t.readable())
    }

    /// Bytes queued but not yet sent (SIOCOUTQNSD).
    pub fn unsent_bytes(&self, id: SocketId) -> usize {
        self.tcb(id).map_or(0, |t| t.send_queued().saturating_sub(t.unacked()))
    }

    /// Bytes not yet acknowledged by the peer (SIOCOUTQ).
    pub fn queued_bytes(&self, id: SocketId) -> usize {
        self.tcb(id).map_or(0, |t| t.send_queued())
    }

    /// (SO_REUSEADDR, SO_REUSEPORT).
    pub fn reuse_flags(&self, id: SocketId) -> (bool, bool) {
        self.sock(id).map_or((false, false), |s| (s.reuse_addr, s.reuse_port))
    }

    /// (SO_SNDBUF, SO_RCVBUF) in bytes.
    pub fn buffer_sizes(&self, id: SocketId) -> (usize, usize) {
        match self.sock(id) {
            Some(s) => match s.tcb() {
                Some(t) => (t.send_capacity(), t.recv_capacity()),
                None => (s.cfg.send_buf, s.cfg.recv_buf),
            },
            None => (0, 0),
        }
    }

    pub fn set_reuse_addr(&mut self, id: SocketId, on: bool) -> Result<(), Errno> {
        self.user_sock_mut(id)?.reuse_addr = on;
        Ok(())
    }

    pub fn set_reuse_port(&mut self, id: SocketId, on: bool) -> Result<(), Errno> {
        self.user_sock_mut(id)?.reuse_port = on;
        Ok(())
    }

    pub fn set_nodelay(&mut self, id: SocketId, on: bool) -> Result<(), Errno> {
        let s = self.user_sock_mut(id)?;
        s.cfg.nodelay = on;
        if let Some(t) = s.tcb_mut() {
            t.set_nodelay(on);
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// TCP_CORK: hold partial segments; uncorking sends them.
    pub fn set_cork(&mut self, id: SocketId, on: bool) -> Result<(), Errno> {
        let s = self.user_sock_mut(id)?;
        s.cfg.cork = on;
        if let Some(t) = s.tcb_mut() {
            t.set_cork(on);
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// SO_KEEPALIVE with its TCP_KEEP* parameters.
    pub fn set_keepalive(&mut self, now: Instant, id: SocketId, ka: Option<Keepalive>) -> Result<(), Errno> {
        let s = self.user_sock_mut(id)?;
        s.cfg.keepalive = ka;
        if let Some(t) = s.tcb_mut() {
            t.set_keepalive(now, ka);
        }
        self.schedule(id);
        Ok(())
    }

    /// SO_SNDBUF / SO_RCVBUF, in bytes of buffer (the caller applies
    /// Linux's doubling).
    pub fn set_buffer_sizes(&mut self, id: SocketId, send: Option<usize>, recv: Option<usize>) -> Result<(), Errno> {
        let s = self.user_sock_mut(id)?;
        if let Some(n) = send {
            s.cfg.send_buf = n;
        }
        if let Some(n) = recv {
            s.cfg.recv_buf = n;
        }
        if let Some(t) = s.tcb_mut() {
            if let Some(n) = send {
                t.set_send_capacity(n);
            }
            if let Some(n) = recv {
                t.set_recv_capacity(n);
            }
        }
        Ok(())
    }

    /// Socket options that only matter before connect (e.g. TCP_MAXSEG,
    /// congestion control, timer settings in tests).
    pub fn config_mut(&mut self, id: SocketId) -> Option<&mut crate::tcp::TcpConfig> {
        let s = self.sock_mut(id)?;
        matches!(s.kind, Kind::Fresh | Kind::Listener(_)).then_some(&mut s.cfg)
    }

    /// TCP_INFO.
    pub fn tcp_info(&self, id: SocketId) -> Option<TcpInfo> {
        let t = self.tcb(id)?;
        let (snd_ws, rcv_ws) = t.window_shifts();
        Some(TcpInfo {
            state: t.state().linux_number(),
            retransmits: t.retries(),
            rto_us: t.rtt().rto().as_micros() as u64,
            snd_mss: t.mss() as u32,
            rcv_mss: t.mss() as u32,
            unacked: t.unacked() as u32,
            rtt_us: t.rtt().srtt().map_or(0, |d| d.as_micros() as u64),
            rttvar_us: t.rtt().rttvar().as_micros() as u64,
            snd_ssthresh: t.ssthresh().min(u32::MAX as usize) as u32,
            snd_cwnd: (t.cwnd() / t.mss().max(1)) as u32,
            snd_wscale: snd_ws,
            rcv_wscale: rcv_ws,
            options_ts: t.timestamps_enabled(),
            options_sack: t.sack_enabled(),
            options_wscale: snd_ws > 0 || rcv_ws > 0,
            total_retrans: 0,
        })
    }
}
