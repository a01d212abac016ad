//! Each endpoint's TCP state, inferred from the segments of one connection
//! as a capture between the two saw them (RFC 9293 §3.3.2, Figure 5).
//!
//! The capture point is taken to be next to both ends (a TUN device or a
//! loopback): a segment changes its sender's state when it is seen, and
//! its receiver's state at the same moment. What a capture cannot show is
//! left alone: a listener before its first SYN, and TIME-WAIT's 2*MSL end.

use utcp_core::tcp::State;
use utcp_core::wire::Flags;

/// One segment's header fields that matter here, absolute numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes (SYN and FIN not counted).
    pub len: u32,
}

/// What one endpoint has shown of itself so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    state: State,
    /// Its initial sequence number, from its SYN.
    iss: Option<u32>,
    /// The sequence number its FIN occupies.
    fin: Option<u32>,
    /// Whether the peer's FIN has arrived.
    peer_fin: bool,
    /// Opened passively (LISTEN -> SYN-RECEIVED): an RST returns to LISTEN.
    passive: bool,
}

impl End {
    fn new(state: State) -> End {
        End {
            state,
            iss: None,
            fin: None,
            peer_fin: false,
            passive: false,
        }
    }
}

/// `a >= b` in sequence space (RFC 9293 §3.4).
fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) as i32 >= 0
}

/// The two endpoints of one connection: index 0 and 1.
#[derive(Clone, Debug)]
pub struct Inference {
    ends: [End; 2],
}

impl Inference {
    /// A connection whose first seen segment is `first`, sent by end 0.
    /// A capture that starts with a SYN starts from CLOSED and LISTEN; one
    /// that starts mid-connection, from ESTABLISHED on both sides.
    pub fn new(first: &Seen) -> Inference {
        let (a, b) = if first.flags.syn() && !first.flags.ack() {
            (State::Closed, State::Listen)
        } else {
            (State::Established, State::Established)
        };
        Inference {
            ends: [End::new(a), End::new(b)],
        }
    }

    pub fn state(&self, end: usize) -> State {
        self.ends[end].state
    }

