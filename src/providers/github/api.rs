//! A small client for the GitHub Releases REST API.
//!
//! The token travels as `Authorization: Bearer` to the API host and the
//! release's uploads host only; downloads are redirected to signed storage
//! and [`Client::download`] follows that redirect carrying only `Range`.
//! Errors are classified by status and by what the request was about,
//! never by message text.

use std::ops::ControlFlow;
use std::path::Path;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LINK};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::providers::service_api::limits::WritePace;
use crate::providers::service_api::paging::{self, Cursor, Page};
use crate::providers::service_api::{self, Answer, ApiError, DownloadTo, Refusal, ServiceApi};
use crate::providers::{ProviderError, Result};
use crate::transfer::{
    summarize_body, Algorithm, BodySource, Client, Expected, FileRange, ProgressFn, RedactedUrl,
    TransferError, Upload,
};

/// Largest page of releases we ask for.
const PAGE: u32 = 100;
/// At most this many pages of releases are read when looking for a tag.
const MAX_PAGES: usize = 50;
/// Its token, sent as `Authorization: Bearer TOKEN`.
pub use crate::providers::token::ApiToken as Token;
/// What comes before the token in its header.
pub const SCHEME: &str = "Bearer";
/// Content-creating requests (uploads, deletions, new releases) a minute
/// at most, shared by a process's jobs: github.com's secondary limit is
/// about 80, the default for `api.github.com` (`0`: unpaced; other hosts
/// are unpaced unless this is set).
pub const WRITES_PER_MINUTE_ENV: &str = "ANNEXA_GITHUB_WRITES_PER_MINUTE";

/// `OWNER/NAME` of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    /// Parses `OWNER/NAME`; both parts are GitHub names
    /// (`[A-Za-z0-9_.-]`, not `.` or `..`).
    pub fn parse(text: &str) -> Option<Self> {
        let (owner, name) = text.trim().split_once('/')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.len() <= 100
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        };
        (ok(owner) && ok(name)).then(|| Self {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    #[serde(default)]
    pub draft: bool,
    pub upload_url: String,
    #[serde(default)]
    pub assets: Vec<Asset>,
}

impl Release {
    /// The uploaded asset named exactly `name`.
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name == name && a.uploaded())
    }

    /// Any asset of that name, complete or not.
    pub fn any_asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    /// When the asset was last changed (ISO 8601), as GitHub reports it.
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Asset {
    /// Completely uploaded (an interrupted upload leaves a `starter`).
    pub fn uploaded(&self) -> bool {
        self.state.as_deref().map_or(true, |s| s == "uploaded")
    }

    /// The `sha256:<hex>` digest GitHub reports, when it does.
    pub fn sha256(&self) -> Option<Expected> {
        let (alg, hex) = self.digest.as_deref()?.split_once(':')?;
        let algorithm = Algorithm::from_name(alg)?;
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Expected::new(algorithm, hex))
    }
}

/// What an upload ended with.
pub enum Uploaded {
    Created(Asset),
    /// GitHub refused the name: an asset of that name is there, listed or
    /// not (422 `already_exists`).
    NameTaken,
    /// The release holds as many assets as GitHub allows (422 `file_count`,
    /// "file_count limited to 1000 assets per release").
    ReleaseFull,
    /// GitHub refused the size (422 `size`), with its message.
    SizeRefused(String),
}

/// A GitHub error answer: `{"message": ..., "errors": [{"resource": ...,
/// "code": ..., "field": ..., "message": ...}]}`
/// (docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api,
/// "Validation failed"; the codes are `missing`, `missing_field`,
/// `invalid`, `already_exists`, `unprocessable` and `custom`, whose
/// `field` and `message` say what failed).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What a 422 of an upload means, by its errors' `code` and `field`.
fn upload_refusal(body: &str) -> Option<Uploaded> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    let has = |code: &str, field: &str| {
        parsed
            .errors
            .iter()
            .find(|e| e.code.as_deref() == Some(code) && e.field.as_deref() == Some(field))
    };
    if has("custom", "file_count").is_some() {
        return Some(Uploaded::ReleaseFull);
    }
    if let Some(e) = parsed
        .errors
        .iter()
        .find(|e| e.field.as_deref() == Some("size"))
    {
        let text = e
            .message
            .clone()
            .or_else(|| parsed.message.clone())
            .unwrap_or_default();
        return Some(Uploaded::SizeRefused(text));
    }
    if has("already_exists", "name").is_some()
        || parsed
            .errors
            .iter()
            .any(|e| e.code.as_deref() == Some("already_exists"))
    {
        return Some(Uploaded::NameTaken);
    }
    None
}

