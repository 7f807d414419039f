//! Part 2B, log replication: agreement, failures, backup, and the RPC and byte budgets.

use bytes::Bytes;

use super::{body, Part, Scenario};
use crate::tester::{command, TestResult, Tester, ELECTION_TIMEOUT_MS};
use crate::{ensure, fail};

pub(super) fn scenarios() -> Vec<Scenario> {
    let scenario = |id, title, servers, body| Scenario::new(id, Part::B2, title, servers, body);
    vec![
        scenario(
            "basic-agree",
            "basic agreement",
            &[3, 5],
            body!(basic_agree),
        ),
        scenario("rpc-bytes", "RPC byte count", &[3], body!(rpc_bytes)),
        scenario(
            "follower-failure",
            "test progressive failure of followers",
            &[3],
            body!(follower_failure),
        ),
        scenario(
            "leader-failure",
            "test failure of leaders",
            &[3],
            body!(leader_failure),
        ),
        scenario(
            "fail-agree",
            "agreement after follower reconnects",
            &[3],
            body!(fail_agree),
        ),
        scenario(
            "fail-no-agree",
            "no agreement if too many followers disconnect",
            &[5],
            body!(fail_no_agree),
        ),
        scenario(
            "concurrent-starts",
            "concurrent Start()s",
            &[3],
            body!(concurrent_starts),
        ),
        scenario(
            "rejoin",
            "rejoin of partitioned leader",
            &[3],
            body!(rejoin),
        ),
        scenario(
            "backup",
            "leader backs up quickly over incorrect follower logs",
            &[5],
            body!(backup),
        ),
        scenario("count", "RPC counts aren't too high", &[3], body!(count)),
    ]
}

async fn basic_agree(t: Tester) -> TestResult {
    let n = t.n();
    for index in 1..=3 {
        let (count, _) = t.n_committed(index)?;
        ensure!(count == 0, "some have committed before Start()");
        let got = t.one(command(index * 100), n, false).await?;
        ensure!(got == index, "got index {got} but expected {index}");
    }
    Ok(())
}

/// Each command crosses the network about once per follower.
async fn rpc_bytes(t: Tester) -> TestResult {
    let n = t.n() as u64;
    t.one(command(99), 3, false).await?;
    let bytes0 = t.bytes_total();
    let mut sent = 0;
    for index in 2..12 {
        let text: String = (0..5000)
            .map(|_| char::from(b'a' + t.rand(26) as u8))
            .collect();
        sent += text.len() as u64;
        let got = t.one(Bytes::from(text), 3, false).await?;
        ensure!(got == index, "got index {got} but expected {index}");
    }
    let used = t.bytes_total() - bytes0;
    let expected = n * sent + 50_000;
    ensure!(
        used <= expected,
        "too many RPC bytes; got {used}, expected {expected}"
    );
    Ok(())
}

async fn follower_failure(t: Tester) -> TestResult {
    let n = t.n();
    t.one(command(101), n, false).await?;
    let leader1 = t.check_one_leader().await?;
    t.disconnect((leader1 + 1) % n);
    t.one(command(102), n - 1, false).await?;
    t.sleep(ELECTION_TIMEOUT_MS).await;
    t.one(command(103), n - 1, false).await?;
    let leader2 = t.check_one_leader().await?;
    t.disconnect((leader2 + 1) % n);
    t.disconnect((leader2 + 2) % n);
    let Some((index, _)) = t.start(leader2, &command(104)) else {
        fail!("leader rejected Start()");
    };
    ensure!(index == 4, "expected index 4, got {index}");
    t.sleep(2 * ELECTION_TIMEOUT_MS).await;
    let (count, _) = t.n_committed(index)?;
    ensure!(count == 0, "{count} committed but no majority");
    Ok(())
}

