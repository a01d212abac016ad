//! The Berkeley calls: the errno Linux returns for each call in each
//! state, and readiness as Linux's tcp_poll computes it.

mod common;
use common::*;
use core::net::{Ipv4Addr, SocketAddrV4};
use utcp_core::socket::Errno;
use utcp_core::stack::{Shutdown, SocketId};
use utcp_core::tcp::State;
use utcp_core::wire::{Flags, Options};

// Linux poll bits.
const POLLIN: u32 = 0x1 | 0x40; // with POLLRDNORM
const POLLOUT: u32 = 0x4 | 0x100; // with POLLWRNORM
const POLLERR: u32 = 0x8;
const POLLHUP: u32 = 0x10;
const POLLRDHUP: u32 = 0x2000;

fn mask(h: &Harness, id: SocketId) -> u32 {
    h.stack.readiness(id).poll_mask()
}

fn recv(h: &mut Harness, id: SocketId) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 65536];
    let now = h.now;
    h.stack.recv(now, id, &mut buf, false).map(|n| buf[..n].to_vec())
}

/// The peer resets an established client connection (exact RCV.NXT).
fn peer_reset(h: &mut Harness) {
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
}

/// A client connection closed by us and the peer, now in TIME-WAIT.
fn time_wait_client(h: &mut Harness, reuse_addr: bool) -> SocketId {
    let c = h.stack.socket();
    h.stack.set_reuse_addr(c, reuse_addr).unwrap();
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EINPROGRESS));
    let iss = h.expect_one().seq();
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1));
    h.expect_one();
    h.stack.close(now, c, false).unwrap();
    let fin = h.expect_one();
    assert!(fin.flags().fin());
    h.send(seg(Flags::FIN | Flags::ACK).seq(PEER_ISS + 1).ack(iss + 2));
    h.expect_one();
    assert_eq!(h.state(c), State::TimeWait);
    c
}

// ----- connect -----

#[test]
fn connect_einprogress_then_ealready_then_zero_once_then_eisconn() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EALREADY));
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1));
    h.expect_one();
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Ok(()));
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EISCONN));
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EISCONN));
}

#[test]
fn connect_refused_so_error_read_first_then_connect_econnaborted() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.send(seg(Flags::RST).seq(0).ack(syn.seq() + 1));
    h.expect_none();
    assert_eq!(h.stack.take_error(c), Ok(Some(Errno::ECONNREFUSED)));
    assert_eq!(h.stack.take_error(c), Ok(None));
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::ECONNABORTED));
}

#[test]
fn connect_refused_without_so_error_read_connect_econnrefused() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.send(seg(Flags::RST).seq(0).ack(syn.seq() + 1));
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::ECONNREFUSED));
    assert_eq!(h.stack.take_error(c), Ok(None), "connect consumed the error");
    // The socket is unconnected again: a new attempt starts.
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EINPROGRESS));
}

// ----- send / recv on sockets without a connection -----

#[test]
fn send_on_fresh_socket_epipe() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    assert_eq!(h.stack.send(s, b"x"), Err(Errno::EPIPE));
}

#[test]
fn recv_on_fresh_socket_and_listener_enotconn() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    assert_eq!(recv(&mut h, s), Err(Errno::ENOTCONN));
    let l = h.listener(4);
    assert_eq!(recv(&mut h, l), Err(Errno::ENOTCONN));
}

#[test]
fn getpeername_enotconn_on_fresh_listener_and_syn_sent() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    assert_eq!(h.stack.peer_addr(s), Err(Errno::ENOTCONN));
    let (c, syn) = h.connect();
    assert_eq!(h.stack.peer_addr(c), Err(Errno::ENOTCONN), "SYN-SENT");
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1));
    assert_eq!(h.stack.peer_addr(c), Ok(h.peer_addr()));
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(h.stack.peer_addr(l), Err(Errno::ENOTCONN));
}

// ----- bind / listen / accept -----

#[test]
fn bind_twice_einval() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    h.stack.bind(s, h.local_addr()).unwrap();
    assert_eq!(h.stack.bind(s, SocketAddrV4::new(LOCAL, 9000)), Err(Errno::EINVAL));
}