pub struct Api {
    /// The API at the `api=` the user chose, with the token; GitHub's
    /// uploads host (`uploads.github.com`, or the Enterprise host itself)
    /// is the only other host the token goes to.
    api: ServiceApi,
}

impl Api {
    pub fn new(client: Client, base: Url, token: Option<Token>) -> Self {
        // github.com's limit; an Enterprise server (or a test server) sets
        // its own, so it is paced only when the variable says so.
        let pace = match base.host_str() {
            Some("api.github.com") => WritePace::per_minute(WRITES_PER_MINUTE_ENV, 80),
            _ => WritePace::per_minute(WRITES_PER_MINUTE_ENV, 0),
        };
        let uploads = match base.host_str() {
            Some("api.github.com") => "uploads.github.com".to_string(),
            // Enterprise serves uploads on its own host (`/api/uploads`).
            host => host.unwrap_or_default().to_string(),
        };
        Self {
            api: ServiceApi::new(client, base, token, AUTHORIZATION)
                .with_uploads_host(&uploads)
                .with_write_pace(pace),
        }
    }

    pub fn base(&self) -> &Url {
        self.api.base()
    }

    pub fn has_token(&self) -> bool {
        self.api.has_token()
    }

    fn repo_url(&self, repo: &Repo, rest: &str) -> Url {
        let segments = ["repos", repo.owner.as_str(), repo.name.as_str()];
        self.api
            .url_segments(segments.into_iter().chain(rest.split('/')))
    }

    /// A request with GitHub's headers and the token (for API and uploads
    /// hosts only).
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.api
            .request(method, url)
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    fn json_request(&self, method: Method, url: Url) -> RequestBuilder {
        self.request(method, url)
            .header(ACCEPT, "application/vnd.github+json")
    }

    /// Sends (not repeated unless the request is a GET) and reads the
    /// JSON answer (bounded), turning an error status into a
    /// [`ProviderError`] that says what `what` was.
    async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<(T, HeaderMap)> {
        let answer = self
            .api
            .fetch(method, build, service_api::is_json)
            .await
            .map_err(|e| self.budget(e))?;
        if !answer.status.is_success() {
            return Err(self.status_error(what, &answer));
        }
        let value = serde_json::from_str(&answer.body).map_err(|e| {
            ProviderError::service(
                format!("{what}: GitHub answered with unexpected JSON"),
                Some(Box::new(ApiError::NotJson(e))),
            )
        })?;
        Ok((value, answer.headers))
    }