async fn leader_failure(t: Tester) -> TestResult {
    let n = t.n();
    t.one(command(101), n, false).await?;
    let leader1 = t.check_one_leader().await?;
    t.disconnect(leader1);
    t.one(command(102), n - 1, false).await?;
    t.sleep(ELECTION_TIMEOUT_MS).await;
    t.one(command(103), n - 1, false).await?;
    let leader2 = t.check_one_leader().await?;
    t.disconnect(leader2);
    for i in 0..n {
        t.start(i, &command(104));
    }
    t.sleep(2 * ELECTION_TIMEOUT_MS).await;
    let (count, _) = t.n_committed(4)?;
    ensure!(count == 0, "{count} committed but no majority");
    Ok(())
}

async fn fail_agree(t: Tester) -> TestResult {
    let n = t.n();
    t.one(command(101), n, false).await?;
    let leader = t.check_one_leader().await?;
    t.disconnect((leader + 1) % n);
    t.one(command(102), n - 1, false).await?;
    t.one(command(103), n - 1, false).await?;
    t.sleep(ELECTION_TIMEOUT_MS).await;
    t.one(command(104), n - 1, false).await?;
    t.one(command(105), n - 1, false).await?;
    t.connect((leader + 1) % n);
    t.one(command(106), n, true).await?;
    t.sleep(ELECTION_TIMEOUT_MS).await;
    t.one(command(107), n, true).await?;
    Ok(())
}

async fn fail_no_agree(t: Tester) -> TestResult {
    let n = t.n();
    t.one(command(10), n, false).await?;
    let leader = t.check_one_leader().await?;
    for k in 1..=3 {
        t.disconnect((leader + k) % n);
    }
    let Some((index, _)) = t.start(leader, &command(20)) else {
        fail!("leader rejected Start()");
    };
    ensure!(index == 2, "expected index 2, got {index}");
    t.sleep(2 * ELECTION_TIMEOUT_MS).await;
    let (count, _) = t.n_committed(index)?;
    ensure!(count == 0, "{count} committed but no majority");
    for k in 1..=3 {
        t.connect((leader + k) % n);
    }
    let leader2 = t.check_one_leader().await?;
    let Some((index2, _)) = t.start(leader2, &command(30)) else {
        fail!("leader2 rejected Start()");
    };
    ensure!((2..=3).contains(&index2), "unexpected index {index2}");
    t.one(command(1000), n, true).await?;
    Ok(())
}

/// Five Starts at once on the leader all commit (retrying if the term moves on).
async fn concurrent_starts(t: Tester) -> TestResult {
    let n = t.n();
    for attempt in 0..5 {
        if attempt > 0 {
            t.sleep(3_000).await;
        }
        if let Some(()) = concurrent_starts_attempt(&t, n).await? {
            return Ok(());
        }
    }
    fail!("term changed too often")
}

