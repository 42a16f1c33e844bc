//! The one way annexa talks to a service's JSON API (Dataverse, Figshare,
//! GitHub): every guarantee is kept here once, for all of them.
//!
//! - URLs are built on the base the user chose ([`ServiceApi::url`]); the
//!   token is attached only to requests for that base's site
//!   ([`crate::providers::token::same_origin`]) and bound to its host
//!   ([`crate::providers::token::ApiToken::header_for`]), never to a host an answer
//!   names.
//! - Answers read into memory are bounded in size ([`JSON_LIMIT`] per
//!   answer or page, [`crate::transfer::ERROR_BODY_LIMIT`] per error body)
//!   and in time (the stall timeout, `ANNEXA_TIMEOUT`, covers the body,
//!   not only the headers); a GET whose body breaks off or is no JSON is
//!   asked for again under the retry policy.
//! - One classifier names what an error status means ([`Refusal`]), rate
//!   limits included (`Retry-After`, GitHub's `x-ratelimit-reset`); each
//!   provider only adds what its own request was about (its `Scope`).
//! - Server text is scrubbed of the token before it reaches a message.
//! - Listings go through one paging engine ([`paging`]).
//! - Every file download is one [`DownloadTo`] through
//!   [`ServiceApi::download`]: a provider adds only its URL and fallbacks.
//! - Secondary rate limits (GitHub's 403/429 that only its text names) are
//!   waited out for every request, upload and download ([`limits`]).
//!
//! Waiting for a service (locks, processing) is
//! [`crate::transfer::RetryPolicy::poll_until`].

pub mod kind;
pub mod limits;
pub mod paging;

use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

pub use self::kind::{ApiAccess, ApiAddress, ServiceInfo, ServiceKind, ServiceRemote};
use super::token::{self, ApiToken};
use super::ProviderError;
use crate::transfer::{
    self, Client, Download, DownloadOutcome, Expected, ProgressFn, TransferError, Upload,
};

/// Most of one JSON answer (one page of a listing, or one object) we read:
/// a page of 1,000 files with all their details fits many times over; an
/// endless or huge answer ends here, not in memory.
pub const JSON_LIMIT: usize = 32 << 20;

/// What an error status means, by status and headers alone: the same for
/// every service. Providers add what their request was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// 401: no credentials, or ones the service does not accept.
    Unauthenticated,
    /// 403 that is not a rate limit.
    Forbidden,
    /// 404 or 410.
    NotFound,
    /// 409 or 412: the thing changed meanwhile, or is in use.
    Conflict,
    /// 429, or GitHub's 403 with no requests left or `Retry-After`: the
    /// service asks us to wait (`wait`, when it says how long).
    RateLimited { wait: Option<Duration> },
    /// 400: the request was refused as bad.
    BadRequest,
    /// 422: the request was understood but not accepted.
    Unprocessable,
    /// 5xx.
    ServerError,
    /// Anything else.
    Other,
}

impl Refusal {
    pub fn of(status: StatusCode, headers: &HeaderMap) -> Self {
        let rate_limited = || Self::RateLimited {
            wait: transfer::server_wait(headers),
        };
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 if transfer::is_transient(status, headers) => rate_limited(),
            403 => Self::Forbidden,
            404 | 410 => Self::NotFound,
            409 | 412 => Self::Conflict,
            429 => rate_limited(),
            400 => Self::BadRequest,
            422 => Self::Unprocessable,
            500..=599 => Self::ServerError,
            _ => Self::Other,
        }
    }

    /// The [`ProviderError`] this refusal is when nothing more specific is
    /// known; `message` says what was asked.
    pub fn into_error(
        self,
        message: String,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ProviderError {
        match self {
            Self::Unauthenticated => ProviderError::Unauthenticated { message, source },
            Self::Forbidden => ProviderError::PermissionDenied { message, source },
            Self::NotFound => ProviderError::NotFound { message, source },
            Self::Conflict => ProviderError::Conflict { message, source },
            Self::RateLimited { wait } => ProviderError::Transient {
                message: match wait {
                    Some(w) => format!(
                        "{message}: rate limited; the service asks to wait {} s",
                        w.as_secs()
                    ),
                    None => format!("{message}: rate limited; try again later"),
                },
                source,
            },
            Self::ServerError => ProviderError::Transient { message, source },
            Self::BadRequest | Self::Unprocessable | Self::Other => {
                ProviderError::service(message, source)
            }
        }
    }
}

