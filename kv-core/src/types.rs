//! Newtypes of the KV layer: who a client is ([`ClientId`]), which of its calls a
//! request belongs to ([`Seq`]), where a server sends a reply ([`ClientAddr`]), and the
//! fingerprint of a server's replicated state ([`StateDigest`]).

use std::fmt;

/// The identity of a clerk, chosen by the embedder. Every clerk must have its own id,
/// never reused: the duplicate table remembers the last sequence number of every id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// The sequence number of one call of a clerk. A clerk numbers its calls 1, 2, 3, … and
/// sends every retry of a call with the same number; servers apply each (client, seq)
/// at most once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seq(pub u64);

/// An opaque address a server answers a client request to (a connection, a network end,
/// a simulated clerk). The server never interprets it; it hands it back with the reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientAddr(pub u64);

/// A cheap fingerprint of a server's replicated state (the key/value map and the
/// duplicate table). Two servers that applied the same log prefix have the same digest;
/// servers with different states have different digests, except with negligible
/// probability. It does not depend on how the state was reached (replaying the log,
/// restoring a snapshot or installing one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateDigest(pub u64);

impl Seq {
    /// The sequence number after this one.
    #[must_use]
    pub fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
