//! Which URLs name a Figshare file or article.
//!
//! Recognised forms, on `figshare.com` (and its subdomains) or on the
//! remote's own API host (`api=`, e.g. a test server):
//! - `https://figshare.com/ndownloader/files/ID` and
//!   `https://ndownloader.figshare.com/files/ID` (the browser download
//!   path, which answers non-browsers with a WAF challenge: annexa never
//!   downloads from it, it fetches the same file through the API);
//! - `{api}/file/download/ID` (the API download endpoint);
//! - `https://figshare.com/articles/TYPE/SLUG/ID[/VERSION]` and
//!   `https://figshare.com/articles/ID[/VERSION]` (an article: every file);
//! - `{api}/articles/ID[/versions/VERSION]`.

use async_trait::async_trait;
use url::Url;

use super::{FigshareRemote, FsFile};
use crate::providers::service_api::{path_below, segments_below};
use crate::providers::token::same_origin;
use crate::providers::{ProviderError, Result, UrlCheck, UrlEntry, UrlTargets};

/// What a claimed URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsUrl {
    File(u64),
    Article { id: u64, version: Option<u64> },
}

fn is_figshare_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "figshare.com" || h.ends_with(".figshare.com")
}

/// The file or article `url` names, if it is a Figshare URL (or one of the
/// API at `api`).
pub fn parse(url: &str, api: &Url) -> Option<FsUrl> {
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?;
    if !same_origin(api, &parsed) && !is_figshare_host(host) {
        return None;
    }
    // The API's own paths, below its base path (e.g. /v2), on its own
    // origin or on the public API's host.
    let (segments, below) = segments_below(api, &parsed);
    let below = below.or_else(|| {
        host.eq_ignore_ascii_case("api.figshare.com")
            .then(|| path_below(api, &segments))
            .flatten()
    });
    if let Some(rest) = below {
        match rest.as_slice() {
            ["file", "download", id] => return id.parse().ok().map(FsUrl::File),
            ["articles", id] => {
                return id
                    .parse()
                    .ok()
                    .map(|id| FsUrl::Article { id, version: None })
            }
            ["articles", id, "versions", v] => {
                return Some(FsUrl::Article {
                    id: id.parse().ok()?,
                    version: Some(v.parse().ok()?),
                })
            }
            _ => {}
        }
    }
    match segments.as_slice() {
        ["ndownloader", "files", id] => id.parse().ok().map(FsUrl::File),
        ["files", id] if host.eq_ignore_ascii_case("ndownloader.figshare.com") => {
            id.parse().ok().map(FsUrl::File)
        }
        ["articles", rest @ ..] if !rest.is_empty() => {
            let numbers: Vec<u64> = rest
                .iter()
                .rev()
                .map_while(|s| s.parse::<u64>().ok())
                .collect();
            match numbers.as_slice() {
                // /ID/VERSION: versions are small numbers, ids are not.
                [version, id, ..] if *version < 10_000 => Some(FsUrl::Article {
                    id: *id,
                    version: Some(*version),
                }),
                [id, ..] => Some(FsUrl::Article {
                    id: *id,
                    version: None,
                }),
                [] => None,
            }
        }
        _ => None,
    }
}

#[async_trait]
impl UrlTargets for FigshareRemote {
    type Target = FsUrl;

    fn parse_url(&self, url: &str) -> Option<FsUrl> {
        parse(url, self.api.base())
    }

    fn claimed_urls(&self) -> String {
        "a Figshare file or article URL".into()
    }

    async fn check_target(&self, target: FsUrl) -> Result<UrlCheck> {
        match target {
            FsUrl::File(id) => {
                if self.api.has_token() {
                    match self.api.file(id).await {
                        Ok(f) => {
                            return Ok(UrlCheck::Contents {
                                size: Some(f.size),
                                filename: Some(f.name),
                            })
                        }
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if self.api.probe(id).await? {
                    Ok(UrlCheck::Contents {
                        size: None,
                        filename: None,
                    })
                } else {
                    Err(ProviderError::not_found(format!(
                        "Figshare file {id} was not found"
                    )))
                }
            }
            FsUrl::Article { id, version } => {
                let files = if id == self.api.article() && version.is_none() && self.api.has_token()
                {
                    self.api
                        .files()
                        .await?
                        .into_iter()
                        .filter(FsFile::is_available)
                        .collect()
                } else {
                    self.api.public_files(id, version).await?
                };
                let entries: Vec<UrlEntry> = files
                    .into_iter()
                    .filter(|f| !f.is_link_only)
                    .map(|f| UrlEntry {
                        url: self.api.download_url(f.id).to_string(),
                        size: Some(f.size),
                        filename: f.name,
                    })
                    .collect();
                if entries.is_empty() {
                    return Err(ProviderError::not_found(format!(
                        "article {id} has no files to download"
                    )));
                }
                Ok(UrlCheck::Multi(entries))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::assert_unclaimed;

    fn p(url: &str) -> Option<FsUrl> {
        parse(url, &Url::parse("https://api.figshare.com/v2").unwrap())
    }

    #[test]
    fn forms() {
        let article = |id, version| Some(FsUrl::Article { id, version });
        for (url, want) in [
            (
                "https://figshare.com/ndownloader/files/123",
                Some(FsUrl::File(123)),
            ),
            (
                "https://ndownloader.figshare.com/files/123",
                Some(FsUrl::File(123)),
            ),
            (
                "https://api.figshare.com/v2/file/download/77",
                Some(FsUrl::File(77)),
            ),
            (
                "https://figshare.com/articles/dataset/Some_atlas/12345678/2",
                article(12345678, Some(2)),
            ),
            (
                "https://figshare.com/articles/dataset/Some_atlas/12345678",
                article(12345678, None),
            ),
            (
                "https://figshare.com/articles/12345678",
                article(12345678, None),
            ),
            (
                "https://api.figshare.com/v2/articles/5/versions/3",
                article(5, Some(3)),
            ),
        ] {
            assert_eq!(p(url), want, "{url}");
        }
        let local = Url::parse("http://127.0.0.1:8080/v2").unwrap();
        for url in [
            "http://127.0.0.1:8080/v2/file/download/9",
            "http://127.0.0.1:8080/ndownloader/files/9",
        ] {
            assert_eq!(parse(url, &local), Some(FsUrl::File(9)), "{url}");
        }
        // The same path on another port is another server's.
        assert_unclaimed(
            |url| parse(url, &local),
            &["http://127.0.0.1:9999/v2/file/download/9"],
        );
    }

    #[test]
    fn foreign_urls_are_not_claimed() {
        let foreign = [
            "https://example.org/ndownloader/files/123",
            "https://figshare.com.evil.org/ndownloader/files/1",
            "https://figshare.com/ndownloader/files/abc",
            "https://figshare.com/articles/",
            "https://figshare.com/search?q=1",
            "ftp://figshare.com/ndownloader/files/1",
            "not a url",
        ];
        assert_unclaimed(p, &foreign);
    }
}
