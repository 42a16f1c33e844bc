//! Groups a dataset's file paths into BIDS units (a file, or a directory
//! "file" such as `.ds/` or `.ome.zarr/`) within the selected scope roots.

use super::name::parse_name;
use super::scope::{scope_roots, Scope, EXCLUDED_TOP_DIRS};
use super::BidsError;
use std::collections::HashMap;

/// One selectable BIDS item: a file, or a directory with a BIDS name.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Index into [`Layout::roots`].
    pub root: usize,
    /// Path relative to the dataset top; directory units end with `/`.
    pub path: String,
    /// Folder of the unit relative to its root (`""` at the root).
    pub dir: String,
    /// File (or directory) name.
    pub name: String,
    /// Entities from the name, plus `sub`/`ses` from the folders when absent.
    pub entities: Vec<(String, String)>,
    pub suffix: Option<String>,
    /// Extension without a trailing slash (`.ome.zarr` for a directory unit).
    pub extension: String,
    pub is_dir: bool,
    /// The folder below subject/session (`anat`, `func`, ...), if any.
    pub datatype: Option<String>,
    /// Below a `sub-*` folder: the units that filters select among.
    pub in_subject: bool,
    /// Indices of the input paths that make up this unit.
    pub members: Vec<usize>,
}

impl Unit {
    /// Whether filters choose among this unit: everything below a subject,
    /// and any file whose name carries entities wherever it lives (a
    /// root-level `task-rest_acq-full_bold.json` is as selectable as a
    /// subject's file, as in BIDS query tools).
    pub fn selectable(&self) -> bool {
        self.in_subject || !self.entities.is_empty()
    }

