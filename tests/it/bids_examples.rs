//! The BIDS selection rules on every dataset in ../shared/bids-examples,
//! from their file lists alone (no git): each selectable file is found by
//! the filters made of its own name, wherever it lives; exactness holds
//! (a selection never contains a file whose values differ from the
//! filters); a value that no file has is an error, never an empty result.

use std::path::Path;

use annexa::bids::{select, FilterKey, FilterSet, Layout, Role, Scope, SelectOptions, Unit};

fn example_datasets() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bids-examples");
    let mut found: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("dataset_description.json").is_file())
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no example datasets in {}",
        root.display()
    );
    found
}

fn paths_of(dataset: &Path) -> Vec<String> {
    let mut paths: Vec<String> = walkdir::WalkDir::new(dataset)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dataset)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    paths.sort();
    paths
}

/// Filters made of a unit's own values: its entities, suffix, extension.
fn own_filters(unit: &Unit) -> FilterSet {
    let mut filters = FilterSet::new();
    for (key, value) in &unit.entities {
        filters
            .add(FilterKey::Entity(key.clone()), &[value.as_str()])
            .unwrap();
    }
    if let Some(suffix) = &unit.suffix {
        filters.add(FilterKey::Suffix, &[suffix.as_str()]).unwrap();
    }
    if !unit.extension.is_empty() {
        filters
            .add(FilterKey::Extension, &[unit.extension.as_str()])
            .unwrap();
    }
    filters
}

fn options(filters: FilterSet) -> SelectOptions {
    SelectOptions {
        filters,
        root_files: Vec::new(),
        inherit: false,
        with_associated: false,
    }
}

