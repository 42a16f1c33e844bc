//! Streaming checksums in the algorithms the services record.

use md5::Digest;

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Parses the names services use ("MD5", "SHA-1", "sha256", ...).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "md5" => Some(Self::Md5),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Self::Md5 => Hasher::Md5(md5::Md5::new()),
            Self::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha512 => "SHA-512",
        })
    }
}

/// A checksum the content must match, as lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub algorithm: Algorithm,
    pub hex: String,
}

impl Expected {
    pub fn new(algorithm: Algorithm, hex: &str) -> Self {
        Self {
            algorithm,
            hex: hex.trim().to_ascii_lowercase(),
        }
    }
}

/// An incremental hasher of any supported algorithm.
#[derive(Clone)]
pub enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Md5(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    /// The digest as lower-case hex.
    pub fn finish_hex(self) -> String {
        match self {
            Self::Md5(h) => hex::encode(h.finalize()),
            Self::Sha1(h) => hex::encode(h.finalize()),
            Self::Sha256(h) => hex::encode(h.finalize()),
            Self::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// The digest of a file's bytes `start..start+len` (`len: None`: to the
/// end), read in blocks so memory does not grow with the file; with the
/// number of bytes hashed. The one place a file is hashed.
pub fn hash_file_blocking(
    path: &std::path::Path,
    algorithm: Algorithm,
    start: u64,
    len: Option<u64>,
) -> std::io::Result<(u64, String)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let mut reader: Box<dyn Read> = match len {
        Some(len) => Box::new(file.take(len)),
        None => Box::new(file),
    };
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hasher.finish_hex()))
}

/// [`hash_file_blocking`] of a whole file, off the async threads.
pub async fn hash_file(path: &std::path::Path, algorithm: Algorithm) -> std::io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || hash_file_blocking(&path, algorithm, 0, None))
        .await
        .map_err(std::io::Error::other)?
        .map(|(_, hex)| hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let cases = [
            (Algorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (Algorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                Algorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
        ];
        for (algorithm, want) in cases {
            let mut h = algorithm.hasher();
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finish_hex(), want, "{algorithm}");
        }
    }

    #[test]
    fn files_and_ranges_hash_like_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"xxabcyy").unwrap();
        let (n, hex) = hash_file_blocking(&path, Algorithm::Md5, 2, Some(3)).unwrap();
        assert_eq!((n, hex.as_str()), (3, "900150983cd24fb0d6963f7d28e17f72"));
        let (n, _) = hash_file_blocking(&path, Algorithm::Md5, 0, None).unwrap();
        assert_eq!(n, 7);
    }

    #[test]
    fn names() {
        assert_eq!(Algorithm::from_name("SHA-1"), Some(Algorithm::Sha1));
        assert_eq!(Algorithm::from_name("sha512"), Some(Algorithm::Sha512));
        assert_eq!(Algorithm::from_name("crc32"), None);
    }
}