#[test]
fn bind_foreign_address_eaddrnotavail() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    let foreign = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), LOCAL_PORT);
    assert_eq!(h.stack.bind(s, foreign), Err(Errno::EADDRNOTAVAIL));
    // The socket is still unbound.
    h.stack.bind(s, h.local_addr()).unwrap();
}

#[test]
fn bind_port_of_listener_eaddrinuse_even_with_reuseaddr() {
    let mut h = Harness::new();
    let l = h.stack.socket();
    h.stack.set_reuse_addr(l, true).unwrap();
    h.stack.bind(l, h.local_addr()).unwrap();
    h.stack.listen(l, 4).unwrap();
    let s = h.stack.socket();
    assert_eq!(h.stack.bind(s, h.local_addr()), Err(Errno::EADDRINUSE));
    // Linux (inet_bind_conflict): SO_REUSEADDR never shares with a listener.
    h.stack.set_reuse_addr(s, true).unwrap();
    assert_eq!(h.stack.bind(s, h.local_addr()), Err(Errno::EADDRINUSE));
    let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, LOCAL_PORT);
    assert_eq!(h.stack.bind(s, any), Err(Errno::EADDRINUSE));
}

#[test]
fn bind_port_of_time_wait_eaddrinuse_without_reuseaddr() {
    let mut h = Harness::new();
    time_wait_client(&mut h, false);
    let s = h.stack.socket();
    assert_eq!(h.stack.bind(s, h.local_addr()), Err(Errno::EADDRINUSE));
    h.stack.set_reuse_addr(s, true).unwrap();
    assert_eq!(h.stack.bind(s, h.local_addr()), Err(Errno::EADDRINUSE), "the TIME-WAIT socket lacked SO_REUSEADDR");
}

#[test]
fn bind_port_of_time_wait_succeeds_with_reuseaddr_on_both() {
    let mut h = Harness::new();
    time_wait_client(&mut h, true);
    let s = h.stack.socket();
    assert_eq!(h.stack.bind(s, h.local_addr()), Err(Errno::EADDRINUSE), "new socket without SO_REUSEADDR");
    h.stack.set_reuse_addr(s, true).unwrap();
    assert_eq!(h.stack.bind(s, h.local_addr()), Ok(()));
    assert_eq!(h.stack.listen(s, 4), Ok(()));
}

#[test]
fn second_listener_on_a_port_needs_reuseport() {
    let mut h = Harness::new();
    // SO_REUSEADDR lets both bind, but the second listen() conflicts.
    let a = h.stack.socket();
    let b = h.stack.socket();
    for s in [a, b] {
        h.stack.set_reuse_addr(s, true).unwrap();
        h.stack.bind(s, h.local_addr()).unwrap();
    }
    h.stack.listen(a, 4).unwrap();
    assert_eq!(h.stack.listen(b, 4), Err(Errno::EADDRINUSE));

    let mut h = Harness::new();
    let a = h.stack.socket();
    let b = h.stack.socket();
    for s in [a, b] {
        h.stack.set_reuse_port(s, true).unwrap();
        h.stack.bind(s, h.local_addr()).unwrap();
        h.stack.listen(s, 4).unwrap();
    }
    assert!(h.stack.is_listener(a) && h.stack.is_listener(b));
}

#[test]
fn listen_on_connected_socket_einval() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    assert_eq!(h.stack.listen(c, 4), Err(Errno::EINVAL));
    let mut h = Harness::new();
    let (c, _) = h.connect();
    assert_eq!(h.stack.listen(c, 4), Err(Errno::EINVAL), "SYN-SENT");
}

#[test]
fn accept_on_non_listener_einval_and_empty_queue_eagain() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    assert_eq!(h.stack.accept(s), Err(Errno::EINVAL));
    let (c, _) = h.established_client();
    assert_eq!(h.stack.accept(c), Err(Errno::EINVAL));
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
}

// ----- send / recv on a connection -----

