//! Per-stack counters. Every dropped packet or segment has a named reason.

use crate::wire::WireError;

macro_rules! drop_reasons {
    ($($name:ident => $text:literal,)*) => {
        /// Why a packet or segment was dropped. `name()` is the counter's name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DropReason { $($name,)* }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$name => $text,)* }
            }
        }
    };
}

drop_reasons! {
    // Malformed packets (wire).
    Truncated => "truncated",
    NotIpv4 => "not_ipv4",
    BadIpHeaderLen => "bad_ip_header_len",
    BadIpChecksum => "bad_ip_checksum",
    BadDataOffset => "bad_data_offset",
    BadTcpChecksum => "bad_tcp_checksum",
    BadOptionLen => "bad_option_len",
    SynFin => "syn_fin",
    SynRst => "syn_rst",
    ZeroPort => "zero_port",
    BadIcmp => "bad_icmp",
    // IP layer.
    WrongDestination => "wrong_destination",
    UnknownProtocol => "unknown_protocol",
    FragOverlap => "frag_overlap",
    FragTooBig => "frag_too_big",
    FragTimeout => "frag_timeout",
    FragTableFull => "frag_table_full",
    // Listeners (RFC 9293 §3.10.7.2).
    ListenRst => "listen_rst",
    ListenAck => "listen_ack",
    ListenNoSyn => "listen_no_syn",
    SynQueueFull => "syn_queue_full",
    AcceptQueueFull => "accept_queue_full",
    BadSynCookie => "bad_syn_cookie",
    // No socket: RST sent (RFC 9293 §3.10.7.1) or, for an RST, silently dropped.
    NoSocket => "no_socket",
    // Connection segment checks (RFC 9293 §3.10.7.3-4, RFC 5961, RFC 7323).
    SynSentBadAck => "syn_sent_bad_ack",
    SynSentNoSyn => "syn_sent_no_syn",
    SynSentRstNoAck => "syn_sent_rst_no_ack",
    OutOfWindow => "out_of_window",
    PawsRejected => "paws_rejected",
    RstOutOfWindow => "rst_out_of_window",
    RstChallenged => "rst_challenged",
    SynChallenged => "syn_challenged",
    NoAck => "no_ack",
    AckTooOld => "ack_too_old",
    AckNotYetSent => "ack_not_yet_sent",
    SynRecvBadAck => "syn_recv_bad_ack",
    OutOfOrderFull => "out_of_order_full",
    DataAfterFin => "data_after_fin",
    ChallengeAckLimited => "challenge_ack_limited",
}

impl From<WireError> for DropReason {
    fn from(e: WireError) -> DropReason {
        match e {
            WireError::Truncated => DropReason::Truncated,
            WireError::NotIpv4 => DropReason::NotIpv4,
            WireError::BadIpHeaderLen => DropReason::BadIpHeaderLen,
            WireError::BadIpChecksum => DropReason::BadIpChecksum,
            WireError::BadDataOffset => DropReason::BadDataOffset,
            WireError::BadTcpChecksum => DropReason::BadTcpChecksum,
            WireError::BadOptionLen => DropReason::BadOptionLen,
            WireError::SynFin => DropReason::SynFin,
            WireError::SynRst => DropReason::SynRst,
            WireError::ZeroPort => DropReason::ZeroPort,
            WireError::BadIcmp => DropReason::BadIcmp,
        }
    }
}

/// Counters kept by one stack.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    drops: Vec<u64>,
    pub packets_in: u64,
    pub packets_out: u64,
    pub segments_in: u64,
    pub segments_out: u64,
    pub retransmits: u64,
    pub fast_retransmits: u64,
    pub rto_expirations: u64,
    /// Timeouts found spurious and undone (RFC 3522, RFC 4015).
    pub spurious_rtos: u64,
    /// Fast recoveries found spurious and undone (RFC 3522).
    pub spurious_recoveries: u64,
    /// Retransmissions found lost and sent again within one recovery
    /// (RFC 8985 §6.2).
    pub lost_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tlp_probes: u64,
    pub rst_sent: u64,
    pub challenge_acks: u64,
    pub syn_cookies_sent: u64,
    pub syn_cookies_accepted: u64,
    pub icmp_echo_replies: u64,
    pub frags_reassembled: u64,
    pub conns_opened: u64,
    pub conns_accepted: u64,
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        if self.drops.is_empty() {
            self.drops = vec![0; DropReason::ALL.len()];
        }
        self.drops[reason as usize] += 1;
    }

    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason as usize).copied().unwrap_or(0)
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Non-zero drop counters, by name.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(move |r| (r.name(), self.drops(*r)))
            .filter(|(_, n)| *n > 0)
    }
}

/// One line, `name=value` pairs: the totals, then each non-zero drop
/// counter as `drop.REASON=N`. The runtime prints it at exit (UTCP_LOG=info)
/// and scripts/robust reads it back, so keep it one line and greppable.
impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let totals = [
            ("packets_in", self.packets_in),
            ("packets_out", self.packets_out),
            ("segments_in", self.segments_in),
            ("segments_out", self.segments_out),
            ("retransmits", self.retransmits),
            ("fast_retransmits", self.fast_retransmits),
            ("rto_expirations", self.rto_expirations),
            ("rst_sent", self.rst_sent),
            ("challenge_acks", self.challenge_acks),
            ("syn_cookies_sent", self.syn_cookies_sent),
            ("syn_cookies_accepted", self.syn_cookies_accepted),
            ("icmp_echo_replies", self.icmp_echo_replies),
            ("frags_reassembled", self.frags_reassembled),
            ("conns_opened", self.conns_opened),
            ("conns_accepted", self.conns_accepted),
            ("drops", self.total_drops()),
        ];
        let mut sep = "";
        for (name, n) in totals {
            write!(f, "{sep}{name}={n}")?;
            sep = " ";
        }
        for (name, n) in self.nonzero_drops() {
            write!(f, " drop.{name}={n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_reason() {
        let mut s = Stats::default();
        s.count_drop(DropReason::BadTcpChecksum);
        s.count_drop(WireError::BadTcpChecksum.into());
        assert_eq!(s.drops(DropReason::BadTcpChecksum), 2);
        assert_eq!(s.total_drops(), 2);
        assert_eq!(s.nonzero_drops().collect::<Vec<_>>(), vec![("bad_tcp_checksum", 2)]);
    }

    #[test]
    fn one_line_of_totals_and_nonzero_drops() {
        let mut s = Stats { packets_in: 3, challenge_acks: 1, ..Stats::default() };
        s.count_drop(DropReason::SynFin);
        let line = s.to_string();
        assert!(line.starts_with("packets_in=3 packets_out=0 "), "{line}");
        assert!(line.contains(" challenge_acks=1 "), "{line}");
        assert!(line.ends_with(" drops=1 drop.syn_fin=1"), "{line}");
        assert!(!line.contains('\n'));
    }
}
