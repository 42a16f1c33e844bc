//! Splitting one file or directory name into entities, suffix and extension.

/// The parts of a BIDS name such as `sub-01_task-rest_run-1_bold.nii.gz`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BidsName {
    /// `(key, value)` pairs in filename order, values as written.
    pub entities: Vec<(String, String)>,
    /// The part after the last `_` (`bold`), if the name has one.
    pub suffix: Option<String>,
    /// Everything from the first dot on (`.nii.gz`), empty when there is none.
    pub extension: String,
}

/// Parses a single name (no `/`). Names that do not follow the
/// `key-value_..._suffix.ext` shape give no entities, so they never match an
/// entity filter; they can still be selected through the folder they are in.
pub fn parse_name(name: &str) -> BidsName {
    // Entity values are alphanumeric, so the first dot always starts the extension.
    let (stem, extension) = match name.find('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    let mut parsed = BidsName {
        extension: extension.to_string(),
        ..BidsName::default()
    };
    if stem.is_empty() {
        return parsed;
    }
    let parts: Vec<&str> = stem.split('_').collect();
    let (last, leading) = parts.split_last().expect("split yields at least one part");
    for part in leading {
        match part.split_once('-') {
            Some((key, value)) if !key.is_empty() && !value.is_empty() => {
                parsed.entities.push((key.to_string(), value.to_string()))
            }
            // Not BIDS-shaped: keep the extension, drop entities and suffix.
            _ => {
                parsed.entities.clear();
                return parsed;
            }
        }
    }
    match last.split_once('-') {
        // `sub-01` alone (a folder name) is an entity, not a suffix.
        Some((key, value)) if !key.is_empty() && !value.is_empty() => {
            parsed.entities.push((key.to_string(), value.to_string()))
        }
        Some(_) => {}
        None if !last.is_empty() => parsed.suffix = Some(last.to_string()),
        None => {}
    }
    parsed
}

impl BidsName {
    pub fn entity(&self, key: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_name() {
        let n = parse_name("sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.nii.gz");
        assert_eq!(n.entity("sub"), Some("01"));
        assert_eq!(n.entity("ses"), Some("1"));
        assert_eq!(n.entity("task"), Some("rest"));
        assert_eq!(n.entity("run"), Some("1"));
        assert_eq!(n.suffix.as_deref(), Some("bold"));
        assert_eq!(n.extension, ".nii.gz");
    }

    #[test]
    fn multi_dot_and_directory_extensions() {
        assert_eq!(parse_name("sub-01_SPIM.ome.zarr").extension, ".ome.zarr");
        assert!(parse_name("sub-01_x_meg.ds").entities.is_empty());
        assert_eq!(parse_name("sub-01_task-a_meg.ds").extension, ".ds");
        assert_eq!(
            parse_name("atlas-x_dseg.dlabel.nii").extension,
            ".dlabel.nii"
        );
    }

    #[test]
    fn root_level_sidecars_and_odd_names() {
        let n = parse_name("task-rest_acq-fullbrain_bold.json");
        assert_eq!(n.entity("sub"), None);
        assert_eq!(n.suffix.as_deref(), Some("bold"));
        let n = parse_name("dwi.bval");
        assert_eq!(n.suffix.as_deref(), Some("dwi"));
        assert!(n.entities.is_empty());
        let n = parse_name(".zgroup");
        assert!(n.suffix.is_none() && n.entities.is_empty());
        let n = parse_name("lh.BA.thresh.annot");
        assert_eq!(n.suffix.as_deref(), Some("lh"));
        let n = parse_name("sub-01");
        assert_eq!(n.entity("sub"), Some("01"));
        assert!(n.suffix.is_none());
        let n = parse_name("weird_name_bold.json");
        assert!(n.entities.is_empty());
    }

    proptest! {
        #[test]
        fn round_trips_generated_names(
            ents in proptest::collection::vec(("[a-z]{2,5}", "[a-zA-Z0-9]{1,6}"), 0..5),
            suffix in "[a-zA-Z0-9]{1,8}",
            ext in proptest::option::of("(\\.[a-z]{1,4}){1,2}"),
        ) {
            let mut name = ents.iter().map(|(k, v)| format!("{k}-{v}_")).collect::<String>();
            name.push_str(&suffix);
            let ext = ext.unwrap_or_default();
            name.push_str(&ext);
            let parsed = parse_name(&name);
            prop_assert_eq!(parsed.suffix.as_deref(), Some(suffix.as_str()));
            prop_assert_eq!(parsed.extension, ext);
            let expected: Vec<(String, String)> = ents;
            prop_assert_eq!(parsed.entities, expected);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_name(&s);
        }
    }
}