#[test]
fn send_after_shutdown_write_epipe() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    let now = h.now;
    h.stack.shutdown(now, c, Shutdown::Write).unwrap();
    assert!(h.expect_one().flags().fin());
    assert_eq!(h.stack.send(c, b"late"), Err(Errno::EPIPE));
}

#[test]
fn send_after_peer_rst_econnreset_then_epipe() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    peer_reset(&mut h);
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.stack.send(c, b"x"), Err(Errno::ECONNRESET));
    assert_eq!(h.stack.send(c, b"x"), Err(Errno::EPIPE));
    assert_eq!(h.stack.send(c, b"x"), Err(Errno::EPIPE));
}

#[test]
fn recv_after_peer_rst_econnreset_then_eof() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    peer_reset(&mut h);
    assert_eq!(recv(&mut h, c), Err(Errno::ECONNRESET));
    assert_eq!(recv(&mut h, c), Ok(vec![]));
    assert_eq!(recv(&mut h, c), Ok(vec![]));
}

#[test]
fn recv_after_fin_returns_data_then_eof() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    h.send(seg(Flags::FIN | Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"hello"));
    assert_eq!(h.expect_one().ack(), PEER_ISS + 1 + 5 + 1);
    assert_eq!(recv(&mut h, c), Ok(b"hello".to_vec()));
    assert_eq!(recv(&mut h, c), Ok(vec![]));
    assert_eq!(recv(&mut h, c), Ok(vec![]));
}

#[test]
fn shutdown_on_fresh_socket_enotconn() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    let now = h.now;
    for how in [Shutdown::Read, Shutdown::Write, Shutdown::Both] {
        assert_eq!(h.stack.shutdown(now, s, how), Err(Errno::ENOTCONN));
    }
}

#[test]
fn close_twice_ebadf_on_fresh_socket() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    let now = h.now;
    assert_eq!(h.stack.close(now, s, false), Ok(()));
    assert_eq!(h.stack.close(now, s, false), Err(Errno::EBADF));
}

#[test]
fn close_twice_ebadf_on_connection() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    let now = h.now;
    assert_eq!(h.stack.close(now, c, false), Ok(()));
    assert!(h.expect_one().flags().fin());
    assert_eq!(h.stack.close(now, c, false), Err(Errno::EBADF));
    h.expect_none();
    assert_eq!(h.stack.send(c, b"x"), Err(Errno::EBADF), "the descriptor is gone");
}

#[test]
fn close_with_linger_zero_sends_rst() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let now = h.now;
    h.stack.close(now, c, true).unwrap();
    let rst = h.expect_one();
    assert!(rst.flags().rst() && !rst.flags().fin(), "{rst:?}");
    assert_eq!(rst.seq(), iss + 1);
    assert_eq!(h.stack.connection_count(), 0);
}

#[test]
fn close_with_unread_data_sends_rst_not_fin() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"unread"));
    h.advance(core::time::Duration::from_secs(1));
    let _ = h.output();
    let now = h.now;
    h.stack.close(now, c, false).unwrap();
    let rst = h.expect_one();
    assert!(rst.flags().rst() && !rst.flags().fin(), "{rst:?}");
    assert_eq!(rst.seq(), iss + 1);
    assert_eq!(h.stack.connection_count(), 0);
}

// ----- readiness (tcp_poll) -----

#[test]
fn readiness_fresh_socket_is_pollout_pollhup() {
    let mut h = Harness::new();
    let s = h.stack.socket();
    let r = h.stack.readiness(s);
    assert!(r.writable && r.hup && !r.readable && !r.read_hup && !r.error);
    assert_eq!(mask(&h, s), POLLOUT | POLLHUP);
}

#[test]
fn readiness_syn_sent_is_nothing() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    assert_eq!(mask(&h, c), 0);
}

#[test]
fn readiness_established_writable_then_readable_with_data() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    assert_eq!(mask(&h, c), POLLOUT);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"abc"));
    let r = h.stack.readiness(c);
    assert!(r.readable && r.writable && !r.read_hup && !r.hup);
    assert_eq!(mask(&h, c), POLLIN | POLLOUT);
    h.read_all(c);
    assert_eq!(mask(&h, c), POLLOUT);
}

