//! What annexa asks of Zenodo's InvenioRDM REST API: records, drafts,
//! their files (init, content, commit), new versions and the versions
//! listing. Every request, body, retry, page and status goes through the
//! shared service-API layer; this file only knows InvenioRDM's paths and
//! JSON.

use std::ops::ControlFlow;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer};
use url::Url;

use super::urls::is_record_id;
use crate::providers::service_api::paging::{self, Cursor, Page};
use crate::providers::service_api::{DownloadTo, ServiceApi};
use crate::providers::{ProviderError, Result};
use crate::transfer::{Algorithm, Client, Expected};

/// The environment variable that holds the personal access token.
pub const TOKEN_ENV: &str = "ZENODO_TOKEN";
/// Versions asked for per page (InvenioRDM's search pages).
const PAGE: u64 = 100;

/// A number that InvenioRDM may send as an integer, a float (`89364.0` in
/// its documentation) or a string.
fn number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .unwrap_or(0),
        serde_json::Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    })
}

/// An id that InvenioRDM sends as a string and legacy Zenodo as a number.
fn id_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// One file of a record or draft, as its files listing gives it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ZFile {
    pub key: String,
    #[serde(default, deserialize_with = "number")]
    pub size: u64,
    /// `md5:<hex>` once committed.
    #[serde(default)]
    pub checksum: String,
    /// `pending` until committed, then `completed` (published files may
    /// carry none).
    #[serde(default)]
    pub status: String,
}

impl ZFile {
    pub fn is_complete(&self) -> bool {
        self.status.is_empty() || self.status == "completed"
    }

    /// The MD5 InvenioRDM computed (`md5:<hex>`); other algorithms are not
    /// trusted as keys.
    pub fn md5(&self) -> Option<Expected> {
        let (algorithm, hex) = self.checksum.split_once(':')?;
        (algorithm.eq_ignore_ascii_case("md5") && !hex.is_empty())
            .then(|| Expected::new(Algorithm::Md5, hex))
    }
}

#[derive(Debug, Deserialize)]
struct Files {
    #[serde(default)]
    entries: Vec<ZFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VersionInfo {
    #[serde(default, deserialize_with = "number")]
    pub index: u64,
}

/// A record or draft, as much of it as annexa reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ZRecord {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    #[serde(default)]
    pub is_published: bool,
    #[serde(default)]
    pub versions: VersionInfo,
    #[serde(default)]
    pub parent: Option<ParentRef>,
}

/// The concept all versions share.
#[derive(Debug, Clone, Deserialize)]
pub struct ParentRef {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
}

#[derive(Debug, Deserialize)]
struct Hits {
    #[serde(default)]
    hits: Vec<ZRecord>,
}

#[derive(Debug, Deserialize)]
struct Search {
    hits: Hits,
}

/// Where files are read: a draft's (its owner only) or a published
/// version's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Space {
    Draft(String),
    Published(String),
}

impl Space {
    pub fn record(&self) -> &str {
        match self {
            Space::Draft(id) | Space::Published(id) => id,
        }
    }
}

pub struct Api {
    api: ServiceApi,
}

impl Api {
    pub fn new(
        client: Client,
        base: Url,
        token: Option<crate::providers::token::ApiToken>,
    ) -> Self {
        Self {
            api: ServiceApi::new(client, base, token, reqwest::header::AUTHORIZATION),
        }
    }

    pub fn base(&self) -> &Url {
        self.api.base()
    }

    pub fn has_token(&self) -> bool {
        self.api.has_token()
    }

    /// The `git annex info` row about the token.
    pub fn token_row(&self) -> (String, String) {
        self.api.token_row()
    }

    fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        self.api.url_segments(segments)
    }

    fn files_url(&self, space: &Space) -> Url {
        match space {
            Space::Draft(id) => self.url(["records", id, "draft", "files"]),
            Space::Published(id) => self.url(["records", id, "files"]),
        }
    }

    /// Where the bytes of file `name` are read from.
    pub fn content_url(&self, space: &Space, name: &str) -> Url {
        let mut url = self.files_url(space);
        if let Ok(mut path) = url.path_segments_mut() {
            path.push(name).push("content");
        }
        url
    }

    fn file_url(&self, space: &Space, name: &str) -> Url {
        let mut url = self.files_url(space);
        if let Ok(mut path) = url.path_segments_mut() {
            path.push(name);
        }
        url
    }

    /// The record a redirect names (a concept id, or `versions/latest`):
    /// only its last path segment is read, so the answer's host chooses
    /// nothing; the record is then asked for at the API the user chose.
    fn redirected_id(&self, location: Option<&str>) -> Option<String> {
        let target = self.base().join(location?).ok()?;
        let id = target.path_segments()?.rfind(|s| !s.is_empty())?;
        is_record_id(id).then(|| id.to_string())
    }

    /// A published record by id, following a concept id to its latest
    /// version; `None` when there is no such published record.
    pub async fn published(&self, id: &str) -> Result<Option<ZRecord>> {
        let mut id = id.to_string();
        for _ in 0..2 {
            let url = self.url(["records", &id]);
            match self
                .api
                .get_json::<ZRecord>(|| self.api.request(Method::GET, url.clone()))
                .await
            {
                Ok(Ok((record, _))) => return Ok(Some(record)),
                Ok(Err(answer)) if answer.status.is_redirection() => {
                    let location = answer
                        .headers
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok());
                    match self.redirected_id(location) {
                        Some(next) if next != id => id = next,
                        _ => break,
                    }
                }
                Ok(Err(answer)) if answer.status == StatusCode::NOT_FOUND => return Ok(None),
                Ok(Err(answer)) => {
                    return Err(self
                        .api
                        .refused(&answer, &format!("record {id}"), TOKEN_ENV))
                }
                Err(e) => return Err(api_error(e, &format!("record {id}"))),
            }
        }
        Err(ProviderError::service(
            format!("record {id}: the service's redirect named no record"),
            None,
        ))
    }

    /// The latest published version of the record (or concept) `id`.
    pub async fn latest(&self, id: &str) -> Result<Option<String>> {
        let url = self.url(["records", id, "versions", "latest"]);
        match self
            .api
            .get_json::<ZRecord>(|| self.api.request(Method::GET, url.clone()))
            .await
        {
            Ok(Ok((record, _))) => Ok(Some(record.id)),
            Ok(Err(answer)) if answer.status.is_redirection() => Ok(self.redirected_id(
                answer
                    .headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok()),
            )),
            Ok(Err(answer)) if answer.status == StatusCode::NOT_FOUND => Ok(None),
            Ok(Err(answer)) => Err(self.api.refused(
                &answer,
                &format!("latest version of record {id}"),
                TOKEN_ENV,
            )),
            Err(e) => Err(api_error(e, &format!("latest version of record {id}"))),
        }
    }

    /// The draft of record `id` (its owner's token only); `None` when it
    /// has none.
    pub async fn draft(&self, id: &str) -> Result<Option<ZRecord>> {
        let url = self.url(["records", id, "draft"]);
        match self
            .api
            .get_json::<ZRecord>(|| self.api.request(Method::GET, url.clone()))
            .await
        {
            Ok(Ok((record, _))) => Ok(Some(record)),
            Ok(Err(answer)) if answer.status == StatusCode::NOT_FOUND => Ok(None),
            Ok(Err(answer)) => {
                Err(self
                    .api
                    .refused(&answer, &format!("draft of record {id}"), TOKEN_ENV))
            }
            Err(e) => Err(api_error(e, &format!("draft of record {id}"))),
        }
    }

    /// The unpublished draft of a next version of concept `parent`, if
    /// this token's account has one: its uploads search (drafts
    /// included), asked for that concept only.
    pub async fn next_draft(&self, parent: &str) -> Result<Option<String>> {
        if !is_record_id(parent) {
            return Ok(None);
        }
        let mut url = self.url(["user", "records"]);
        url.query_pairs_mut()
            .append_pair("q", &format!("parent.id:{parent}"))
            .append_pair("size", "10");
        let what = format!("drafts of record {parent}");
        let search: Search = self
            .api
            .call_json(Method::GET, url, None, &what, TOKEN_ENV)
            .await?;
        Ok(search
            .hits
            .hits
            .into_iter()
            .find(|r| !r.is_published && r.parent.as_ref().is_some_and(|p| p.id == parent))
            .map(|r| r.id))
    }

    /// Zenodo's "New version" of published record `id`: the draft of the
    /// next version, the one that exists already if there is one.
    pub async fn new_version(&self, id: &str) -> Result<ZRecord> {
        self.api
            .call_json(
                Method::POST,
                self.url(["records", id, "versions"]),
                None,
                &format!("new version of record {id}"),
                TOKEN_ENV,
            )
            .await
    }

    /// Links the previous version's files into the new-version draft `id`.
    pub async fn import_previous_files(&self, id: &str) -> Result<()> {
        let _: serde_json::Value = self
            .api
            .call_json(
                Method::POST,
                self.url(["records", id, "draft", "actions", "files-import"]),
                None,
                &format!("linking the previous version's files into draft {id}"),
                TOKEN_ENV,
            )
            .await?;
        Ok(())
    }

    /// The files of a record or draft (one answer: a record holds at most
    /// a few hundred files, bounded by the layer's JSON cap).
    pub async fn files(&self, space: &Space) -> Result<Vec<ZFile>> {
        let files: Files = self
            .api
            .call_json(
                Method::GET,
                self.files_url(space),
                None,
                &format!("files of record {}", space.record()),
                TOKEN_ENV,
            )
            .await?;
        Ok(files.entries)
    }

    /// File `name` of a record or draft; `None` when absent.
    pub async fn file(&self, space: &Space, name: &str) -> Result<Option<ZFile>> {
        let url = self.file_url(space, name);
        let what = format!("{name} in record {}", space.record());
        match self
            .api
            .get_json::<ZFile>(|| self.api.request(Method::GET, url.clone()))
            .await
        {
            Ok(Ok((file, _))) => Ok(Some(file)),
            Ok(Err(answer)) if answer.status == StatusCode::NOT_FOUND => Ok(None),
            Ok(Err(answer)) => Err(self.api.refused(&answer, &what, TOKEN_ENV)),
            Err(e) => Err(api_error(e, &what)),
        }
    }

    /// Deletes file `name` from draft `id`; an absent file is no error.
    pub async fn delete(&self, id: &str, name: &str) -> Result<()> {
        let url = self.file_url(&Space::Draft(id.to_string()), name);
        let what = format!("deleting {name} from draft {id}");
        match self
            .api
            .call_status(Method::DELETE, url, &what, TOKEN_ENV)
            .await?
        {
            Ok(_) => Ok(()),
            Err((StatusCode::NOT_FOUND, _)) => Ok(()),
            Err((_, e)) => Err(e),
        }
    }

    /// InvenioRDM's upload of one file into draft `id`: initialise the
    /// key, send the content, commit; the committed entry (with the MD5
    /// the service computed) is returned.
    pub async fn upload(
        &self,
        id: &str,
        name: &str,
        src: &Path,
        size: u64,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ZFile> {
        let space = Space::Draft(id.to_string());
        let what = format!("uploading {name} into draft {id}");
        let init = serde_json::json!([{ "key": name }]);
        let _: serde_json::Value = self
            .api
            .call_json(
                Method::POST,
                self.files_url(&space),
                Some(&init),
                &what,
                TOKEN_ENV,
            )
            .await
            .map_err(limit_hint)?;
        let answer = self
            .api
            .upload_file(
                Method::PUT,
                self.content_url(&space, name),
                src,
                size,
                progress,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(limit_hint(self.api.refused(&answer, &what, TOKEN_ENV)));
        }
        let mut commit = self.file_url(&space, name);
        if let Ok(mut path) = commit.path_segments_mut() {
            path.push("commit");
        }
        self.api
            .call_json(Method::POST, commit, None, &what, TOKEN_ENV)
            .await
    }

    /// Streams file `name` of `space` into `to.dest`, checked against its
    /// size and MD5 when known.
    pub async fn download(&self, space: &Space, name: &str, to: &DownloadTo<'_>) -> Result<()> {
        self.download_url(self.content_url(space, name), to).await
    }

    /// [`Self::download`] of a content URL on the API.
    pub async fn download_url(&self, url: Url, to: &DownloadTo<'_>) -> Result<()> {
        let what = format!(
            "download of {}",
            crate::transfer::RedactedUrl::new(url.clone())
        );
        self.api.download_refused(url, to, (&what, TOKEN_ENV)).await
    }

    /// Each published version of the record (or concept) `id`, page by
    /// page through the shared paging engine, until `each` breaks.
    pub async fn versions_each(
        &self,
        id: &str,
        each: &mut (dyn FnMut(ZRecord) -> Result<ControlFlow<()>> + Send),
    ) -> Result<()> {
        let what = format!("versions of record {id}");
        paging::each_page(
            Cursor::Page {
                number: 1,
                size: PAGE,
            },
            paging::MAX_PAGES,
            |r: &ZRecord| r.id.clone(),
            |cursor| {
                let what = &what;
                async move {
                    let Cursor::Page { number, size } = cursor else {
                        return Ok(Page::of(Vec::new()));
                    };
                    let (page, size) = (number.to_string(), size.to_string());
                    let mut url = self.url(["records", id, "versions"]);
                    url.query_pairs_mut()
                        .append_pair("page", &page)
                        .append_pair("size", &size);
                    let answer = self
                        .api
                        .get_json::<Search>(|| self.api.request(Method::GET, url.clone()))
                        .await
                        .map_err(|e| api_error(e, what))?;
                    match answer {
                        Ok((search, _)) => Ok(Page::of(search.hits.hits)),
                        // A draft never published has no versions.
                        Err(a) if a.status == StatusCode::NOT_FOUND => Ok(Page::of(Vec::new())),
                        Err(a) => Err(self.api.refused(&a, what, TOKEN_ENV)),
                    }
                }
            },
            each,
        )
        .await
    }
}