#[test]
fn every_selectable_file_is_found_by_its_own_name_and_nothing_else_matches() {
    let mut checked = 0;
    for dataset in example_datasets() {
        let paths = paths_of(&dataset);
        let layout = Layout::build(&paths, &[Scope::Raw]).unwrap();
        for (i, unit) in layout.units.iter().enumerate() {
            let plain_name =
                unit.suffix.is_some() && unit.name.chars().all(|c| c.is_ascii_graphic());
            if !unit.selectable() || !plain_name {
                continue;
            }
            let selected = select(&layout, &options(own_filters(unit)))
                .unwrap_or_else(|e| panic!("{}: {}: {e}", dataset.display(), unit.path));
            assert!(
                selected
                    .iter()
                    .any(|s| s.unit == i && s.role == Role::Selected),
                "{}: {} not found by its own name",
                dataset.display(),
                unit.path
            );
            // Exactness: whatever else is selected has the same values for
            // every filter (and a value for each).
            for s in &selected {
                let other = &layout.units[s.unit];
                for (key, value) in &unit.entities {
                    assert_eq!(
                        other
                            .entity(key)
                            .map(|v| annexa::bids::canonical_value(key, v)),
                        Some(annexa::bids::canonical_value(key, value)),
                        "{}: {} selected with {}",
                        dataset.display(),
                        other.path,
                        unit.path
                    );
                }
                assert_eq!(other.suffix, unit.suffix);
                assert_eq!(other.extension, unit.extension);
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} files checked");
}

#[test]
fn a_value_no_file_has_is_an_error_in_every_dataset() {
    for dataset in example_datasets() {
        let paths = paths_of(&dataset);
        let layout = Layout::build(&paths, &[Scope::Raw]).unwrap();
        let mut filters = FilterSet::new();
        filters
            .add(FilterKey::Entity("sub".into()), &["zz9nosuchsubject"])
            .unwrap();
        let result = select(&layout, &options(filters));
        assert!(
            result.is_err(),
            "{}: a subject no file has gave {:?}",
            dataset.display(),
            result.map(|s| s.len())
        );
    }
}

const METADATA_EXTENSIONS: &[&str] = &[".json", ".tsv", ".bval", ".bvec"];

/// The associated files of `path` in `layout` (inheritance and root files
/// off, so only `--with-associated` adds anything).
fn associated_of(layout: &Layout, index: usize) -> Vec<String> {
    let mut o = options(own_filters(&layout.units[index]));
    o.with_associated = true;
    let unit_path = &layout.units[index].path;
    let selected = select(layout, &o).unwrap_or_else(|e| panic!("{unit_path}: {e}"));
    let mut found: Vec<String> = selected
        .iter()
        .filter(|s| s.role == Role::Associated)
        .map(|s| layout.units[s.unit].path.clone())
        .collect();
    found.sort();
    found
}

#[test]
fn with_associated_follows_the_specification_in_every_example() {
    // Invariants on every data file of every example: an associated file
    // lies in the data file's folder or above it, and each entity in its
    // name has the data file's value.
    let mut checked = 0;
    for dataset in example_datasets() {
        let paths = paths_of(&dataset);
        let layout = Layout::build(&paths, &[Scope::Raw]).unwrap();
        for (i, unit) in layout.units.iter().enumerate() {
            let data = unit.selectable()
                && unit.suffix.is_some()
                && !METADATA_EXTENSIONS.contains(&unit.extension.as_str())
                && unit.name.chars().all(|c| c.is_ascii_graphic());
            if !data {
                continue;
            }
            for path in associated_of(&layout, i) {
                let other = layout.units.iter().find(|u| u.path == path).unwrap();
                let folder_ok = other.dir.is_empty()
                    || unit.dir == other.dir
                    || unit.dir.starts_with(&format!("{}/", other.dir));
                assert!(
                    folder_ok,
                    "{}: {path} is not above {}",
                    dataset.display(),
                    unit.path
                );
                for (key, value) in &other.entities {
                    assert_eq!(
                        unit.entity(key)
                            .and_then(|v| annexa::bids::canonical_value(key, v)),
                        annexa::bids::canonical_value(key, value),
                        "{}: {path} came with {}",
                        dataset.display(),
                        unit.path
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} data files checked");
}

#[test]
fn with_associated_per_datatype_on_the_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bids-examples");
    // (example, data file, files that must come, files that must not)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        // func: the run's physiological recording, not another run's.
        (
            "7t_trt",
            "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.nii.gz",
            &["sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_physio.tsv.gz"],
            &["sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-2_physio.tsv.gz"],
        ),
        // func: the task's events at the dataset root (inherited), and the
        // run's physio and stim recordings.
        (
            "synthetic",
            "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_bold.nii",
            &[
                "task-nback_events.tsv",
                "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_physio.tsv.gz",
                "sub-01/ses-01/func/sub-01_ses-01_task-nback_run-01_stim.tsv.gz",
            ],
            &["sub-01/ses-01/func/sub-01_ses-01_task-nback_run-02_physio.tsv.gz"],
        ),
        // fmap: both magnitude images of the phase difference map, of its run.
        (
            "7t_trt",
            "sub-01/ses-1/fmap/sub-01_ses-1_run-1_phasediff.nii.gz",
            &[
                "sub-01/ses-1/fmap/sub-01_ses-1_run-1_magnitude1.nii.gz",
                "sub-01/ses-1/fmap/sub-01_ses-1_run-1_magnitude2.nii.gz",
                "sub-01/ses-1/fmap/sub-01_ses-1_run-1_phasediff.json",
            ],
            &["sub-01/ses-1/fmap/sub-01_ses-1_run-2_magnitude1.nii.gz"],
        ),
        // dwi: gradient tables of the same recording.
        (
            "ds000117",
            "sub-04/ses-mri/dwi/sub-04_ses-mri_dwi.nii.gz",
            &[
                "sub-04/ses-mri/dwi/sub-04_ses-mri_dwi.bval",
                "sub-04/ses-mri/dwi/sub-04_ses-mri_dwi.bvec",
            ],
            &[],
        ),
        // eeg: the recording's events and channels.
        (
            "eeg_rishikesh",
            "sub-001/ses-01/eeg/sub-001_ses-01_task-meditation_eeg.bdf",
            &[
                "sub-001/ses-01/eeg/sub-001_ses-01_task-meditation_events.tsv",
                "sub-001/ses-01/eeg/sub-001_ses-01_task-meditation_channels.tsv",
            ],
            &["sub-001/ses-02/eeg/sub-001_ses-02_task-meditation_events.tsv"],
        ),
        // meg (a .ds directory): the run's channels, the subject's
        // coordinate system and head shape.
        (
            "ds000246",
            "sub-0001/meg/sub-0001_task-AEF_run-01_meg.ds/",
            &[
                "sub-0001/meg/sub-0001_task-AEF_run-01_channels.tsv",
                "sub-0001/meg/sub-0001_coordsystem.json",
                "sub-0001/meg/sub-0001_headshape.pos",
            ],
            &["sub-0001/meg/sub-0001_task-AEF_run-02_channels.tsv"],
        ),
        // meg (.fif): the run's events.
        (
            "ds000117",
            "sub-01/ses-meg/meg/sub-01_ses-meg_task-facerecognition_run-05_meg.fif",
            &["sub-01/ses-meg/meg/sub-01_ses-meg_task-facerecognition_run-05_events.tsv"],
            &["sub-01/ses-meg/meg/sub-01_ses-meg_task-facerecognition_run-01_events.tsv"],
        ),
    ];
    for (example, data, must, must_not) in cases {
        let paths = paths_of(&root.join(example));
        let layout = Layout::build(&paths, &[Scope::Raw]).unwrap();
        let index = layout
            .units
            .iter()
            .position(|u| u.path == *data)
            .unwrap_or_else(|| panic!("{example}: no {data}"));
        let found = associated_of(&layout, index);
        for path in *must {
            assert!(
                found.contains(&path.to_string()),
                "{example}: {data} without {path}: {found:?}"
            );
        }
        for path in *must_not {
            assert!(
                paths.contains(&path.to_string()),
                "{example}: fixture lacks {path}"
            );
            assert!(
                !found.contains(&path.to_string()),
                "{example}: {data} with {path}"
            );
        }
    }
}
