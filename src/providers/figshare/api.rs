//! A small client for Figshare's API v2.
//!
//! Only what the provider needs: the article's (paged) file listing, one
//! file's metadata, the multi-step upload, deletion, published versions and
//! downloads. The token travels as `Authorization: token ...` to the API
//! host only: the upload service (`upload_url`) gets no header credential
//! (its URL carries the upload's own token), and downloads are redirected
//! to signed storage, which [`Client::download`] follows without it.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::error::FigshareError;
use crate::providers::service_api::paging::{self, Cursor, Page, PagingError};
use crate::providers::service_api::{Answer, ApiError, DownloadTo, Refusal, ServiceApi};
use crate::transfer::{
    Algorithm, BodySource, Client, Expected, FileRange, Poll, PollSchedule, TransferError, Upload,
};

/// Largest page the API gives.
const PAGE: u64 = 1000;
/// The largest offset a listing may ask for: "The offset is currently
/// limited at 1000 and if exceeded a `422 Unprocessable Entity` error will
/// be returned" (figshare/user_documentation, docs/api/index.md,
/// "Pagination params"), so pages of 1,000 reach 2,000 files.
const MAX_OFFSET: u64 = 1000;
/// How often a locked part is tried before giving up.
const LOCKED_TRIES: usize = 12;
/// Its token, sent as `Authorization: token TOKEN`.
pub use crate::providers::token::ApiToken as Token;
use crate::providers::token::TokenService;
use crate::providers::ProviderError;
/// What comes before the token in its header.
pub const SCHEME: &str = "token";

/// A file of an article, as the API lists it. Private listings add the
/// processing `status` and the upload's `upload_url`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FsFile {
    pub id: u64,
    pub name: String,
    // Figshare sends `null` for these at times (a file still being
    // processed, a link-only file): `null` reads as absent, never as a
    // broken listing.
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub computed_md5: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub supplied_md5: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub upload_url: Option<String>,
    #[serde(default)]
    pub is_link_only: bool,
}

/// A field that may be `null`: its default then.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Figshare's error `code`: a string in its documentation, an integer in
/// some answers; either is kept as text.
fn code_text<'de, D>(d: D) -> Result<String, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => s,
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    })
}

/// The processing status of a file whose supplied MD5 did not match what
/// Figshare received: final, never `available`.
pub const IC_FAILURE: &str = "ic_failure";

impl FsFile {
    /// Figshare is still checking or moving the completed upload
    /// (`ic_checking`, `ic_success`, `moving_to_final`): it becomes
    /// `available` or `ic_failure` by itself, and must not be deleted
    /// meanwhile.
    pub fn is_processing(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("ic_checking" | "ic_success" | "moving_to_final")
        )
    }

    /// Figshare's integrity check failed: the bytes it received do not have
    /// the MD5 the upload named.
    pub fn failed_check(&self) -> bool {
        self.status.as_deref() == Some(IC_FAILURE)
    }

    /// Processed and verified by Figshare: its bytes can be downloaded and
    /// `computed_md5` is known. Public listings have no status: a published
    /// file is available.
    pub fn is_available(&self) -> bool {
        !self.is_link_only
            && !self.computed_md5.is_empty()
            && self.status.as_deref().map_or(true, |s| s == "available")
    }

    pub fn md5(&self) -> Option<Expected> {
        (!self.computed_md5.is_empty()).then(|| Expected::new(Algorithm::Md5, &self.computed_md5))
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default, deserialize_with = "code_text")]
    code: String,
}

#[derive(Debug, Deserialize)]
struct Location {
    location: String,
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(rename = "partNo")]
    part_no: u64,
    #[serde(rename = "startOffset")]
    start: u64,
    #[serde(rename = "endOffset")]
    end: u64,
    #[serde(default)]
    status: String,
}

#[derive(Debug, Deserialize)]
struct UploadInfo {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
struct VersionRef {
    version: u64,
}

#[derive(Debug, Deserialize)]
struct ArticleFiles {
    #[serde(default)]
    files: Vec<FsFile>,
}

/// What a request is about, which decides what a 404 means (Figshare
/// answers 404 for "absent" and for "no permission" alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The remote's own article: a 404 is a configuration error.
    Article,
    /// One file, a version, another article: a 404 means absent.
    Thing,
}

pub struct Api {
    /// The API at the `api=` the user chose, with the token.
    api: ServiceApi,
    article: u64,
    process_wait: Duration,
}

