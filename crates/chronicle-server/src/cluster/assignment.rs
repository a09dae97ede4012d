//! Which live node should own each shard, computed by every node alike from
//! the same list of live nodes (no coordinator): rendezvous hashing (each
//! shard prefers the nodes in the order of a hash of shard and node), with
//! a cap per node so the spread is even: ⌊shards / nodes⌋ each, and one
//! more for as many nodes as the division leaves over. A node that joins
//! or leaves moves about 1/n of the shards, not all of them.

use std::collections::BTreeMap;

/// The preference of `shard` for `node`: FNV-1a over both, then a
/// finalizer that spreads nearby inputs apart.
fn weight(shard: u32, node: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in shard.to_le_bytes().into_iter().chain(node.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finalizer.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The owner each of `shards` shards should have among `nodes` (ids, in
/// any order; duplicates count once). Empty when there is no node.
pub fn assign(nodes: &[String], shards: u32) -> BTreeMap<u32, String> {
    let mut nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() {
        return BTreeMap::new();
    }
    let total = usize::try_from(shards).unwrap_or(usize::MAX);
    let (floor, mut extra) = (total / nodes.len(), total % nodes.len());
    let mut load = vec![0usize; nodes.len()];
    let mut owners = BTreeMap::new();
    for shard in 0..shards {
        let mut ranked: Vec<(u64, usize)> = nodes.iter().enumerate().map(|(i, n)| (weight(shard, n), i)).collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        let room = |i: usize, extra: usize| load[i] < floor || (load[i] == floor && extra > 0);
        if let Some(&(_, node)) = ranked.iter().find(|(_, i)| room(*i, extra)) {
            if load[node] == floor {
                extra -= 1;
            }
            load[node] += 1;
            owners.insert(shard, nodes[node].to_string());
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("node-{i}")).collect()
    }

    fn counts(owners: &BTreeMap<u32, String>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for owner in owners.values() {
            *counts.entry(owner.clone()).or_default() += 1;
        }
        counts
    }

    #[test]
    fn every_shard_has_one_owner_and_the_spread_is_even() {
        for n in 1..=7 {
            let owners = assign(&ids(n), 256);
            assert_eq!(owners.len(), 256);
            let counts = counts(&owners);
            assert_eq!(counts.len(), n, "every node gets shards");
            let (min, max) = (counts.values().min().unwrap(), counts.values().max().unwrap());
            assert!(max - min <= 1, "{n} nodes: {counts:?}");
        }
        assert!(assign(&[], 256).is_empty());
    }

    #[test]
    fn every_node_computes_the_same_answer_whatever_the_order() {
        let mut nodes = ids(5);
        let first = assign(&nodes, 256);
        nodes.reverse();
        nodes.push("node-2".into());
        assert_eq!(assign(&nodes, 256), first);
    }

    #[test]
    fn a_node_joining_or_leaving_moves_few_shards() {
        for n in 2..=6 {
            let before = assign(&ids(n), 256);
            let after = assign(&ids(n + 1), 256);
            let moved = before.iter().filter(|(shard, owner)| after.get(shard) != Some(owner)).count();
            // Ideally 256/(n+1); the cap costs a little more.
            assert!(moved <= 2 * 256 / (n + 1) + 8, "{n} -> {}: {moved} moved", n + 1);
            let gone = assign(&ids(n + 1)[1..], 256);
            let moved = after.iter().filter(|(shard, owner)| gone.get(shard) != Some(owner)).count();
            assert!(moved <= 2 * 256 / (n + 1) + 8, "{} -> {n}: {moved} moved", n + 1);
        }
    }
}
