//! A small client for the Dataverse native and data access APIs.
//!
//! Only what the provider needs: dataset versions and their (paged) file
//! lists, add / replace / delete / rename of files, file metadata, and
//! downloads. The API token travels as `X-Dataverse-key` to the
//! installation's own host only; downloads are redirected to signed storage
//! and [`Client::download`] follows that redirect without the token.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::error::DvError;
use crate::providers::service_api::paging::{self, Cursor, Page};
use crate::providers::service_api::{ApiError, DownloadTo, Refusal, ServiceApi};
use crate::transfer::{
    Algorithm, BodySource, Client, Expected, FileRange, FormField, Poll, PollSchedule,
    TransferError, Upload,
};

/// The first release that answers a missing file with 404 (5.13-6.1: 400).
const FILE_404_SINCE: ServerVersion = ServerVersion::new(6, 2);

/// Largest page we ask for when listing files.
const PAGE: u64 = 1000;
/// Its token, sent as `X-Dataverse-key: TOKEN`.
pub use crate::providers::token::ApiToken as Token;
/// What comes before the token in its header.
pub const SCHEME: &str = "";

/// `{"status":"OK","data":...}` or `{"status":"ERROR","message":...}`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: Option<String>,
    data: Option<T>,
    message: Option<serde_json::Value>,
    #[serde(rename = "totalCount")]
    total_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Checksum {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataFile {
    pub id: u64,
    #[serde(default, rename = "persistentId")]
    pub persistent_id: Option<String>,
    #[serde(default)]
    pub filesize: Option<u64>,
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default, rename = "tabularData")]
    pub tabular_data: bool,
    #[serde(default, rename = "originalFileSize")]
    pub original_file_size: Option<u64>,
    #[serde(default, rename = "originalFileName")]
    pub original_file_name: Option<String>,
}

impl DataFile {
    /// Size of what `format=original` returns: the uploaded bytes.
    pub fn content_size(&self) -> Option<u64> {
        if self.tabular_data {
            self.original_file_size
        } else {
            self.filesize
        }
    }

    /// The checksum Dataverse recorded at upload (of the original bytes).
    pub fn expected(&self) -> Option<Expected> {
        if let Some(c) = &self.checksum {
            if let Some(alg) = Algorithm::from_name(&c.kind) {
                return Some(Expected::new(alg, &c.value));
            }
        }
        self.md5
            .as_deref()
            .map(|m| Expected::new(Algorithm::Md5, m))
    }
}

/// A file as listed in one dataset version.
#[derive(Debug, Clone, Deserialize)]
pub struct FileMetadata {
    pub label: String,
    #[serde(default, rename = "directoryLabel")]
    pub directory_label: Option<String>,
    #[serde(rename = "dataFile")]
    pub data_file: DataFile,
}

impl FileMetadata {
    pub fn folder(&self) -> &str {
        self.directory_label
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
    }

    /// Whether this entry is the file we named `label` in `folder`; an
    /// ingested table is listed as `.tab` but keeps its original name.
    pub fn is_at(&self, folder: &str, label: &str) -> bool {
        self.folder() == folder.trim_matches('/')
            && (self.label == label
                || (self.data_file.tabular_data
                    && self.data_file.original_file_name.as_deref() == Some(label)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionInfo {
    #[serde(rename = "versionState", default)]
    pub state: String,
    #[serde(rename = "versionNumber")]
    pub major: Option<u64>,
    #[serde(rename = "versionMinorNumber")]
    pub minor: Option<u64>,
}

impl VersionInfo {
    pub fn is_draft(&self) -> bool {
        self.state == "DRAFT"
    }

    /// The name the API accepts for this version (`:draft` or `x.y`).
    pub fn api_name(&self) -> String {
        match (self.major, self.minor) {
            (Some(a), Some(b)) if !self.is_draft() => format!("{a}.{b}"),
            (Some(a), None) if !self.is_draft() => format!("{a}.0"),
            _ => ":draft".to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct AddResult {
    files: Vec<FileMetadata>,
}

/// What a request is about, which decides what an error status means:
/// Dataverse's error envelope carries a message but no error code, and
/// messages are never read to decide anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The dataset itself (its metadata, versions, adding files): a 404
    /// means the dataset is not there or not visible.
    Dataset,
    /// One version's file list: a 404 means that version does not exist.
    Version,
    /// One file's metadata or a change to it.
    File,
    /// A file download through the access API: a 400 there is Dataverse
    /// asking for a guestbook response.
    Download,
    /// A change to one file (replace, delete, metadata): a 400 there may
    /// be a lock or (before 6.2) a missing file, which the caller tells
    /// apart by asking the locks API and the file itself.
    Change,
}

/// Which file an access URL or file PID names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRef {
    Id(u64),
    Pid(String),
}

impl std::fmt::Display for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "file {id}"),
            Self::Pid(pid) => write!(f, "file {pid}"),
        }
    }
}

/// A Dataverse release, as `GET /api/info/version` names it (`6.1`,
/// `6.2.1`, `v. 4.20 build ...`): the parts of the answers that differ
/// between releases follow it (docs/dataverse.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// The first `major.minor` in `text`; `None` if there is none.
    pub fn parse(text: &str) -> Option<Self> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = text[start..]
            .split(|c: char| !c.is_ascii_digit())
            .take(2)
            .map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        Some(Self { major, minor })
    }
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Where a new file goes and what it is called.
pub struct NewFile<'a> {
    pub folder: &'a str,
    pub label: &'a str,
}

