//! Putting filters, scope and metadata together into one selection.

use super::filter::FilterSet;
use super::glob::glob_match;
use super::inherit::MetadataIndex;
use super::layout::Layout;
use super::BidsError;
use std::collections::BTreeMap;

/// Root files that come along with any selection unless `--root-files` says otherwise.
pub const DEFAULT_ROOT_FILES: &[&str] = &[
    "dataset_description.json",
    "participants.tsv",
    "participants.json",
    "README*",
    "CHANGES*",
    "LICENSE*",
];

#[derive(Debug, Clone)]
pub struct SelectOptions {
    pub filters: FilterSet,
    /// Glob patterns for files at each root; empty means none.
    pub root_files: Vec<String>,
    /// Bring inherited sidecars and sessions/scans tables.
    pub inherit: bool,
    /// Bring each selected data file's associated files (see [`associated`]).
    pub with_associated: bool,
}

/// Why a unit is in the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Matched the filters.
    Selected,
    /// A dataset-level file such as `dataset_description.json`.
    RootFile,
    /// Metadata that applies to a selected file.
    Inherited,
    /// A file the BIDS specification associates with a selected data file
    /// (events, bval/bvec, channels, field map partners, ...).
    Associated,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Selected => "selected",
            Role::RootFile => "root",
            Role::Inherited => "inherited",
            Role::Associated => "associated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub unit: usize,
    pub role: Role,
}

/// Selects units of `layout`; the result is sorted by path. An empty result
/// is not an error here: every single filter value exists, only their
/// combination matched nothing, and the caller words that.
pub fn select(layout: &Layout, options: &SelectOptions) -> Result<Vec<Selected>, BidsError> {
    let data = || layout.units.iter().filter(|u| u.selectable());
    let scope_note = if layout.roots.iter().any(|r| !r.is_empty()) {
        format!(" (scope {})", layout.roots.join(", "))
    } else {
        String::new()
    };
    options.filters.check_values_exist(data(), &scope_note)?;

    let mut chosen: BTreeMap<usize, Role> = BTreeMap::new();
    for (i, unit) in layout.units.iter().enumerate() {
        if unit.selectable() && options.filters.matches(unit) {
            chosen.insert(i, Role::Selected);
        }
    }
    if chosen.is_empty() {
        // Every value exists on its own: say which filter emptied it.
        if let Some(err) = options.filters.explain_empty(data(), &scope_note) {
            return Err(err);
        }
        return Ok(Vec::new());
    }
    if options.with_associated {
        let primary: Vec<usize> = chosen.keys().copied().collect();
        for j in associated(layout, &primary) {
            chosen.entry(j).or_insert(Role::Associated);
        }
    }
    if options.inherit {
        let index = MetadataIndex::new(layout);
        let primary: Vec<usize> = chosen.keys().copied().collect();
        for i in primary {
            for m in index.applicable(i) {
                chosen.entry(m).or_insert(Role::Inherited);
            }
        }
    }
    let used_roots: Vec<usize> = {
        let mut r: Vec<usize> = chosen.keys().map(|&i| layout.units[i].root).collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    for (i, unit) in layout.units.iter().enumerate() {
        let at_root = unit.dir.is_empty() && !unit.in_subject && !unit.is_dir;
        if at_root
            && used_roots.contains(&unit.root)
            && options.root_files.iter().any(|p| glob_match(p, &unit.name))
        {
            chosen.entry(i).or_insert(Role::RootFile);
        }
    }
    let mut result: Vec<Selected> = chosen
        .into_iter()
        .map(|(unit, role)| Selected { unit, role })
        .collect();
    result.sort_by(|a, b| layout.units[a.unit].path.cmp(&layout.units[b.unit].path));
    Ok(result)
}

/// Suffixes the BIDS specification associates with files of a suffix: task
/// events and recordings of functional data, electrode and coordinate
/// files of electrophysiology, the partners of field maps, single-band
/// references.
fn associated_suffixes(suffix: &str) -> &'static [&'static str] {
    match suffix {
        "bold" | "cbv" | "asl" | "phase" => {
            &["events", "physio", "stim", "sbref", "aslcontext", "m0scan"]
        }
        "dwi" => &["sbref"],
        "eeg" | "meg" | "ieeg" | "nirs" | "motion" => &[
            "events",
            "channels",
            "electrodes",
            "optodes",
            "coordsystem",
            "headshape",
            "photo",
            "physio",
            "stim",
        ],
        "pet" => &["blood", "events"],
        "beh" => &["events", "physio", "stim"],
        "phasediff" => &["magnitude", "magnitude1", "magnitude2"],
        "phase1" | "phase2" => &["magnitude1", "magnitude2"],
        "fieldmap" => &["magnitude"],
        "epi" => &[],
        _ => &[],
    }
}

