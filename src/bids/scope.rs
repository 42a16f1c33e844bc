//! Which part of a dataset a command looks at: the raw dataset or derivatives.

use super::BidsError;
use std::collections::BTreeSet;

/// Top-level folders that are not part of the raw dataset (as pybids ignores them).
pub const EXCLUDED_TOP_DIRS: &[&str] = &["derivatives", "sourcedata", "code", "stimuli"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The raw dataset at the top level.
    Raw,
    /// Every pipeline under `derivatives/`.
    Derivatives,
    /// One pipeline, `derivatives/NAME/`.
    Pipeline(String),
}

impl Scope {
    /// Parses `raw`, `derivatives`, `NAME` or `derivatives/NAME`.
    pub fn parse(text: &str) -> Result<Scope, BidsError> {
        let text = text.trim().trim_end_matches('/');
        match text {
            "" => Err(BidsError::InvalidValue {
                filter: "scope".into(),
                value: text.into(),
                reason: "empty scope".into(),
            }),
            "raw" => Ok(Scope::Raw),
            "derivatives" => Ok(Scope::Derivatives),
            other => {
                let name = other.strip_prefix("derivatives/").unwrap_or(other);
                if name.contains('/') || name.starts_with('.') {
                    return Err(BidsError::InvalidValue {
                        filter: "scope".into(),
                        value: text.into(),
                        reason: "expected raw, derivatives or a pipeline name".into(),
                    });
                }
                Ok(Scope::Pipeline(name.to_string()))
            }
        }
    }

    /// Whether a folder (e.g. a subdataset's mount point) may hold files of
    /// this scope; used to decide which subdatasets are worth opening.
    pub fn may_contain(&self, folder: &str) -> bool {
        let folder = folder.trim_end_matches('/');
        match self {
            Scope::Raw => {
                let first = folder.split('/').next().unwrap_or("");
                !EXCLUDED_TOP_DIRS.contains(&first)
                    && !folder.split('/').any(|c| c.starts_with('.'))
            }
            Scope::Derivatives => folder == "derivatives" || folder.starts_with("derivatives/"),
            Scope::Pipeline(name) => {
                let root = format!("derivatives/{name}");
                folder == root
                    || root.starts_with(&format!("{folder}/"))
                    || folder.starts_with(&format!("{root}/"))
            }
        }
    }
}

/// The root prefixes (`""` or `"derivatives/NAME/"`) that the scopes select
/// among the dataset's file paths.
pub fn scope_roots<'a>(
    scopes: &[Scope],
    paths: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, BidsError> {
    let pipelines: BTreeSet<String> = paths
        .filter_map(|p| p.strip_prefix("derivatives/"))
        .filter_map(|rest| rest.split_once('/').map(|(name, _)| name.to_string()))
        .filter(|name| !name.starts_with('.'))
        .collect();
    let mut roots = Vec::new();
    for scope in scopes {
        match scope {
            Scope::Raw => roots.push(String::new()),
            Scope::Derivatives => {
                if pipelines.is_empty() {
                    return Err(BidsError::NoSuchPipeline {
                        name: "derivatives".into(),
                        available: "none (the dataset has no derivatives/ folder with pipelines)"
                            .into(),
                    });
                }
                roots.extend(pipelines.iter().map(|n| format!("derivatives/{n}/")));
            }
            Scope::Pipeline(name) => {
                if !pipelines.contains(name) {
                    let available = if pipelines.is_empty() {
                        "none".to_string()
                    } else {
                        pipelines.iter().cloned().collect::<Vec<_>>().join(", ")
                    };
                    return Err(BidsError::NoSuchPipeline {
                        name: name.clone(),
                        available,
                    });
                }
                roots.push(format!("derivatives/{name}/"));
            }
        }
    }
    roots.sort();
    roots.dedup();
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(Scope::parse("raw").unwrap(), Scope::Raw);
        assert_eq!(Scope::parse("derivatives").unwrap(), Scope::Derivatives);
        assert_eq!(
            Scope::parse("derivatives/fmriprep/").unwrap(),
            Scope::Pipeline("fmriprep".into())
        );
        assert_eq!(
            Scope::parse("fmriprep").unwrap(),
            Scope::Pipeline("fmriprep".into())
        );
        assert!(Scope::parse("a/b").is_err());
    }

    #[test]
    fn may_contain() {
        assert!(Scope::Raw.may_contain("sub-01"));
        assert!(!Scope::Raw.may_contain("derivatives/fmriprep"));
        assert!(!Scope::Raw.may_contain(".datalad/x"));
        let p = Scope::Pipeline("fmriprep".into());
        assert!(p.may_contain("derivatives"));
        assert!(p.may_contain("derivatives/fmriprep"));
        assert!(p.may_contain("derivatives/fmriprep/sub-01"));
        assert!(!p.may_contain("derivatives/freesurfer"));
        assert!(!p.may_contain("derivatives/fmriprep2"));
        assert!(Scope::Derivatives.may_contain("derivatives/x"));
    }

    #[test]
    fn roots_and_unknown_pipeline() {
        let paths = ["a.json", "derivatives/fmriprep/x.json", "derivatives/fs/y"];
        let roots = scope_roots(&[Scope::Derivatives], paths.iter().copied()).unwrap();
        assert_eq!(roots, vec!["derivatives/fmriprep/", "derivatives/fs/"]);
        let err =
            scope_roots(&[Scope::Pipeline("fmriprp".into())], paths.iter().copied()).unwrap_err();
        assert!(err.to_string().contains("fmriprep, fs"), "{err}");
    }
}