/// An answer read whole (bounded): its status and headers, and its body:
/// the whole body of a success, the bounded and token-scrubbed start of an
/// error's.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn refusal(&self) -> Refusal {
        Refusal::of(self.status, &self.headers)
    }
}

/// What fails the same way with every service's JSON API. A provider's
/// own error enum holds it as `Api` (see [`api_error_sources`]); it has one
/// meaning as a [`ProviderError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Nothing usable arrived: network, stall, an answer over its cap.
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// A success whose body is not the JSON the service sends.
    #[error("the answer is not the JSON the service sends")]
    NotJson(#[source] serde_json::Error),
    /// A listing the service would not let end.
    #[error("listing")]
    Paging(#[from] paging::PagingError),
    #[error("local file")]
    Io(#[from] std::io::Error),
    /// A request about `what` that needs the token, without one.
    #[error(
        "{what} needs a {} API token: set {env} (or store it with `{env}=... git annex \
         enableremote <remote>`); {hint}",
        .token.service.name(),
        env = .token.env,
        hint = token::NOT_CHOSEN_HINT
    )]
    MissingToken {
        what: String,
        token: &'static token::TokenSource,
    },
    /// The service at `base` did not accept the token (`message`: its
    /// answer, scrubbed of the token).
    #[error(
        "{} at {base} rejected the API token ({message}). Set {env} to a valid token ({}), or \
         store a new one with `{env}=... git annex enableremote <remote>`",
        .token.service.name(),
        .token.service.token_page(),
        env = .token.env
    )]
    BadToken {
        token: &'static token::TokenSource,
        base: String,
        message: String,
    },
}

impl ApiError {
    /// A request about `what` needs the token of `token`, and has none.
    pub fn missing_token(token: &'static token::TokenSource, what: &str) -> Self {
        Self::MissingToken {
            what: what.to_string(),
            token,
        }
    }

    /// The service at `base` refused the token of `token`, saying `message`.
    pub fn bad_token(token: &'static token::TokenSource, base: &Url, message: String) -> Self {
        Self::BadToken {
            token,
            base: base.to_string(),
            message,
        }
    }
}

/// Each shared failure by its meaning; the runtime decides from the variant
/// alone.
impl From<ApiError> for ProviderError {
    fn from(e: ApiError) -> Self {
        let message = e.to_string();
        match e {
            ApiError::Transfer(t) => t.into(),
            ApiError::NotJson(source) => Self::service(message, Some(Box::new(source))),
            ApiError::Paging(p) => p.into(),
            ApiError::Io(io) => Self::Io(io),
            ApiError::MissingToken { .. } => Self::MissingCredentials(message),
            ApiError::BadToken { .. } => Self::Unauthenticated {
                message,
                source: None,
            },
        }
    }
}

/// For a provider's error enum with an `Api(ApiError)` variant: `From`
/// each failure [`ApiError`] holds, so `?` takes them as it takes the
/// enum's own.
macro_rules! api_error_sources {
    ($error:ty) => {
        impl From<$crate::transfer::TransferError> for $error {
            fn from(e: $crate::transfer::TransferError) -> Self {
                Self::Api(e.into())
            }
        }
        impl From<$crate::providers::service_api::paging::PagingError> for $error {
            fn from(e: $crate::providers::service_api::paging::PagingError) -> Self {
                Self::Api(e.into())
            }
        }
        impl From<std::io::Error> for $error {
            fn from(e: std::io::Error) -> Self {
                Self::Api(e.into())
            }
        }
    };
}
pub(crate) use api_error_sources;

/// The `git annex info` row that says whether a token is in use.
pub fn token_row(has_token: bool) -> (String, String) {
    let state = match has_token {
        true => "set",
        false => "none (read-only, published files)",
    };
    ("API token".into(), state.into())
}

