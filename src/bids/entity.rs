//! The BIDS entity table and how entity values compare.

/// Entity order of BIDS 1.11; used to print entities in their usual order.
pub const ENTITY_ORDER: &[&str] = &[
    "sub",
    "tpl",
    "ses",
    "cohort",
    "sample",
    "task",
    "tracksys",
    "acq",
    "nuc",
    "voi",
    "ce",
    "trc",
    "stain",
    "rec",
    "dir",
    "run",
    "mod",
    "echo",
    "flip",
    "inv",
    "mt",
    "part",
    "proc",
    "hemi",
    "space",
    "split",
    "recording",
    "chunk",
    "atlas",
    "seg",
    "scale",
    "res",
    "den",
    "label",
    "desc",
];

/// Entities whose values are non-negative integers: `run-1` and `run-01` are the same run.
const INDEX_ENTITIES: &[&str] = &["run", "echo", "flip", "inv", "split", "chunk"];

pub fn is_index_entity(name: &str) -> bool {
    INDEX_ENTITIES.contains(&name)
}

/// Maps the long names people know from pybids to the short filename keys.
pub fn canonical_entity_name(name: &str) -> &str {
    match name {
        "subject" => "sub",
        "session" => "ses",
        "acquisition" => "acq",
        "ceagent" => "ce",
        "tracer" => "trc",
        "reconstruction" => "rec",
        "direction" => "dir",
        "modality" => "mod",
        "flipangle" | "flip_angle" => "flip",
        "inversion" => "inv",
        "processing" => "proc",
        "hemisphere" => "hemi",
        "resolution" => "res",
        "density" => "den",
        "description" => "desc",
        "segmentation" => "seg",
        "template" => "tpl",
        other => other,
    }
}

/// The form in which two values of one entity compare equal.
///
/// Index entities compare as integers (leading zeros dropped); labels compare
/// exactly. Returns `None` for a value that is not valid for the entity, so a
/// malformed filename never matches by accident.
pub fn canonical_value(entity: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if is_index_entity(entity) {
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = value.trim_start_matches('0');
        return Some(if trimmed.is_empty() { "0" } else { trimmed }.to_string());
    }
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    {
        Some(value.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn index_values_compare_numerically() {
        assert_eq!(canonical_value("run", "1"), canonical_value("run", "01"));
        assert_eq!(canonical_value("run", "001"), Some("1".into()));
        assert_ne!(canonical_value("run", "1"), canonical_value("run", "10"));
        assert_eq!(canonical_value("run", "0"), Some("0".into()));
        assert_eq!(canonical_value("run", "00"), Some("0".into()));
        assert_eq!(canonical_value("run", "a"), None);
    }

    #[test]
    fn labels_compare_exactly() {
        assert_eq!(canonical_value("sub", "01"), Some("01".into()));
        assert_ne!(canonical_value("sub", "1"), canonical_value("sub", "01"));
        assert_ne!(
            canonical_value("task", "rest"),
            canonical_value("task", "restEyesOpen")
        );
        assert_eq!(canonical_value("sub", "a-b"), None);
        assert_eq!(canonical_value("sub", ""), None);
    }

    proptest! {
        #[test]
        fn leading_zeros_never_change_an_index(n in 0u32..100_000, zeros in 0usize..4) {
            let padded = format!("{}{}", "0".repeat(zeros), n);
            prop_assert_eq!(canonical_value("echo", &padded), Some(n.to_string()));
        }

        #[test]
        fn distinct_indices_stay_distinct(a in 0u32..10_000, b in 0u32..10_000) {
            prop_assume!(a != b);
            prop_assert_ne!(canonical_value("run", &a.to_string()), canonical_value("run", &b.to_string()));
        }
    }
}
