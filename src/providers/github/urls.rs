//! URL mode: release asset and release page URLs on the web host are
//! claimed and read through the API.

use async_trait::async_trait;
use url::Url;

use super::{GithubRemote, Repo};
use crate::providers::{ProviderError, Result, UrlCheck, UrlEntry, UrlTargets};

/// What a release URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseUrl {
    /// `.../OWNER/REPO/releases/download/TAG/NAME`
    Asset {
        repo: Repo,
        tag: String,
        name: String,
    },
    /// `.../OWNER/REPO/releases/tag/TAG`
    Page { repo: Repo, tag: String },
}

/// Parses a release URL on the `web` host.
pub(super) fn parse_url(web: &Url, text: &str) -> Option<ReleaseUrl> {
    let url = Url::parse(text).ok()?;
    if !crate::providers::token::same_origin(web, &url) {
        return None;
    }
    let base = web.path().trim_end_matches('/');
    let rest = url.path().strip_prefix(base)?.strip_prefix('/')?;
    let segments: Vec<String> = rest
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
        })
        .collect::<Result<_, _>>()
        .ok()?;
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match seg.as_slice() {
        [owner, name, "releases", "download", tag, asset]
            if !tag.is_empty() && !asset.is_empty() =>
        {
            Some(ReleaseUrl::Asset {
                repo: Repo::parse(&format!("{owner}/{name}"))?,
                tag: tag.to_string(),
                name: asset.to_string(),
            })
        }
        [owner, name, "releases", "tag", tag] if !tag.is_empty() => Some(ReleaseUrl::Page {
            repo: Repo::parse(&format!("{owner}/{name}"))?,
            tag: tag.to_string(),
        }),
        _ => None,
    }
}

pub(super) fn download_url(web: &Url, repo: &Repo, tag: &str, name: &str) -> String {
    let mut url = web.clone();
    if let Ok(mut s) = url.path_segments_mut() {
        s.pop_if_empty().extend([
            repo.owner.as_str(),
            repo.name.as_str(),
            "releases",
            "download",
            tag,
            name,
        ]);
    }
    url.to_string()
}

#[async_trait]
impl UrlTargets for GithubRemote {
    type Target = ReleaseUrl;

    fn parse_url(&self, url: &str) -> Option<ReleaseUrl> {
        parse_url(&self.web, url)
    }

    fn claimed_urls(&self) -> String {
        "a release URL".into()
    }

    async fn check_target(&self, parsed: ReleaseUrl) -> Result<UrlCheck> {
        let (repo, tag) = match &parsed {
            ReleaseUrl::Asset { repo, tag, .. } | ReleaseUrl::Page { repo, tag } => (repo, tag),
        };
        let release = self
            .api
            .find_release(repo, tag)
            .await?
            .ok_or_else(|| ProviderError::not_found(format!("{repo} has no release {tag}")))?;
        match &parsed {
            ReleaseUrl::Asset { name, .. } => {
                let asset = release.asset(name).ok_or_else(|| {
                    ProviderError::not_found(format!("release {tag} of {repo} has no asset {name}"))
                })?;
                Ok(UrlCheck::Contents {
                    size: Some(asset.size),
                    filename: Some(asset.name.clone()),
                })
            }
            ReleaseUrl::Page { .. } => {
                // The paged listing: the release's embedded list is not
                // documented to be complete for large releases.
                let mut entries = Vec::new();
                self.api
                    .assets_each(repo, release.id, &mut |a| {
                        if a.uploaded() {
                            entries.push(UrlEntry {
                                url: download_url(&self.web, repo, tag, &a.name),
                                size: Some(a.size),
                                filename: a.name.clone(),
                            });
                        }
                        Ok(())
                    })
                    .await?;
                Ok(UrlCheck::Multi(entries))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_urls() {
        let web = Url::parse("https://github.com").unwrap();
        let repo = Repo::parse("o/r").unwrap();
        assert_eq!(
            parse_url(
                &web,
                "https://github.com/o/r/releases/download/v1/a%20b.zip"
            ),
            Some(ReleaseUrl::Asset {
                repo: repo.clone(),
                tag: "v1".into(),
                name: "a b.zip".into()
            })
        );
        assert_eq!(
            parse_url(&web, "https://github.com/o/r/releases/tag/v1"),
            Some(ReleaseUrl::Page {
                repo: repo.clone(),
                tag: "v1".into()
            })
        );
        for other in [
            "https://github.com/o/r",
            "https://example.com/o/r/releases/tag/v1",
            "http://github.com/o/r/releases/tag/v1",
            "https://github.com/o/r/releases/download/v1/",
        ] {
            assert_eq!(parse_url(&web, other), None, "{other}");
        }
        assert_eq!(
            download_url(&web, &repo, "v1", "x.bin"),
            "https://github.com/o/r/releases/download/v1/x.bin"
        );
        let fake = Url::parse("http://127.0.0.1:8000/").unwrap();
        assert!(parse_url(&fake, "http://127.0.0.1:8000/o/r/releases/tag/v1").is_some());
    }
}
