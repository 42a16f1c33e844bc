//! The BIDS inheritance principle: which metadata files apply to a data file.
//!
//! A metadata file applies when it sits at the same level or higher, has the
//! same suffix and has no entity the data file lacks. JSON sidecars merge
//! top-down, so all of them come along; for TSV/bval/bvec only the nearest
//! one counts. `*_sessions` and `*_scans` tables of the subject/session
//! folders above a file come along too.

use super::entity::canonical_value;
use super::layout::{Layout, Unit};
use std::collections::HashMap;

const METADATA_EXTENSIONS: &[&str] = &[".json", ".tsv", ".bval", ".bvec"];

/// Metadata units indexed by (root, folder, suffix) so that looking up the
/// candidates for one file costs a few hash lookups, not a scan.
pub struct MetadataIndex<'a> {
    layout: &'a Layout,
    by_place: HashMap<(usize, &'a str, &'a str), Vec<usize>>,
}

impl<'a> MetadataIndex<'a> {
    pub fn new(layout: &'a Layout) -> MetadataIndex<'a> {
        let mut by_place: HashMap<(usize, &str, &str), Vec<usize>> = HashMap::new();
        for (i, unit) in layout.units.iter().enumerate() {
            if unit.is_dir || !METADATA_EXTENSIONS.contains(&unit.extension.as_str()) {
                continue;
            }
            if let Some(suffix) = unit.suffix.as_deref() {
                by_place
                    .entry((unit.root, unit.dir.as_str(), suffix))
                    .or_default()
                    .push(i);
            }
        }
        MetadataIndex { layout, by_place }
    }

    /// Metadata units that apply to unit `target` (never `target` itself).
    pub fn applicable(&self, target: usize) -> Vec<usize> {
        let layout: &'a Layout = self.layout;
        let unit = &layout.units[target];
        let mut found = Vec::new();
        let folders = ancestor_folders(&unit.dir);
        if let Some(suffix) = unit.suffix.as_deref() {
            self.sidecars(target, unit, suffix, &folders, &mut found);
        }
        // Tables describing the subject's sessions and the session's scans.
        for folder in folders.iter().filter(|f| !f.is_empty()) {
            for table in ["sessions", "scans"] {
                for &m in self.candidates(unit.root, folder, table) {
                    if m != target && entities_subset(&self.layout.units[m], unit) {
                        found.push(m);
                    }
                }
            }
        }
        found
    }

    fn sidecars(
        &self,
        target: usize,
        unit: &'a Unit,
        suffix: &'a str,
        folders: &[&'a str],
        found: &mut Vec<usize>,
    ) {
        // Nearest non-JSON metadata per extension: deepest folder, then most specific.
        let mut nearest: HashMap<&str, (usize, usize, usize)> = HashMap::new();
        for (depth, folder) in folders.iter().enumerate() {
            for &m in self.candidates(unit.root, folder, suffix) {
                let meta = &self.layout.units[m];
                if m == target || !entities_subset(meta, unit) {
                    continue;
                }
                if meta.extension == ".json" {
                    found.push(m);
                } else if meta.extension != unit.extension {
                    let rank = (depth, meta.entities.len(), m);
                    let best = nearest.entry(meta.extension.as_str()).or_insert(rank);
                    if rank > *best {
                        *best = rank;
                    }
                }
            }
        }
        found.extend(nearest.values().map(|&(_, _, m)| m));
    }

    fn candidates(&self, root: usize, folder: &'a str, suffix: &'a str) -> &[usize] {
        self.by_place
            .get(&(root, folder, suffix))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// `""`, `"sub-01"`, `"sub-01/ses-1"`, ... down to `dir` itself.
pub(super) fn ancestor_folders(dir: &str) -> Vec<&str> {
    let mut folders = vec![""];
    if !dir.is_empty() {
        folders.extend(dir.match_indices('/').map(|(i, _)| &dir[..i]));
        folders.push(dir);
    }
    folders
}

/// Every entity of `meta` is present in `data` with an equal value.
fn entities_subset(meta: &Unit, data: &Unit) -> bool {
    meta.entities.iter().all(|(key, value)| {
        data.entity(key).is_some_and(|v| {
            canonical_value(key, v).is_some()
                && canonical_value(key, v) == canonical_value(key, value)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bids::Scope;

    fn names(l: &Layout, idx: Vec<usize>) -> Vec<String> {
        let mut v: Vec<String> = idx.into_iter().map(|i| l.units[i].path.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn root_and_session_sidecars_apply() {
        let paths = [
            "task-rest_acq-fullbrain_bold.json",
            "task-rest_acq-prefrontal_bold.json",
            "task-rest_bold.json",
            "task-rest_physio.json",
            "dwi.bval",
            "sub-01/sub-01_sessions.tsv",
            "sub-01/ses-1/sub-01_ses-1_scans.tsv",
            "sub-01/ses-2/sub-01_ses-2_scans.tsv",
            "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.nii.gz",
            "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.json",
            "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-2_bold.json",
        ];
        let l = Layout::build(&paths, &[Scope::Raw]).unwrap();
        let index = MetadataIndex::new(&l);
        assert_eq!(
            names(&l, index.applicable(8)),
            vec![
                "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.json",
                "sub-01/ses-1/sub-01_ses-1_scans.tsv",
                "sub-01/sub-01_sessions.tsv",
                "task-rest_acq-fullbrain_bold.json",
                "task-rest_bold.json",
            ]
        );
    }

    #[test]
    fn nearest_tsv_wins_and_runs_compare_numerically() {
        let paths = [
            "dwi.bval",
            "sub-01/dwi/sub-01_dwi.bval",
            "sub-01/dwi/sub-01_dwi.nii.gz",
            "run-1_echo-1_FLASH.json",
            "run-2_echo-1_FLASH.json",
            "sub-01/anat/sub-01_run-01_echo-1_FLASH.nii.gz",
        ];
        let l = Layout::build(&paths, &[Scope::Raw]).unwrap();
        let index = MetadataIndex::new(&l);
        assert_eq!(
            names(&l, index.applicable(2)),
            vec!["sub-01/dwi/sub-01_dwi.bval"]
        );
        assert_eq!(
            names(&l, index.applicable(5)),
            vec!["run-1_echo-1_FLASH.json"]
        );
    }
}
