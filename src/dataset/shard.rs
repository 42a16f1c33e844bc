//! Splitting one selection into N disjoint parts that cover it exactly, so
//! that N processes (a batch job array) can each deliver their part.
//!
//! The split depends only on the selected paths, so every process computes
//! the same parts. By subject (the default), all files of a subject land
//! in one part: subjects in sorted order go round-robin over the parts.
//! Files outside any subject (root files, inherited root sidecars) go to
//! the first part only. By file, paths in sorted order go round-robin:
//! better balance, subjects spread over parts.

use super::DatasetError;

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardBy {
    Subject,
    File,
}

/// Part `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
    pub by: ShardBy,
}

impl Shard {
    /// Reads `K/N` (1-based K, as job array task ids usually are).
    pub fn parse(text: &str, by: ShardBy) -> Result<Shard, DatasetError> {
        let bad = || DatasetError::BadShard(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
            by,
        })
    }

    /// Which of `paths` belong to this part, as indices into `paths`.
    pub fn part<S: AsRef<str>>(&self, paths: &[S]) -> Vec<usize> {
        let parts = assign(paths, self.count, self.by);
        (0..paths.len())
            .filter(|&i| parts[i] == self.index)
            .collect()
    }
}

/// The part of every path.
pub fn assign<S: AsRef<str>>(paths: &[S], count: usize, by: ShardBy) -> Vec<usize> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by(|&a, &b| paths[a].as_ref().cmp(paths[b].as_ref()));
    let mut parts = vec![0; paths.len()];
    match by {
        ShardBy::File => {
            for (rank, &i) in order.iter().enumerate() {
                parts[i] = rank % count;
            }
        }
        ShardBy::Subject => {
            let mut subjects: Vec<&str> = paths
                .iter()
                .filter_map(|p| subject_of(p.as_ref()))
                .collect();
            subjects.sort_unstable();
            subjects.dedup();
            for (i, path) in paths.iter().enumerate() {
                parts[i] = subject_of(path.as_ref())
                    .and_then(|s| subjects.binary_search(&s).ok())
                    .map_or(0, |rank| rank % count);
            }
        }
    }
    parts
}

/// The first `sub-*` folder on the path (a raw subject, or one inside a
/// derivative or a subdataset).
fn subject_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_some() && segment.starts_with("sub-") {
            return Some(segment);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATHS: &[&str] = &[
        "dataset_description.json",
        "task-rest_bold.json",
        "sub-01/anat/sub-01_T1w.nii.gz",
        "sub-01/func/sub-01_task-rest_bold.nii.gz",
        "sub-02/anat/sub-02_T1w.nii.gz",
        "sub-03/anat/sub-03_T1w.nii.gz",
        "derivatives/p/sub-02/anat/sub-02_desc-x_T1w.nii.gz",
    ];

    #[test]
    fn subjects_stay_together_and_root_files_go_to_the_first_part() {
        let parts = assign(PATHS, 2, ShardBy::Subject);
        assert_eq!(parts, vec![0, 0, 0, 0, 1, 0, 1]);
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!(Shard::parse("3/8", ShardBy::File).unwrap().index, 2);
        for bad in ["0/4", "5/4", "1/0", "a/b", "3", ""] {
            assert!(Shard::parse(bad, ShardBy::File).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parts_are_disjoint_and_cover_everything(
            paths in proptest::collection::btree_set("(sub-0[1-9]/)?[a-c]{1,3}(/[a-c]{1,2})?", 0..40),
            count in 1usize..6,
            by_file in any::<bool>(),
        ) {
            let paths: Vec<String> = paths.into_iter().collect();
            let by = if by_file { ShardBy::File } else { ShardBy::Subject };
            let mut seen = vec![0; paths.len()];
            for index in 0..count {
                for i in (Shard { index, count, by }).part(&paths) {
                    seen[i] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1));
        }
    }
}