    /// Apply one segment sent by end `from`. Returns, for each end, the
    /// states it moved through (empty when it stayed).
    pub fn segment(&mut self, from: usize, s: &Seen) -> [Vec<State>; 2] {
        let mut moves: [Vec<State>; 2] = [Vec::new(), Vec::new()];
        let to = 1 - from;
        let f = s.flags;
        let mut go = |ends: &mut [End; 2], who: usize, st: State| {
            if ends[who].state != st {
                ends[who].state = st;
                moves[who].push(st);
            }
        };

        // ---- the sender: what it did by sending this.
        let e = self.ends[from];
        if f.rst() {
            go(&mut self.ends, from, State::Closed);
        } else {
            if f.syn() {
                self.ends[from].iss.get_or_insert(s.seq);
                match (e.state, f.ack()) {
                    (State::Closed | State::Listen, false) => {
                        go(&mut self.ends, from, State::SynSent)
                    }
                    (State::Closed | State::Listen, true) => {
                        self.ends[from].passive = true;
                        go(&mut self.ends, from, State::SynReceived)
                    }
                    _ => {} // a retransmission, or the SYN,ACK of a simultaneous open
                }
            }
            if f.fin() && e.fin.is_none() {
                let at = s.seq.wrapping_add(s.len).wrapping_add(u32::from(f.syn()));
                self.ends[from].fin = Some(at);
                let peer_fin = self.ends[to].fin;
                let acks_peer_fin =
                    f.ack() && peer_fin.is_some_and(|p| seq_ge(s.ack, p.wrapping_add(1)));
                match e.state {
                    State::Established | State::SynReceived => {
                        go(&mut self.ends, from, State::FinWait1)
                    }
                    // The FINs crossed: this one was sent before the peer's
                    // arrived (its ACK does not cover it), so the sender
                    // went FIN-WAIT-1, then CLOSING when the peer's came.
                    State::CloseWait if !acks_peer_fin => {
                        go(&mut self.ends, from, State::FinWait1);
                        go(&mut self.ends, from, State::Closing)
                    }
                    State::CloseWait => go(&mut self.ends, from, State::LastAck),
                    _ => {}
                }
            }
        }

        // ---- the receiver: what this segment did to it.
        let r = self.ends[to];
        if f.rst() {
            match r.state {
                State::Closed | State::Listen => {}
                // §3.10.7.3: only an RST acknowledging our SYN counts.
                State::SynSent => {
                    if f.ack() && r.iss.is_some_and(|i| s.ack == i.wrapping_add(1)) {
                        go(&mut self.ends, to, State::Closed)
                    }
                }
                State::SynReceived if r.passive => go(&mut self.ends, to, State::Listen),
                _ => go(&mut self.ends, to, State::Closed),
            }
            return moves;
        }
        let acks =
            |upto: Option<u32>| f.ack() && upto.is_some_and(|u| seq_ge(s.ack, u.wrapping_add(1)));
        let new_fin = f.fin() && !r.peer_fin;
        match r.state {
            // §3.10.7.3: in SYN-SENT only an ACK of exactly our SYN is
            // acceptable (SND.NXT is ISS+1).
            State::SynSent
                if f.syn() && f.ack() && r.iss.is_some_and(|i| s.ack == i.wrapping_add(1)) =>
            {
                go(&mut self.ends, to, State::Established)
            }
            // Simultaneous open: the SYNs crossed.
            State::SynSent if f.syn() && !f.ack() => go(&mut self.ends, to, State::SynReceived),
            State::SynReceived if acks(r.iss) => go(&mut self.ends, to, State::Established),
            // An ACK of our FIN and the peer's FIN in one segment: the ACK
            // first (§3.10.7.4), FIN-WAIT-2, then the FIN, TIME-WAIT; the
            // engine's trace shows the same two steps.
            State::FinWait1 if acks(r.fin) => go(&mut self.ends, to, State::FinWait2),
            State::Closing if acks(r.fin) => go(&mut self.ends, to, State::TimeWait),
            State::LastAck if acks(r.fin) => go(&mut self.ends, to, State::Closed),
            _ => {}
        }
        if new_fin && !self.ends[to].peer_fin {
            let next = match self.ends[to].state {
                State::Established => Some(State::CloseWait),
                State::FinWait1 => Some(State::Closing),
                State::FinWait2 => Some(State::TimeWait),
                _ => None,
            };
            if let Some(st) = next {
                self.ends[to].peer_fin = true;
                go(&mut self.ends, to, st);
            }
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    const SYN: Flags = Flags::SYN;
    const ACK: Flags = Flags::ACK;
    const RST: Flags = Flags::RST;
    const SYN_ACK: Flags = Flags(Flags::SYN.0 | Flags::ACK.0);
    const FIN_ACK: Flags = Flags(Flags::FIN.0 | Flags::ACK.0);
    const PSH_ACK: Flags = Flags(Flags::PSH.0 | Flags::ACK.0);

    fn seen(flags: Flags, seq: u32, ack: u32, len: u32) -> Seen {
        Seen {
            flags,
            seq,
            ack,
            len,
        }
    }

    /// Run a script of (sender, segment) and check each step's moves.
    #[track_caller]
    fn script(steps: &[(usize, Seen, &[State], &[State])]) -> Inference {
        let mut inf = Inference::new(&steps[0].1);
        for (i, (from, s, a, b)) in steps.iter().enumerate() {
            let got = inf.segment(*from, s);
            assert_eq!(got, [a.to_vec(), b.to_vec()], "step {i}: {s:?} from {from}");
        }
        inf
    }

    // Client (0) ISS 100, server (1) ISS 900.

    #[test]
    fn handshake_data_and_close_by_the_server() {
        let inf = script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (0, seen(ACK, 101, 901, 0), &[], &[Established]),
            (0, seen(PSH_ACK, 101, 901, 77), &[], &[]),
            (1, seen(ACK, 901, 178, 0), &[], &[]),
            (1, seen(PSH_ACK, 901, 178, 300), &[], &[]),
            (1, seen(FIN_ACK, 1201, 178, 0), &[CloseWait], &[FinWait1]),
            (0, seen(ACK, 178, 1202, 0), &[], &[FinWait2]),
            (0, seen(FIN_ACK, 178, 1202, 0), &[LastAck], &[TimeWait]),
            (1, seen(ACK, 1202, 179, 0), &[Closed], &[]),
        ]);
        assert_eq!((inf.state(0), inf.state(1)), (Closed, TimeWait));
    }

