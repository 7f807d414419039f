//! Crash points: crashes drawn over the steps that persist and send, instead of only
//! the next step of one server. A policy names a kind of step (any step that persists
//! or sends, the step that campaigns, the one that grants a vote, ...) and a chance per
//! mille; every step of that kind then crashes with that chance, after a prefix of its
//! actions drawn uniformly (at least the last action is lost, as in a power cut).
//!
//! The draws come from the world's own `crash-points` stream, and only while a policy is
//! armed, so arming one never shifts the network's or the nodes' draws.

use std::fmt;
use std::str::FromStr;

use raft_core::{Body, PersistAction};

use crate::rng::Stream;
use crate::world::Effect;

/// The kind of step a crash point aims at, read from the step's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Any step that persists or sends something.
    Any,
    /// A step that persists something.
    Persist,
    /// A step that sends a real RequestVote (the one that campaigns).
    Campaign,
    /// A step that sends a pre-vote request.
    PreVote,
    /// A step that grants a vote.
    Vote,
    /// A step that persists new entries (a leader's proposal or a follower's append).
    Append,
    /// A step that acknowledges entries.
    Ack,
    /// A step that persists a snapshot.
    Snapshot,
    /// A leader's step that sends AppendEntries or InstallSnapshot.
    Leader,
}

impl StepKind {
    /// Every kind, in the order of the text form.
    pub const ALL: [StepKind; 9] = [
        StepKind::Any,
        StepKind::Persist,
        StepKind::Campaign,
        StepKind::PreVote,
        StepKind::Vote,
        StepKind::Append,
        StepKind::Ack,
        StepKind::Snapshot,
        StepKind::Leader,
    ];

    /// The kind's name in schedules.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Any => "any",
            StepKind::Persist => "persist",
            StepKind::Campaign => "campaign",
            StepKind::PreVote => "pre-vote",
            StepKind::Vote => "vote",
            StepKind::Append => "append",
            StepKind::Ack => "ack",
            StepKind::Snapshot => "snapshot",
            StepKind::Leader => "leader",
        }
    }

    /// Whether a step with these actions is of this kind.
    pub fn matches(self, effects: &[Effect]) -> bool {
        effects.iter().any(|effect| self.matches_effect(effect))
    }

    fn matches_effect(self, effect: &Effect) -> bool {
        let body = match effect {
            Effect::Send(message) => message.body(),
            _ => None,
        };
        match self {
            StepKind::Any => matches!(effect, Effect::Persist(_) | Effect::Send(_)),
            StepKind::Persist => matches!(effect, Effect::Persist(_)),
            StepKind::Campaign => {
                matches!(body, Some(Body::RequestVote(request)) if !request.is_pre_vote())
            }
            StepKind::PreVote => {
                matches!(body, Some(Body::RequestVote(request)) if request.is_pre_vote())
            }
            StepKind::Vote => matches!(
                body,
                Some(Body::RequestVoteReply(reply)) if reply.granted() && !reply.is_pre_vote()
            ),
            StepKind::Append => matches!(effect, Effect::Persist(PersistAction::Append(_))),
            StepKind::Ack => {
                matches!(body, Some(Body::AppendEntriesReply(reply)) if reply.is_success())
            }
            StepKind::Snapshot => {
                matches!(effect, Effect::Persist(PersistAction::Snapshot { .. }))
            }
            StepKind::Leader => {
                matches!(
                    body,
                    Some(Body::AppendEntries(_) | Body::InstallSnapshot(_))
                )
            }
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StepKind {
    type Err = String;

    fn from_str(name: &str) -> Result<StepKind, String> {
        StepKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| format!("`{name}` is not a step kind"))
    }
}

/// The world's crash points: the armed policy (if any) and its stream.
#[derive(Clone, Debug)]
pub struct CrashPoints {
    armed: Option<(StepKind, u64)>,
    rng: Stream,
}

impl CrashPoints {
    /// Disarmed crash points drawing from `rng` once armed.
    pub fn new(rng: Stream) -> CrashPoints {
        CrashPoints { armed: None, rng }
    }

    /// From now on every step of `kind` crashes with chance `per_mille` / 1000 (0 disarms).
    pub fn arm(&mut self, kind: StepKind, per_mille: u64) {
        self.armed = (per_mille > 0).then_some((kind, per_mille.min(1000)));
    }

    /// No more crash points.
    pub fn disarm(&mut self) {
        self.armed = None;
    }

    /// For a step with these actions: how many of them to carry out before crashing, if
    /// this step crashes.
    pub fn draw(&mut self, effects: &[Effect]) -> Option<usize> {
        let (kind, per_mille) = self.armed?;
        if effects.is_empty() || !kind.matches(effects) || !self.rng.chance(per_mille, 1000) {
            return None;
        }
        Some(self.rng.index(effects.len()))
    }
}