/// A JSON answer that could not be had, as the provider error it is.
fn api_error(e: crate::providers::service_api::ApiError, what: &str) -> ProviderError {
    match e {
        crate::providers::service_api::ApiError::Transfer(t) => t.into(),
        other => ProviderError::service(
            format!("{what}: the answer is not the JSON InvenioRDM sends; check api="),
            Some(Box::new(other)),
        ),
    }
}

/// Zenodo's per-record limits say why an upload was refused: said with
/// what to do.
fn limit_hint(e: ProviderError) -> ProviderError {
    let text = e.to_string();
    let limit = text.contains("more than") || text.to_ascii_lowercase().contains("quota");
    if !limit {
        return e;
    }
    ProviderError::service(
        format!(
            "{text}. A Zenodo record holds at most {} files and {} GB: store fewer, larger \
             files (a larger chunk=), or use another record for the rest (docs/zenodo.md)",
            super::MAX_FILES,
            super::MAX_RECORD_BYTES / 1_000_000_000
        ),
        Some(Box::new(e)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api::new(
            Client::new(Default::default()).unwrap(),
            Url::parse("https://zenodo.org/api").unwrap(),
            None,
        )
    }

    #[test]
    fn files_and_checksums() {
        let f: ZFile = serde_json::from_str(
            r#"{"key":"a.png","size":89364.0,"checksum":"md5:6ef4267f0e710357c895627e931f16cd","status":"completed"}"#,
        )
        .unwrap();
        assert_eq!(f.size, 89364);
        assert_eq!(f.md5().unwrap().hex, "6ef4267f0e710357c895627e931f16cd");
        assert!(f.is_complete());
        let pending: ZFile = serde_json::from_str(r#"{"key":"b","status":"pending"}"#).unwrap();
        assert!(!pending.is_complete());
        assert_eq!(pending.md5(), None);
        let sha: ZFile =
            serde_json::from_str(r#"{"key":"c","size":1,"checksum":"sha256:ab"}"#).unwrap();
        assert_eq!(sha.md5(), None);
        let legacy: ZRecord = serde_json::from_str(r#"{"id":123}"#).unwrap();
        assert_eq!(legacy.id, "123");
    }

    #[test]
    fn urls_stay_on_the_api_and_redirects_choose_no_host() {
        let a = api();
        let space = Space::Published("12".into());
        assert_eq!(
            a.content_url(&space, "a b/c").as_str(),
            "https://zenodo.org/api/records/12/files/a%20b%2Fc/content"
        );
        assert_eq!(
            a.redirected_id(Some("https://evil.example/api/records/99")),
            Some("99".into())
        );
        assert_eq!(a.redirected_id(Some("/api/records/98")), Some("98".into()));
        assert_eq!(
            a.redirected_id(Some("https://evil.example/../x?y")),
            Some("x".into())
        );
        assert_eq!(a.redirected_id(Some("/api/records/a.b")), None);
        assert_eq!(a.redirected_id(None), None);
    }
}
