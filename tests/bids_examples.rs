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