/// A remote's setting `name`, trimmed; `None` when unset or blank.
pub async fn setting(annex: &dyn super::Annex, name: &str) -> super::Result<Option<String>> {
    Ok(annex
        .get_config(name)
        .await?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// The remote's setting `name`, which must be given; `form` shows what it
/// holds: "ID (the number at the end of the article's URL)".
pub async fn required_setting(
    annex: &dyn super::Annex,
    name: &str,
    form: &str,
) -> super::Result<String> {
    setting(annex, name)
        .await?
        .ok_or_else(|| ProviderError::Config(format!("{name}={form} is required")))
}

/// `setting=text` as an API or web address: an http(s) URL with a host,
/// without query or fragment (`example` shows one in messages).
pub fn http_setting(setting: &'static str, text: &str, example: &str) -> super::Result<Url> {
    let mut url =
        Url::parse(text).map_err(|e| ProviderError::bad_setting(setting, text, "a URL", e))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ProviderError::Config(format!(
            "{setting}={} must be an http(s) address such as {example}",
            transfer::RedactedUrl::new(url)
        )));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The remote's setting `name` as a number of seconds, else `default`.
pub async fn seconds_setting(
    annex: &dyn super::Annex,
    name: &'static str,
    default: Duration,
) -> super::Result<Duration> {
    match setting(annex, name).await? {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map(Duration::from_secs)
            .map_err(|e| ProviderError::bad_setting(name, &v, "a number of seconds", e)),
    }
}

/// The path segments of `url` (empty ones dropped) and, when `url` is on
/// `base`'s origin and below its path, the segments after that path: how
/// a claimed URL is read against the API the user chose.
pub fn segments_below<'a>(base: &Url, url: &'a Url) -> (Vec<&'a str>, Option<Vec<&'a str>>) {
    let segments = path_segments(url);
    let below = token::same_origin(base, url)
        .then(|| path_below(base, &segments))
        .flatten();
    (segments, below)
}

/// The path `segments` after `base`'s path, when they lie below it,
/// whatever the origin (for a service's own public API host).
pub fn path_below<'a>(base: &Url, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let base_path = path_segments(base);
    (segments.len() > base_path.len() && segments[..base_path.len()] == base_path[..])
        .then(|| segments[base_path.len()..].to_vec())
}

/// `url`'s path segments, empty ones dropped.
fn path_segments(url: &Url) -> Vec<&str> {
    url.path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect()
}

/// A service's JSON API at the base the user chose, with its token.
#[derive(Clone)]
pub struct ServiceApi {
    client: Client,
    base: Url,
    token: Option<ApiToken>,
    /// The header the token travels in (`Authorization`,
    /// `X-Dataverse-key`).
    header: HeaderName,
    /// A second host of the same service the token may go to (GitHub's
    /// uploads host), on the base's scheme: chosen by code for the base,
    /// never by an answer.
    uploads_host: Option<String>,
    /// Content-creating requests paced below the service's limit.
    pace: Option<limits::WritePace>,
}

impl ServiceApi {
    pub fn new(client: Client, base: Url, token: Option<ApiToken>, header: HeaderName) -> Self {
        Self {
            client,
            base,
            token,
            header,
            uploads_host: None,
            pace: None,
        }
    }

    /// The same API whose content-creating requests (uploads, and every
    /// request but GET and HEAD) keep to `pace`.
    pub fn with_write_pace(mut self, pace: Option<limits::WritePace>) -> Self {
        self.pace = pace;
        self
    }

    /// Waits for the turn of a content-creating request.
    async fn paced(&self) {
        if let Some(p) = &self.pace {
            p.turn().await;
        }
    }

