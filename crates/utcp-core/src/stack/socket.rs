//! What the stack keeps per socket: a fresh socket, a listener with its
//! queues, or a connection.

use crate::tcp::{TcpConfig, Tcb};
use core::net::SocketAddrV4;
use std::collections::VecDeque;

/// A handle to one socket of a [`super::Stack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub(crate) u32);

impl SocketId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The raw number, for a table outside the stack (the preload
    /// library's per-process fd table); [`SocketId::from_raw`] inverts it.
    pub fn raw(self) -> u32 {
        self.0
    }

    pub fn from_raw(v: u32) -> SocketId {
        SocketId(v)
    }
}

/// Where connect() stands, as Linux's `sock->state` tracks it: the second
/// connect() after an asynchronous completion returns 0, the third EISCONN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectPhase {
    Unconnected,
    Connecting,
    Connected,
}

#[derive(Debug)]
pub(crate) struct Listener {
    /// listen()'s backlog, clamped like Linux's somaxconn.
    pub backlog: usize,
    /// Children in SYN-RECEIVED.
    pub syn_queue: usize,
    /// Established children waiting for accept().
    pub accept_queue: VecDeque<SocketId>,
}

impl Listener {
    /// Linux: sk_acceptq_is_full is `len > backlog`, so backlog+1 fit.
    pub fn accept_full(&self) -> bool {
        self.accept_queue.len() > self.backlog
    }

    /// Linux: inet_csk_reqsk_queue_is_full is `len > backlog` since
    /// 3479c7549fb1 (6.13, also in stable), like the accept queue.
    pub fn syn_full(&self) -> bool {
        self.syn_queue > self.backlog
    }
}

#[derive(Debug)]
pub(crate) enum Kind {
    Fresh,
    Listener(Listener),
    Conn(Box<Tcb>),
}

#[derive(Debug)]
pub(crate) struct Socket {
    pub kind: Kind,
    /// bind() address, or the connection's local address.
    pub local: Option<SocketAddrV4>,
    pub cfg: TcpConfig,
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub phase: ConnectPhase,
    /// The listener that made this connection, until accept() takes it.
    pub parent: Option<SocketId>,
    /// The application closed it; the stack frees it once the TCB is CLOSED.
    pub user_closed: bool,
    /// shutdown() called on a socket that cannot carry it (for errno rules).
    pub shut_rd: bool,
    pub shut_wr: bool,
    /// Queued for `poll_transmit`.
    pub dirty: bool,
    /// Bumped on every event that may change readiness (edge-triggered epoll).
    pub events: u64,
    /// On the stack's `touched` list (see `Stack::take_touched`).
    pub touched: bool,
    /// The deadline this socket has in the stack's timer heap, if any.
    pub scheduled: Option<crate::time::Instant>,
}

impl Socket {
    pub fn new(cfg: TcpConfig) -> Socket {
        Socket {
            kind: Kind::Fresh,
            local: None,
            cfg,
            reuse_addr: false,
            reuse_port: false,
            phase: ConnectPhase::Unconnected,
            parent: None,
            user_closed: false,
            shut_rd: false,
            shut_wr: false,
            dirty: false,
            touched: false,
            events: 0,
            scheduled: None,
        }
    }

    pub fn tcb(&self) -> Option<&Tcb> {
        match &self.kind {
            Kind::Conn(t) => Some(t),
            _ => None,
        }
    }

    pub fn tcb_mut(&mut self) -> Option<&mut Tcb> {
        match &mut self.kind {
            Kind::Conn(t) => Some(t),
            _ => None,
        }
    }

    pub fn listener(&self) -> Option<&Listener> {
        match &self.kind {
            Kind::Listener(l) => Some(l),
            _ => None,
        }
    }
}