#[test]
fn readiness_after_peer_fin_readable_and_rdhup() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    h.send(seg(Flags::FIN | Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    assert_eq!(h.state(c), State::CloseWait);
    let r = h.stack.readiness(c);
    assert!(r.readable && r.read_hup && !r.hup);
    assert_eq!(mask(&h, c), POLLIN | POLLOUT | POLLRDHUP);
}

#[test]
fn readiness_after_shutdown_both_and_peer_fin_hup() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    h.send(seg(Flags::FIN | Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    let now = h.now;
    h.stack.shutdown(now, c, Shutdown::Both).unwrap();
    assert_eq!(h.state(c), State::LastAck);
    assert!(h.stack.readiness(c).hup);
    // Linux: SHUTDOWN_MASK gives POLLHUP, RCV_SHUTDOWN POLLIN|POLLRDHUP,
    // SEND_SHUTDOWN POLLOUT.
    assert_eq!(mask(&h, c), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

#[test]
fn readiness_after_rst_error_hup_readable_writable() {
    let mut h = Harness::new();
    let (c, _) = h.established_client();
    peer_reset(&mut h);
    let r = h.stack.readiness(c);
    assert!(r.error && r.hup && r.readable && r.writable, "{r:?}");
    assert_eq!(mask(&h, c), POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
    // Reading SO_ERROR clears POLLERR only.
    assert_eq!(h.stack.take_error(c), Ok(Some(Errno::ECONNRESET)));
    assert_eq!(mask(&h, c), POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
}

#[test]
fn readiness_listener_readable_with_pending_connection() {
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(mask(&h, l), 0);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let synack = h.expect_one();
    assert_eq!(mask(&h, l), 0, "not before the handshake completes");
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(synack.seq() + 1));
    assert_eq!(mask(&h, l), POLLIN);
    h.stack.accept(l).unwrap();
    assert_eq!(mask(&h, l), 0);
}

#[test]
fn event_seq_moves_on_each_arrival_even_after_a_full_read() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let e0 = h.stack.event_seq(c);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"abc"));
    let e1 = h.stack.event_seq(c);
    assert_ne!(e0, e1);
    h.read_all(c);
    assert_eq!(h.stack.event_seq(c), e1, "reading is not an event");
    // Same readiness as before the read: an edge all the same.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 4).ack(iss + 1).data(b"def"));
    assert_ne!(h.stack.event_seq(c), e1);
}

#[test]
fn event_seq_still_through_a_delayed_ack_moves_on_shutdown_read() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"abc"));
    let e = h.stack.event_seq(c);
    h.advance(core::time::Duration::from_secs(1));
    h.output();
    assert_eq!(h.stack.event_seq(c), e, "a timer that changes no readiness is no event");
    let now = h.now;
    h.stack.shutdown(now, c, Shutdown::Read).unwrap();
    assert_ne!(h.stack.event_seq(c), e);
}

#[test]
fn event_seq_of_listener_moves_when_a_child_is_queued() {
    let mut h = Harness::new();
    let l = h.listener(4);
    let e0 = h.stack.event_seq(l);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let synack = h.expect_one();
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(synack.seq() + 1));
    assert_ne!(h.stack.event_seq(l), e0);
}

#[test]
fn writable_false_when_send_buffer_full_true_when_acks_free_half() {
    const CAP: usize = 8192;
    let mut h = Harness::new();
    let c = h.stack.socket();
    h.stack.set_buffer_sizes(c, Some(CAP), None).unwrap();
    h.stack.set_nodelay(c, true).unwrap();
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    h.stack.connect(now, c, h.peer_addr()).unwrap_err();
    let iss = h.expect_one().seq();
    let mss = Options { mss: Some(1460), ..Options::default() };
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1).opts(mss));
    h.expect_one();
    assert_eq!(h.stack.send(c, &[7u8; 3 * CAP]), Ok(CAP));
    assert_eq!(h.stack.send(c, b"more"), Err(Errno::EAGAIN));
    assert!(!h.stack.readiness(c).writable);
    let sent: usize = h.output().iter().map(|s| s.len()).sum();
    assert_eq!(sent, CAP);
    // A quarter acknowledged: free 2048 < queued 6144 / 2.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1 + (CAP / 4) as u32));
    assert!(!h.stack.readiness(c).writable);
    // Half acknowledged: free 4096 >= queued 4096 / 2.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1 + (CAP / 2) as u32));
    assert!(h.stack.readiness(c).writable);
    assert_eq!(mask(&h, c), POLLOUT);
}