    /// The same API whose token may also go to `host` (any port, the
    /// base's scheme): a service's own second host, such as GitHub's
    /// uploads host.
    pub fn with_uploads_host(mut self, host: &str) -> Self {
        self.uploads_host = Some(host.to_ascii_lowercase());
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The token, for git-annex's credential store only.
    pub fn token(&self) -> Option<&ApiToken> {
        self.token.as_ref()
    }

    /// The `git annex info` row that says whether a token is in use.
    pub fn token_row(&self) -> (String, String) {
        token_row(self.has_token())
    }

    /// `Err(missing())` when there is no token (a write needs one).
    pub fn need_token<E>(&self, missing: impl FnOnce() -> E) -> Result<(), E> {
        match self.token {
            Some(_) => Ok(()),
            None => Err(missing()),
        }
    }

    /// `base` + `path`, keeping a base path (`https://host/dataverse/`,
    /// `https://api.figshare.com/v2`); `path` is not a URL, so an answer's
    /// text can never choose the host.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        url.set_fragment(None);
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// `base` + path segments, each escaped (`repos/OWNER/NAME/...`).
    pub fn url_segments<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for s in segments.into_iter().filter(|s| !s.is_empty()) {
                path.push(s);
            }
        }
        url
    }

    /// Whether the token may go to `url`: only to the site of the base the
    /// user chose.
    pub fn is_own_site(&self, url: &Url) -> bool {
        token::same_origin(&self.base, url)
            || (url.scheme() == self.base.scheme()
                && self.uploads_host.is_some()
                && url.host_str().map(str::to_ascii_lowercase) == self.uploads_host)
    }

    /// A request for `url`, with the token when `url` is on the base's own
    /// site (never otherwise).
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        // Both rules hold: the request is on the API's own site, and the
        // token is bound to that host (https, or loopback) — token.rs.
        let header = self
            .token
            .as_ref()
            .filter(|_| self.is_own_site(&url))
            .and_then(|t| t.header_for(&url));
        let builder = self.client.http().request(method, url);
        match header {
            Some(value) => builder.header(self.header.clone(), value),
            None => builder,
        }
    }

    /// `url` with the token as the query parameter `name`, for a service
    /// whose documented route takes it there (Figshare's downloader): only
    /// for the base's own site or its second host, over https (or to
    /// loopback), and only to the hosts the token is bound to. `None`
    /// otherwise, or without a token. The URL must never be printed
    /// unredacted ([`crate::transfer::RedactedUrl`] masks query values).
    pub fn with_token_query(&self, mut url: Url, name: &str) -> Option<Url> {
        let token = self.token.as_ref()?;
        if !self.is_own_site(&url) || token.header_for(&url).is_none() {
            return None;
        }
        url.query_pairs_mut().append_pair(name, token.expose());
        Some(url)
    }

    /// A request that never carries the token (an upload service whose URL
    /// is its own credential).
    pub fn anonymous_request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.http().request(method, url)
    }

    /// `text` (a server's) with the token masked: some servers echo it.
    pub fn scrub(&self, text: &str) -> String {
        match &self.token {
            Some(t) => t.scrub(text),
            None => text.to_string(),
        }
    }

    /// Sends with the retry policy; the response's status is not judged.
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, TransferError> {
        self.client.send(build).await
    }

    /// The start of an error answer's body, bounded and scrubbed.
    pub async fn error_body(&self, response: Response) -> String {
        self.scrub(&transfer::read_error_body(response).await)
    }

    /// A success's body, capped at [`JSON_LIMIT`] and under the stall
    /// timeout; an error's bounded start. Either scrubbed.
    pub async fn read(&self, response: Response) -> Result<Answer, TransferError> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = if status.is_success() {
            let bytes =
                transfer::read_limited(response, JSON_LIMIT, self.client.policy().stall_timeout)
                    .await?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            self.error_body(response).await
        };
        Ok(Answer {
            status,
            headers,
            body: self.scrub(&body),
        })
    }

    /// Sends the request `build` makes and reads its answer (bounded). A
    /// GET (safe to repeat) whose body breaks off or stalls, or whose
    /// success is not `complete` (a cut JSON body, a portal's page behind
    /// a 200), is asked for again under the retry policy; a stalled body
    /// only once more, as each stall already took the whole timeout.
    pub async fn fetch(
        &self,
        method: Method,
        build: impl Fn() -> RequestBuilder,
        complete: impl Fn(&str) -> bool,
    ) -> Result<Answer, TransferError> {
        let repeatable = method == Method::GET || method == Method::HEAD;
        let mut delays = self.client.policy().delays();
        let mut limited = self.secondary_limits();
        let mut stalls = 0;
        loop {
            if !repeatable {
                self.paced().await;
            }
            let response = self.send(&build).await?;
            let read = self.read(response).await;
            // A request refused for a rate limit had no effect: any method
            // may be sent again.
            if let Ok(answer) = &read {
                if limits::is_secondary_limit(answer.status, &answer.body) && limited.wait().await {
                    continue;
                }
            }
            let retry = match &read {
                Ok(answer) => answer.status.is_success() && !complete(&answer.body),
                Err(TransferError::Stalled { .. }) => {
                    stalls += 1;
                    stalls < 2
                }
                Err(TransferError::Network { .. }) => true,
                Err(_) => false,
            };
            if retry && repeatable {
                if let Some(delay) = delays.next() {
                    tracing::debug!(?delay, "answer broken; asking again");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return read;
        }
    }

    /// Looks with `look` until it finds [`transfer::Poll::Done`]: the one
    /// wait-for-a-service loop ([`transfer::RetryPolicy::poll_until`]) under
    /// this API's policy.
    pub async fn poll_until<T, W, E, F, Fut>(
        &self,
        schedule: transfer::PollSchedule,
        look: F,
    ) -> Result<Result<T, W>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<transfer::Poll<T, W>, E>>,
    {
        self.client.policy().poll_until(schedule, look).await
    }

    /// The waits one operation may spend on secondary rate limits.
    pub fn secondary_limits(&self) -> limits::SecondaryLimits {
        limits::SecondaryLimits::new(self.client.policy().max_server_wait)
    }

    /// Uploads `spec` and reads the answer (bounded, scrubbed), whatever its
    /// status; a secondary rate limit is waited out and the upload sent
    /// again (it was refused, so nothing was stored).
    pub async fn upload(&self, spec: &Upload<'_>) -> Result<Answer, TransferError> {
        let mut limited = self.secondary_limits();
        loop {
            self.paced().await;
            let response = self.client.upload_answer(spec).await?;
            let answer = self.read(response).await?;
            if limits::is_secondary_limit(answer.status, &answer.body) && limited.wait().await {
                continue;
            }
            return Ok(answer);
        }
    }

    /// [`Self::fetch`] of a GET whose success must parse as `T`; an error
    /// status is handed back as the [`Answer`] for the provider to name.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Result<(T, Answer), Answer>, ApiError> {
        let answer = self.fetch(Method::GET, build, is_json).await?;
        if !answer.status.is_success() {
            return Ok(Err(answer));
        }
        let value = serde_json::from_str(&answer.body).map_err(ApiError::NotJson)?;
        Ok(Ok((value, answer)))
    }

    /// Streams what `request` answers into `to.dest` through the one byte
    /// path (resuming from what is there), checked against `to`'s size and
    /// checksum when known. Credentials on `request` stay on its host: a
    /// redirect to storage carries none. Secondary rate limits are waited
    /// out.
    pub async fn download(
        &self,
        request: &(dyn Fn() -> RequestBuilder + Send + Sync),
        to: &DownloadTo<'_>,
    ) -> Result<DownloadOutcome, TransferError> {
        let spec = Download {
            request,
            expected_size: to.size,
            checksum: to.checksum.clone(),
            resume: true,
        };
        let mut limited = self.secondary_limits();
        loop {
            match self.client.download(&spec, to.dest, to.progress).await {
                Err(TransferError::Status { status, detail, .. })
                    if limits::is_secondary_limit(status, &detail) && limited.wait().await => {}
                other => return other,
            }
        }
    }

    /// [`Self::download`], an error status handed back as its [`Answer`]
    /// (scrubbed) for the provider to name; any other failure as it is.
    pub async fn download_answer(
        &self,
        request: &(dyn Fn() -> RequestBuilder + Send + Sync),
        to: &DownloadTo<'_>,
    ) -> Result<Result<(), Answer>, TransferError> {
        match self.download(request, to).await {
            Ok(_) => Ok(Ok(())),
            Err(TransferError::Status { status, detail, .. }) => {
                Ok(Err(self.status_answer(status, &detail)))
            }
            Err(e) => Err(e),
        }
    }

    /// The [`Answer`] of a transfer that ended in an error status.
    fn status_answer(&self, status: StatusCode, detail: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: self.scrub(detail),
        }
    }
}

