//! A record of what `annexa get` delivered, and checking a copy against it.
//!
//! One JSON object per line: `{"path", "size", "checksum", "key", "url"}`
//! (`url`: where the content came from, when the dataset records one, as
//! imported sources always do), sorted
//! by path, so the manifests of shards merge by concatenating and sorting.
//! The checksum is the one the annex key already carries (`SHA-256:…`,
//! `MD5:…`), so writing a manifest reads no file again; files without one
//! (git-stored files, keys of non-hashing backends) are hashed with SHA-256
//! once. Git-stored files use their content's SHA-256 too, never git's id.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::materialize::target_path;
use super::resolve::Resolved;
use super::tree::Content;
use super::DatasetError;
use crate::key::Key;
use crate::transfer::{Algorithm, Expected};

/// One delivered file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    /// `ALGORITHM:hex`, e.g. `SHA-256:9f86d0…`.
    pub checksum: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// A URL the content can be downloaded from (the source's own, for
    /// imported sources).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// Writes the manifest of the selected files this run delivered under `to`
/// (`delivered`: written, or found in place with the right content; still
/// regular files of the expected size); returns how many it lists. A file
/// the run did not vouch for (one that failed, a stale one) is never
/// listed, so the manifest never records a checksum for other bytes.
pub fn write(
    resolved: &Resolved,
    to: &Path,
    manifest: &Path,
    delivered: &std::collections::HashSet<&str>,
) -> Result<usize, DatasetError> {
    let mut entries = Vec::new();
    let mut keys_by_dataset: Vec<Vec<String>> = vec![Vec::new(); resolved.datasets.len()];
    for &(index, _) in &resolved.selection {
        let file = &resolved.files[index];
        if let Content::Annexed { key } = &file.content {
            keys_by_dataset[file.dataset].push(key.clone());
        }
    }
    let urls: Vec<std::collections::HashMap<String, String>> = keys_by_dataset
        .iter()
        .zip(&resolved.datasets)
        .map(|(keys, dataset)| super::import::recorded_urls(&dataset.repo, keys))
        .collect::<Result<_, _>>()?;
    for &(index, _) in &resolved.selection {
        let file = &resolved.files[index];
        let (key, expected_size) = match &file.content {
            Content::Annexed { key } => (
                Some(key.as_str()),
                Key::parse(key).ok().and_then(|k| k.size()),
            ),
            Content::Git { size, .. } => (None, Some(*size)),
            // Recreated links carry no content of their own.
            Content::Symlink { .. } => continue,
        };
        if !delivered.contains(file.path.as_str()) {
            continue;
        }
        let dest = target_path(to, &file.path)?;
        let Ok(meta) = std::fs::symlink_metadata(&dest) else {
            continue;
        };
        if !meta.is_file() || expected_size.is_some_and(|s| s != meta.len()) {
            continue;
        }
        let known = key
            .and_then(|k| Key::parse(k).ok())
            .and_then(|k| k.checksum());
        let checksum = match known {
            Some(expected) => expected,
            None => Expected::new(Algorithm::Sha256, &hash_file(&dest, Algorithm::Sha256)?),
        };
        entries.push(Entry {
            path: file.path.clone(),
            size: meta.len(),
            checksum: format!("{}:{}", checksum.algorithm, checksum.hex),
            key: key.map(str::to_string),
            url: key.and_then(|k| {
                urls[file.dataset]
                    .get(k)
                    .or_else(|| resolved.urls.get(k))
                    .cloned()
            }),
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    // Written beside, then renamed: a manifest is never half there.
    let tmp = manifest.with_extension("annexa-part");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&tmp).map_err(|e| DatasetError::io(&tmp, e))?,
    );
    for entry in &entries {
        let line = serde_json::to_string(entry).map_err(|e| DatasetError::Parse(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| DatasetError::io(&tmp, e))?;
    }
    out.flush().map_err(|e| DatasetError::io(&tmp, e))?;
    drop(out);
    std::fs::rename(&tmp, manifest).map_err(|e| DatasetError::io(manifest, e))?;
    Ok(entries.len())
}

/// What `verify` found for one manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Finding {
    Ok {
        path: String,
    },
    Missing {
        path: String,
    },
    /// Not a regular file (a link, a folder).
    NotAFile {
        path: String,
    },
    Changed {
        path: String,
        why: String,
    },
}

impl Finding {
    pub fn is_ok(&self) -> bool {
        matches!(self, Finding::Ok { .. })
    }
}

/// Checks every file the manifest lists under `dir`: present, a regular
/// file, of its size and checksum.
pub fn verify(dir: &Path, manifest: &Path) -> Result<Vec<Finding>, DatasetError> {
    let file = std::fs::File::open(manifest).map_err(|e| DatasetError::io(manifest, e))?;
    let mut findings = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| DatasetError::io(manifest, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line).map_err(|e| {
            DatasetError::Parse(format!("{} line {}: {e}", manifest.display(), n + 1))
        })?;
        findings.push(check(dir, &entry)?);
    }
    Ok(findings)
}