    pub fn entity(&self, key: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct Layout {
    /// Root prefixes: `""` for the raw dataset, `"derivatives/NAME/"` for a pipeline.
    pub roots: Vec<String>,
    pub units: Vec<Unit>,
}

impl Layout {
    /// Builds the layout of `paths` (relative to the dataset top, `/`-separated).
    pub fn build<S: AsRef<str>>(paths: &[S], scopes: &[Scope]) -> Result<Layout, BidsError> {
        let roots = scope_roots(scopes, paths.iter().map(|p| p.as_ref()))?;
        let mut layout = Layout {
            roots,
            units: Vec::new(),
        };
        let mut dir_units: HashMap<String, usize> = HashMap::new();
        for (index, path) in paths.iter().enumerate() {
            let path = path.as_ref();
            let Some(root) = layout.root_of(path) else {
                continue;
            };
            let rel = &path[layout.roots[root].len()..];
            let Some(shape) = UnitShape::of(rel) else {
                continue;
            };
            if shape.is_dir {
                let unit_path = format!("{}{}/", layout.roots[root], shape.unit_rel);
                if let Some(&u) = dir_units.get(&unit_path) {
                    layout.units[u].members.push(index);
                    continue;
                }
                dir_units.insert(unit_path, layout.units.len());
            }
            layout
                .units
                .push(shape.into_unit(root, &layout.roots[root], index));
        }
        Ok(layout)
    }

    /// The root a path belongs to: the longest matching root prefix.
    fn root_of(&self, path: &str) -> Option<usize> {
        self.roots
            .iter()
            .enumerate()
            .filter(|(_, r)| path.starts_with(r.as_str()))
            .max_by_key(|(_, r)| r.len())
            .map(|(i, _)| i)
    }
}

/// Where a root-relative path sits in the BIDS folder structure.
struct UnitShape<'a> {
    unit_rel: String,
    dir: String,
    name: &'a str,
    is_dir: bool,
    in_subject: bool,
    datatype: Option<String>,
    subject: Option<&'a str>,
    session: Option<&'a str>,
}

impl<'a> UnitShape<'a> {
    /// `None` for paths outside the scope: excluded top-level folders and
    /// dotfiles (except inside a directory unit, where `.zattrs` is data).
    fn of(rel: &'a str) -> Option<UnitShape<'a>> {
        let comps: Vec<&str> = rel.split('/').collect();
        if comps.len() > 1 && EXCLUDED_TOP_DIRS.contains(&comps[0]) {
            return None;
        }
        let subject = comps[0].strip_prefix("sub-").filter(|_| comps.len() > 1);
        let in_subject = subject.is_some();
        // A folder below the subject whose name has a BIDS extension is one unit.
        let unit_end = if in_subject {
            (1..comps.len() - 1).find(|&i| {
                let parsed = parse_name(comps[i]);
                !parsed.extension.is_empty()
                    && !comps[i].starts_with('.')
                    && (parsed.suffix.is_some() || !parsed.entities.is_empty())
            })
        } else {
            None
        };
        let last = unit_end.unwrap_or(comps.len() - 1);
        if comps[..=last]
            .iter()
            .any(|c| c.starts_with('.') || c.is_empty())
        {
            return None;
        }
        let session = if in_subject && comps.len() > 2 {
            comps[1].strip_prefix("ses-")
        } else {
            None
        };
        let datatype_at = 1 + usize::from(session.is_some());
        let datatype = (in_subject && datatype_at < last).then(|| comps[datatype_at].to_string());
        Some(UnitShape {
            unit_rel: comps[..=last].join("/"),
            dir: comps[..last].join("/"),
            name: comps[last],
            is_dir: unit_end.is_some(),
            in_subject,
            datatype,
            subject,
            session,
        })
    }

    fn into_unit(self, root: usize, root_prefix: &str, member: usize) -> Unit {
        let parsed = parse_name(self.name);
        let mut entities = parsed.entities;
        for (key, folder_value) in [("sub", self.subject), ("ses", self.session)] {
            if let Some(value) = folder_value {
                if !entities.iter().any(|(k, _)| k == key) {
                    entities.push((key.to_string(), value.to_string()));
                }
            }
        }
        let path = if self.is_dir {
            format!("{root_prefix}{}/", self.unit_rel)
        } else {
            format!("{root_prefix}{}", self.unit_rel)
        };
        Unit {
            root,
            path,
            dir: self.dir,
            name: self.name.to_string(),
            entities,
            suffix: parsed.suffix,
            extension: parsed.extension,
            is_dir: self.is_dir,
            datatype: self.datatype,
            in_subject: self.in_subject,
            members: vec![member],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(paths: &[&str], scopes: &[Scope]) -> Layout {
        Layout::build(paths, scopes).unwrap()
    }

    #[test]
    fn groups_directory_units_and_keeps_their_dotfiles() {
        let paths = [
            "sub-01/ses-01/micr/sub-01_ses-01_sample-A_SPIM.ome.zarr/.zgroup",
            "sub-01/ses-01/micr/sub-01_ses-01_sample-A_SPIM.ome.zarr/0/0/0",
            "sub-01/ses-01/micr/sub-01_ses-01_sample-A_SPIM.json",
            ".datalad/config",
            "derivatives/x/sub-01/a.nii",
            "code/run.py",
            "README",
        ];
        let l = build(&paths, &[Scope::Raw]);
        assert_eq!(l.units.len(), 3, "{:#?}", l.units);
        let zarr = l.units.iter().find(|u| u.is_dir).unwrap();
        assert_eq!(
            zarr.path,
            "sub-01/ses-01/micr/sub-01_ses-01_sample-A_SPIM.ome.zarr/"
        );
        assert_eq!(zarr.extension, ".ome.zarr");
        assert_eq!(zarr.members, vec![0, 1]);
        assert_eq!(zarr.datatype.as_deref(), Some("micr"));
        assert_eq!(zarr.entity("sample"), Some("A"));
        let readme = l.units.iter().find(|u| u.name == "README").unwrap();
        assert!(!readme.in_subject);
    }

    #[test]
    fn subject_and_session_from_folders() {
        let paths = ["sub-01/ses-2/anat/T1w.nii.gz", "sub-01/sub-01_sessions.tsv"];
        let l = build(&paths, &[Scope::Raw]);
        assert_eq!(l.units[0].entity("sub"), Some("01"));
        assert_eq!(l.units[0].entity("ses"), Some("2"));
        assert_eq!(l.units[0].datatype.as_deref(), Some("anat"));
        assert_eq!(l.units[0].dir, "sub-01/ses-2/anat");
        assert_eq!(l.units[1].datatype, None);
        assert_eq!(l.units[1].entity("ses"), None);
    }

    #[test]
    fn pipeline_roots() {
        let paths = [
            "sub-01/anat/sub-01_T1w.nii.gz",
            "derivatives/fmriprep/dataset_description.json",
            "derivatives/fmriprep/sub-01/anat/sub-01_desc-preproc_T1w.nii.gz",
        ];
        let l = build(&paths, &[Scope::Pipeline("fmriprep".into())]);
        assert_eq!(l.roots, vec!["derivatives/fmriprep/"]);
        assert_eq!(l.units.len(), 2);
        assert!(l
            .units
            .iter()
            .all(|u| u.path.starts_with("derivatives/fmriprep/")));
        let data = l.units.iter().find(|u| u.in_subject).unwrap();
        assert_eq!(data.dir, "sub-01/anat");
    }
}
