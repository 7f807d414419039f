//! The clients' history of one KV run (every call with its call and return times, as the
//! lab's porcupine log), and the lab's append checks over the values read back.

use kv_core::Op;

use crate::world::Millis;

/// One call of a client, as the scenario saw it.
///
/// Times are in thousandths of a simulated ms, and strictly increase in the order the
/// simulation saw calls and returns: several events of one simulated ms keep their real
/// order, so "A returned before B was called" is never lost to the clock's resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedOp {
    /// The clerk that made the call (its position in the world).
    pub client: usize,
    /// The operation.
    pub op: Op,
    /// What a Get read (`Some("")` for Put and Append once they returned).
    pub output: Option<String>,
    /// When the call was made (ms × 1000, ordered).
    pub call: u64,
    /// When it returned, if it did (ms × 1000, ordered).
    pub ret: Option<u64>,
}

/// Every call of the run, in call order.
#[derive(Clone, Debug, Default)]
pub struct KvHistory {
    ops: Vec<RecordedOp>,
    /// The last time stamp handed out.
    last_stamp: u64,
}

/// Time stamps per simulated ms.
pub const STAMPS_PER_MS: u64 = 1000;

impl KvHistory {
    /// A time stamp for an event at `now`: after every earlier one, and at or after
    /// `now × 1000` (a ms with more than 1000 events spills into the next one's range,
    /// which keeps the order).
    fn stamp(&mut self, now: Millis) -> u64 {
        self.last_stamp = (self.last_stamp + 1).max(now * STAMPS_PER_MS);
        self.last_stamp
    }

    /// Records a call made at `now`; returns its handle for [`KvHistory::finish`].
    pub fn begin(&mut self, client: usize, op: Op, now: Millis) -> usize {
        let call = self.stamp(now);
        self.ops.push(RecordedOp {
            client,
            op,
            output: None,
            call,
            ret: None,
        });
        self.ops.len() - 1
    }

    /// Records that call `handle` returned `output` at `now`.
    pub fn finish(&mut self, handle: usize, output: String, now: Millis) {
        let ret = self.stamp(now);
        if let Some(op) = self.ops.get_mut(handle) {
            op.output = Some(output);
            op.ret = Some(ret);
        }
    }

    /// The calls so far.
    pub fn ops(&self) -> &[RecordedOp] {
        &self.ops
    }

    /// How many calls returned.
    pub fn completed(&self) -> u64 {
        self.ops.iter().filter(|op| op.ret.is_some()).count() as u64
    }
}

/// The lab's value format: client `client` writes `"x <client> <j> y"` as its j-th value.
pub fn token(client: usize, j: u64) -> String {
    format!("x {client} {j} y")
}

/// The lab's checkClntAppends: every token of `client` below `count` occurs exactly once
/// in `value`, in increasing order of j.
pub fn check_client_appends(client: usize, value: &str, count: u64) -> Result<(), String> {
    let mut last_position = None;
    for j in 0..count {
        let wanted = token(client, j);
        let Some(position) = find_token(value, &wanted) else {
            return Err(format!(
                "{client} missing element {wanted} in Append result {}",
                shorten(value)
            ));
        };
        if find_token(&value[position + wanted.len()..], &wanted).is_some() {
            return Err(format!(
                "duplicate element {wanted} in Append result {}",
                shorten(value)
            ));
        }
        if last_position.is_some_and(|last| position <= last) {
            return Err(format!(
                "wrong order for element {wanted} in Append result {}",
                shorten(value)
            ));
        }
        last_position = Some(position);
    }
    Ok(())
}

/// The lab's checkConcurrentAppends: [`check_client_appends`] for every client `i` with
/// `counts[i]` tokens.
pub fn check_concurrent_appends(value: &str, counts: &[u64]) -> Result<(), String> {
    counts
        .iter()
        .enumerate()
        .try_for_each(|(client, &count)| check_client_appends(client, value, count))
}

/// Where `token` first occurs in `value` (its closing " y" keeps "x 0 1 y" from matching
/// inside "x 0 10 y").
fn find_token(value: &str, token: &str) -> Option<usize> {
    value.find(token)
}

fn shorten(value: &str) -> String {
    crate::applier::show(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_checks_catch_missing_duplicate_and_reordered_tokens() {
        let ok = format!("{}{}{}", token(0, 0), token(1, 0), token(0, 1));
        check_concurrent_appends(&ok, &[2, 1]).unwrap();
        let missing = token(0, 0);
        assert!(check_client_appends(0, &missing, 2)
            .unwrap_err()
            .contains("missing"));
        let duplicate = format!("{}{}", token(0, 0), token(0, 0));
        assert!(check_client_appends(0, &duplicate, 1)
            .unwrap_err()
            .contains("duplicate"));
        let reordered = format!("{}{}", token(0, 1), token(0, 0));
        assert!(check_client_appends(0, &reordered, 2)
            .unwrap_err()
            .contains("wrong order"));
        // "x 0 1 y" is not found inside "x 0 10 y".
        assert!(check_client_appends(0, &format!("{}{}", token(0, 0), token(0, 10)), 2).is_err());
    }
}