fn check(dir: &Path, entry: &Entry) -> Result<Finding, DatasetError> {
    let path = entry.path.clone();
    let dest: PathBuf = match target_path(dir, &entry.path) {
        Ok(dest) => dest,
        Err(_) => return Ok(Finding::NotAFile { path }),
    };
    let meta = match std::fs::symlink_metadata(&dest) {
        Ok(meta) => meta,
        Err(_) => return Ok(Finding::Missing { path }),
    };
    if !meta.is_file() {
        return Ok(Finding::NotAFile { path });
    }
    if meta.len() != entry.size {
        return Ok(Finding::Changed {
            path,
            why: format!("size {} instead of {}", meta.len(), entry.size),
        });
    }
    let Some((name, hex)) = entry.checksum.split_once(':') else {
        return Err(DatasetError::Parse(format!(
            "checksum {:?} of {path} is not ALGORITHM:HEX",
            entry.checksum
        )));
    };
    let Some(algorithm) = Algorithm::from_name(name) else {
        return Err(DatasetError::Parse(format!(
            "unknown checksum algorithm {name:?} for {path}"
        )));
    };
    let got = hash_file(&dest, algorithm)?;
    Ok(if got.eq_ignore_ascii_case(hex) {
        Finding::Ok { path }
    } else {
        Finding::Changed {
            path,
            why: format!("{algorithm} differs"),
        }
    })
}

/// Streams a file through a hasher; memory does not grow with its size.
fn hash_file(path: &Path, algorithm: Algorithm) -> Result<String, DatasetError> {
    crate::transfer::hash_file_blocking(path, algorithm, 0, None)
        .map(|(_, hex)| hex)
        .map_err(|e| DatasetError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_finds_changed_missing_and_linked_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("copy");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/one.txt"), b"one").unwrap();
        std::fs::write(root.join("two.txt"), b"two").unwrap();
        std::fs::write(root.join("three.txt"), b"three").unwrap();
        let entry = |path: &str, data: &[u8]| Entry {
            path: path.into(),
            size: data.len() as u64,
            checksum: format!("SHA-256:{}", {
                let mut h = Algorithm::Sha256.hasher();
                h.update(data);
                h.finish_hex()
            }),
            key: None,
            url: None,
        };
        let manifest = dir.path().join("m.jsonl");
        let lines: Vec<String> = [
            entry("a/one.txt", b"one"),
            entry("two.txt", b"two"),
            entry("three.txt", b"three"),
            entry("four.txt", b"four"),
        ]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
        std::fs::write(&manifest, lines.join("\n")).unwrap();
        // Same size, other bytes; and a link in place of a file.
        std::fs::write(root.join("two.txt"), b"TWO").unwrap();
        std::fs::remove_file(root.join("three.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("a/one.txt"), root.join("three.txt")).unwrap();
        let found = verify(&root, &manifest).unwrap();
        assert!(found[0].is_ok(), "{found:?}");
        assert!(matches!(found[1], Finding::Changed { .. }), "{found:?}");
        assert!(matches!(found[2], Finding::NotAFile { .. }), "{found:?}");
        assert!(matches!(found[3], Finding::Missing { .. }), "{found:?}");
    }
}