async fn concurrent_starts_attempt(t: &Tester, n: usize) -> TestResult<Option<()>> {
    let leader = t.check_one_leader().await?;
    let Some((_, term)) = t.start(leader, &command(1)) else {
        return Ok(None);
    };
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let t = t.clone();
            t.clone().spawn(async move {
                t.start(leader, &command(100 + i))
                    .filter(|&(_, term1)| term1 == term)
                    .map(|(index, _)| index)
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for handle in handles {
        indexes.extend(handle.await);
    }
    if (0..n).any(|j| t.get_state(j).is_some_and(|(term1, _)| term1 != term)) {
        return Ok(None);
    }
    let mut committed = Vec::new();
    for index in indexes {
        match t.wait(index, n, Some(term)).await? {
            Some(value) => committed.push(value),
            None => return Ok(None),
        }
    }
    for i in 0..5 {
        let expected = command(100 + i);
        ensure!(
            committed.contains(&expected),
            "cmd {} missing in {:?}",
            100 + i,
            committed
        );
    }
    Ok(Some(()))
}

async fn rejoin(t: Tester) -> TestResult {
    let n = t.n();
    t.one(command(101), n, true).await?;
    let leader1 = t.check_one_leader().await?;
    t.disconnect(leader1);
    for value in [102, 103, 104] {
        t.start(leader1, &command(value));
    }
    t.one(command(103), 2, true).await?;
    let leader2 = t.check_one_leader().await?;
    t.disconnect(leader2);
    t.connect(leader1);
    t.one(command(104), 2, true).await?;
    t.connect(leader2);
    t.one(command(105), n, true).await?;
    Ok(())
}

async fn backup(t: Tester) -> TestResult {
    let n = t.n();
    t.one(t.random_command(), n, true).await?;
    let leader1 = t.check_one_leader().await?;
    for k in 2..=4 {
        t.disconnect((leader1 + k) % n);
    }
    for _ in 0..50 {
        t.start(leader1, &t.random_command());
    }
    t.sleep(ELECTION_TIMEOUT_MS / 2).await;
    t.disconnect(leader1);
    t.disconnect((leader1 + 1) % n);
    for k in 2..=4 {
        t.connect((leader1 + k) % n);
    }
    for _ in 0..50 {
        t.one(t.random_command(), 3, true).await?;
    }
    let leader2 = t.check_one_leader().await?;
    let mut other = (leader1 + 2) % n;
    if leader2 == other {
        other = (leader2 + 1) % n;
    }
    t.disconnect(other);
    for _ in 0..50 {
        t.start(leader2, &t.random_command());
    }
    t.sleep(ELECTION_TIMEOUT_MS / 2).await;
    for i in 0..n {
        t.disconnect(i);
    }
    t.connect(leader1);
    t.connect((leader1 + 1) % n);
    t.connect(other);
    for _ in 0..50 {
        t.one(t.random_command(), 3, true).await?;
    }
    for i in 0..n {
        t.connect(i);
    }
    t.one(t.random_command(), n, true).await?;
    Ok(())
}

/// The lab's RPC budgets: for the election, for ten agreements, for a second of idleness.
async fn count(t: Tester) -> TestResult {
    let n = t.n();
    t.check_one_leader().await?;
    let total1 = t.rpcs_per_server_sum();
    ensure!(
        (1..=30).contains(&total1),
        "too many or few RPCs ({total1}) to elect initial leader"
    );
    let mut total2 = None;
    for attempt in 0..5 {
        if attempt > 0 {
            t.sleep(3_000).await;
        }
        if let Some(total) = count_attempt(&t, n).await? {
            total2 = Some(total);
            break;
        }
    }
    let Some(total2) = total2 else {
        fail!("term changed too often");
    };
    t.sleep(ELECTION_TIMEOUT_MS).await;
    let total3 = t.rpcs_per_server_sum();
    ensure!(
        total3 - total2 <= 3 * 20,
        "too many RPCs ({}) for 1 second of idleness",
        total3 - total2
    );
    Ok(())
}

async fn count_attempt(t: &Tester, n: usize) -> TestResult<Option<u64>> {
    let leader = t.check_one_leader().await?;
    let total1 = t.rpcs_per_server_sum();
    let iters = 10;
    let Some((start_index, term)) = t.start(leader, &command(1)) else {
        return Ok(None);
    };
    let mut commands = Vec::new();
    for i in 1..iters + 2 {
        let x = t.random_command();
        commands.push(x.clone());
        match t.start(leader, &x) {
            Some((index, term1)) if term1 == term => {
                ensure!(index == start_index + i, "Start() failed");
            }
            _ => return Ok(None),
        }
    }
    for i in 1..=iters {
        match t.wait(start_index + i, n, Some(term)).await? {
            None => return Ok(None),
            Some(value) => ensure!(
                value == commands[(i - 1) as usize],
                "wrong value committed for index {}",
                start_index + i
            ),
        }
    }
    if (0..n).any(|j| t.get_state(j).is_some_and(|(term1, _)| term1 != term)) {
        return Ok(None);
    }
    let total2 = t.rpcs_per_server_sum();
    ensure!(
        total2 - total1 <= (iters + 1 + 3) * 3,
        "too many RPCs ({}) for {iters} entries",
        total2 - total1
    );
    Ok(Some(total2))
}
