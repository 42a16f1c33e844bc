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
        let source = Source::parse_any(input)?;
        if source.local && !is_dataset(Path::new(&source.text)) {
            // Said here, not as git clone's "repository does not exist"
            // about a folder that does exist.
            return Err(DatasetError::NotADataset(input.trim().to_string()));
        }
        Ok(source)
    }

    /// [`Source::parse`] without the check that a local folder is a dataset
    /// (a subdataset's folder is checked with its own message).
    fn parse_any(input: &str) -> Result<Source, DatasetError> {
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
        Ok(Source {
            text: canonical.to_string_lossy().into_owned(),
            local: true,
            service: false,
        })
    }

    /// A subdataset of this (local) superdataset: its folder must hold an
    /// installed dataset, else the advice is to install it, not to create one.
    fn local_subdataset(&self, path: &str) -> Result<Source, DatasetError> {
        let source = Source::parse_any(path)?;
        if source.local && !is_dataset(Path::new(&source.text)) {
            return Err(DatasetError::SubdatasetNotInstalled {
                path: source.text,
                superdataset: self.text.clone(),
            });
        }
        Ok(source)
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
    ///
    /// The URL is data (docs/security.md): it is only ever a git URL to
    /// clone. A service address (`s3://`, a DOI, a Dataverse, Figshare or
    /// GitHub release page) is refused, since a service source is read
    /// through an annexa remote that may carry the user's tokens; so is a
    /// local path outside a relative one, unless the superdataset is local
    /// and git's `protocol.file.allow` is `always` (git's own rule for
    /// submodules).
    pub fn join(&self, url: &str) -> Result<Source, DatasetError> {
        let refuse = |why: &'static str| DatasetError::RefusedUrl {
            url: url.to_string(),
            why,
        };
        if url.chars().any(char::is_control) {
            return Err(refuse("it holds a control character"));
        }
        let hints = super::ServiceHints::default();
        if !matches!(super::ServiceSource::parse(url.trim(), &hints), Ok(None)) {
            return Err(refuse(
                "it names a service; annexa reads a service only when you name it",
            ));
        }
        let relative = url.starts_with("./") || url.starts_with("../");
        if !relative {
            let local_path =
                url.starts_with("file:") || !(looks_like_url(url) || url.starts_with("///"));
            if local_path && !(self.local && file_protocol_allowed(&self.text)) {
                return Err(refuse(
                    "it is a local path (allowed only below a local superdataset, \
                     with git config protocol.file.allow=always)",
                ));
            }
            let parsed = self.local_subdataset(url.strip_prefix("file://").unwrap_or(url))?;
            // Source::parse may still read a service from some spelling.
            return if parsed.is_service() {
                Err(refuse(
                    "it names a service; annexa reads a service only when you name it",
                ))
            } else {
                Ok(parsed)
            };
        }
        if self.local {
            let joined = normalise(&Path::new(&self.text).join(url));
            let parsed = self.local_subdataset(&joined.to_string_lossy())?;
            if parsed.is_service() {
                return Err(refuse("it names a service"));
            }
            return Ok(parsed);
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

/// git's own switch for local submodule URLs: `always` lets them through.
fn file_protocol_allowed(superdataset: &str) -> bool {
    super::git::run(super::git::git(Path::new(superdataset)).args([
        "config",
        "--get",
        "protocol.file.allow",
    ]))
    .is_ok_and(|out| String::from_utf8_lossy(&out).trim() == "always")
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

/// A folder git can clone: a work tree with `.git`, or a bare repository.
fn is_dataset(dir: &Path) -> bool {
    let bare = dir.join("HEAD").is_file() && dir.join("objects").is_dir();
    dir.join(".git").exists() || bare
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
    fn subdataset_urls_never_name_a_service() {
        let remote = Source::parse("https://host/a/ds").unwrap();
        let local_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(local_dir.path().join(".git")).unwrap();
        let local = Source::parse(local_dir.path().to_str().unwrap()).unwrap();
        for sup in [&remote, &local] {
            for url in [
                "http://evil.example/o/r/releases/tag/v1",
                "https://evil.example/dataset.xhtml?persistentId=doi:10.5072/FK2/X",
                "http://evil.example/v2/articles/77",
                "https://figshare.com/articles/dataset/x/123",
                "s3://bucket/prefix",
                "s3://",
                "doi:10.5072/FK2/X",
                "figshare:77",
                "doi:10.5281/zenodo.1234",
                "https://zenodo.org/records/1234",
                "http://evil.example/api/records/9",
            ] {
                let err = sup.join(url).unwrap_err();
                assert!(
                    matches!(err, DatasetError::RefusedUrl { .. }),
                    "{url}: {err:?}"
                );
            }
        }
        // Git URLs stay git URLs.
        let git_url = remote.join("https://github.com/o/r.git").unwrap();
        assert!(!git_url.is_service());
        assert!(!remote.join("../other").unwrap().is_service());
    }

    #[test]
    fn local_path_subdatasets_need_a_local_superdataset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let remote = Source::parse("https://host/a/ds").unwrap();
        for url in [
            sub.to_str().unwrap().to_string(),
            format!("file://{}", sub.display()),
        ] {
            assert!(
                matches!(remote.join(&url), Err(DatasetError::RefusedUrl { .. })),
                "{url}"
            );
        }
        assert!(matches!(
            remote.join("a\nb"),
            Err(DatasetError::RefusedUrl { .. })
        ));
        // Relative URLs of a local superdataset stay allowed (DataLad's way).
        let local = Source::parse(dir.path().to_str().unwrap()).unwrap();
        // Not installed: the advice is to install it, not to create one.
        assert!(matches!(
            local.join("./sub"),
            Err(DatasetError::SubdatasetNotInstalled { .. })
        ));
        std::fs::create_dir(sub.join(".git")).unwrap();
        assert!(local.join("./sub").unwrap().is_local());
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
