//! The lab's network model in simulated time: which messages arrive, and when.
//!
//! Each message is one-way. Requests and replies are lost independently when the network
//! is unreliable; with long reordering, 2/3 of replies are held back 200–2199 ms. A
//! message crossing a cut link, or to or from a disconnected server, is lost.
//!
//! Beyond the lab's model (all off by default, so the catalog keeps the lab's network):
//! requests may be held back as long as replies, any message may be delivered twice,
//! and the network may deliver again an old message it carried before. These draws come
//! from their own `network-faults` stream, so turning them on never shifts the others.

use std::collections::{BTreeSet, VecDeque};

use crate::rng::Stream;

/// The knobs of the network, with the lab's values as defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// Smallest latency of any message, in ms.
    pub base_latency_min_ms: u64,
    /// Largest base latency, in ms.
    pub base_latency_max_ms: u64,
    /// Whether loss and short delays apply.
    pub unreliable: bool,
    /// Extra delay of every message when unreliable: uniform in `0..short_delay_ms`.
    pub short_delay_ms: u64,
    /// Loss of a request when unreliable, per mille.
    pub request_loss_per_mille: u64,
    /// Loss of a reply when unreliable, per mille.
    pub reply_loss_per_mille: u64,
    /// Whether replies may be held back for a long time.
    pub long_reordering: bool,
    /// The share of replies held back, as numerator / denominator.
    pub reorder_share: (u64, u64),
    /// The chance, per mille, that a message still in flight when its sender crashes
    /// arrives anyway (it had left the machine). The lab drops them all (0: its RPC ends
    /// die with the server); fuzzing delivers some, to check that whatever a message
    /// promises was durable before it left.
    pub survives_sender_crash_per_mille: u64,
    /// The share of requests, per mille, held back as long as reordered replies
    /// (200 + U[0, U[0, 1999]] ms more). The lab holds back no request (0).
    pub request_hold_per_mille: u64,
    /// The chance, per mille, that a delivered message arrives twice (the copy after its
    /// own delay of up to 200 ms). The lab never duplicates (0).
    pub duplicate_per_mille: u64,
    /// The chance, per mille, that a send also makes the network deliver again one of
    /// the last [`REPLAY_WINDOW`] messages it carried (a stale request or reply arriving
    /// late). The lab never replays (0).
    pub replay_per_mille: u64,
}

/// How many recent messages the network keeps for replays.
pub const REPLAY_WINDOW: usize = 64;

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            base_latency_min_ms: 1,
            base_latency_max_ms: 4,
            unreliable: false,
            short_delay_ms: 27,
            request_loss_per_mille: 100,
            reply_loss_per_mille: 100,
            long_reordering: false,
            reorder_share: (600, 900),
            survives_sender_crash_per_mille: 0,
            request_hold_per_mille: 0,
            duplicate_per_mille: 0,
            replay_per_mille: 0,
        }
    }
}

/// A message as the network carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carried {
    /// The sender.
    pub from: usize,
    /// The receiver.
    pub to: usize,
    /// Whether it is a reply.
    pub is_reply: bool,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// What happens to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives after this many ms.
    Deliver(u64),
    /// It is lost.
    Lost,
}

/// The network: configuration, connectivity and its own random stream.
#[derive(Clone, Debug)]
pub struct Network {
    /// The knobs.
    pub config: NetworkConfig,
    connected: Vec<bool>,
    cut: BTreeSet<(usize, usize)>,
    rng: Stream,
    faults: Stream,
    recent: VecDeque<Carried>,
}

impl Network {
    /// A network of `servers` servers, all disconnected, drawing from `rng`.
    pub fn new(servers: usize, config: NetworkConfig, rng: Stream) -> Network {
        Network {
            config,
            connected: vec![false; servers],
            cut: BTreeSet::new(),
            rng,
            faults: Stream::new(0, "network-faults"),
            recent: VecDeque::new(),
        }
    }

    /// The same network, drawing its request holds, duplicates and replays from `faults`.
    #[must_use]
    pub fn with_fault_stream(mut self, faults: Stream) -> Network {
        self.faults = faults;
        self
    }

    /// Attaches or detaches server `i` (the lab's connect / disconnect).
    pub fn set_connected(&mut self, i: usize, connected: bool) {
        self.connected[i] = connected;
    }

    /// Whether server `i` is attached.
    pub fn is_connected(&self, i: usize) -> bool {
        self.connected[i]
    }

    /// Cuts (or restores) the one-way link `from -> to`.
    pub fn set_link_cut(&mut self, from: usize, to: usize, cut: bool) {
        if cut {
            self.cut.insert((from, to));
        } else {
            self.cut.remove(&(from, to));
        }
    }