/// A file's bytes wanted in `dest` (what is there already is resumed
/// from): what they must be, when known, and whom to tell how far they
/// got. Every service's download takes this; each API only adds its URL
/// and its own fallbacks.
pub struct DownloadTo<'a> {
    pub dest: &'a Path,
    /// The exact size the content must have.
    pub size: Option<u64>,
    /// A checksum the whole content must match.
    pub checksum: Option<Expected>,
    pub progress: &'a ProgressFn<'a>,
}

impl<'a> DownloadTo<'a> {
    pub fn new(
        dest: &'a Path,
        size: Option<u64>,
        checksum: Option<Expected>,
        progress: &'a ProgressFn<'a>,
    ) -> Self {
        Self {
            dest,
            size,
            checksum,
            progress,
        }
    }
}

/// Whether `body` is whole JSON (not cut off, not a portal's page).
pub fn is_json(body: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok()
}

/// The message an error answer carries: the `message` field of its JSON
/// (InvenioRDM, Figshare and GitHub all send one), else the start of the
/// body.
pub fn answer_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct WithMessage {
        message: String,
    }
    serde_json::from_str::<WithMessage>(body)
        .ok()
        .map(|m| m.message)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| transfer::summarize_body(body))
}

impl ServiceApi {
    /// The error an error answer means for a request about `what`, for a
    /// service whose token is set in `token_env`: a refusal of an
    /// anonymous request asks for the token; a refused token says so; the
    /// rest is the shared [`Refusal`] with the service's own message.
    pub fn refused(&self, answer: &Answer, what: &str, token_env: &str) -> ProviderError {
        let message = answer_message(&answer.body);
        match answer.refusal() {
            Refusal::Unauthenticated | Refusal::Forbidden if !self.has_token() => {
                ProviderError::MissingCredentials(format!(
                    "{what} needs an API token ({message}): set {token_env}; {}",
                    token::NOT_CHOSEN_HINT
                ))
            }
            Refusal::Unauthenticated => ProviderError::Unauthenticated {
                message: format!(
                    "{what}: {} rejected the API token ({message}); set {token_env} to a valid token",
                    self.base
                ),
                source: None,
            },
            refusal => refusal.into_error(
                format!("{what}: HTTP {}: {message}", answer.status.as_u16()),
                None,
            ),
        }
    }

