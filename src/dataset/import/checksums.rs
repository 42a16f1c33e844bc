//! `--manifest FILE`: checksums for files the service publishes none
//! for, so they are keyed without downloading them.

use std::collections::HashMap;
use std::path::Path;

use crate::dataset::DatasetError;
use crate::transfer::{Algorithm, Expected};

/// Checksums from a manifest, by path: `size,sha1,path` or
/// `path,size,sha256` rows (a header row is allowed).
pub(super) type Manifest = HashMap<String, (u64, Expected)>;

pub(super) fn read_manifest(path: &Path) -> Result<Manifest, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|source| DatasetError::ChecksumFile {
            path: path.to_path_buf(),
            source,
        })?;
    let mut out = Manifest::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|source| DatasetError::ChecksumFile {
            path: path.to_path_buf(),
            source,
        })?;
        let fields: Vec<&str> = row.iter().collect();
        let hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
        };
        let parsed = match fields.as_slice() {
            [size, sha1, file] if size.parse::<u64>().is_ok() && hex(sha1, 40) => Some((
                file.to_string(),
                size.parse().unwrap_or(0),
                Expected::new(Algorithm::Sha1, &sha1.to_ascii_lowercase()),
            )),
            [file, size, sha256] if size.parse::<u64>().is_ok() && hex(sha256, 64) => Some((
                file.to_string(),
                size.parse().unwrap_or(0),
                Expected::new(Algorithm::Sha256, &sha256.to_ascii_lowercase()),
            )),
            _ => None,
        };
        match parsed {
            Some((file, size, checksum)) => {
                let file = file.trim_start_matches("./").to_string();
                out.insert(file, (size, checksum));
            }
            // A header row.
            None if n == 0 => {}
            None => {
                return Err(DatasetError::ChecksumRow {
                    path: path.to_path_buf(),
                    row: n + 1,
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("m.csv");
        let sha1 = "a".repeat(40);
        let sha256 = "B".repeat(64);
        std::fs::write(
            &csv_path,
            format!("size,sha1,path\n5,{sha1},a/x.txt\n\"b, c.txt\",7,{sha256}\n"),
        )
        .unwrap();
        let m = read_manifest(&csv_path).unwrap();
        assert_eq!(m["a/x.txt"].0, 5);
        assert_eq!(m["a/x.txt"].1.algorithm, Algorithm::Sha1);
        assert_eq!(m["b, c.txt"].1.hex, "b".repeat(64));
        std::fs::write(&csv_path, "x,y,z\n1,2,3\n").unwrap();
        assert!(read_manifest(&csv_path).is_err());
    }
}
