//! Readiness as Linux's tcp_poll reports it: the bits poll, select and
//! epoll turn into POLLIN, POLLOUT, POLLHUP, POLLRDHUP and POLLERR.

/// What a socket is ready for. Field names follow the poll bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// POLLIN: data, end of stream, a pending connection, or an error.
    pub readable: bool,
    /// POLLOUT: room in the send buffer (or writing would fail at once).
    pub writable: bool,
    /// POLLRDHUP: the peer shut down its side (or we shut reading).
    pub read_hup: bool,
    /// POLLHUP: both directions are shut, or the connection is closed.
    pub hup: bool,
    /// POLLERR: SO_ERROR is set.
    pub error: bool,
}

impl Readiness {
    /// The Linux poll bit mask (POLLIN 0x1, POLLOUT 0x4, POLLERR 0x8,
    /// POLLHUP 0x10, POLLRDHUP 0x2000) with POLLRDNORM/POLLWRNORM as Linux sets them.
    pub fn poll_mask(self) -> u32 {
        let mut m = 0;
        if self.readable {
            m |= 0x1 | 0x40;
        }
        if self.writable {
            m |= 0x4 | 0x100;
        }
        if self.error {
            m |= 0x8;
        }
        if self.hup {
            m |= 0x10;
        }
        if self.read_hup {
            m |= 0x2000;
        }
        m
    }
}