// ----- accept after the peer already reset -----

/// Linux keeps a reset child on the accept queue: accept() returns it and
/// the first read reports ECONNRESET (then EOF).
#[test]
fn accept_after_client_reset_returns_connection_then_read_econnreset() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let iss = h.expect_one().seq();
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    assert_eq!(mask(&h, l), POLLIN);
    let (c, peer) = h.stack.accept(l).expect("Linux returns the reset connection");
    assert_eq!(peer, h.peer_addr());
    assert_eq!(recv(&mut h, c), Err(Errno::ECONNRESET));
    assert_eq!(recv(&mut h, c), Ok(vec![]));
    assert_eq!(h.stack.send(c, b"x"), Err(Errno::EPIPE));
}

// ----- more states -----

#[test]
fn readiness_after_connect_refused_error_hup_in_out() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.send(seg(Flags::RST).seq(0).ack(syn.seq() + 1));
    // Linux tcp_reset: sk_err, TCP_CLOSE and SHUTDOWN_MASK.
    assert_eq!(mask(&h, c), POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
}

#[test]
fn send_and_recv_in_syn_sent_eagain() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    // Linux: sk_stream_wait_connect with a zero timeout; tcp_recvmsg with no data.
    assert_eq!(h.stack.send(c, b"early"), Err(Errno::EAGAIN));
    assert_eq!(recv(&mut h, c), Err(Errno::EAGAIN));
}

#[test]
fn connect_on_listener_eisconn() {
    let mut h = Harness::new();
    let l = h.listener(4);
    let now = h.now;
    // Linux __inet_stream_connect: SS_UNCONNECTED but not TCP_CLOSE.
    assert_eq!(h.stack.connect(now, l, h.peer_addr()), Err(Errno::EISCONN));
    h.expect_none();
}

#[test]
fn bind_after_listen_or_connect_einval() {
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(h.stack.bind(l, SocketAddrV4::new(LOCAL, 9001)), Err(Errno::EINVAL));
    let c = h.stack.socket();
    let now = h.now;
    h.stack.connect(now, c, SocketAddrV4::new(PEER, 9)).unwrap_err();
    assert_eq!(h.stack.bind(c, SocketAddrV4::new(LOCAL, 9002)), Err(Errno::EINVAL), "autobound by connect");
}

// ----- the touched list (what an epoll over many sockets looks at) -----

fn touched(h: &mut Harness) -> Vec<SocketId> {
    let mut v = Vec::new();
    h.stack.take_touched(|id| v.push(id));
    v
}

#[test]
fn touched_lists_a_socket_once_per_change_and_only_changed_ones() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let idle = h.stack.socket();
    touched(&mut h);
    assert!(touched(&mut h).is_empty());
    // Data arriving: the connection is listed once, the idle socket not.
    h.send(seg(Flags::ACK | Flags::PSH).seq(PEER_ISS + 1).ack(iss + 1).data(b"ab"));
    h.send(seg(Flags::ACK | Flags::PSH).seq(PEER_ISS + 3).ack(iss + 1).data(b"cd"));
    assert_eq!(touched(&mut h), vec![c]);
    // A call that changes readiness (shutdown for reading) lists it too.
    let now = h.now;
    h.stack.shutdown(now, c, Shutdown::Read).unwrap();
    assert_eq!(touched(&mut h), vec![c]);
    assert_ne!(mask(&h, idle) & POLLHUP, 0);
}
