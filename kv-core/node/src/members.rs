//! Cluster member lists as flags give them: `1=127.0.0.1:7001,2=127.0.0.1:7002`.

use std::collections::BTreeMap;

use raft_core::NodeId;

/// Why a member list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembersError {
    /// An item is not `id=host:port`.
    #[error("`{0}` is not id=host:port")]
    Malformed(String),
    /// An id that is not a positive integer.
    #[error("`{0}` is not a node id (a positive integer)")]
    BadId(String),
    /// An id given twice.
    #[error("node {0} is listed twice")]
    Duplicate(NodeId),
    /// No members at all.
    #[error("no members given")]
    Empty,
}

/// Parses `id=host:port` items (each item may itself hold several, comma-separated).
pub fn parse_members<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<NodeId, String>, MembersError> {
    let mut members = BTreeMap::new();
    for item in items.iter().flat_map(|item| item.as_ref().split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (id, address) = item
            .split_once('=')
            .filter(|(_, address)| !address.is_empty())
            .ok_or_else(|| MembersError::Malformed(item.to_string()))?;
        let id = id
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&id| id != 0)
            .map(NodeId)
            .ok_or_else(|| MembersError::BadId(id.to_string()))?;
        if members.insert(id, address.trim().to_string()).is_some() {
            return Err(MembersError::Duplicate(id));
        }
    }
    if members.is_empty() {
        return Err(MembersError::Empty);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_from_one_list_or_many_flags() {
        let one = parse_members(&["1=a:1,2=b:2, 3=c:3"]).unwrap();
        let many = parse_members(&["1=a:1", "2=b:2", "3=c:3"]).unwrap();
        assert_eq!(one, many);
        assert_eq!(one[&NodeId(2)], "b:2");
    }

    #[test]
    fn bad_lists_are_refused() {
        assert_eq!(
            parse_members(&["1=a:1,1=b:2"]),
            Err(MembersError::Duplicate(NodeId(1)))
        );
        assert_eq!(
            parse_members(&["0=a:1"]),
            Err(MembersError::BadId("0".into()))
        );
        assert_eq!(
            parse_members(&["x"]),
            Err(MembersError::Malformed("x".into()))
        );
        assert_eq!(
            parse_members(&["1="]),
            Err(MembersError::Malformed("1=".into()))
        );
        assert_eq!(parse_members::<&str>(&[]), Err(MembersError::Empty));
    }
}
