//! Shards (`--shard K/N`): a stable split of the (account, region) cells of a run over N
//! processes, by rendezvous hashing. A cell belongs to the shard whose hash of
//! `(account, region, shard)` is highest: every process computes the same owner alone, and
//! going from N to N + 1 shards moves only the cells the new shard wins (about 1/(N+1)).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The environment variables array-job engines set to a task's index.
pub const INDEX_VARIABLES: [&str; 2] = ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"];

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N`, 0 <= K < N.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::usage(format!("--shard {s}: give K/N with 0 <= K < N, e.g. 0/8"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count).ok_or_else(bad)
    }

    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (count >= 1 && index < count).then_some(Shard { index, count })
    }

    /// `--shards N` with the index from the engine's environment (`AWS_BATCH_JOB_ARRAY_INDEX`
    /// on AWS Batch, `JOB_COMPLETION_INDEX` on a Kubernetes Indexed Job).
    pub fn from_env(count: u32, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let Some((name, value)) = INDEX_VARIABLES.iter().find_map(|n| env(n).map(|v| (*n, v)))
        else {
            return Err(Error::usage(format!(
                "--shards {count}: none of {} is set (give --shard K/N instead)",
                INDEX_VARIABLES.join(", ")
            )));
        };
        let index: u32 = value
            .trim()
            .parse()
            .map_err(|_| Error::usage(format!("{name}={value:?} is not a shard index")))?;
        Shard::new(index, count)
            .ok_or_else(|| Error::usage(format!("{name}={index} is not below --shards {count}")))
    }

    /// The shard an (account, region) cell belongs to.
    pub fn owner(count: u32, account: &str, region: &str) -> u32 {
        (0..count.max(1))
            .max_by_key(|k| {
                let mut h = Sha256::new();
                h.update(account.as_bytes());
                h.update([0]);
                h.update(region.as_bytes());
                h.update([0]);
                h.update(k.to_be_bytes());
                let d = h.finalize();
                (u64::from_be_bytes(d[..8].try_into().expect("8 bytes")), *k)
            })
            .unwrap_or(0)
    }

    /// Whether this shard reads and judges the cell.
    pub fn owns(&self, account: &str, region: &str) -> bool {
        Shard::owner(self.count, account, region) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells() -> Vec<(String, String)> {
        let regions = crate::regions::default_enabled_regions("aws");
        (0..50)
            .flat_map(|a| {
                regions
                    .iter()
                    .map(move |r| (format!("{:012}", 100_000_000_000u64 + a), r.to_string()))
            })
            .collect()
    }

    #[test]
    fn every_cell_has_exactly_one_shard_and_the_split_is_balanced() {
        let cells = cells();
        for n in [1u32, 3, 8] {
            let mut per = vec![0usize; n as usize];
            for (a, r) in &cells {
                let owners: Vec<u32> = (0..n)
                    .filter(|k| {
                        Shard {
                            index: *k,
                            count: n,
                        }
                        .owns(a, r)
                    })
                    .collect();
                assert_eq!(owners.len(), 1, "{a} {r} on {n}: {owners:?}");
                per[owners[0] as usize] += 1;
            }
            let fair = cells.len() / n as usize;
            assert!(
                per.iter().all(|c| *c > fair * 3 / 4 && *c < fair * 5 / 4),
                "{n}: {per:?}"
            );
        }
    }

    #[test]
    fn adding_a_shard_moves_only_the_cells_it_wins() {
        let cells = cells();
        let moved = cells
            .iter()
            .filter(|(a, r)| Shard::owner(8, a, r) != Shard::owner(9, a, r))
            .count();
        // Only cells won by shard 8 move: about 1/9 of them.
        assert!(
            cells
                .iter()
                .filter(|(a, r)| Shard::owner(8, a, r) != Shard::owner(9, a, r))
                .all(|(a, r)| Shard::owner(9, a, r) == 8)
        );
        assert!(
            moved > cells.len() / 14 && moved < cells.len() / 6,
            "{moved}"
        );
    }

    #[test]
    fn the_index_comes_from_the_flag_or_the_engine() {
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["8/8", "1", "a/2", "0/0", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let batch = |n: &str| (n == "AWS_BATCH_JOB_ARRAY_INDEX").then(|| "3".to_owned());
        assert_eq!(
            Shard::from_env(4, batch).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = |n: &str| (n == "JOB_COMPLETION_INDEX").then(|| "1".to_owned());
        assert_eq!(
            Shard::from_env(2, k8s).unwrap(),
            Shard { index: 1, count: 2 }
        );
        assert!(Shard::from_env(2, |_| None).is_err());
        assert!(Shard::from_env(3, batch).is_err());
    }
}