impl Api {
    pub fn new(
        client: Client,
        base: Url,
        article: u64,
        token: Option<Token>,
        process_wait: Duration,
    ) -> Self {
        let downloader = TokenService::Figshare.second_host(base.host_str().unwrap_or_default());
        let mut api = ServiceApi::new(client, base, token, reqwest::header::AUTHORIZATION);
        if let Some(host) = downloader {
            api = api.with_uploads_host(host);
        }
        Self {
            api,
            article,
            process_wait,
        }
    }

    pub fn base(&self) -> &Url {
        self.api.base()
    }

    pub fn article(&self) -> u64 {
        self.article
    }

    pub fn has_token(&self) -> bool {
        self.api.has_token()
    }

    /// The `git annex info` row about the token.
    pub fn token_row(&self) -> (String, String) {
        self.api.token_row()
    }

    /// `base` + `path`, keeping the base path (`/v2`).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        self.api.url(path, query)
    }

    /// A request to the API host, with the token.
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.api.request(method, url)
    }

    fn need_token(&self, what: &str) -> Result<(), FigshareError> {
        self.api
            .need_token(|| ApiError::missing_token(&super::TOKEN, what).into())
    }

    /// Names the problem behind an error status.
    pub fn classify(
        &self,
        status: StatusCode,
        body: &str,
        what: &str,
        scope: Scope,
    ) -> FigshareError {
        self.classify_refusal(
            Refusal::of(status, &HeaderMap::new()),
            status,
            body,
            what,
            scope,
        )
    }

    /// [`Self::classify`] of an answer, its headers included.
    fn classify_answer(&self, answer: &Answer, what: &str, scope: Scope) -> FigshareError {
        self.classify_refusal(answer.refusal(), answer.status, &answer.body, what, scope)
    }

    fn classify_refusal(
        &self,
        refusal: Refusal,
        status: StatusCode,
        body: &str,
        what: &str,
        scope: Scope,
    ) -> FigshareError {
        let body = &self.api.scrub(body);
        let message = serde_json::from_str::<ErrorBody>(body)
            .ok()
            .map(|e| {
                if e.code.is_empty() {
                    e.message
                } else {
                    format!("{} ({})", e.message, e.code)
                }
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| crate::transfer::summarize_body(body));
        let anonymous = !self.has_token();
        match (refusal, scope) {
            (Refusal::Unauthenticated, _) if !anonymous => {
                ApiError::bad_token(&super::TOKEN, self.base(), message).into()
            }
            (Refusal::Unauthenticated | Refusal::Forbidden, _) if anonymous => {
                ApiError::missing_token(&super::TOKEN, what).into()
            }
            (Refusal::Forbidden, _) => FigshareError::Forbidden {
                what: what.to_string(),
                message,
            },
            (Refusal::NotFound, Scope::Article) if status == StatusCode::NOT_FOUND => {
                FigshareError::ArticleNotFound {
                    article: self.article,
                    api: self.base().to_string(),
                    anonymous,
                }
            }
            (Refusal::NotFound, _) => FigshareError::NotFound(format!("{what}: {message}")),
            _ => FigshareError::Http {
                what: what.to_string(),
                status: status.as_u16(),
                message,
            },
        }
    }

    /// The JSON of an answer (bounded), or the error its status means.
    fn parse<T: DeserializeOwned>(
        &self,
        answer: Answer,
        what: &str,
        scope: Scope,
    ) -> Result<T, FigshareError> {
        if !answer.status.is_success() {
            return Err(self.classify_answer(&answer, what, scope));
        }
        serde_json::from_str(&answer.body).map_err(|source| FigshareError::NotJson {
            what: what.to_string(),
            source,
        })
    }

    async fn read<T: DeserializeOwned>(
        &self,
        response: Response,
        what: &str,
        scope: Scope,
    ) -> Result<T, FigshareError> {
        let answer = self.api.read(response).await?;
        self.parse(answer, what, scope)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        json: Option<&serde_json::Value>,
        what: &str,
        scope: Scope,
    ) -> Result<T, FigshareError> {
        let answer = self.api.fetch_json(method, url, json).await?;
        self.parse(answer, what, scope)
    }

    /// Checks the token itself, when there is one.
    pub async fn check_token(&self) -> Result<(), FigshareError> {
        if self.has_token() {
            let _: serde_json::Value = self
                .call(
                    Method::GET,
                    self.url("account", &[]),
                    None,
                    "token check",
                    Scope::Thing,
                )
                .await?;
        }
        Ok(())
    }

    /// Checks that the article exists and this token may see it (private
    /// view with a token, public view without). `Ok(false)`: the token's
    /// account does not own it (`/account/articles/{id}` is 404) but it is
    /// published, so it can be read, not written.
    pub async fn check_article(&self) -> Result<bool, FigshareError> {
        let read = |path: String| async move {
            self.call::<serde_json::Value>(
                Method::GET,
                self.url(&path, &[]),
                None,
                "article",
                Scope::Article,
            )
            .await
        };
        let public = format!("articles/{}", self.article);
        if !self.has_token() {
            return read(public).await.map(|_| true);
        }
        match read(format!("account/articles/{}", self.article)).await {
            Ok(_) => Ok(true),
            Err(e @ FigshareError::ArticleNotFound { .. }) => match read(public).await {
                Ok(_) => Ok(false),
                Err(FigshareError::ArticleNotFound { .. }) => Err(e),
                Err(other) => Err(other),
            },
            Err(e) => Err(e),
        }
    }

    /// Every page of a listing at `path`, asked with `page`/`page_size`:
    /// until a page brings nothing new (empty, or only files already seen:
    /// a server that ignores paging must not make this loop forever).
    async fn paged(
        &self,
        path: &str,
        what: &str,
        scope: Scope,
    ) -> Result<Vec<FsFile>, FigshareError> {
        let mut out: Vec<FsFile> = Vec::new();
        self.paged_each::<FigshareError>(path, what, scope, &mut |f| {
            out.push(f);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Like [`Self::paged`], handing each file to `each` as its page
    /// arrives; only the ids seen so far are kept.
    async fn paged_each<E: From<FigshareError>>(
        &self,
        path: &str,
        what: &str,
        scope: Scope,
        each: &mut (dyn FnMut(FsFile) -> Result<(), E> + Send),
    ) -> Result<(), E> {
        /// The engine's stop is a Figshare failure like any other.
        struct Failed<E>(E);
        impl<E: From<FigshareError>> From<PagingError> for Failed<E> {
            fn from(e: PagingError) -> Self {
                Self(FigshareError::from(e).into())
            }
        }
        let mut seen = std::collections::HashSet::new();
        let listed = paging::each_page_within(
            Cursor::Page {
                number: 1,
                size: PAGE,
            },
            paging::MAX_PAGES,
            MAX_OFFSET,
            |f: &FsFile| f.id,
            |cursor| async move {
                let (number, size) = match cursor {
                    Cursor::Page { number, size } => (number, size),
                    _ => (1, PAGE),
                };
                let (p, size) = (number.to_string(), size.to_string());
                let url = self.url(path, &[("page", &p), ("page_size", &size)]);
                let files: Vec<FsFile> = self
                    .call(Method::GET, url, None, what, scope)
                    .await
                    .map_err(|e| Failed(e.into()))?;
                Ok(Page::of(files))
            },
            &mut |f: FsFile| {
                seen.insert(f.id);
                each(f).map_err(Failed)?;
                Ok(ControlFlow::Continue(()))
            },
        )
        .await
        .map_err(|Failed(e)| e)?;
        if let paging::Listed::OffsetLimit { next_offset } = listed {
            // Past the offset limit no page can be asked for: the article
            // itself lists its files (`files` of the article presenter),
            // the rest of them are taken from there.
            let article_path = path.strip_suffix("/files").unwrap_or(path);
            tracing::debug!(
                next_offset,
                "listing past Figshare's offset limit: reading the article"
            );
            let article: ArticleFiles = self
                .call(Method::GET, self.url(article_path, &[]), None, what, scope)
                .await?;
            for f in article.files {
                if seen.insert(f.id) {
                    each(f)?;
                }
            }
        }
        Ok(())
    }

    /// The files of the remote's article as this user sees it, page by
    /// page: the private, editable version with a token that owns it, else
    /// the latest published version. Returns whether the private view was
    /// read.
    pub async fn visible_files_each(
        &self,
        each: &mut (dyn FnMut(FsFile) -> Result<(), ProviderError> + Send),
    ) -> Result<bool, ProviderError> {
        /// A failure of the listing, or of what was done with a file.
        enum Failed {
            Api(FigshareError),
            Sink(ProviderError),
        }
        impl From<FigshareError> for Failed {
            fn from(e: FigshareError) -> Self {
                Self::Api(e)
            }
        }
        if self.has_token() {
            let mut any = false;
            let private = self
                .paged_each::<Failed>(
                    &format!("account/articles/{}/files", self.article),
                    "file list of the article",
                    Scope::Article,
                    &mut |f| {
                        any = true;
                        each(f).map_err(Failed::Sink)
                    },
                )
                .await;
            match private {
                Ok(()) => return Ok(true),
                // Someone else's public article (the token's account does
                // not own it): Figshare answers 404 for "no permission".
                Err(Failed::Api(
                    FigshareError::ArticleNotFound { .. } | FigshareError::NotFound(_),
                )) if !any => {}
                Err(Failed::Api(e)) => return Err(e.into()),
                Err(Failed::Sink(e)) => return Err(e),
            }
        }
        let article = self.article;
        self.paged_each::<ProviderError>(
            &format!("articles/{article}/files"),
            &format!("file list of article {article}"),
            Scope::Thing,
            each,
        )
        .await?;
        Ok(false)
    }

    /// The files of the remote's article as its owner sees them (the
    /// private, editable version).
    pub async fn files(&self) -> Result<Vec<FsFile>, FigshareError> {
        self.need_token("listing the article's files")?;
        self.paged(
            &format!("account/articles/{}/files", self.article),
            "file list of the article",
            Scope::Article,
        )
        .await
    }

    /// The files of a public article (its latest version, or `version`).
    pub async fn public_files(
        &self,
        article: u64,
        version: Option<u64>,
    ) -> Result<Vec<FsFile>, FigshareError> {
        match version {
            None => {
                self.paged(
                    &format!("articles/{article}/files"),
                    &format!("file list of article {article}"),
                    Scope::Thing,
                )
                .await
            }
            Some(v) => {
                let a: ArticleFiles = self
                    .call(
                        Method::GET,
                        self.url(&format!("articles/{article}/versions/{v}"), &[]),
                        None,
                        &format!("version {v} of article {article}"),
                        Scope::Thing,
                    )
                    .await?;
                Ok(a.files)
            }
        }
    }

    /// The published versions of the remote's article (none while it is
    /// private: its public view is 404 until it is published).
    pub async fn versions(&self) -> Result<Vec<u64>, FigshareError> {
        let url = self.url(&format!("articles/{}/versions", self.article), &[]);
        match self
            .call::<Vec<VersionRef>>(Method::GET, url, None, "published versions", Scope::Thing)
            .await
        {
            Ok(v) => Ok(v.into_iter().map(|v| v.version).collect()),
            Err(FigshareError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// One file of the remote's article (private view).
    pub async fn file(&self, id: u64) -> Result<FsFile, FigshareError> {
        self.need_token("reading a file's details")?;
        let url = self.url(
            &format!("account/articles/{}/files/{id}", self.article),
            &[],
        );
        self.call(Method::GET, url, None, &format!("file {id}"), Scope::Thing)
            .await
    }

    /// Deletes file `id` from the article.
    pub async fn delete(&self, id: u64) -> Result<(), FigshareError> {
        self.need_token("deleting a file")?;
        let url = self.url(
            &format!("account/articles/{}/files/{id}", self.article),
            &[],
        );
        let response = self
            .api
            .send(|| self.request(Method::DELETE, url.clone()))
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let answer = self.api.read(response).await?;
        Err(self.classify_answer(&answer, &format!("delete of file {id}"), Scope::Thing))
    }

    /// Uploads `src` (of `size` bytes and MD5 `md5`) as a new file `name`
    /// of the article, and waits until Figshare has processed it. Returns
    /// the file as Figshare then lists it.
    pub async fn upload(
        &self,
        name: &str,
        src: &Path,
        size: u64,
        md5: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<FsFile, FigshareError> {
        self.need_token("uploading")?;
        // (1) initiate: name, size and MD5.
        let body = serde_json::json!({"name": name, "size": size, "md5": md5});
        let loc: Location = self
            .call(
                Method::POST,
                self.url(&format!("account/articles/{}/files", self.article), &[]),
                Some(&body),
                "starting an upload",
                Scope::Article,
            )
            .await?;
        // The location names the new file; it is read back from our own
        // base (never a host the answer chooses, which would get the token).
        let id: u64 = loc
            .location
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                FigshareError::BadResponse(format!(
                    "upload location without a file id: {}",
                    loc.location
                ))
            })?;
        let result = self
            .upload_parts_and_complete(id, src, size, progress)
            .await;
        match result {
            Ok(f) => Ok(f),
            // A file still being checked is Figshare's to finish: deleting
            // it now could race its processing; the next store finds it.
            Err(e @ FigshareError::Processing(_)) => Err(e),
            Err(e) => {
                // Leave no half-made file behind (best effort).
                let _ = self.delete(id).await;
                Err(e)
            }
        }
    }

    async fn upload_parts_and_complete(
        &self,
        id: u64,
        src: &Path,
        size: u64,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<FsFile, FigshareError> {
        // (2) the file's upload_url.
        let f = self.file(id).await?;
        let upload_url = f
            .upload_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| FigshareError::BadResponse(format!("file {id} has no upload_url")))?;
        let upload_url =
            Url::parse(upload_url).map_err(|source| FigshareError::BadUploadUrl { id, source })?;
        // (3) its parts: inclusive offsets.
        let response = self
            .api
            .send(|| self.api.anonymous_request(Method::GET, upload_url.clone()))
            .await?;
        let info: UploadInfo = self.read(response, "upload parts", Scope::Thing).await?;
        // (4) each part, exactly its range, without the API token.
        let total = AtomicU64::new(0);
        for part in &info.parts {
            if part.end < part.start {
                return Err(FigshareError::BadResponse(format!(
                    "part {} ends ({}) before it starts ({})",
                    part.part_no, part.end, part.start
                )));
            }
            if part.status.eq_ignore_ascii_case("COMPLETE") {
                continue;
            }
            self.put_part(&upload_url, part, src, progress, &total)
                .await?;
        }
        // (5) complete, then wait for processing.
        let url = self.url(
            &format!("account/articles/{}/files/{id}", self.article),
            &[],
        );
        let response = self
            .api
            .send(|| self.request(Method::POST, url.clone()))
            .await?;
        if !response.status().is_success() {
            let answer = self.api.read(response).await?;
            return Err(self.classify_answer(
                &answer,
                &format!("completing upload of file {id}"),
                Scope::Thing,
            ));
        }
        self.wait_processed(id, size).await
    }

    async fn put_part(
        &self,
        upload_url: &Url,
        part: &Part,
        src: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
        total: &AtomicU64,
    ) -> Result<(), FigshareError> {
        let mut url = upload_url.clone();
        let path = format!("{}/{}", url.path().trim_end_matches('/'), part.part_no);
        url.set_path(&path);
        let request = || self.api.anonymous_request(Method::PUT, url.clone());
        let spec = Upload {
            request: &request,
            body: BodySource::File(FileRange::new(src, part.start, part.end - part.start + 1)),
            digest: None,
            server_digest: None,
            progress,
            shared: Some(total),
        };
        let schedule = PollSchedule::looks(
            Duration::from_millis(20),
            Duration::from_secs(5),
            LOCKED_TRIES,
        );
        let spec = &spec;
        let polled = self
            .api
            .poll_until(schedule, || async move {
                match self.api.client().upload(spec).await {
                    Ok(_) => Ok(Poll::Done(())),
                    // 409: the part is locked (being written); wait.
                    Err(TransferError::Status { status, detail, .. })
                        if status == StatusCode::CONFLICT =>
                    {
                        Ok(Poll::NotYet(detail))
                    }
                    Err(TransferError::Status { status, detail, .. }) => Err(self.classify(
                        status,
                        &detail,
                        &format!("upload of part {}", part.part_no),
                        Scope::Thing,
                    )),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        polled.map_err(|message| FigshareError::Locked {
            what: format!("part {}", part.part_no),
            message,
        })
    }

    /// How long to wait for Figshare to process a file of `size` bytes:
    /// `processwait=` plus the time to read it once more at 20 MB/s (its
    /// integrity check reads it whole).
    pub fn process_wait_for(&self, size: u64) -> Duration {
        self.process_wait + Duration::from_secs(size / (20 * 1000 * 1000))
    }

    /// Polls file `id` (of `size` bytes) until Figshare has processed it
    /// (`status` `available` and a `computed_md5`); `ic_failure` (the MD5
    /// named at the start did not match what arrived) ends it at once.
    pub async fn wait_processed(&self, id: u64, size: u64) -> Result<FsFile, FigshareError> {
        // Processing takes a moment at least: look after a short wait.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let wait = self.process_wait_for(size);
        let schedule = PollSchedule::until(Duration::from_millis(40), Duration::from_secs(2), wait);
        let polled = self
            .api
            .poll_until(schedule, || async {
                let f = self.file(id).await?;
                if f.failed_check() {
                    return Err(FigshareError::Integrity(format!(
                        "Figshare's integrity check of file {id} ({}) failed (status {IC_FAILURE}): \
                         the checksum did not match, so the bytes that arrived are not the ones \
                         sent; the upload was deleted, try again",
                        f.name
                    )));
                }
                Ok::<_, FigshareError>(if f.is_available() {
                    Poll::Done(f)
                } else {
                    Poll::NotYet(f)
                })
            })
            .await?;
        polled.map_err(|f| {
            FigshareError::Processing(format!(
                "Figshare had not finished processing file {id} (status {}) after {} s; it is \
                 left to finish: try again later, which keeps it once it is available (raise \
                 processwait= to wait longer)",
                f.status.as_deref().unwrap_or("unknown"),
                wait.as_secs()
            ))
        })
    }

    /// The API download endpoint of file `id` (never the browser path).
    pub fn download_url(&self, id: u64) -> Url {
        self.url(&format!("file/download/{id}"), &[])
    }

    /// Whether the API would serve file `id` (it answers with a redirect
    /// to storage, which is not followed here).
    pub async fn probe(&self, id: u64) -> Result<bool, FigshareError> {
        let url = self.download_url(id);
        let response = self
            .api
            .send(|| self.request(Method::GET, url.clone()))
            .await?;
        let status = response.status();
        if status.is_redirection()
            || status == StatusCode::OK
            || status == StatusCode::PARTIAL_CONTENT
        {
            return Ok(true);
        }
        if Refusal::of(status, response.headers()) == Refusal::NotFound {
            return Ok(false);
        }
        let answer = self.api.read(response).await?;
        Err(self.classify_answer(&answer, &format!("file {id}"), Scope::Thing))
    }

    /// Streams file `id` into `to.dest` through the API download endpoint
    /// (resuming from what is there), checking size and MD5 when known.
    /// An empty `202` challenge is a failure; an HTML page or empty body
    /// cannot match the size and MD5.
    pub async fn download(&self, id: u64, to: &DownloadTo<'_>) -> Result<(), FigshareError> {
        let url = self.download_url(id);
        let request = || self.request(Method::GET, url.clone());
        let through_api = self.download_with(&request, id, to).await;
        // The API endpoint is documented as "Public File Download": a
        // private file may be 404 there. The documented route for private
        // files is the downloader with `?token=`.
        let Err(e) = through_api else {
            return Ok(());
        };
        let private = e
            .is_not_found()
            .then(|| {
                self.api
                    .with_token_query(self.private_download_url(id), "token")
            })
            .flatten();
        let Some(private) = private else {
            return Err(e);
        };
        let request = || self.api.anonymous_request(Method::GET, private.clone());
        match self.download_with(&request, id, to).await {
            Ok(()) => Ok(()),
            Err(again) if again.is_not_found() => Err(e),
            Err(again) => Err(again),
        }
    }

    /// The documented download route for private files
    /// (figshare/user_documentation, docs/api/articles.md, "Download
    /// private files"): `https://ndownloader.figshare.com/files/{id}` for
    /// the public API, `/ndownloader/files/{id}` on the API's own origin
    /// otherwise (a test server).
    pub fn private_download_url(&self, id: u64) -> Url {
        let base = self.base();
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        match TokenService::Figshare.second_host(base.host_str().unwrap_or_default()) {
            Some(host) => {
                let _ = url.set_host(Some(host));
                url.set_path(&format!("files/{id}"));
            }
            None => url.set_path(&format!("ndownloader/files/{id}")),
        }
        url
    }

    async fn download_with(
        &self,
        request: &(dyn Fn() -> RequestBuilder + Send + Sync),
        id: u64,
        to: &DownloadTo<'_>,
    ) -> Result<(), FigshareError> {
        match self.api.download_answer(request, to).await? {
            Ok(()) => Ok(()),
            Err(refused) => {
                Err(self.classify_answer(&refused, &format!("download of file {id}"), Scope::Thing))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{assert_named, Named};

    fn api(token: Option<&str>) -> Api {
        Api::new(
            Client::new(Default::default()).unwrap(),
            Url::parse("https://api.figshare.com/v2").unwrap(),
            42,
            token.and_then(|t| Token::new(t.into(), SCHEME)),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn an_echoed_token_never_reaches_a_message() {
        let a = api(Some("tok-9f8e7d"));
        let body = r#"{"message":"Token tok-9f8e7d is not valid","code":"InvalidToken"}"#;
        for status in [
            StatusCode::UNAUTHORIZED,
            StatusCode::BAD_REQUEST,
            StatusCode::FORBIDDEN,
        ] {
            let e = a.classify(status, body, "listing", Scope::Article);
            assert!(!e.to_string().contains("tok-9f8e7d"), "{e}");
        }
    }

    #[test]
    fn urls_keep_the_base_path() {
        let a = api(None);
        assert_eq!(
            a.url("account/articles/42/files", &[("page", "1")])
                .as_str(),
            "https://api.figshare.com/v2/account/articles/42/files?page=1"
        );
        assert_eq!(
            a.download_url(7).as_str(),
            "https://api.figshare.com/v2/file/download/7"
        );
    }

    #[test]
    fn errors_are_named_by_status_and_scope() {
        use FigshareError::*;
        let a = api(Some("s3cret"));
        let invalid = r#"{"message":"Invalid token","code":"InvalidToken"}"#;
        let gone = r#"{"message":"Entity not found","code":"EntityNotFound"}"#;
        #[rustfmt::skip]
        let cases: [Named<Scope, FigshareError>; 4] = [
            (401, invalid, Scope::Thing, |e| matches!(e, Api(ApiError::BadToken { .. }))),
            (404, gone, Scope::Article, |e| matches!(e, ArticleNotFound { .. })),
            (404, gone, Scope::Thing, |e| e.is_not_found()),
            (422, "{}", Scope::Thing, |e| matches!(e, Http { status: 422, .. })),
        ];
        assert_named(|s, b, scope| a.classify(s, b, "x", scope), &cases, "s3cret");
        let e = api(None).classify(StatusCode::FORBIDDEN, "", "x", Scope::Thing);
        assert!(matches!(e, Api(ApiError::MissingToken { .. })), "{e}");
    }

    /// `null` where a value is unknown, and integer error codes, are read
    /// as Figshare sends them; `ic_failure` is final.
    #[test]
    fn nulls_integer_codes_and_failed_checks() {
        let f: FsFile = serde_json::from_str(
            r#"{"id":1,"name":"a","size":null,"computed_md5":null,"supplied_md5":null,"status":"ic_checking"}"#,
        )
        .unwrap();
        assert_eq!((f.size, f.computed_md5.as_str()), (0, ""));
        assert!(f.is_processing() && !f.failed_check() && !f.is_available());
        let f: FsFile = serde_json::from_str(
            r#"{"id":1,"name":"a","size":3,"computed_md5":"abc","supplied_md5":"abd","status":"ic_failure"}"#,
        )
        .unwrap();
        assert!(f.failed_check() && !f.is_processing() && !f.is_available());
        let a = api(None);
        let e = a.classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"message":"Offset limit exceeded","code":422}"#,
            "listing",
            Scope::Thing,
        );
        assert!(e.to_string().contains("Offset limit exceeded (422)"), "{e}");
    }

    #[test]
    fn the_documented_private_route() {
        let a = api(Some("tok-123"));
        assert_eq!(
            a.private_download_url(9).as_str(),
            "https://ndownloader.figshare.com/files/9"
        );
        let with = a
            .api
            .with_token_query(a.private_download_url(9), "token")
            .unwrap();
        assert_eq!(with.query(), Some("token=tok-123"));
        // Never to another host.
        let other = Url::parse("https://evil.example/files/9").unwrap();
        assert!(a.api.with_token_query(other, "token").is_none());
    }

    #[test]
    fn availability() {
        let f: FsFile = serde_json::from_str(
            r#"{"id":1,"name":"a","size":3,"computed_md5":"","status":"ic_checking"}"#,
        )
        .unwrap();
        assert!(!f.is_available());
        let f: FsFile = serde_json::from_str(
            r#"{"id":1,"name":"a","size":3,"computed_md5":"abc","status":"available"}"#,
        )
        .unwrap();
        assert!(f.is_available());
        // Public listings carry no status.
        let f: FsFile =
            serde_json::from_str(r#"{"id":1,"name":"a","size":3,"computed_md5":"abc"}"#).unwrap();
        assert!(f.is_available());
    }
}