    /// Splits the servers into groups that only talk among themselves.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        self.cut.clear();
        let group_of = |server: usize| groups.iter().position(|g| g.contains(&server));
        for from in 0..self.connected.len() {
            for to in 0..self.connected.len() {
                if from != to && group_of(from) != group_of(to) {
                    self.cut.insert((from, to));
                }
            }
        }
    }

    /// Removes every cut link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Whether a message from `from` to `to` can pass right now.
    pub fn link_up(&self, from: usize, to: usize) -> bool {
        self.connected[from] && self.connected[to] && !self.cut.contains(&(from, to))
    }

    /// Whether a message from a sender that has since crashed still arrives: the receiver
    /// is attached, the link is not cut, and the message survives the crash.
    pub fn survives_sender_crash(&mut self, from: usize, to: usize) -> bool {
        let survives = self.config.survives_sender_crash_per_mille;
        survives > 0
            && self.connected[to]
            && !self.cut.contains(&(from, to))
            && self.rng.chance(survives, 1000)
    }

    /// Whether a message whose sender crashed while it was in flight still arrives, on a
    /// link that is not part of the server network (a clerk's).
    pub fn survives_crash_roll(&mut self) -> bool {
        let survives = self.config.survives_sender_crash_per_mille;
        survives > 0 && self.rng.chance(survives, 1000)
    }

    /// Decides the fate of a message sent now over a link that is up.
    pub fn fate(&mut self, is_reply: bool) -> Fate {
        let config = &self.config;
        let mut delay = self
            .rng
            .range_inclusive(config.base_latency_min_ms, config.base_latency_max_ms);
        if config.unreliable {
            delay += self.rng.below(config.short_delay_ms);
            let loss = if is_reply {
                config.reply_loss_per_mille
            } else {
                config.request_loss_per_mille
            };
            if self.rng.chance(loss, 1000) {
                return Fate::Lost;
            }
        }
        if is_reply && config.long_reordering {
            let (numerator, denominator) = config.reorder_share;
            if self.rng.chance(numerator, denominator) {
                let spread = self.rng.below(2000);
                delay += 200 + self.rng.below(spread + 1);
            }
        }
        Fate::Deliver(delay)
    }

    /// The extra delay of a message about to be delivered: a long hold for a share of
    /// requests (0 when holds are off).
    pub fn hold(&mut self, is_reply: bool) -> u64 {
        let share = self.config.request_hold_per_mille;
        if is_reply || share == 0 || !self.faults.chance(share, 1000) {
            return 0;
        }
        let spread = self.faults.below(2000);
        200 + self.faults.below(spread + 1)
    }

    /// The delay of a second copy of a message about to be delivered, if it is duplicated.
    pub fn duplicate(&mut self) -> Option<u64> {
        let chance = self.config.duplicate_per_mille;
        if chance == 0 || !self.faults.chance(chance, 1000) {
            return None;
        }
        Some(self.config.base_latency_min_ms + self.faults.below(200))
    }

    /// Remembers a message being sent and, with the replay chance, picks an older one to
    /// deliver again after the returned delay (nothing is kept when replays are off).
    pub fn replay(&mut self, sent: &Carried) -> Option<(Carried, u64)> {
        let chance = self.config.replay_per_mille;
        if chance == 0 {
            return None;
        }
        let replayed = (!self.recent.is_empty() && self.faults.chance(chance, 1000)).then(|| {
            let old = self.recent[self.faults.index(self.recent.len())].clone();
            (old, self.config.base_latency_min_ms + self.faults.below(27))
        });
        if self.recent.len() == REPLAY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(sent.clone());
        replayed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliable_network_delivers_within_base_latency() {
        let mut net = Network::new(3, NetworkConfig::default(), Stream::new(1, "net"));
        for _ in 0..1000 {
            match net.fate(false) {
                Fate::Deliver(ms) => assert!((1..=4).contains(&ms)),
                Fate::Lost => panic!("a reliable network lost a message"),
            }
        }
    }

    #[test]
    fn unreliable_network_loses_about_a_tenth() {
        let config = NetworkConfig {
            unreliable: true,
            ..NetworkConfig::default()
        };
        let mut net = Network::new(3, config, Stream::new(2, "net"));
        let lost = (0..10_000)
            .filter(|_| net.fate(false) == Fate::Lost)
            .count();
        assert!((800..1200).contains(&lost), "lost {lost} of 10000");
    }

    #[test]
    fn partitions_cut_links_between_groups_only() {
        let mut net = Network::new(3, NetworkConfig::default(), Stream::new(3, "net"));
        (0..3).for_each(|i| net.set_connected(i, true));
        net.partition(&[vec![0, 1], vec![2]]);
        assert!(net.link_up(0, 1) && net.link_up(1, 0));
        assert!(!net.link_up(0, 2) && !net.link_up(2, 1));
        net.heal();
        assert!(net.link_up(2, 0));
        net.set_link_cut(2, 0, true);
        assert!(!net.link_up(2, 0) && net.link_up(0, 2));
    }
}
