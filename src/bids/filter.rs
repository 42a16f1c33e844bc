//! Filters: values within a filter are alternatives, filters combine with AND.

use super::entity::{canonical_entity_name, canonical_value};
use super::layout::Unit;
use super::BidsError;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FilterKey {
    Entity(String),
    Datatype,
    Suffix,
    Extension,
}

impl FilterKey {
    /// The word used in messages ("subject", "task", "extension", ...).
    pub fn describe(&self) -> String {
        match self {
            FilterKey::Entity(e) => match e.as_str() {
                "sub" => "subject".into(),
                "ses" => "session".into(),
                "acq" => "acquisition".into(),
                other => other.into(),
            },
            FilterKey::Datatype => "datatype".into(),
            FilterKey::Suffix => "suffix".into(),
            FilterKey::Extension => "extension".into(),
        }
    }

    /// The unit's value for this key, in comparison form.
    fn value_of(&self, unit: &Unit) -> Option<String> {
        match self {
            FilterKey::Entity(e) => canonical_value(e, unit.entity(e)?),
            FilterKey::Datatype => unit.datatype.clone(),
            FilterKey::Suffix => unit.suffix.clone(),
            FilterKey::Extension if unit.extension.is_empty() => None,
            FilterKey::Extension => Some(unit.extension.clone()),
        }
    }