pub struct Api {
    /// The installation's API at the `url=` the user chose, with the token.
    api: ServiceApi,
    pid: String,
    lock_wait: Duration,
    /// The installation's release, once asked; `None` inside when it
    /// did not say (taken as the newest).
    version: tokio::sync::OnceCell<Option<ServerVersion>>,
}

impl Api {
    pub fn new(
        client: Client,
        base: Url,
        pid: String,
        token: Option<Token>,
        lock_wait: Duration,
    ) -> Self {
        Self {
            api: ServiceApi::new(
                client,
                base,
                token,
                HeaderName::from_static("x-dataverse-key"),
            ),
            pid,
            lock_wait,
            version: tokio::sync::OnceCell::new(),
        }
    }

    /// The installation's release (`GET /api/info/version`), asked once;
    /// `None` when its answer names none.
    pub async fn server_version(&self) -> Result<Option<ServerVersion>, DvError> {
        self.version
            .get_or_try_init(|| async {
                #[derive(Deserialize)]
                struct Info {
                    #[serde(default)]
                    version: Option<String>,
                }
                // Raw: error answers are explained with the version.
                let url = self.url("api/info/version", &[]);
                let response = self.send(|| self.request(Method::GET, url.clone())).await?;
                if !response.status().is_success() {
                    return Ok(None);
                }
                let text = self
                    .api
                    .read(response)
                    .await
                    .map(|a| a.body)
                    .unwrap_or_default();
                Ok(serde_json::from_str::<Envelope<Info>>(&text)
                    .ok()
                    .and_then(|e| e.data)
                    .and_then(|i| i.version)
                    .as_deref()
                    .and_then(ServerVersion::parse))
            })
            .await
            .copied()
    }

    /// Whether the installation is known to be older than `v`.
    pub async fn older_than(&self, v: ServerVersion) -> Result<bool, DvError> {
        Ok(self.server_version().await?.is_some_and(|have| have < v))
    }

    pub fn pid(&self) -> &str {
        &self.pid
    }

    pub fn base(&self) -> &Url {
        self.api.base()
    }

    pub fn has_token(&self) -> bool {
        self.api.has_token()
    }

