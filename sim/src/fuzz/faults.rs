//! The server-side faults of a fuzzing schedule (crashes, crashes in the middle of a
//! step, crash points, restarts, partitions, one-way cuts, heals, network changes and
//! message faults) and the operator's leadership transfers, carried out on a world of
//! either kind: bare Raft nodes or KV servers.

use super::schedule::Step;
use crate::world::World;

/// Carries out `step` if it is a fault; returns false (and does nothing) otherwise.
pub fn apply_fault(world: &mut World, step: &Step) -> bool {
    let n = world.servers();
    match *step {
        Step::Crash(i) => world.crash(i % n),
        Step::CrashLeader => {
            if let Some(leader) = leader(world) {
                world.crash(leader);
            }
        }
        Step::IsolateLeader => {
            if let Some(leader) = leader(world) {
                let others = (0..n).filter(|&i| i != leader).collect();
                world.net.partition(&[vec![leader], others]);
            }
        }
        Step::Restart(i) => restart(world, i % n),
        Step::CrashMidStep { server, keep } => world.crash_mid_step(server % n, keep),
        Step::Partition(mask) => {
            let (inside, outside): (Vec<usize>, Vec<usize>) =
                (0..n).partition(|&i| mask & (1 << i) != 0);
            world.net.partition(&[inside, outside]);
        }
        Step::Cut { from, to } => world.net.set_link_cut(from % n, to % n, true),
        Step::Heal => world.net.heal(),
        Step::Network {
            loss_per_mille,
            delay_ms,
            reorder,
        } => {
            let config = &mut world.net.config;
            config.unreliable = loss_per_mille > 0 || delay_ms > 0;
            config.request_loss_per_mille = u64::from(loss_per_mille);
            config.reply_loss_per_mille = u64::from(loss_per_mille);
            config.short_delay_ms = u64::from(delay_ms) + 1;
            config.long_reordering = reorder;
        }
        Step::Faults {
            hold_per_mille,
            duplicate_per_mille,
            replay_per_mille,
        } => {
            let config = &mut world.net.config;
            config.request_hold_per_mille = u64::from(hold_per_mille);
            config.duplicate_per_mille = u64::from(duplicate_per_mille);
            config.replay_per_mille = u64::from(replay_per_mille);
        }
        Step::CrashPoints { kind, per_mille } => {
            world.set_crash_points(kind, u64::from(per_mille));
        }
        Step::Transfer(target) => {
            if let Some(leader) = leader(world) {
                let target = raft_core::NodeId((target % n) as u64 + 1);
                world.step(leader, raft_core::Input::TransferLeadership { target });
            }
        }
        Step::Propose(_)
        | Step::ProposeAll
        | Step::Advance(_)
        | Step::Snapshot(_)
        | Step::Read(_)
        | Step::ReadAll
        | Step::Figure8Round { .. } => return false,
    }
    true
}

/// Restarts server `i` from its persister (crashing it first if it runs) and connects it.
pub fn restart(world: &mut World, i: usize) {
    world.start(i);
    world.net.set_connected(i, true);
}

/// The live leader of the highest term, if any.
pub fn leader(world: &World) -> Option<usize> {
    (0..world.servers())
        .filter_map(|i| {
            world
                .node(i)
                .filter(|node| node.is_leader())
                .map(|node| (node.term(), i))
        })
        .max()
        .map(|(_, i)| i)
}