    /// The unit's value as it is written, for listing existing values.
    fn display_of(&self, unit: &Unit) -> Option<String> {
        match self {
            FilterKey::Extension if unit.is_dir => Some(format!("{}/", unit.extension)),
            FilterKey::Entity(e) => unit.entity(e).map(str::to_string),
            _ => self.value_of(unit),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Wanted {
    /// Comparison form → the value as the user typed it (for messages).
    values: BTreeMap<String, String>,
    /// Extensions asked for only with a trailing `/`: they must name a
    /// directory unit. The same extension also asked for without `/`
    /// widens it to files (values are alternatives).
    dir_only: BTreeSet<String>,
}

impl Wanted {
    fn accepts(&self, unit: &Unit, value: &str) -> bool {
        self.values.contains_key(value) && (unit.is_dir || !self.dir_only.contains(value))
    }
}

/// A set of filters, built from the command line.
#[derive(Debug, Clone, Default)]
pub struct FilterSet {
    filters: BTreeMap<FilterKey, Wanted>,
}

impl FilterSet {
    pub fn new() -> FilterSet {
        FilterSet::default()
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Adds values (each may be comma-separated) for one key; repeated keys
    /// widen the alternatives.
    pub fn add<S: AsRef<str>>(&mut self, key: FilterKey, raw: &[S]) -> Result<(), BidsError> {
        for value in raw
            .iter()
            .flat_map(|v| v.as_ref().split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            let (canonical, dir_only) = normalise(&key, value)?;
            let wanted = self.filters.entry(key.clone()).or_default();
            let new = !wanted.values.contains_key(&canonical);
            if dir_only && new {
                wanted.dir_only.insert(canonical.clone());
            } else if !dir_only {
                wanted.dir_only.remove(&canonical);
            }
            wanted
                .values
                .entry(canonical)
                .or_insert_with(|| value.to_string());
        }
        Ok(())
    }

    /// Adds `NAME=VALUE[,VALUE...]` for any BIDS entity.
    pub fn add_assignment(&mut self, assignment: &str) -> Result<(), BidsError> {
        let (name, values) = assignment
            .split_once('=')
            .ok_or_else(|| BidsError::BadEntityFilter(assignment.to_string()))?;
        let name = canonical_entity_name(name.trim());
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BidsError::BadEntityFilter(assignment.to_string()));
        }
        let key = match name {
            "datatype" => FilterKey::Datatype,
            "suffix" => FilterKey::Suffix,
            "extension" | "ext" => FilterKey::Extension,
            other => FilterKey::Entity(other.to_string()),
        };
        self.add(key, &[values])
    }

    pub fn matches(&self, unit: &Unit) -> bool {
        self.filters.iter().all(|(key, wanted)| {
            key.value_of(unit)
                .is_some_and(|value| wanted.accepts(unit, &value))
        })
    }

    /// Why no unit matches all filters when each value exists on its own:
    /// applies the filters one after another (in a fixed order) and names
    /// the first that leaves nothing. `None` when something matches.
    pub fn explain_empty<'a>(
        &self,
        units: impl Iterator<Item = &'a Unit>,
        scope_note: &str,
    ) -> Option<BidsError> {
        let mut left: Vec<&Unit> = units.collect();
        let mut earlier: Vec<String> = Vec::new();
        for (key, wanted) in &self.filters {
            left.retain(|unit| {
                key.value_of(unit)
                    .is_some_and(|value| wanted.accepts(unit, &value))
            });
            let typed: Vec<&str> = wanted.values.values().map(String::as_str).collect();
            let values = typed.join(",");
            if left.is_empty() {
                return Some(BidsError::EmptyCombination {
                    filter: key.describe(),
                    values,
                    earlier: if earlier.is_empty() {
                        "the selected scope".into()
                    } else {
                        earlier.join(" and ")
                    },
                    scope: scope_note.to_string(),
                });
            }
            earlier.push(format!("{} {values}", key.describe()));
        }
        None
    }

    /// Every value asked for must exist among `units`; otherwise the error
    /// lists the values that do exist, so a typo never yields an empty download.
    pub fn check_values_exist<'a>(
        &self,
        units: impl Iterator<Item = &'a Unit> + Clone,
        scope_note: &str,
    ) -> Result<(), BidsError> {
        for (key, wanted) in &self.filters {
            let mut existing: BTreeMap<String, String> = BTreeMap::new();
            for unit in units.clone() {
                if let (Some(v), Some(d)) = (key.value_of(unit), key.display_of(unit)) {
                    existing.entry(v).or_insert(d);
                }
            }
            for (canonical, typed) in &wanted.values {
                if !existing.contains_key(canonical) {
                    return Err(BidsError::NoSuchValue {
                        filter: key.describe(),
                        value: typed.clone(),
                        scope: scope_note.to_string(),
                        existing: summarise(existing.values()),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Turns what the user typed into comparison form: strips an optional
/// `key-` prefix, checks the characters, drops leading zeros of indices.
fn normalise(key: &FilterKey, value: &str) -> Result<(String, bool), BidsError> {
    let invalid = |reason: &str| BidsError::InvalidValue {
        filter: key.describe(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    match key {
        FilterKey::Entity(entity) => {
            let bare = value
                .strip_prefix(entity.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .unwrap_or(value);
            canonical_value(entity, bare)
                .map(|c| (c, false))
                .ok_or_else(|| {
                    invalid(if super::entity::is_index_entity(entity) {
                        "expected a number such as 1 or 01"
                    } else {
                        "labels contain only letters, digits and +"
                    })
                })
        }
        FilterKey::Datatype | FilterKey::Suffix => {
            if value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok((value.to_string(), false))
            } else {
                Err(invalid("expected letters and digits only"))
            }
        }
        FilterKey::Extension => {
            let dir_only = value.ends_with('/');
            let bare = value.trim_end_matches('/');
            let dotted = if bare.starts_with('.') {
                bare.to_string()
            } else {
                format!(".{bare}")
            };
            if dotted.len() < 2 || dotted.contains('/') || dotted.contains("..") {
                return Err(invalid("expected an extension such as .nii.gz or .ds/"));
            }
            Ok((dotted, dir_only))
        }
    }
}

/// A readable list of values, shortened when a dataset has hundreds.
fn summarise<'a>(values: impl Iterator<Item = &'a String>) -> String {
    const SHOWN: usize = 40;
    let all: Vec<&String> = values.collect();
    if all.is_empty() {
        return "none".into();
    }
    let mut text = all
        .iter()
        .take(SHOWN)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(", ... ({} more)", all.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bids::{Layout, Scope};
    use proptest::prelude::*;

    fn layout(paths: &[&str]) -> Layout {
        Layout::build(paths, &[Scope::Raw]).unwrap()
    }

    fn selected(filters: &FilterSet, l: &Layout) -> Vec<String> {
        l.units
            .iter()
            .filter(|u| filters.matches(u))
            .map(|u| u.path.clone())
            .collect()
    }

    const PATHS: &[&str] = &[
        "sub-01/func/sub-01_task-rest_run-1_bold.nii.gz",
        "sub-01/func/sub-01_task-rest_run-01_bold.json",
        "sub-01/func/sub-01_task-rest_run-10_bold.nii.gz",
        "sub-01/func/sub-01_task-restEyesOpen_run-1_bold.nii.gz",
        "sub-02/meg/sub-02_task-x_meg.ds/a.meg4",
        "sub-02/meg/sub-02_task-x_meg.json",
    ];

    #[test]
    fn runs_compare_numerically_and_tasks_exactly() {
        let l = layout(PATHS);
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("run".into()), &["1"]).unwrap();
        f.add(FilterKey::Entity("task".into()), &["task-rest"])
            .unwrap();
        assert_eq!(
            selected(&f, &l),
            vec![
                "sub-01/func/sub-01_task-rest_run-1_bold.nii.gz",
                "sub-01/func/sub-01_task-rest_run-01_bold.json"
            ]
        );
    }

    #[test]
    fn comma_values_are_alternatives() {
        let l = layout(PATHS);
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("run".into()), &["10,run-01"])
            .unwrap();
        f.add(FilterKey::Extension, &["nii.gz"]).unwrap();
        assert_eq!(selected(&f, &l).len(), 3);
    }

    #[test]
    fn directory_extensions() {
        let l = layout(PATHS);
        for value in [".ds/", ".ds", "ds"] {
            let mut f = FilterSet::new();
            f.add(FilterKey::Extension, &[value]).unwrap();
            assert_eq!(selected(&f, &l), vec!["sub-02/meg/sub-02_task-x_meg.ds/"]);
        }
    }

    #[test]
    fn an_extension_asked_with_and_without_slash_selects_files_too() {
        // Found by the reference-model property test (tests/bids_model.rs):
        // `--ext json/,.json` selected no file, the `/` of one alternative
        // restricting the other.
        let l = layout(PATHS);
        for values in [["json/", ".json"], [".json", "json/"]] {
            let mut f = FilterSet::new();
            f.add(FilterKey::Extension, &values).unwrap();
            assert_eq!(
                selected(&f, &l),
                vec![
                    "sub-01/func/sub-01_task-rest_run-01_bold.json",
                    "sub-02/meg/sub-02_task-x_meg.json"
                ]
            );
        }
        let mut f = FilterSet::new();
        f.add(FilterKey::Extension, &["json/"]).unwrap();
        assert!(selected(&f, &l).is_empty());
    }

    #[test]
    fn unknown_values_list_existing_ones() {
        let l = layout(PATHS);
        let mut f = FilterSet::new();
        f.add(FilterKey::Entity("sub".into()), &["O1"]).unwrap();
        let err = f
            .check_values_exist(l.units.iter(), "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"O1\""), "{err}");
        assert!(err.contains("01, 02"), "{err}");
        let mut ok = FilterSet::new();
        ok.add(FilterKey::Entity("sub".into()), &["sub-02"])
            .unwrap();
        ok.check_values_exist(l.units.iter(), "").unwrap();
    }

    #[test]
    fn bad_values_are_rejected() {
        let mut f = FilterSet::new();
        assert!(f.add(FilterKey::Entity("run".into()), &["one"]).is_err());
        assert!(f.add(FilterKey::Entity("sub".into()), &["0*"]).is_err());
        assert!(f.add_assignment("echo").is_err());
        f.add_assignment("echo=1,2").unwrap();
        f.add_assignment("description=preproc").unwrap();
        assert!(f.filters.contains_key(&FilterKey::Entity("desc".into())));
    }

    proptest! {
        #[test]
        fn run_filter_matches_exactly_the_same_number(wanted in 0u32..30, present in proptest::collection::btree_set(0u32..30, 1..8), pad in 0usize..3) {
            let paths: Vec<String> = present
                .iter()
                .map(|r| format!("sub-01/func/sub-01_task-a_run-{}{}_bold.nii", "0".repeat(pad), r))
                .collect();
            let l = Layout::build(&paths, &[Scope::Raw]).unwrap();
            let mut f = FilterSet::new();
            f.add(FilterKey::Entity("run".into()), &[wanted.to_string()]).unwrap();
            let hits = l.units.iter().filter(|u| f.matches(u)).count();
            prop_assert_eq!(hits, usize::from(present.contains(&wanted)));
            prop_assert_eq!(f.check_values_exist(l.units.iter(), "").is_ok(), present.contains(&wanted));
        }
    }
}