    /// What an error answer means (its body is bounded and scrubbed of the
    /// token already).
    fn status_error(&self, what: &str, answer: &Answer) -> ProviderError {
        let status = answer.status;
        let parsed: ErrorBody = serde_json::from_str(&answer.body).unwrap_or_default();
        let source = Box::new(TransferError::Status {
            method: "request".into(),
            url: RedactedUrl::new(self.base().clone()),
            status,
            detail: summarize_body(&answer.body),
        });
        let taken = parsed
            .errors
            .iter()
            .any(|e| e.code.as_deref() == Some("already_exists"));
        match answer.refusal() {
            Refusal::Unprocessable if taken => ProviderError::AlreadyExists {
                message: format!("{what}: already there"),
                source: Some(source),
            },
            Refusal::Unauthenticated => ProviderError::Unauthenticated {
                message: format!(
                    "{what}: GitHub did not accept the token; set GITHUB_TOKEN to a valid token"
                ),
                source: Some(source),
            },
            Refusal::Forbidden => ProviderError::PermissionDenied {
                message: format!(
                    "{what}: access denied; the token needs contents:write on the repository"
                ),
                source: Some(source),
            },
            Refusal::NotFound if status == StatusCode::NOT_FOUND => ProviderError::NotFound {
                message: format!("{what}: not found"),
                source: Some(source),
            },
            refusal @ Refusal::RateLimited { .. } => {
                refusal.into_error(format!("{what}: GitHub"), Some(source))
            }
            _ => {
                ProviderError::from_status(status, format!("{what}: GitHub refused"), Some(source))
            }
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, what: &str, url: Url) -> Result<(T, HeaderMap)> {
        self.call(what, Method::GET, || {
            self.json_request(Method::GET, url.clone())
        })
        .await
    }

    /// Every item of a `Link`-paged listing from `first` through the
    /// paging engine, handed to `each`; `next` pages only on the API's own
    /// site (the token goes there). At most `max_pages` pages: past that
    /// the listing ends quietly when `quiet_cap`, else with an error.
    async fn linked<T: DeserializeOwned + Send>(
        &self,
        what: &str,
        first: Url,
        max_pages: usize,
        quiet_cap: bool,
        key: impl Fn(&T) -> u64,
        each: &mut (dyn FnMut(T) -> Result<ControlFlow<()>> + Send),
    ) -> Result<()> {
        let mut pages = 0usize;
        paging::each_page(
            Cursor::Link(first),
            if quiet_cap { usize::MAX } else { max_pages },
            key,
            |cursor| {
                pages += 1;
                let past_cap = quiet_cap && pages > max_pages;
                async move {
                    let Cursor::Link(url) = cursor else {
                        return Ok(Page::of(Vec::new()));
                    };
                    if past_cap {
                        return Ok(Page::of(Vec::new()));
                    }
                    let (items, headers) = self.get_json::<Vec<T>>(what, url).await?;
                    let next = next_link(&headers)
                        .filter(|u| self.api.is_own_site(u))
                        .map(Cursor::Link);
                    Ok(Page {
                        items,
                        next,
                        total: None,
                    })
                }
            },
            each,
        )
        .await
    }

    /// The release of `tag`, drafts included (the tag endpoint hides
    /// drafts, so those are found in the listing). `None`: no such release.
    pub async fn find_release(&self, repo: &Repo, tag: &str) -> Result<Option<Release>> {
        let mut url = self.repo_url(repo, "releases/tags");
        url.path_segments_mut().expect("http(s)").push(tag);
        match self
            .get_json::<Release>(&format!("release {tag} of {repo}"), url)
            .await
        {
            Ok((release, _)) => return Ok(Some(release)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        if !self.has_token() {
            // Anonymous callers cannot see drafts.
            return Ok(None);
        }
        let mut first = self.repo_url(repo, "releases");
        first
            .query_pairs_mut()
            .append_pair("per_page", &PAGE.to_string());
        let mut found = None;
        self.linked(
            &format!("releases of {repo}"),
            first,
            MAX_PAGES,
            true,
            |r: &Release| r.id,
            &mut |r: Release| {
                if r.tag_name == tag {
                    found = Some(r);
                    return Ok(ControlFlow::Break(()));
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .await
        .map_err(|e| match e {
            ProviderError::NotFound { source, .. } => ProviderError::Config(format!(
                "repository {repo} not found, or the token cannot see it{}",
                source.map(|s| format!(" ({s})")).unwrap_or_default()
            )),
            other => other,
        })?;
        Ok(found)
    }

    /// The published release of `tag` (the tag endpoint only: drafts are
    /// not looked for); `None`: none.
    pub async fn find_published(&self, repo: &Repo, tag: &str) -> Result<Option<Release>> {
        let mut url = self.repo_url(repo, "releases/tags");
        url.path_segments_mut().expect("http(s)").push(tag);
        match self
            .get_json::<Release>(&format!("release {tag} of {repo}"), url)
            .await
        {
            Ok((release, _)) => Ok(Some(release)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn release(&self, repo: &Repo, id: u64) -> Result<Release> {
        let url = self.repo_url(repo, &format!("releases/{id}"));
        Ok(self
            .get_json::<Release>(&format!("release {id} of {repo}"), url)
            .await?
            .0)
    }

    /// Hands each asset of release `id` to `each`, page by page (`Link`
    /// paging, on the API host only): the listing is never collected.
    pub async fn assets_each(
        &self,
        repo: &Repo,
        id: u64,
        each: &mut (dyn FnMut(Asset) -> Result<()> + Send),
    ) -> Result<()> {
        let mut first = self.repo_url(repo, &format!("releases/{id}/assets"));
        first
            .query_pairs_mut()
            .append_pair("per_page", &PAGE.to_string());
        // An asset added meanwhile shifts the pages: each once (the engine
        // hands each id once).
        self.linked(
            &format!("assets of release {id} of {repo}"),
            first,
            paging::MAX_PAGES,
            false,
            |a: &Asset| a.id,
            &mut |a| {
                each(a)?;
                Ok(ControlFlow::Continue(()))
            },
        )
        .await
    }

    /// Creates a (published) release for `tag`.
    pub async fn create_release(&self, repo: &Repo, tag: &str) -> Result<Release> {
        let url = self.repo_url(repo, "releases");
        let body = serde_json::json!({
            "tag_name": tag,
            "name": tag,
            "body": "Storage of a git-annex special remote (annexa).",
            "draft": false,
        });
        Ok(self
            .call(
                &format!("creating release {tag} in {repo}"),
                Method::POST,
                || self.json_request(Method::POST, url.clone()).json(&body),
            )
            .await?
            .0)
    }

    /// Uploads `src` as the asset `name` to the release's uploads URL.
    pub async fn upload(
        &self,
        release: &Release,
        name: &str,
        src: &Path,
        progress: &ProgressFn<'_>,
    ) -> Result<Uploaded> {
        let template = release.upload_url.split('{').next().unwrap_or_default();
        let mut url = Url::parse(template).map_err(|e| {
            ProviderError::service(
                format!("release {} has an unusable upload_url", release.id),
                Some(Box::new(e)),
            )
        })?;
        url.query_pairs_mut().append_pair("name", name);
        // The URL comes from an answer: the token goes only to GitHub's
        // own API or uploads host, never to a host the answer names.
        if !self.api.is_own_site(&url) {
            return Err(ProviderError::service(
                format!(
                    "release {} names an upload address on another host ({}); refused: \
                     the token goes only to {}",
                    release.id,
                    RedactedUrl::new(url.clone()),
                    RedactedUrl::new(self.base().clone())
                ),
                None,
            ));
        }
        let file = FileRange::whole(src).await?;
        let build = || {
            self.json_request(Method::POST, url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
        };
        let spec = Upload {
            request: &build,
            body: BodySource::File(file),
            digest: None,
            server_digest: None,
            progress,
            shared: None,
        };
        let answer = self.api.upload(&spec).await.map_err(|e| self.budget(e))?;
        if answer.status.is_success() {
            let asset: Asset = serde_json::from_str(&answer.body).map_err(|e| {
                ProviderError::service(
                    "upload: GitHub answered with unexpected JSON",
                    Some(Box::new(ApiError::NotJson(e))),
                )
            })?;
            return Ok(Uploaded::Created(asset));
        }
        // A 422 says why by its errors' code and field.
        if answer.status == StatusCode::UNPROCESSABLE_ENTITY {
            if let Some(refused) = upload_refusal(&answer.body) {
                return Ok(refused);
            }
        }
        Err(self.status_error(
            &format!("uploading {name} to release {}", release.tag_name),
            &answer,
        ))
    }

    /// A transfer error, with what a spent request budget means for GitHub:
    /// a token has 5,000 requests an hour, anonymous callers 60.
    fn budget(&self, e: TransferError) -> ProviderError {
        let limited = matches!(
            e.status(),
            Some(StatusCode::FORBIDDEN) | Some(StatusCode::TOO_MANY_REQUESTS)
        );
        if !limited {
            return e.into();
        }
        let hint = if self.has_token() {
            "the token's hourly budget (5,000 requests) is spent"
        } else {
            "the hourly budget for anonymous requests (60) is spent; set GITHUB_TOKEN to a token \
             (any token, even without scopes, has 5,000 an hour)"
        };
        ProviderError::Transient {
            message: format!("GitHub API: {hint}"),
            source: Some(Box::new(e)),
        }
    }

    /// Deletes an asset; one that is gone already is fine.
    pub async fn delete_asset(&self, repo: &Repo, id: u64) -> Result<()> {
        let url = self.repo_url(repo, &format!("releases/assets/{id}"));
        let what = format!("deleting asset {id}");
        let deleted = async {
            let answer = self
                .api
                .fetch(
                    Method::DELETE,
                    || self.json_request(Method::DELETE, url.clone()),
                    |_| true,
                )
                .await
                .map_err(|e| self.budget(e))?;
            match answer.status.is_success() {
                true => Ok(()),
                false => Err(self.status_error(&what, &answer)),
            }
        };
        match deleted.await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One asset, as it is now; `None` when it is gone.
    pub async fn asset(&self, repo: &Repo, id: u64) -> Result<Option<Asset>> {
        let url = self.repo_url(repo, &format!("releases/assets/{id}"));
        match self.get_json::<Asset>(&format!("asset {id}"), url).await {
            Ok((asset, _)) => Ok(Some(asset)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Renames an asset (GitHub may rewrite the name: it is returned).
    pub async fn rename_asset(&self, repo: &Repo, id: u64, name: &str) -> Result<Asset> {
        let url = self.repo_url(repo, &format!("releases/assets/{id}"));
        let body = serde_json::json!({ "name": name });
        Ok(self
            .call(&format!("renaming asset {id}"), Method::PATCH, || {
                self.json_request(Method::PATCH, url.clone()).json(&body)
            })
            .await?
            .0)
    }

    /// Downloads an asset into `dest` (resuming what is there): every
    /// attempt asks the API again, which redirects to a fresh signed URL;
    /// the redirect is followed without the token.
    pub async fn download(
        &self,
        repo: &Repo,
        asset: &Asset,
        dest: &Path,
        checksum: Option<Expected>,
        progress: &ProgressFn<'_>,
    ) -> Result<()> {
        let url = self.repo_url(repo, &format!("releases/assets/{}", asset.id));
        let build = || {
            self.request(Method::GET, url.clone())
                .header(ACCEPT, "application/octet-stream")
        };
        let to = DownloadTo::new(dest, Some(asset.size), checksum, progress);
        self.api
            .download(&build, &to)
            .await
            .map_err(|e| self.budget(e))?;
        Ok(())
    }

    /// Downloads through the browser address
    /// (`WEB/OWNER/REPO/releases/download/TAG/NAME`, redirected to storage),
    /// which spends no API budget (docs.github.com: requests to
    /// github.com's release downloads are not REST API requests). Never
    /// carries the token: `url` is on the web host, not the API's.
    pub async fn download_browser(
        &self,
        url: Url,
        size: u64,
        dest: &Path,
        checksum: Option<Expected>,
        progress: &ProgressFn<'_>,
    ) -> Result<()> {
        let build = || {
            self.api
                .anonymous_request(Method::GET, url.clone())
                .header(ACCEPT, "application/octet-stream")
        };
        let to = DownloadTo::new(dest, Some(size), checksum, progress);
        self.api.download(&build, &to).await?;
        Ok(())
    }

    /// Checks that the repository is there and visible (with the token,
    /// when there is one).
    pub async fn check_repo(&self, repo: &Repo) -> Result<()> {
        let url = self.repo_url(repo, "");
        match self
            .get_json::<serde_json::Value>(&format!("repository {repo}"), url)
            .await
        {
            Ok(_) => Ok(()),
            Err(ProviderError::NotFound { source, .. }) => Err(ProviderError::Config(format!(
                "repository {repo} not found, or the token cannot see it{}",
                source.map(|s| format!(" ({s})")).unwrap_or_default()
            ))),
            Err(e) => Err(e),
        }
    }
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<Url> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        if is_next {
            Url::parse(target).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn repos() {
        assert_eq!(
            Repo::parse("o-1/r.x").map(|r| r.to_string()).as_deref(),
            Some("o-1/r.x")
        );
        for bad in ["o", "o/", "/r", "o/r/x", "o/..", "o/r b"] {
            assert!(Repo::parse(bad).is_none(), "{bad}");
        }
    }

    /// 422s say why in `errors[].code`/`field` (the bodies GitHub sends).
    #[test]
    fn upload_refusals_are_read_by_code_and_field() {
        let full = r#"{"message":"Validation Failed","errors":[{"resource":"ReleaseAsset","code":"custom","field":"file_count","message":"file_count limited to 1000 assets per release"}],"documentation_url":"https://docs.github.com/rest/releases/assets#upload-a-release-asset"}"#;
        assert!(matches!(upload_refusal(full), Some(Uploaded::ReleaseFull)));
        let taken = r#"{"message":"Validation Failed","errors":[{"resource":"ReleaseAsset","code":"already_exists","field":"name"}]}"#;
        assert!(matches!(upload_refusal(taken), Some(Uploaded::NameTaken)));
        let size = r#"{"message":"Validation Failed","errors":[{"resource":"ReleaseAsset","code":"custom","field":"size","message":"size must be less than 2147483648"}]}"#;
        match upload_refusal(size) {
            Some(Uploaded::SizeRefused(m)) => assert!(m.contains("2147483648"), "{m}"),
            _ => panic!("size not recognised"),
        }
        assert!(upload_refusal(r#"{"message":"Validation Failed"}"#).is_none());
        assert!(upload_refusal("<html>").is_none());
    }

    #[test]
    fn link_next() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).unwrap().as_str(),
            "https://api.github.com/x?page=3"
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://api.github.com/x?page=1>; rel=\"prev\""),
        );
        assert!(next_link(&h).is_none());
    }

    #[test]
    fn digests() {
        let a = Asset {
            id: 1,
            name: "x".into(),
            size: 1,
            state: Some("uploaded".into()),
            digest: Some("sha256:ABCD".into()),
            updated_at: None,
        };
        assert_eq!(a.sha256(), Some(Expected::new(Algorithm::Sha256, "abcd")));
        assert!(a.uploaded());
        let b = Asset {
            digest: None,
            updated_at: None,
            state: Some("starter".into()),
            ..a
        };
        assert_eq!(b.sha256(), None);
        assert!(!b.uploaded());
    }
}
