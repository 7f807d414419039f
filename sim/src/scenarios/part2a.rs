//! Part 2A, leader election: initial-election, re-election, many-elections.

use super::{body, Part, Scenario};
use crate::ensure;
use crate::tester::{TestResult, Tester, ELECTION_TIMEOUT_MS};

pub(super) fn scenarios() -> Vec<Scenario> {
    let scenario = |id, title, servers, body| Scenario::new(id, Part::A2, title, servers, body);
    vec![
        scenario(
            "initial-election",
            "initial election",
            &[3],
            body!(initial_election),
        ),
        scenario(
            "re-election",
            "election after network failure",
            &[3],
            body!(re_election),
        ),
        scenario(
            "many-elections",
            "multiple elections",
            &[7],
            body!(many_elections),
        ),
    ]
}

/// A leader appears, all agree on the term, and it stays put without failures.
async fn initial_election(t: Tester) -> TestResult {
    t.check_one_leader().await?;
    t.sleep(50).await;
    let term1 = t.check_terms()?;
    ensure!(term1 >= 1, "term is {term1}, but should be at least 1");
    t.sleep(2 * ELECTION_TIMEOUT_MS).await;
    // The lab only warns if the term changed without failures.
    t.check_terms()?;
    t.check_one_leader().await?;
    Ok(())
}

/// Leaders come and go as servers disconnect; no quorum means no leader.
async fn re_election(t: Tester) -> TestResult {
    let n = t.n();
    let leader1 = t.check_one_leader().await?;
    t.disconnect(leader1);
    t.check_one_leader().await?;
    t.connect(leader1);
    let leader2 = t.check_one_leader().await?;
    t.disconnect(leader2);
    t.disconnect((leader2 + 1) % n);
    t.sleep(2 * ELECTION_TIMEOUT_MS).await;
    t.check_no_leader()?;
    t.connect((leader2 + 1) % n);
    t.check_one_leader().await?;
    t.connect(leader2);
    t.check_one_leader().await?;
    Ok(())
}

/// Ten rounds of disconnecting up to three of seven servers.
async fn many_elections(t: Tester) -> TestResult {
    let n = t.n() as u64;
    t.check_one_leader().await?;
    for _ in 0..10 {
        let victims = [t.rand(n), t.rand(n), t.rand(n)].map(|v| v as usize);
        for &v in &victims {
            t.disconnect(v);
        }
        // Either the current leader is still alive, or the remaining servers elect one.
        t.check_one_leader().await?;
        for &v in &victims {
            t.connect(v);
        }
    }
    t.check_one_leader().await?;
    Ok(())
}
