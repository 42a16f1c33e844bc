//! What the user names as SOURCE: a local dataset path, a git URL, or a
//! service (`s3://`, a DOI, a Figshare article, a GitHub release) that the
//! cache imports (see [`super::service`]).

use super::DatasetError;
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

/// A dataset location in the one spelling used as the cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    text: String,
    local: bool,
    service: bool,
}

impl Source {
    /// Local paths become absolute and canonical; `///NAME` is DataLad's
    /// shorthand for datasets.datalad.org; anything with a scheme or an
    /// `host:path` form is a URL and is kept as given (minus a trailing `/`).
    pub fn parse(input: &str) -> Result<Source, DatasetError> {
        let input = input.trim();
        let hints = super::ServiceHints::default();
        if super::ServiceSource::parse(input, &hints)?.is_some() {
            return Ok(Source {
                text: input.trim_end_matches('/').to_string(),
                local: false,
                service: true,
            });
        }
        if let Some(rest) = input.strip_prefix("///") {
            return Ok(Source::url(format!("https://datasets.datalad.org/{rest}")));
        }
        if looks_like_url(input) {
            return Ok(Source::url(input.to_string()));
        }
        let path = Path::new(input);
        if !path.is_dir() {
            return Err(DatasetError::NoSuchSource(input.to_string()));
        }
        let canonical = path.canonicalize().map_err(|e| DatasetError::io(path, e))?;
        // Said here, not as git clone's "repository does not exist" about
        // a folder that does exist.
        let bare = canonical.join("HEAD").is_file() && canonical.join("objects").is_dir();
        if !canonical.join(".git").exists() && !bare {
            return Err(DatasetError::NotADataset(input.to_string()));
        }
        Ok(Source {
            text: canonical.to_string_lossy().into_owned(),
            local: true,
            service: false,
        })
    }

    fn url(text: String) -> Source {
        Source {
            text: text.trim_end_matches('/').to_string(),
            local: false,
            service: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_local(&self) -> bool {
        self.local
    }

    /// A service whose listing the cache imports instead of cloning.
    pub fn is_service(&self) -> bool {
        self.service
    }

    /// A short readable name plus a hash, unique per source: `ds004712-1a2b3c4d5e6f`.
    pub fn cache_name(&self) -> String {
        let last = self
            .text
            .trim_end_matches(".git")
            .rsplit(['/', ':'])
            .find(|s| !s.is_empty())
            .unwrap_or("dataset");
        let slug: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let digest = hex::encode(Sha256::digest(self.text.as_bytes()));
        format!("{slug}-{}", &digest[..12])
    }

    /// Resolves a subdataset URL recorded in `.gitmodules`, which DataLad
    /// usually writes relative to the superdataset (`./derivatives/x`).
    pub fn join(&self, url: &str) -> Result<Source, DatasetError> {
        if !(url.starts_with("./") || url.starts_with("../")) {
            return Source::parse(url);
        }
        if self.local {
            let joined = normalise(&Path::new(&self.text).join(url));
            return Source::parse(&joined.to_string_lossy());
        }
        let mut parts: Vec<&str> = self.text.split('/').collect();
        for piece in url.split('/') {
            match piece {
                "." | "" => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        Ok(Source::url(parts.join("/")))
    }
}

fn looks_like_url(input: &str) -> bool {
    if input.contains("://") {
        return true;
    }
    // scp-like `user@host:path`, but not a Windows-ish `C:` or a local path with a colon.
    match input.split_once(':') {
        Some((host, _)) => host.contains('@') && !host.contains('/'),
        None => false,
    }
}

/// Lexical `..` removal, so that a missing path still gets a clear error.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_shorthands() {
        let s = Source::parse("https://github.com/OpenNeuroDatasets/ds004712.git/").unwrap();
        assert_eq!(
            s.as_str(),
            "https://github.com/OpenNeuroDatasets/ds004712.git"
        );
        assert!(s.cache_name().starts_with("ds004712-"));
        let d = Source::parse("///openneuro/ds000001").unwrap();
        assert_eq!(
            d.as_str(),
            "https://datasets.datalad.org/openneuro/ds000001"
        );
        assert!(Source::parse("git@github.com:a/b")
            .unwrap()
            .as_str()
            .contains('@'));
        assert!(Source::parse("/nonexistent/dir/x").is_err());
    }

    #[test]
    fn relative_subdataset_urls() {
        let s = Source::parse("https://host/a/ds").unwrap();
        assert_eq!(
            s.join("./derivatives/x").unwrap().as_str(),
            "https://host/a/ds/derivatives/x"
        );
        assert_eq!(s.join("../other").unwrap().as_str(), "https://host/a/other");
    }

    #[test]
    fn local_paths_are_canonical() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let a = Source::parse(dir.path().to_str().unwrap()).unwrap();
        let b = Source::parse(&format!("{}/.", dir.path().display())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cache_name(), b.cache_name());
    }

    #[test]
    fn a_folder_without_git_is_not_a_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let err = Source::parse(dir.path().to_str().unwrap()).unwrap_err();
        assert!(matches!(err, DatasetError::NotADataset(_)), "{err:?}");
    }
}