/// The units associated with the `primary` ones: in the same folder, with
/// an associated suffix (or the same suffix: the other files of the same
/// recording, e.g. `.bval`/`.bvec` of a `.nii.gz`), and entities that all
/// appear with the same values in the data file's name (an `_events.tsv`
/// without `run` belongs to every run; one with `run-2` only to run 2).
pub fn associated(layout: &Layout, primary: &[usize]) -> Vec<usize> {
    use std::collections::HashMap;
    let mut by_folder: HashMap<(usize, &str), Vec<usize>> = HashMap::new();
    for (i, unit) in layout.units.iter().enumerate() {
        if unit.selectable() {
            by_folder
                .entry((unit.root, unit.dir.as_str()))
                .or_default()
                .push(i);
        }
    }
    let mut found = Vec::new();
    for &p in primary {
        let data = &layout.units[p];
        let Some(suffix) = data.suffix.as_deref() else {
            continue;
        };
        let partners = associated_suffixes(suffix);
        for &j in by_folder
            .get(&(data.root, data.dir.as_str()))
            .into_iter()
            .flatten()
        {
            if j == p {
                continue;
            }
            let other = &layout.units[j];
            let Some(other_suffix) = other.suffix.as_deref() else {
                continue;
            };
            let related = if other_suffix == suffix {
                // Another file of the same recording: exactly the same entities.
                other.entities == data.entities
            } else {
                partners.contains(&other_suffix)
                    && other
                        .entities
                        .iter()
                        .all(|(k, v)| data.entity(k) == Some(v.as_str()))
            };
            if related {
                found.push(j);
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bids::{FilterKey, Scope};

    const PATHS: &[&str] = &[
        "README",
        "dataset_description.json",
        "participants.tsv",
        "samples.tsv",
        "task-rest_bold.json",
        "sub-01/anat/sub-01_T1w.nii.gz",
        "sub-01/func/sub-01_task-rest_bold.nii.gz",
        "sub-02/anat/sub-02_T1w.nii.gz",
        "derivatives/p/dataset_description.json",
        "derivatives/p/sub-01/anat/sub-01_desc-x_T1w.nii.gz",
    ];

    fn paths_of(l: &Layout, s: &[Selected]) -> Vec<String> {
        s.iter().map(|x| l.units[x.unit].path.clone()).collect()
    }

    fn options(filters: FilterSet) -> SelectOptions {
        SelectOptions {
            filters,
            root_files: DEFAULT_ROOT_FILES.iter().map(|s| s.to_string()).collect(),
            inherit: true,
            with_associated: false,
        }
    }

    #[test]
    fn raw_selection_with_metadata() {
        let l = Layout::build(PATHS, &[Scope::Raw]).unwrap();
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("sub".into()), &["01"]).unwrap();
        f.add(FilterKey::Suffix, &["bold"]).unwrap();
        let s = select(&l, &options(f)).unwrap();
        assert_eq!(
            paths_of(&l, &s),
            vec![
                "README",
                "dataset_description.json",
                "participants.tsv",
                "sub-01/func/sub-01_task-rest_bold.nii.gz",
                "task-rest_bold.json"
            ]
        );
        assert_eq!(s[3].role, Role::Selected);
        assert_eq!(s[4].role, Role::Inherited);
    }

    #[test]
    fn no_metadata_when_turned_off() {
        let l = Layout::build(PATHS, &[Scope::Raw]).unwrap();
        let mut f = FilterSet::new();
        f.add(FilterKey::Suffix, &["bold"]).unwrap();
        let mut o = options(f);
        o.root_files.clear();
        o.inherit = false;
        let s = select(&l, &o).unwrap();
        // The root-level sidecar carries entities and the suffix: it is
        // selected on its own, not as metadata.
        assert_eq!(
            paths_of(&l, &s),
            vec![
                "sub-01/func/sub-01_task-rest_bold.nii.gz",
                "task-rest_bold.json"
            ]
        );
        assert!(s.iter().all(|x| x.role == Role::Selected));
    }

    #[test]
    fn associated_files_per_datatype() {
        const DS: &[&str] = &[
            "task-rest_events.json",
            "sub-01/func/sub-01_task-rest_run-1_bold.nii.gz",
            "sub-01/func/sub-01_task-rest_run-1_bold.json",
            "sub-01/func/sub-01_task-rest_run-1_events.tsv",
            "sub-01/func/sub-01_task-rest_run-2_events.tsv",
            "sub-01/func/sub-01_task-rest_run-1_physio.tsv.gz",
            "sub-01/func/sub-01_task-rest_run-1_sbref.nii.gz",
            "sub-01/func/sub-01_task-other_run-1_events.tsv",
            "sub-01/dwi/sub-01_dwi.nii.gz",
            "sub-01/dwi/sub-01_dwi.bval",
            "sub-01/dwi/sub-01_dwi.bvec",
            "sub-01/dwi/sub-01_acq-b0_dwi.bval",
            "sub-01/eeg/sub-01_task-oddball_eeg.edf",
            "sub-01/eeg/sub-01_task-oddball_channels.tsv",
            "sub-01/eeg/sub-01_electrodes.tsv",
            "sub-01/eeg/sub-01_coordsystem.json",
            "sub-01/eeg/sub-01_task-other_channels.tsv",
            "sub-01/fmap/sub-01_phasediff.nii.gz",
            "sub-01/fmap/sub-01_magnitude1.nii.gz",
            "sub-01/fmap/sub-01_magnitude2.nii.gz",
            "sub-01/fmap/sub-01_acq-x_magnitude1.nii.gz",
        ];
        let l = Layout::build(DS, &[Scope::Raw]).unwrap();
        let pick = |suffix: &str, ext: &str| {
            let mut f = FilterSet::new();
            f.add(FilterKey::Suffix, &[suffix]).unwrap();
            f.add(FilterKey::Extension, &[ext]).unwrap();
            let mut o = options(f);
            o.root_files.clear();
            o.with_associated = true;
            let s = select(&l, &o).unwrap();
            s.iter()
                .filter(|x| x.role == Role::Associated)
                .map(|x| l.units[x.unit].path.rsplit('/').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pick("bold", ".nii.gz"),
            vec![
                "sub-01_task-rest_run-1_bold.json",
                "sub-01_task-rest_run-1_events.tsv",
                "sub-01_task-rest_run-1_physio.tsv.gz",
                "sub-01_task-rest_run-1_sbref.nii.gz",
            ]
        );
        assert_eq!(
            pick("dwi", ".nii.gz"),
            vec!["sub-01_dwi.bval", "sub-01_dwi.bvec"]
        );
        assert_eq!(
            pick("eeg", ".edf"),
            vec![
                "sub-01_coordsystem.json",
                "sub-01_electrodes.tsv",
                "sub-01_task-oddball_channels.tsv",
            ]
        );
        assert_eq!(
            pick("phasediff", ".nii.gz"),
            vec!["sub-01_magnitude1.nii.gz", "sub-01_magnitude2.nii.gz"]
        );
        // The associated events bring their own inherited sidecar.
        let mut f = FilterSet::new();
        f.add(FilterKey::Suffix, &["bold"]).unwrap();
        f.add(FilterKey::Extension, &[".nii.gz"]).unwrap();
        let mut o = options(f);
        o.with_associated = true;
        let s = select(&l, &o).unwrap();
        assert!(paths_of(&l, &s).contains(&"task-rest_events.json".to_string()));
    }

    #[test]
    fn root_level_files_with_entities_are_selectable() {
        let l = Layout::build(PATHS, &[Scope::Raw]).unwrap();
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("task".into()), &["rest"]).unwrap();
        f.add(FilterKey::Extension, &[".json"]).unwrap();
        let s = select(&l, &options(f)).unwrap();
        let selected: Vec<String> = s
            .iter()
            .filter(|x| x.role == Role::Selected)
            .map(|x| l.units[x.unit].path.clone())
            .collect();
        assert_eq!(selected, vec!["task-rest_bold.json"]);
    }

    #[test]
    fn an_empty_combination_names_the_filter_that_emptied_it() {
        let l = Layout::build(PATHS, &[Scope::Raw]).unwrap();
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("sub".into()), &["02"]).unwrap();
        f.add(FilterKey::Suffix, &["bold"]).unwrap();
        let err = select(&l, &options(f)).unwrap_err();
        assert!(
            matches!(&err, BidsError::EmptyCombination { filter, .. } if filter.contains("suffix")),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("bold") && text.contains("02"), "{text}");
    }

    #[test]
    fn derivative_scope() {
        let l = Layout::build(PATHS, &[Scope::Pipeline("p".into())]).unwrap();
        let s = select(&l, &options(FilterSet::new())).unwrap();
        assert_eq!(
            paths_of(&l, &s),
            vec![
                "derivatives/p/dataset_description.json",
                "derivatives/p/sub-01/anat/sub-01_desc-x_T1w.nii.gz"
            ]
        );
    }

    #[test]
    fn misspelt_subject_is_an_error() {
        let l = Layout::build(PATHS, &[Scope::Raw]).unwrap();
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("sub".into()), &["03"]).unwrap();
        let err = select(&l, &options(f)).unwrap_err().to_string();
        assert!(err.contains("01, 02"), "{err}");
    }
}