    /// [`Self::refused`] for a transfer that ended in an error status (a
    /// download, an upload); any other transfer failure as it is.
    pub fn transfer_refused(&self, e: TransferError, what: &str, token_env: &str) -> ProviderError {
        match e {
            TransferError::Status { status, detail, .. } => {
                self.refused(&self.status_answer(status, &detail), what, token_env)
            }
            other => other.into(),
        }
    }

    /// [`Self::fetch`] of `method url` (with `body` as JSON) whose success
    /// must be JSON; the answer whatever its status.
    pub async fn fetch_json(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, TransferError> {
        let build = || {
            let b = self.request(method.clone(), url.clone());
            match body {
                Some(j) => b.json(j),
                None => b,
            }
        };
        self.fetch(method.clone(), build, is_json).await
    }

    /// Sends `method url` (with `body` as JSON) and parses a success as
    /// `T`; an error status is [`Self::refused`]. A GET whose body breaks
    /// off is asked for again ([`Self::fetch`]).
    pub async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        what: &str,
        token_env: &str,
    ) -> Result<T, ProviderError> {
        let answer = self.fetch_json(method, url, body).await?;
        if !answer.status.is_success() {
            return Err(self.refused(&answer, what, token_env));
        }
        serde_json::from_str(&answer.body).map_err(|e| {
            ProviderError::service(
                format!(
                    "{what}: the answer is not the JSON the service sends; check the API address {}",
                    self.base
                ),
                Some(Box::new(e)),
            )
        })
    }

