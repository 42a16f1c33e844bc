//! Listing a dataset's files from git, without any checkout: paths, and for
//! each either its annex key or its git blob.

use super::annex::{key_from_link_target, key_from_pointer, key_size};
use super::git::{git, read_small_blobs, run};
use super::DatasetError;
use std::path::Path;

/// Pointer files of unlocked annexed files are short; larger blobs are
/// ordinary git content and are not read while listing.
const MAX_POINTER_SIZE: u64 = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Content held by git-annex under this key.
    Annexed { key: String },
    /// Content stored in git itself.
    Git {
        oid: String,
        size: u64,
        executable: bool,
    },
    /// A symlink that is not an annexed file; recreated as a symlink.
    Symlink { target: String },
}

impl Content {
    pub fn size(&self) -> Option<u64> {
        match self {
            Content::Annexed { key } => key_size(key),
            Content::Git { size, .. } => Some(*size),
            Content::Symlink { .. } => Some(0),
        }
    }

    pub fn key(&self) -> Option<&str> {
        match self {
            Content::Annexed { key } => Some(key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TreeFile {
    pub path: String,
    pub content: Content,
}

/// A subdataset mount point (a gitlink) and the commit it records.
#[derive(Debug, Clone)]
pub struct Gitlink {
    pub path: String,
    pub commit: String,
}

#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<TreeFile>,
    pub gitlinks: Vec<Gitlink>,
}

/// Lists every file of `treeish` in `repo` with `git ls-tree -r -l -z`, then
/// reads symlink targets and possible pointer files in one `cat-file --batch`.
pub fn list(repo: &Path, treeish: &str) -> Result<Listing, DatasetError> {
    let raw = run(git(repo).args(["ls-tree", "-r", "-l", "-z", "--full-tree", treeish]))?;
    let mut listing = Listing::default();
    let mut to_read: Vec<String> = Vec::new();
    // (index into files, is symlink) for entries whose blob decides their kind
    let mut pending: Vec<(usize, bool)> = Vec::new();
    for record in raw.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = std::str::from_utf8(record)
            .map_err(|_| DatasetError::Parse("non-UTF-8 path in tree".into()))?;
        let (meta, path) = record
            .split_once('\t')
            .ok_or_else(|| DatasetError::Parse(record.to_string()))?;
        let fields: Vec<&str> = meta.split_whitespace().collect();
        let [mode, kind, oid, size] = fields.as_slice() else {
            return Err(DatasetError::Parse(record.to_string()));
        };
        match (*mode, *kind) {
            ("160000", "commit") => listing.gitlinks.push(Gitlink {
                path: path.to_string(),
                commit: oid.to_string(),
            }),
            (mode, "blob") => {
                let size: u64 = size.parse().unwrap_or(0);
                let symlink = mode == "120000";
                if symlink || size <= MAX_POINTER_SIZE {
                    pending.push((listing.files.len(), symlink));
                    to_read.push(oid.to_string());
                }
                listing.files.push(TreeFile {
                    path: path.to_string(),
                    content: Content::Git {
                        oid: oid.to_string(),
                        size,
                        executable: mode == "100755",
                    },
                });
            }
            _ => {}
        }
    }
    to_read.sort_unstable();
    to_read.dedup();
    let blobs = read_small_blobs(repo, &to_read)?;
    for (index, symlink) in pending {
        let file = &mut listing.files[index];
        let Content::Git { oid, .. } = &file.content else {
            continue;
        };
        let Some(bytes) = blobs.get(oid) else {
            continue;
        };
        if symlink {
            file.content = match key_from_link_target(bytes) {
                Some(key) => Content::Annexed { key },
                None => Content::Symlink {
                    target: String::from_utf8_lossy(bytes).into_owned(),
                },
            };
        } else if let Some(key) = key_from_pointer(bytes) {
            file.content = Content::Annexed { key };
        }
    }
    Ok(listing)
}

/// `path → url` of the subdatasets recorded in `.gitmodules` of `treeish`.
pub fn submodule_urls(repo: &Path, treeish: &str) -> Result<Vec<(String, String)>, DatasetError> {
    let spec = format!("{treeish}:.gitmodules");
    let Ok(out) = run(git(repo).args(["config", "--blob", &spec, "--list"])) else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&out);
    let mut paths: Vec<(String, String)> = Vec::new();
    let mut urls: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some(rest) = key.strip_prefix("submodule.") else {
            continue;
        };
        if let Some(name) = rest.strip_suffix(".path") {
            paths.push((name.to_string(), value.to_string()));
        } else if let Some(name) = rest.strip_suffix(".url") {
            urls.push((name.to_string(), value.to_string()));
        }
    }
    Ok(paths
        .into_iter()
        .filter_map(|(name, path)| {
            urls.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, url)| (path, url.clone()))
        })
        .collect())
}
