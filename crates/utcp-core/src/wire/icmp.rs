//! ICMP (RFC 792): filled in by the wire work.