    /// Sends a request whose answer has no body worth reading (a DELETE, a
    /// commit): `Ok` on success, [`Self::refused`] otherwise, the status
    /// handed back so the caller may accept one (404 on a delete).
    pub async fn call_status(
        &self,
        method: Method,
        url: Url,
        what: &str,
        token_env: &str,
    ) -> Result<Result<StatusCode, (StatusCode, ProviderError)>, ProviderError> {
        let response = self
            .send(|| self.request(method.clone(), url.clone()))
            .await?;
        if response.status().is_success() {
            return Ok(Ok(response.status()));
        }
        let answer = self.read(response).await?;
        Ok(Err((answer.status, self.refused(&answer, what, token_env))))
    }

    /// [`Self::download`] of a GET of `url` on the API (the token only to
    /// its own site), an error status named by [`Self::refused`].
    pub async fn download_refused(
        &self,
        url: Url,
        to: &DownloadTo<'_>,
        (what, token_env): (&str, &str),
    ) -> Result<(), ProviderError> {
        let request = || self.request(Method::GET, url.clone());
        match self.download(&request, to).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.transfer_refused(e, what, token_env)),
        }
    }

    /// Uploads the whole file `src` (`size` bytes) as the body of
    /// `method url`, streamed; the answer read (bounded) whatever its status.
    pub async fn upload_file(
        &self,
        method: Method,
        url: Url,
        src: &Path,
        size: u64,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Answer, TransferError> {
        let request = || {
            self.request(method.clone(), url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        };
        let spec = transfer::Upload {
            request: &request,
            body: transfer::BodySource::File(transfer::FileRange::new(src, 0, size)),
            digest: None,
            server_digest: None,
            progress,
            shared: None,
        };
        match self.client.upload(&spec).await {
            Ok(response) => self.read(response).await,
            Err(TransferError::Status { status, detail, .. }) => {
                Ok(self.status_answer(status, &detail))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn api(base: &str, token: Option<&str>) -> ServiceApi {
        ServiceApi::new(
            Client::new(Default::default()).unwrap(),
            Url::parse(base).unwrap(),
            token.and_then(|t| ApiToken::new(t.into(), "token")),
            reqwest::header::AUTHORIZATION,
        )
    }

    #[test]
    fn urls_keep_the_base_path_and_its_host() {
        let a = api("https://api.example.org/v2/", None);
        assert_eq!(
            a.url("articles/1/files", &[("page", "1")]).as_str(),
            "https://api.example.org/v2/articles/1/files?page=1"
        );
        // A path that looks like a URL stays a path on the base's host.
        assert_eq!(
            a.url("//evil.example/x", &[]).host_str(),
            Some("api.example.org")
        );
        assert_eq!(
            a.url_segments(["repos", "o", "r/x"]).as_str(),
            "https://api.example.org/v2/repos/o/r%2Fx"
        );
    }

    /// Addresses from answers (GitHub's `upload_url`): the API's own
    /// origin or its one uploads host, over the base's scheme, and nothing else.
    #[test]
    fn upload_addresses_stay_on_the_api_site() {
        let gh = api("https://api.github.com", None).with_uploads_host("uploads.github.com");
        let own = |a: &ServiceApi, u: &str| a.is_own_site(&Url::parse(u).unwrap());
        assert!(own(
            &gh,
            "https://uploads.github.com/repos/o/r/releases/1/assets"
        ));
        assert!(!own(
            &gh,
            "https://evil.example/repos/o/r/releases/1/assets"
        ));
        assert!(!own(&gh, "http://uploads.github.com/x"));
        let ghe = api("https://ghe.example/api/v3", None).with_uploads_host("ghe.example");
        assert!(own(&ghe, "https://ghe.example/api/uploads/x"));
        assert!(!own(&ghe, "https://uploads.github.com/x"));
        let fake = api("http://127.0.0.1:8000", None).with_uploads_host("127.0.0.1");
        assert!(own(&fake, "http://127.0.0.1:8001/x"));
        assert!(!own(&fake, "http://10.0.0.1:8000/x"));
    }

    #[test]
    fn the_token_goes_to_the_base_site_only() {
        let a = api("https://api.example.org/v2", Some("tok-123456"));
        let own = a
            .request(
                Method::GET,
                Url::parse("https://api.example.org/v2/x").unwrap(),
            )
            .build()
            .unwrap();
        assert!(own.headers().contains_key(reqwest::header::AUTHORIZATION));
        for other in [
            "https://evil.example/v2/x",
            "http://api.example.org/v2/x",
            "https://api.example.org:8443/v2/x",
        ] {
            let r = a
                .request(Method::GET, Url::parse(other).unwrap())
                .build()
                .unwrap();
            assert!(
                !r.headers().contains_key(reqwest::header::AUTHORIZATION),
                "{other}"
            );
        }
        assert_eq!(a.scrub("bad token tok-123456"), "bad token <API token>");
    }

    /// The failures every service shares mean the same everywhere, name
    /// the service's own variable, and keep their cause.
    #[test]
    fn shared_failures_have_one_meaning() {
        const TOKEN: token::TokenSource = token::TokenSource::new(
            token::TokenService::Dataverse,
            "DATAVERSE_API_KEY",
            "dataverse",
            "",
        );
        let base = Url::parse("https://dv.example.org").unwrap();
        let e: ProviderError = ApiError::missing_token(&TOKEN, "storing a file").into();
        let text = e.to_string();
        assert!(matches!(e, ProviderError::MissingCredentials(_)), "{text}");
        assert!(
            text.contains("storing a file needs a Dataverse API token"),
            "{text}"
        );
        assert!(text.contains("set DATAVERSE_API_KEY"), "{text}");
        let e: ProviderError = ApiError::bad_token(&TOKEN, &base, "Bad key".into()).into();
        assert!(matches!(e, ProviderError::Unauthenticated { .. }), "{e}");
        assert!(e.to_string().contains("Account > API Token"), "{e}");
        let paging = paging::PagingError::TooManyPages { max: 3 };
        let e: ProviderError = ApiError::from(paging).into();
        assert!(matches!(e, ProviderError::Service { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        let e: ProviderError = ApiError::from(std::io::Error::other("disk full")).into();
        assert!(matches!(e, ProviderError::Io(_)), "{e}");
    }

    /// An address that does not parse keeps the parser's error; one that
    /// is no http(s) address is refused without its user info.
    #[test]
    fn addresses_are_http_urls() {
        let e = http_setting("url", "dv.example.org", "https://x").unwrap_err();
        assert!(matches!(
            e,
            ProviderError::BadSetting { setting: "url", .. }
        ));
        assert!(std::error::Error::source(&e).is_some());
        let e = http_setting("api", "ftp://me:s3cret@host/x", "https://x").unwrap_err();
        assert!(matches!(e, ProviderError::Config(_)));
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let url = http_setting("api", "https://host/v2?x=1#y", "https://x").unwrap();
        assert_eq!(url.as_str(), "https://host/v2");
    }

    #[test]
    fn statuses_are_named_once() {
        let none = HeaderMap::new();
        let of = |code: u16, h: &HeaderMap| Refusal::of(StatusCode::from_u16(code).unwrap(), h);
        assert_eq!(of(401, &none), Refusal::Unauthenticated);
        assert_eq!(of(403, &none), Refusal::Forbidden);
        assert_eq!(of(404, &none), Refusal::NotFound);
        assert_eq!(of(410, &none), Refusal::NotFound);
        assert_eq!(of(409, &none), Refusal::Conflict);
        assert_eq!(of(400, &none), Refusal::BadRequest);
        assert_eq!(of(422, &none), Refusal::Unprocessable);
        assert_eq!(of(503, &none), Refusal::ServerError);
        assert_eq!(of(429, &none), Refusal::RateLimited { wait: None });
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            of(429, &h),
            Refusal::RateLimited {
                wait: Some(Duration::from_secs(7))
            }
        );
        // GitHub: 403 with no requests left is a rate limit, not a denial.
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("5"));
        assert!(matches!(
            of(403, &h),
            Refusal::RateLimited { wait: Some(_) }
        ));
        let e = of(403, &h).into_error("listing".into(), None);
        assert!(matches!(e, ProviderError::Transient { .. }), "{e}");
    }
}
