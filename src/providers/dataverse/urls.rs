//! Which URLs name a file of this remote's Dataverse installation.
//!
//! Recognised forms (with or without `/api/v1`):
//! - `{url}/api/access/datafile/{id}`
//! - `{url}/api/access/datafile/:persistentId?persistentId=doi:...`
//! - `{url}/file.xhtml?persistentId=doi:...` (a file's landing page)
//! - `{url}/file.xhtml?fileId={id}`
//! - a bare file PID `doi:...`/`hdl:...` inside this remote's dataset
//!   (file PIDs extend the dataset's, e.g. `doi:10.5072/FK2/ABC/XYZ`).

use async_trait::async_trait;
use url::Url;

use super::api::FileRef;
use super::DataverseRemote;
use crate::providers::{Result, UrlCheck, UrlTargets};

/// The file a URL names, if it belongs to the installation at `base`
/// (or is a PID inside `dataset_pid`).
pub fn parse(url: &str, base: &Url, dataset_pid: &str) -> Option<FileRef> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("doi:") || lower.starts_with("hdl:") {
        let prefix = format!("{}/", dataset_pid.to_ascii_lowercase());
        return (lower.starts_with(&prefix) && url.len() > prefix.len())
            .then(|| FileRef::Pid(url.to_string()));
    }
    let parsed = Url::parse(url).ok()?;
    if parsed.scheme() != base.scheme()
        || parsed.host_str() != base.host_str()
        || parsed.port_or_known_default() != base.port_or_known_default()
    {
        return None;
    }
    let base_path = base.path().trim_end_matches('/');
    let rest = parsed.path().strip_prefix(base_path)?;
    let rest = rest
        .strip_prefix("/api/v1/")
        .or_else(|| rest.strip_prefix("/api/"));
    let query = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match rest {
        Some(api) => {
            let target = api.strip_prefix("access/datafile/")?;
            if target == ":persistentId" {
                query("persistentId").map(FileRef::Pid)
            } else {
                target.parse().ok().map(FileRef::Id)
            }
        }
        None if parsed.path().strip_prefix(base_path) == Some("/file.xhtml") => {
            if let Some(pid) = query("persistentId") {
                Some(FileRef::Pid(pid))
            } else {
                query("fileId")?.parse().ok().map(FileRef::Id)
            }
        }
        None => None,
    }
}

#[async_trait]
impl UrlTargets for DataverseRemote {
    type Target = FileRef;

    fn parse_url(&self, url: &str) -> Option<FileRef> {
        parse(url, self.api.base(), self.api.pid())
    }

    fn claimed_urls(&self) -> String {
        format!("a Dataverse file URL of {}", self.api.base())
    }

    async fn check_target(&self, file: FileRef) -> Result<UrlCheck> {
        match self.api.file(&file).await {
            Ok(meta) => {
                let name = match (
                    &meta.data_file.original_file_name,
                    meta.data_file.tabular_data,
                ) {
                    (Some(orig), true) => orig.clone(),
                    _ => meta.label.clone(),
                };
                Ok(UrlCheck::Contents {
                    size: meta.data_file.content_size(),
                    filename: Some(name),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::assert_unclaimed;

    const DS: &str = "doi:10.5072/FK2/ABC";

    fn p(url: &str) -> Option<FileRef> {
        parse(url, &Url::parse("https://dv.example.org/").unwrap(), DS)
    }

    #[test]
    fn forms() {
        let x1 = || Some(FileRef::Pid("doi:10.5072/FK2/ABC/X1".into()));
        for (url, want) in [
            ("https://dv.example.org/api/access/datafile/42", Some(FileRef::Id(42))),
            ("https://dv.example.org/api/v1/access/datafile/42?format=original", Some(FileRef::Id(42))),
            ("https://dv.example.org/api/access/datafile/:persistentId?persistentId=doi:10.5072/FK2/ABC/X1", x1()),
            ("https://dv.example.org/file.xhtml?persistentId=doi:10.5072/FK2/ABC/X1&version=1.0", x1()),
            ("doi:10.5072/FK2/ABC/X1", x1()),
        ] {
            assert_eq!(p(url), want, "{url}");
        }
    }

    #[test]
    fn foreign_urls_are_not_claimed() {
        let foreign = [
            "https://other.example.org/api/access/datafile/42",
            "http://dv.example.org/api/access/datafile/42",
            "https://dv.example.org/api/datasets/42",
            "https://dv.example.org/api/access/datafile/abc",
            "doi:10.5072/FK2/OTHER/X1",
            "doi:10.5072/FK2/ABC",
            "not a url",
        ];
        assert_unclaimed(p, &foreign);
    }
}