    /// `base` + `path` (which starts with `api/`), keeping a base path
    /// such as `https://host/dataverse/`.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        self.api.url(path, query)
    }

    fn dataset_url(&self, rest: &str, query: &[(&str, &str)]) -> Url {
        let mut q = vec![("persistentId", self.pid.as_str())];
        q.extend_from_slice(query);
        self.url(&format!("api/datasets/:persistentId{rest}"), &q)
    }

    /// A request to the installation's own host, with the token.
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.api.request(method, url)
    }

    fn need_token(&self, what: &str) -> Result<(), DvError> {
        self.api
            .need_token(|| ApiError::missing_token(&super::TOKEN, what).into())
    }

    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Response, DvError> {
        Ok(self.api.send(build).await?)
    }

    /// Reads an envelope (bounded), or turns an error status into a
    /// [`DvError`].
    async fn envelope<T: DeserializeOwned>(
        &self,
        response: Response,
        what: &str,
        scope: Scope,
    ) -> Result<(T, Option<u64>), DvError> {
        let answer = self.api.read(response).await?;
        self.parse_envelope(answer.status, &answer.body, what, scope)
            .await
    }

    /// An answer's data from its text, or the [`DvError`] its status means.
    async fn parse_envelope<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        text: &str,
        what: &str,
        scope: Scope,
    ) -> Result<(T, Option<u64>), DvError> {
        if !status.is_success() {
            return Err(self.explain(status, text, what, scope).await);
        }
        let env: Envelope<T> = serde_json::from_str(text).map_err(|source| DvError::NotJson {
            what: what.to_string(),
            source,
        })?;
        if env.status.as_deref() == Some("ERROR") {
            return Err(DvError::Service(format!(
                "{what}: {}",
                self.scrub(&message_text(&env.message))
            )));
        }
        let data = env
            .data
            .ok_or_else(|| DvError::BadResponse(format!("{what}: answer without data")))?;
        Ok((data, env.total_count))
    }

    /// Names the problem behind an error status, from the status and
    /// what the request was about (see [`Scope`]).
    pub fn classify(&self, status: StatusCode, body: &str, what: &str, scope: Scope) -> DvError {
        let message = self.scrub(
            &serde_json::from_str::<Envelope<serde_json::Value>>(body)
                .ok()
                .map(|e| message_text(&e.message))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| crate::transfer::summarize_body(body)),
        );
        let anonymous = !self.has_token();
        match (Refusal::of(status, &HeaderMap::new()), scope) {
            (Refusal::Unauthenticated, _) if !anonymous => {
                ApiError::bad_token(&super::TOKEN, self.base(), message).into()
            }
            (Refusal::Unauthenticated, _) => ApiError::missing_token(&super::TOKEN, what).into(),
            // A lock also answers 403: `unlocked` asks the locks API.
            (Refusal::Forbidden, _) => DvError::Forbidden {
                what: what.to_string(),
                message,
                anonymous,
            },
            (Refusal::BadRequest, Scope::Download) => DvError::Guestbook {
                what: what.to_string(),
                message,
            },
            (Refusal::NotFound, Scope::Dataset) if status == StatusCode::NOT_FOUND => {
                DvError::DatasetNotFound {
                    pid: self.pid.clone(),
                    base: self.base().to_string(),
                    anonymous,
                }
            }
            (Refusal::NotFound, _) if status == StatusCode::NOT_FOUND => {
                DvError::NotFound(format!("{what}: {message}"))
            }
            (Refusal::RateLimited { .. }, _) => DvError::RateLimited(what.to_string()),
            _ => DvError::Http {
                what: what.to_string(),
                status: status.as_u16(),
                message,
            },
        }
    }

    /// `text` without the token (some releases answer a bad token with
    /// "User with token <TOKEN> not found.").
    pub fn scrub(&self, text: &str) -> String {
        self.api.scrub(text)
    }

    /// [`Self::classify`], then what the status cannot tell alone, asked
    /// of the server: a 401 is any permission failure and some releases
    /// answer a bad token with 400, so the token is checked
    /// (`GET /api/users/:me`); before 6.2 a missing file is a 400.
    async fn explain(&self, status: StatusCode, body: &str, what: &str, scope: Scope) -> DvError {
        let e = self.classify(status, body, what, scope);
        let code = status.as_u16();
        if self.has_token() && matches!(code, 400 | 401) {
            let message = match &e {
                DvError::Api(ApiError::BadToken { message, .. })
                | DvError::Guestbook { message, .. }
                | DvError::Http { message, .. } => message.clone(),
                other => other.to_string(),
            };
            if !self.token_accepted().await {
                return ApiError::bad_token(&super::TOKEN, self.base(), message).into();
            }
            if code == 401 {
                return DvError::Forbidden {
                    what: what.to_string(),
                    message,
                    anonymous: false,
                };
            }
        }
        if code == 400
            && scope == Scope::File
            && self.older_than(FILE_404_SINCE).await.unwrap_or(false)
        {
            return DvError::NotFound(what.to_string());
        }
        e
    }

    /// Whether the installation accepts the token: `false` only when
    /// `GET /api/users/:me` refuses it (400, 401 or 403).
    async fn token_accepted(&self) -> bool {
        let url = self.url("api/users/:me", &[]);
        match self.send(|| self.request(Method::GET, url.clone())).await {
            Ok(r) => !matches!(r.status().as_u16(), 400 | 401 | 403),
            Err(_) => true,
        }
    }

    /// The types of the dataset's current locks (ingest, publication...).
    pub async fn locks(&self) -> Result<Vec<String>, DvError> {
        #[derive(Deserialize)]
        struct Lock {
            #[serde(rename = "lockType", default)]
            kind: String,
        }
        let (locks, _): (Vec<Lock>, _) = self
            .get(self.dataset_url("/locks", &[]), "locks", Scope::Dataset)
            .await?;
        Ok(locks.into_iter().map(|l| l.kind).collect())
    }

    /// A GET of an API answer. GETs are safe to repeat, so an answer whose
    /// body breaks off (a reset, a cut JSON body) or that is no JSON at all
    /// behind a success status (a proxy's or portal's page) is asked for
    /// again with backoff before it is reported.
    async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        what: &str,
        scope: Scope,
    ) -> Result<(T, Option<u64>), DvError> {
        let answer = self
            .api
            .fetch(
                Method::GET,
                || self.request(Method::GET, url.clone()),
                |text| serde_json::from_str::<Envelope<serde::de::IgnoredAny>>(text).is_ok(),
            )
            .await?;
        self.parse_envelope(answer.status, &answer.body, what, scope)
            .await
    }

    /// Checks that the dataset exists and this token may see it.
    pub async fn check_dataset(&self) -> Result<(), DvError> {
        let _: (serde_json::Value, _) = self
            .get(self.dataset_url("/", &[]), "dataset", Scope::Dataset)
            .await?;
        Ok(())
    }

    /// Checks the token itself, when there is one.
    pub async fn check_token(&self) -> Result<(), DvError> {
        if self.has_token() {
            let _: (serde_json::Value, _) = self
                .get(self.url("api/users/:me", &[]), "token check", Scope::File)
                .await?;
        }
        Ok(())
    }

    /// Every version this user can see, newest (draft) first. The list
    /// never carries `totalCount`: paged until a short page.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>, DvError> {
        let mut out = Vec::new();
        paging::each_page(
            Cursor::Offset {
                offset: 0,
                limit: PAGE,
            },
            paging::MAX_PAGES,
            VersionInfo::api_name,
            |cursor| async move {
                let (offset, limit) = offset_of(&cursor);
                let url = self.dataset_url(
                    "/versions",
                    &[
                        ("excludeFiles", "true"),
                        ("limit", &limit),
                        ("offset", &offset),
                    ],
                );
                let (page, _): (Vec<VersionInfo>, _) =
                    self.get(url, "list of versions", Scope::Dataset).await?;
                Ok::<_, DvError>(Page::of(page))
            },
            &mut |v| {
                out.push(v);
                Ok(ControlFlow::Continue(()))
            },
        )
        .await?;
        Ok(out)
    }

    /// All files of one version (`:draft`, `:latest`, `x.y`), each once.
    /// `Ok(None)` when the version does not exist.
    pub async fn files(&self, version: &str) -> Result<Option<Vec<FileMetadata>>, DvError> {
        let mut out = Vec::new();
        let found = self
            .files_each::<DvError>(version, &mut |f| {
                out.push(f);
                Ok(())
            })
            .await?;
        Ok(found.then_some(out))
    }

    /// Hands each file of one version to `each` as its page arrives, each
    /// file once; `Ok(false)` when the version does not exist. Only the
    /// ids seen so far are kept, never the listing.
    ///
    /// From 6.2 page by page in a stable order (`orderCriteria=Oldest`);
    /// before, the files listing sorts by label only, so same-named files
    /// in different folders can shift between pages: the version itself
    /// is asked for, which lists all its files in one answer.
    pub async fn files_each<E: From<DvError>>(
        &self,
        version: &str,
        each: &mut (dyn FnMut(FileMetadata) -> Result<(), E> + Send),
    ) -> Result<bool, E> {
        let what = format!("file list of version {version}");
        let mut seen = std::collections::HashSet::new();
        if self.older_than(FILE_404_SINCE).await? {
            #[derive(Deserialize)]
            struct WithFiles {
                #[serde(default)]
                files: Vec<FileMetadata>,
            }
            let url = self.dataset_url(&format!("/versions/{version}"), &[]);
            return match self.get::<WithFiles>(url, &what, Scope::Version).await {
                Ok((v, _)) => {
                    for f in v.files {
                        if seen.insert(f.data_file.id) {
                            each(f)?;
                        }
                    }
                    Ok(true)
                }
                Err(DvError::NotFound(_)) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        /// A failure of the listing, or of what was done with a file.
        enum Failed<E> {
            Api(DvError),
            Sink(E),
        }
        impl<E> From<DvError> for Failed<E> {
            fn from(e: DvError) -> Self {
                Self::Api(e)
            }
        }
        impl<E> From<paging::PagingError> for Failed<E> {
            fn from(e: paging::PagingError) -> Self {
                Self::Api(e.into())
            }
        }
        let what = &what;
        let listed = paging::each_page(
            Cursor::Offset {
                offset: 0,
                limit: PAGE,
            },
            paging::MAX_PAGES,
            |f: &FileMetadata| f.data_file.id,
            |cursor| async move {
                let (offset, limit) = offset_of(&cursor);
                let url = self.dataset_url(
                    &format!("/versions/{version}/files"),
                    &[
                        ("limit", &limit),
                        ("offset", &offset),
                        ("orderCriteria", "Oldest"),
                    ],
                );
                // totalCount ends the listing early when every file is
                // in; never trusted to end it otherwise.
                let (items, total) = self.get(url, what, Scope::Version).await?;
                Ok::<_, Failed<E>>(Page {
                    items,
                    next: None,
                    total,
                })
            },
            &mut |f| {
                each(f).map_err(Failed::Sink)?;
                Ok(ControlFlow::Continue(()))
            },
        )
        .await;
        match listed {
            Ok(()) => Ok(true),
            Err(Failed::Api(DvError::NotFound(_))) => Ok(false),
            Err(Failed::Api(e)) => Err(e.into()),
            Err(Failed::Sink(e)) => Err(e),
        }
    }

    /// Metadata of one file (newest version this user can see).
    pub async fn file(&self, file: &FileRef) -> Result<FileMetadata, DvError> {
        let url = match file {
            FileRef::Id(id) => self.url(&format!("api/files/{id}"), &[]),
            FileRef::Pid(pid) => self.url("api/files/:persistentId", &[("persistentId", pid)]),
        };
        Ok(self.get(url, &file.to_string(), Scope::File).await?.0)
    }

    /// Retries `op` while the dataset is locked, up to the lock wait.
    async fn unlocked<T, F, Fut>(&self, op: F) -> Result<T, DvError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, DvError>>,
    {
        let schedule = PollSchedule::until(
            Duration::from_millis(200),
            Duration::from_secs(5),
            self.lock_wait,
        );
        let op = &op;
        let polled = self
            .api
            .poll_until(schedule, || async move {
                // A short lock (EditInProgress during another job's upload)
                // may clear between the answer and the question: tried
                // again, a few times, before the answer stands.
                for unexplained in 0.. {
                    // A change to a locked dataset is refused with a
                    // generic 400 (add, replace, delete), 500 (metadata) or
                    // 403: the locks API tells a lock from other failures.
                    let denied = match op().await {
                        Err(denied @ DvError::Forbidden { .. }) => denied,
                        Err(
                            denied @ DvError::Http {
                                status: 400 | 409 | 500 | 503,
                                ..
                            },
                        ) => denied,
                        other => return Ok(Poll::Done(other)),
                    };
                    match self.locks().await {
                        Ok(locks) if !locks.is_empty() => {
                            tracing::debug!(?locks, "dataset locked; waiting");
                            return Ok(Poll::NotYet(locks));
                        }
                        Ok(_) if unexplained < 2 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        _ => return Err(denied),
                    }
                }
                unreachable!("the loop returns")
            })
            .await?;
        match polled {
            Ok(result) => result,
            Err(locks) => Err(DvError::Locked {
                pid: self.pid.clone(),
                message: locks.join(", "),
            }),
        }
    }

    /// Adds `src` as a new file of the draft, streaming it.
    pub async fn add(
        &self,
        new: &NewFile<'_>,
        src: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<FileMetadata, DvError> {
        self.need_token("uploading")?;
        let url = self.dataset_url("/add", &[]);
        let json = serde_json::json!({
            "directoryLabel": new.folder,
            "label": new.label,
            // Keep the bytes as uploaded: no conversion of CSV/TSV to .tab.
            "tabIngest": false,
        });
        let wrapped = wrap_if_zip(src, new.label).await?;
        let (body, name) = match &wrapped {
            Some(zip) => (zip.path(), format!("{}.zip", new.label)),
            None => (src, new.label.to_string()),
        };
        let files = self
            .unlocked(|| self.upload(url.clone(), &json, &name, body, Scope::Dataset, progress))
            .await?;
        self.one_file(new.label, files).await
    }

    /// The one file an upload made; several (an unpacked ZIP) are deleted.
    async fn one_file(
        &self,
        label: &str,
        mut files: Vec<FileMetadata>,
    ) -> Result<FileMetadata, DvError> {
        match files.len() {
            1 => Ok(files.remove(0)),
            0 => Err(DvError::BadResponse("upload: answer lists no file".into())),
            count => {
                for f in &files {
                    let _ = self.delete(f.data_file.id).await;
                }
                Err(DvError::Unpacked {
                    label: label.to_string(),
                    count,
                })
            }
        }
    }

    /// Replaces file `id` with `src` (a new file id); the folder and name
    /// must be given again.
    pub async fn replace(
        &self,
        id: u64,
        new: &NewFile<'_>,
        src: &Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<FileMetadata, DvError> {
        self.need_token("replacing a file")?;
        let url = self.url(&format!("api/files/{id}/replace"), &[]);
        let json = serde_json::json!({
            "directoryLabel": new.folder,
            "label": new.label,
            "forceReplace": true,
            "tabIngest": false,
        });
        let wrapped = wrap_if_zip(src, new.label).await?;
        let (body, name) = match &wrapped {
            Some(zip) => (zip.path(), format!("{}.zip", new.label)),
            None => (src, new.label.to_string()),
        };
        let result = self
            .unlocked(|| self.upload(url.clone(), &json, &name, body, Scope::Change, progress))
            .await;
        let files = self.missing_or(id, result).await?;
        self.one_file(new.label, files).await
    }

    /// A 400 on a change to file `id` that is not a lock: before 6.2 the
    /// answer to a missing file, told apart by asking for the file.
    async fn missing_or<T>(&self, id: u64, result: Result<T, DvError>) -> Result<T, DvError> {
        match result {
            Err(e @ DvError::Http { status: 400, .. }) => match self.file(&FileRef::Id(id)).await {
                Err(missing @ DvError::NotFound(_)) => Err(missing),
                _ => Err(e),
            },
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        url: Url,
        json: &serde_json::Value,
        filename: &str,
        src: &Path,
        scope: Scope,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Vec<FileMetadata>, DvError> {
        let request = || self.request(Method::POST, url.clone());
        let spec = Upload {
            request: &request,
            body: BodySource::Form {
                fields: vec![FormField {
                    name: "jsonData".into(),
                    value: json.to_string(),
                    content_type: Some("application/json".into()),
                }],
                file_field: "file".into(),
                file_name: multipart_filename(filename),
                file: FileRange::whole(src).await?,
            },
            digest: None,
            server_digest: None,
            progress,
            shared: None,
        };
        let response = match self.api.client().upload(&spec).await {
            Ok(response) => response,
            Err(TransferError::Status { status, detail, .. }) => {
                return Err(self.explain(status, &detail, "upload", scope).await)
            }
            Err(e) => return Err(e.into()),
        };
        let (result, _): (AddResult, _) = self.envelope(response, "upload", scope).await?;
        Ok(result.files)
    }

    /// Deletes file `id` from the draft.
    pub async fn delete(&self, id: u64) -> Result<(), DvError> {
        self.need_token("deleting a file")?;
        let url = self.url(&format!("api/files/{id}"), &[]);
        let result = self
            .unlocked(|| async {
                let response = self
                    .send(|| self.request(Method::DELETE, url.clone()))
                    .await?;
                let _: (serde_json::Value, _) = self
                    .envelope(response, &format!("delete of file {id}"), Scope::Change)
                    .await?;
                Ok(())
            })
            .await;
        self.missing_or(id, result).await
    }

    /// Moves or renames file `id` in the draft.
    pub async fn rename(&self, id: u64, to: &NewFile<'_>) -> Result<(), DvError> {
        self.need_token("renaming a file")?;
        let url = self.url(&format!("api/files/{id}/metadata"), &[]);
        let json = serde_json::json!({"label": to.label, "directoryLabel": to.folder});
        let result = self
            .unlocked(|| async {
                let response = self
                    .send(|| {
                        let form =
                            reqwest::multipart::Form::new().text("jsonData", json.to_string());
                        self.request(Method::POST, url.clone()).multipart(form)
                    })
                    .await?;
                // Files.java updateFileMetadata answers success as text/plain
                // ("File Metadata update has been completed: {...}"), not as an
                // envelope: any 2xx is the rename done.
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let text = self.api.error_body(response).await;
                Err(self
                    .explain(
                        status,
                        &text,
                        &format!("rename of file {id}"),
                        Scope::Change,
                    )
                    .await)
            })
            .await;
        self.missing_or(id, result).await
    }

    /// The URL that downloads a file's uploaded bytes.
    pub fn access_url(&self, file: &FileRef) -> Url {
        match file {
            FileRef::Id(id) => self.url(
                &format!("api/access/datafile/{id}"),
                &[("format", "original")],
            ),
            FileRef::Pid(pid) => self.url(
                "api/access/datafile/:persistentId",
                &[("persistentId", pid), ("format", "original")],
            ),
        }
    }

    /// Streams a file into `to.dest` (resuming from what is there),
    /// checking size and checksum when given.
    pub async fn download(&self, file: &FileRef, to: &DownloadTo<'_>) -> Result<(), DvError> {
        let url = self.access_url(file);
        let request = || self.request(Method::GET, url.clone());
        match self.api.download_answer(&request, to).await? {
            Ok(()) => Ok(()),
            Err(refused) => Err(self
                .explain(
                    refused.status,
                    &refused.body,
                    &format!("download of {file}"),
                    Scope::Download,
                )
                .await),
        }
    }
}

/// `offset` and `limit` of an offset cursor, as query values.
fn offset_of(cursor: &Cursor) -> (String, String) {
    match cursor {
        Cursor::Offset { offset, limit } => (offset.to_string(), limit.to_string()),
        _ => ("0".into(), PAGE.to_string()),
    }
}

/// `src` inside a one-entry stored ZIP named `label`, if Dataverse would
/// unpack `src` itself (see [`super::zipwrap`]); next to `src`, which is
/// in git-annex's own temporary folder.
async fn wrap_if_zip(src: &Path, label: &str) -> Result<Option<tempfile::NamedTempFile>, DvError> {
    let (src, label) = (src.to_path_buf(), label.to_string());
    tokio::task::spawn_blocking(move || {
        if !super::zipwrap::needs_wrapping(&src, &label)? {
            return Ok(None);
        }
        let dir = src
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let mut zip =
            tempfile::NamedTempFile::new_in(&dir).or_else(|_| tempfile::NamedTempFile::new())?;
        if !super::zipwrap::wrap(&src, &label, zip.as_file_mut())? {
            return Err(DvError::Unsupported(format!(
                "{label} is a ZIP archive of 4 GiB or more: Dataverse would unpack it, and \
                 annexa cannot yet wrap content that large to keep it whole"
            )));
        }
        Ok(Some(zip))
    })
    .await
    .map_err(|e| DvError::from(std::io::Error::other(e)))?
}

fn message_text(message: &Option<serde_json::Value>) -> String {
    match message {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Reads `body` as every kind of answer the API gives and checks what
/// annexa derives from it: nothing panics, a version prints back to
/// itself, and an error built from a body that holds the token never
/// shows it. Reached only through [`crate::fuzzing`].
pub(crate) fn fuzz_answers(body: &str) {
    use std::sync::OnceLock;
    const FUZZ_TOKEN: &str = "fuzz-token-0123456789abcdef";
    static API: OnceLock<Api> = OnceLock::new();
    let api = API.get_or_init(|| {
        let client = Client::new(crate::transfer::RetryPolicy::default()).expect("client");
        let base = Url::parse("https://dataverse.example.org/").expect("url");
        let token = Token::new(FUZZ_TOKEN.to_string(), SCHEME);
        Api::new(
            client,
            base,
            "doi:10.5072/FK2/FUZZ".into(),
            token,
            Duration::ZERO,
        )
    });
    if let Ok(env) = serde_json::from_str::<Envelope<Vec<FileMetadata>>>(body) {
        let files = env.data.unwrap_or_default();
        for f in &files {
            let _ = (
                f.folder(),
                f.data_file.content_size(),
                f.data_file.expected(),
            );
            assert!(
                f.is_at(f.folder(), &f.label),
                "{f:?} is not at its own place"
            );
        }
        let n = files.len();
        let mut seen = std::collections::HashSet::new();
        let unique = files.iter().filter(|f| seen.insert(f.data_file.id)).count();
        assert!(unique <= n);
    }
    if let Ok(env) = serde_json::from_str::<Envelope<Vec<VersionInfo>>>(body) {
        for v in env.data.unwrap_or_default() {
            let name = v.api_name();
            if !v.is_draft() {
                if let Some(parsed) = ServerVersion::parse(&name) {
                    let _ = parsed.to_string();
                }
            }
        }
    }
    if let Ok(env) = serde_json::from_str::<Envelope<AddResult>>(body) {
        let _ = env.data.map(|a| a.files.len());
    }
    if let Some(v) = ServerVersion::parse(body) {
        assert_eq!(ServerVersion::parse(&v.to_string()), Some(v), "{body:?}");
    }
    // The token inside the body, wherever the fuzzer put the marker.
    let with_token = body.replace("TOKEN", FUZZ_TOKEN);
    for status in [400u16, 401, 403, 404, 429, 500] {
        let status = StatusCode::from_u16(status).expect("status");
        for scope in [
            Scope::Dataset,
            Scope::Version,
            Scope::Download,
            Scope::Change,
        ] {
            let shown = crate::error_chain_text(&api.classify(status, &with_token, "fuzz", scope));
            assert!(!shown.contains(FUZZ_TOKEN), "token shown: {shown:?}");
        }
    }
}

/// A file name safe inside a quoted multipart header.
fn multipart_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{assert_named, Named};

    fn api(base: &str) -> Api {
        Api::new(
            Client::new(Default::default()).unwrap(),
            Url::parse(base).unwrap(),
            "doi:10.5072/FK2/ABC".into(),
            Token::new("s3cret".into(), SCHEME),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn urls_keep_a_base_path() {
        let a = api("https://dv.example.org/sub/");
        assert_eq!(
            a.dataset_url("/versions/:draft/files", &[("limit", "10")]).as_str(),
            "https://dv.example.org/sub/api/datasets/:persistentId/versions/:draft/files?persistentId=doi%3A10.5072%2FFK2%2FABC&limit=10"
        );
        assert_eq!(
            a.access_url(&FileRef::Id(7)).as_str(),
            "https://dv.example.org/sub/api/access/datafile/7?format=original"
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(ServerVersion::parse("6.1"), Some(ServerVersion::new(6, 1)));
        assert_eq!(
            ServerVersion::parse("6.2.1"),
            Some(ServerVersion::new(6, 2))
        );
        assert_eq!(
            ServerVersion::parse("v. 4.20 build 123"),
            Some(ServerVersion::new(4, 20))
        );
        assert_eq!(ServerVersion::parse("7"), Some(ServerVersion::new(7, 0)));
        assert_eq!(ServerVersion::parse("develop"), None);
        assert!(ServerVersion::new(6, 10) > ServerVersion::new(6, 8));
    }

    #[test]
    fn errors_are_named() {
        use DvError::*;
        let a = api("https://dv.example.org");
        let bad_key = r#"{"status":"ERROR","message":"Bad API key"}"#;
        let locked =
            r#"{"status":"ERROR","message":"Dataset cannot be edited due to dataset lock."}"#;
        let missing =
            r#"{"status":"ERROR","message":"Dataset with Persistent ID doi:x not found."}"#;
        #[rustfmt::skip]
        let cases: [Named<Scope, DvError>; 7] = [
            (401, bad_key, Scope::File, |e| matches!(e, Api(ApiError::BadToken { .. }))),
            (403, locked, Scope::Dataset, |e| matches!(e, Forbidden { .. })),
            (404, missing, Scope::Dataset, |e| matches!(e, DatasetNotFound { .. })),
            // The same text about a version: the scope decides, not the words.
            (404, missing, Scope::Version, |e| matches!(e, NotFound(_))),
            (400, "anything", Scope::Download, |e| matches!(e, Guestbook { .. })),
            (400, "guestbook", Scope::File, |e| matches!(e, Http { status: 400, .. })),
            (429, "", Scope::File, |e| matches!(e, RateLimited(_))),
        ];
        assert_named(|s, b, scope| a.classify(s, b, "x", scope), &cases, "s3cret");
    }

    #[test]
    fn tabular_content_is_the_original() {
        let f: FileMetadata = serde_json::from_str(
            r#"{"label":"t.tab","directoryLabel":"a/b","dataFile":{"id":3,"filesize":16,
            "checksum":{"type":"SHA-256","value":"AB"},"tabularData":true,
            "originalFileSize":10,"originalFileName":"t.csv"}}"#,
        )
        .unwrap();
        assert_eq!(f.data_file.content_size(), Some(10));
        assert!(f.is_at("a/b", "t.csv") && f.is_at("/a/b/", "t.tab") && !f.is_at("a", "t.csv"));
        assert_eq!(
            f.data_file.expected(),
            Some(Expected::new(Algorithm::Sha256, "ab"))
        );
    }
}
