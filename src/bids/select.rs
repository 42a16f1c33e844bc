//! Putting filters, scope and metadata together into one selection.

use super::entity::canonical_value;
use super::filter::FilterSet;
use super::glob::glob_match;
use super::inherit::{ancestor_folders, MetadataIndex};
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

/// Suffixes the BIDS specification associates with a file of `suffix` and
/// `extension` (the schema's `meta/associations`, plus the recordings and
/// partners the specification's text names), and whether each may also be
/// found at a shallower level (the schema's `inherit`).
fn associated_suffixes(suffix: &str, extension: &str) -> Vec<(&'static str, bool)> {
    const INHERITS: bool = true;
    const SAME_FOLDER: bool = false;
    let mut partners: Vec<(&'static str, bool)> = Vec::new();
    // The schema associates events with every file that is not a JSON
    // sidecar; its entities decide which (a task's events, a run's events).
    if extension != ".json" && suffix != "events" {
        partners.push(("events", INHERITS));
    }
    let more: &[(&str, bool)] = match suffix {
        "bold" | "cbv" | "phase" => &[
            ("physio", SAME_FOLDER),
            ("stim", SAME_FOLDER),
            ("sbref", SAME_FOLDER),
        ],
        "asl" => &[
            ("aslcontext", INHERITS),
            ("m0scan", SAME_FOLDER),
            ("physio", SAME_FOLDER),
            ("stim", SAME_FOLDER),
        ],
        "dwi" => &[("sbref", SAME_FOLDER)],
        "eeg" | "meg" | "ieeg" => &[
            ("channels", INHERITS),
            ("electrodes", INHERITS),
            ("coordsystem", INHERITS),
            ("headshape", SAME_FOLDER),
            ("photo", SAME_FOLDER),
            ("physio", SAME_FOLDER),
            ("stim", SAME_FOLDER),
        ],
        "emg" => &[
            ("channels", INHERITS),
            ("electrodes", INHERITS),
            ("coordsystem", INHERITS),
            ("physio", SAME_FOLDER),
            ("stim", SAME_FOLDER),
        ],
        "nirs" | "motion" => &[
            ("channels", INHERITS),
            ("optodes", INHERITS),
            ("coordsystem", INHERITS),
            ("photo", SAME_FOLDER),
            ("physio", SAME_FOLDER),
            ("stim", SAME_FOLDER),
        ],
        "electrodes" => &[("coordsystem", INHERITS)],
        "optodes" => &[("channels", INHERITS), ("coordsystem", INHERITS)],
        "pet" => &[("blood", SAME_FOLDER)],
        "beh" => &[("physio", SAME_FOLDER), ("stim", SAME_FOLDER)],
        // Two magnitude images may come with a phase difference map; each
        // of two phase maps has its magnitude partner.
        "phasediff" | "phase1" | "phase2" => {
            &[("magnitude1", SAME_FOLDER), ("magnitude2", SAME_FOLDER)]
        }
        "fieldmap" => &[("magnitude", SAME_FOLDER)],
        _ => &[],
    };
    partners.extend_from_slice(more);
    partners
}

/// The units associated with the `primary` ones. The other files of the
/// same recording (same folder, entities and suffix, another extension:
/// `.bval`/`.bvec` of a `.nii.gz`) always are. A file of an associated
/// suffix is when every entity in its name has the same value in the data
/// file's name (an `_events.tsv` without `run` belongs to every run; one
/// with `run-2` only to run 2); it is looked for in the data file's folder
/// and, for suffixes the specification lets be inherited (events,
/// channels, electrodes, ...), in the folders above up to the root: the
/// nearest folder that has any applies.
pub fn associated(layout: &Layout, primary: &[usize]) -> Vec<usize> {
    use std::collections::HashMap;
    let mut by_place: HashMap<(usize, &str, &str), Vec<usize>> = HashMap::new();
    for (i, unit) in layout.units.iter().enumerate() {
        if let Some(suffix) = unit.suffix.as_deref() {
            by_place
                .entry((unit.root, unit.dir.as_str(), suffix))
                .or_default()
                .push(i);
        }
    }
    let candidates = |root: usize, dir: &str, suffix: &str| -> Vec<usize> {
        by_place
            .get(&(root, dir, suffix))
            .cloned()
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for &p in primary {
        let data = &layout.units[p];
        let Some(suffix) = data.suffix.as_deref() else {
            continue;
        };
        // Another file of the same recording: exactly the same entities.
        found.extend(
            candidates(data.root, &data.dir, suffix)
                .into_iter()
                .filter(|&j| j != p && layout.units[j].entities == data.entities),
        );
        let folders = ancestor_folders(&data.dir);
        for (partner, inherits) in associated_suffixes(suffix, &data.extension) {
            let levels: &[&str] = if inherits {
                &folders
            } else {
                &folders[folders.len() - 1..]
            };
            // Deepest folder first: the nearest applicable files win.
            for dir in levels.iter().rev() {
                let applicable: Vec<usize> = candidates(data.root, dir, partner)
                    .into_iter()
                    .filter(|&j| {
                        let other = &layout.units[j];
                        // The schema's targets are the TSV (or other data)
                        // files; coordinate systems are JSON. JSON sidecars
                        // of the others come by inheritance.
                        let target_kind =
                            (other.extension == ".json") == (partner == "coordsystem");
                        j != p
                            && target_kind
                            && other
                                .entities
                                .iter()
                                .all(|(k, v)| same_entity_value(k, data.entity(k), v))
                    })
                    .collect();
                if !applicable.is_empty() {
                    found.extend(applicable);
                    break;
                }
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Whether the data file's value of entity `key` equals `value` (indices as
/// numbers: `run-1` events belong to `run-01` data).
fn same_entity_value(key: &str, data_value: Option<&str>, value: &str) -> bool {
    data_value.is_some_and(|d| {
        let a = canonical_value(key, d);
        a.is_some() && a == canonical_value(key, value)
    })
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
    fn associated_files_are_found_at_shallower_levels_as_the_schema_allows() {
        const DS: &[&str] = &[
            "task-nback_events.tsv",
            "task-nback_events.json",
            "task-rest_events.tsv",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_bold.nii",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_physio.tsv.gz",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-02_bold.nii",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-2_events.tsv",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-2_events.json",
            "sub-01/ses-01/sub-01_ses-01_magnitude1.nii.gz",
            "sub-01/ses-01/fmap/sub-01_ses-01_phasediff.nii.gz",
            "sub-01/emg/sub-01_task-grip_emg.edf",
            "sub-01/emg/sub-01_task-grip_channels.tsv",
            "sub-01/sub-01_electrodes.tsv",
            "sub-01/sub-01_space-hand_coordsystem.json",
            "sub-01/sub-01_coordsystem.json",
        ];
        let l = Layout::build(DS, &[Scope::Raw]).unwrap();
        let pick = |filters: &[(FilterKey, &str)]| {
            let mut f = FilterSet::new();
            for (key, value) in filters {
                f.add(key.clone(), &[*value]).unwrap();
            }
            let mut o = options(f);
            o.root_files.clear();
            o.with_associated = true;
            let s = select(&l, &o).unwrap();
            let mut associated: Vec<String> = s
                .iter()
                .filter(|x| x.role != Role::Selected)
                .map(|x| l.units[x.unit].path.clone())
                .collect();
            associated.sort();
            associated
        };
        let run = |r: &str| {
            pick(&[
                (FilterKey::Suffix, "bold"),
                (FilterKey::Entity("run".into()), r),
            ])
        };
        // Run 1 has no events of its own: the task's events at the root
        // apply (with their own sidecar, by inheritance).
        assert_eq!(
            run("1"),
            vec![
                "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_physio.tsv.gz",
                "task-nback_events.json",
                "task-nback_events.tsv",
            ]
        );
        // Run 2's own events (`run-2` = `run-02`) are nearer and win; the
        // root's events sidecar still applies to them (JSON merges).
        assert_eq!(
            run("2"),
            vec![
                "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-2_events.json",
                "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-2_events.tsv",
                "task-nback_events.json",
            ]
        );
        // Field map partners are never looked for above their folder.
        assert!(pick(&[(FilterKey::Suffix, "phasediff")]).is_empty());
        // EMG: channels beside it, electrodes and coordinate systems of
        // the subject (only those whose entities the recording has).
        assert_eq!(
            pick(&[(FilterKey::Suffix, "emg")]),
            vec![
                "sub-01/emg/sub-01_task-grip_channels.tsv",
                "sub-01/sub-01_coordsystem.json",
                "sub-01/sub-01_electrodes.tsv",
            ]
        );
        // Electrodes bring their coordinate system.
        assert_eq!(
            pick(&[(FilterKey::Suffix, "electrodes")]),
            vec!["sub-01/sub-01_coordsystem.json"]
        );
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