    #[test]
    fn fin_with_the_ack_of_the_other_fin_passes_through_fin_wait_2() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (0, seen(ACK, 101, 901, 0), &[], &[Established]),
            (0, seen(FIN_ACK, 101, 901, 0), &[FinWait1], &[CloseWait]),
            (
                1,
                seen(FIN_ACK, 901, 102, 0),
                &[FinWait2, TimeWait],
                &[LastAck],
            ),
            (0, seen(ACK, 102, 902, 0), &[], &[Closed]),
        ]);
    }

    #[test]
    fn simultaneous_close_goes_through_closing() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (0, seen(ACK, 101, 901, 0), &[], &[Established]),
            (0, seen(FIN_ACK, 101, 901, 0), &[FinWait1], &[CloseWait]),
            // The server's FIN was sent before ours arrived: it acks only
            // 101, so the server was in FIN-WAIT-1, not CLOSE-WAIT.
            (
                1,
                seen(FIN_ACK, 901, 101, 0),
                &[Closing],
                &[FinWait1, Closing],
            ),
            (0, seen(ACK, 102, 902, 0), &[], &[TimeWait]),
            (1, seen(ACK, 902, 102, 0), &[TimeWait], &[]),
        ]);
    }

    #[test]
    fn simultaneous_open() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            // End 1 started as LISTEN in our eyes; its own SYN says SYN-SENT.
            (1, seen(SYN, 900, 0, 0), &[SynReceived], &[SynSent]),
            (0, seen(SYN_ACK, 100, 901, 0), &[], &[Established]),
            (1, seen(SYN_ACK, 900, 101, 0), &[Established], &[]),
        ]);
    }

    #[test]
    fn refused_connection() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(Flags(RST.0 | ACK.0), 0, 101, 0),
                &[Closed],
                &[Closed],
            ),
        ]);
    }

    #[test]
    fn rst_without_the_right_ack_does_not_close_syn_sent() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (1, seen(Flags(RST.0 | ACK.0), 0, 555, 0), &[], &[Closed]),
        ]);
    }

    #[test]
    fn syn_ack_with_the_wrong_ack_leaves_syn_sent() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (1, seen(SYN_ACK, 900, 555, 0), &[], &[SynReceived]),
        ]);
    }

    #[test]
    fn rst_returns_a_passive_open_to_listen_and_closes_established() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (0, seen(RST, 101, 0, 0), &[Closed], &[Listen]),
        ]);
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (0, seen(ACK, 101, 901, 0), &[], &[Established]),
            (
                1,
                seen(Flags(RST.0 | ACK.0), 901, 101, 0),
                &[Closed],
                &[Closed],
            ),
        ]);
    }

    #[test]
    fn retransmissions_change_nothing() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (0, seen(SYN, 100, 0, 0), &[], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (1, seen(SYN_ACK, 900, 101, 0), &[], &[]),
            (0, seen(ACK, 101, 901, 0), &[], &[Established]),
            (0, seen(FIN_ACK, 101, 901, 0), &[FinWait1], &[CloseWait]),
            (0, seen(FIN_ACK, 101, 901, 0), &[], &[]),
        ]);
    }

    #[test]
    fn third_ack_carrying_a_fin_passes_through_established() {
        script(&[
            (0, seen(SYN, 100, 0, 0), &[SynSent], &[]),
            (
                1,
                seen(SYN_ACK, 900, 101, 0),
                &[Established],
                &[SynReceived],
            ),
            (
                0,
                seen(FIN_ACK, 101, 901, 0),
                &[FinWait1],
                &[Established, CloseWait],
            ),
        ]);
    }

    #[test]
    fn mid_connection_capture_starts_established() {
        let inf = script(&[
            (0, seen(PSH_ACK, 5000, 7000, 10), &[], &[]),
            (0, seen(FIN_ACK, 5010, 7000, 0), &[FinWait1], &[CloseWait]),
        ]);
        assert_eq!(inf.state(0), FinWait1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        script(&[
            (0, seen(SYN, u32::MAX, 0, 0), &[SynSent], &[]),
            (1, seen(SYN_ACK, 900, 0, 0), &[Established], &[SynReceived]),
            (0, seen(ACK, 0, 901, 0), &[], &[Established]),
        ]);
    }
}
