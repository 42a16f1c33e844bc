//! `provider=s3`: Amazon S3 and S3-compatible stores.
//!
//! Requests are signed with `rusty-s3` (presigned URLs, never hand-written
//! SigV4) and sent by our own transfer layer, so S3 gets the same
//! streaming, resume, retry and verification as every other provider.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_LENGTH, ETAG};
use reqwest::{Method, RequestBuilder, StatusCode};
use rusty_s3::{Bucket, S3Action, UrlStyle};
use url::Url;

use super::{
    check_export_path, parse_bool, Annex, Capabilities, ConfigSpec, Credentials, ExportTree,
    KeyLayout, Provider, ProviderError, ProviderKind, Result, StatusKind, UrlCheck, UrlClaims,
    UrlEntry,
};
use crate::key;
use crate::transfer::{
    self, Algorithm, BodySource, Client, Download, FileRange, RedactedUrl, RetryPolicy,
    TransferError, Upload,
};

/// The git-annex credential setting our keys are stored under.
const CREDS_SETTING: &str = "annexa-s3";
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(3600);
const DEFAULT_PART_SIZE: u64 = 64 << 20;
const MIN_PART_SIZE: u64 = 5 << 20;
const MAX_PARTS: u64 = 10_000;

const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec { name: "bucket", description: "(s3) bucket name (required)" },
    ConfigSpec { name: "prefix", description: "(s3) prefix for every object name, e.g. annex/ (default: none)" },
    ConfigSpec { name: "endpoint", description: "(s3) service URL, e.g. https://s3.example.org:9000 (default: AWS for the region)" },
    ConfigSpec { name: "region", description: "(s3) region (default: us-east-1)" },
    ConfigSpec { name: "layout", description: "(s3) object names for keys: flat (prefix+key, like git-annex's S3 remote) or dirhash (prefix+abc/def/+key) (default: flat)" },
    ConfigSpec { name: "urlstyle", description: "(s3) path (endpoint/bucket/object) or virtual (bucket.endpoint/object) (default: path)" },
    ConfigSpec { name: "public", description: "(s3) yes: uploads are public-read and reads work without credentials (default: no)" },
    ConfigSpec { name: "publicurl", description: "(s3) base URL where objects can be downloaded publicly, shown by whereis" },
    ConfigSpec { name: "partsize", description: "(s3) multipart upload part size, e.g. 64MiB; larger files are uploaded in parts (default: 64MiB)" },
    ConfigSpec { name: "partjobs", description: "(s3) parts of one multipart upload sent at once (default: 4)" },
    ConfigSpec { name: "storageclass", description: "(s3) storage class of new objects, e.g. STANDARD_IA (default: the bucket's)" },
    ConfigSpec { name: "createbucket", description: "(s3) create the bucket at initremote when missing (default: yes)" },
];

pub struct S3Kind;

/// Everything read from the remote's configuration.
#[derive(Debug, Clone)]
struct S3Config {
    bucket: String,
    prefix: String,
    endpoint: Url,
    region: String,
    layout: KeyLayout,
    url_style: UrlStyle,
    public: bool,
    public_url: Option<String>,
    part_size: u64,
    part_jobs: usize,
    storage_class: Option<String>,
    create_bucket: bool,
}

async fn config_value(annex: &dyn Annex, name: &str) -> Result<Option<String>> {
    Ok(annex
        .get_config(name)
        .await?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

impl S3Config {
    async fn read(annex: &dyn Annex) -> Result<Self> {
        let bucket = config_value(annex, "bucket").await?.ok_or_else(|| {
            ProviderError::Config("bucket=NAME is required for provider=s3".into())
        })?;
        let region = config_value(annex, "region")
            .await?
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint_text = config_value(annex, "endpoint")
            .await?
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = Url::parse(&endpoint_text).map_err(|e| {
            ProviderError::Config(format!("endpoint={endpoint_text} is not a URL: {e}"))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(ProviderError::Config(format!(
                "endpoint={endpoint_text} must be an http:// or https:// URL"
            )));
        }
        let layout = match config_value(annex, "layout").await?.as_deref() {
            None | Some("flat") => KeyLayout::Flat,
            Some("dirhash") => KeyLayout::DirHash,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "layout={other} is not one of flat, dirhash"
                )))
            }
        };
        let url_style = match config_value(annex, "urlstyle").await?.as_deref() {
            None | Some("path") => UrlStyle::Path,
            Some("virtual") => UrlStyle::VirtualHost,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "urlstyle={other} is not one of path, virtual"
                )))
            }
        };
        let part_size = match config_value(annex, "partsize").await? {
            None => DEFAULT_PART_SIZE,
            Some(text) => transfer::parse_size(&text)
                .filter(|s| *s >= MIN_PART_SIZE && *s <= 5 << 30)
                .ok_or_else(|| {
                    ProviderError::Config(format!(
                        "partsize={text} must be a size between 5MiB and 5GiB"
                    ))
                })?,
        };
        let part_jobs = match config_value(annex, "partjobs").await? {
            None => 4,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    ProviderError::Config(format!("partjobs={text} must be a number from 1 to 64"))
                })?,
        };
        Ok(Self {
            bucket,
            prefix: config_value(annex, "prefix").await?.unwrap_or_default(),
            endpoint,
            region,
            layout,
            url_style,
            public: parse_bool(
                "public",
                config_value(annex, "public").await?.as_deref(),
                false,
            )?,
            public_url: config_value(annex, "publicurl").await?,
            part_size,
            part_jobs,
            storage_class: config_value(annex, "storageclass").await?,
            create_bucket: parse_bool(
                "createbucket",
                config_value(annex, "createbucket").await?.as_deref(),
                true,
            )?,
        })
    }
}

/// AWS credentials from the standard environment variables.
fn env_credentials() -> Option<rusty_s3::Credentials> {
    let key = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty())?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(
        match std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(token) => rusty_s3::Credentials::new_with_token(key, secret, token),
            None => rusty_s3::Credentials::new(key, secret),
        },
    )
}

/// Credentials for this remote: the environment first (so a user can
/// override), then what git-annex stored at initremote.
async fn find_credentials(annex: &dyn Annex) -> Result<Option<rusty_s3::Credentials>> {
    if let Some(c) = env_credentials() {
        return Ok(Some(c));
    }
    match annex.get_creds(CREDS_SETTING).await {
        Ok(Some(c)) => Ok(Some(rusty_s3::Credentials::new(c.user, c.secret))),
        Ok(None) => Ok(None),
        // An older git-annex or a refused query: behave as if none stored.
        Err(crate::providers::AnnexError::Refused(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl ProviderKind for S3Kind {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn configs(&self) -> &'static [ConfigSpec] {
        CONFIGS
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            export: true,
            claim_urls: true,
            import: false,
        }
    }

    async fn initremote(&self, annex: &dyn Annex) -> Result<()> {
        let config = S3Config::read(annex).await?;
        let creds = match env_credentials() {
            Some(c) => {
                // git-annex decides where these go: local only, or in the
                // git-annex branch with embedcreds=yes.
                annex
                    .set_creds(
                        CREDS_SETTING,
                        &Credentials {
                            user: c.key().to_string(),
                            secret: c.secret().to_string(),
                        },
                    )
                    .await?;
                Some(c)
            }
            // enableremote in a clone: embedded credentials may be there.
            None => find_credentials(annex).await?,
        };
        if creds.is_none() && !config.public {
            return Err(ProviderError::MissingCredentials(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) before initremote, or use public=yes for read-only access to a public bucket".into(),
            ));
        }
        let remote = S3Remote::new(config, creds)?;
        remote.ensure_bucket().await
    }

    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>> {
        let config = S3Config::read(annex).await?;
        let creds = find_credentials(annex).await?;
        Ok(Arc::new(S3Remote::new(config, creds)?))
    }
}

/// A presigned request: the URL plus the headers that were signed with it
/// and so must be sent exactly as signed.
struct Signed {
    url: Url,
    headers: Vec<(String, String)>,
}

fn sign<'a, A: S3Action<'a>>(mut action: A) -> Signed {
    let headers = action
        .headers_mut()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Signed {
        url: action.sign(SIGNATURE_LIFETIME),
        headers,
    }
}

pub struct S3Remote {
    config: S3Config,
    bucket: Bucket,
    creds: Option<rusty_s3::Credentials>,
    client: Client,
}

impl S3Remote {
    fn new(config: S3Config, creds: Option<rusty_s3::Credentials>) -> Result<Self> {
        let bucket = Bucket::new(
            config.endpoint.clone(),
            config.url_style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| ProviderError::Config(format!("bucket/endpoint: {e}")))?;
        Ok(Self {
            config,
            bucket,
            creds,
            client: Client::new(RetryPolicy::default())?,
        })
    }

    fn key_object(&self, key: &str) -> Result<String> {
        let name = self.config.layout.object_name(key)?;
        Ok(format!("{}{name}", self.config.prefix))
    }

    fn export_object(&self, name: &str) -> Result<String> {
        check_export_path(name)?;
        Ok(format!("{}{name}", self.config.prefix))
    }

    fn write_creds(&self) -> Result<&rusty_s3::Credentials> {
        self.creds.as_ref().ok_or_else(|| {
            ProviderError::MissingCredentials(
                "writing to S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or credentials stored at initremote (git annex enableremote with them set)".into(),
            )
        })
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.http().request(method, url)
    }

    /// A request for a presigned action, with its signed headers.
    fn signed_request(&self, method: Method, signed: &Signed) -> RequestBuilder {
        signed
            .headers
            .iter()
            .fold(self.request(method, signed.url.clone()), |b, (k, v)| {
                b.header(k.as_str(), v.as_str())
            })
    }

    /// Creates the bucket when it is missing (idempotent).
    async fn ensure_bucket(&self) -> Result<()> {
        let url = self
            .bucket
            .head_bucket(self.creds.as_ref())
            .sign(SIGNATURE_LIFETIME);
        let response = self
            .client
            .send(|| self.request(Method::HEAD, url.clone()))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND if self.config.create_bucket => {
                let creds = self.write_creds()?;
                let url = self.bucket.create_bucket(creds).sign(SIGNATURE_LIFETIME);
                let response = self
                    .client
                    .send(|| {
                        self.request(Method::PUT, url.clone())
                            .header(CONTENT_LENGTH, 0)
                    })
                    .await?;
                let status = response.status();
                if status.is_success() || status == StatusCode::CONFLICT {
                    Ok(())
                } else {
                    Err(service_error("create bucket", &self.config.bucket, response).await)
                }
            }
            StatusCode::NOT_FOUND => Err(ProviderError::Config(format!(
                "bucket {} does not exist (createbucket=no)",
                self.config.bucket
            ))),
            _ => Err(service_error("check bucket", &self.config.bucket, response).await),
        }
    }

    async fn head(&self, object: &str) -> Result<Option<u64>> {
        let url = self
            .bucket
            .head_object(self.creds.as_ref(), object)
            .sign(SIGNATURE_LIFETIME);
        let response = self
            .client
            .send(|| self.request(Method::HEAD, url.clone()))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(Some(
                response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(service_error("check", object, response).await),
        }
    }

    async fn delete(&self, object: &str) -> Result<()> {
        let creds = self.write_creds()?;
        let url = self
            .bucket
            .delete_object(Some(creds), object)
            .sign(SIGNATURE_LIFETIME);
        let response = self
            .client
            .send(|| self.request(Method::DELETE, url.clone()))
            .await?;
        // Deleting a missing object is a success in S3 (204) and for us.
        if response.status().is_success() || response.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(service_error("remove", object, response).await)
        }
    }

    fn upload_headers<'a, A: S3Action<'a>>(&'a self, action: &mut A) {
        if self.config.public {
            action.headers_mut().insert("x-amz-acl", "public-read");
        }
        if let Some(class) = &self.config.storage_class {
            action
                .headers_mut()
                .insert("x-amz-storage-class", class.clone());
        }
    }

    /// Uploads `src` to `object`, in parts when it is large.
    async fn upload(&self, object: &str, src: &Path, annex: &dyn Annex) -> Result<()> {
        let creds = self.write_creds()?;
        let size = tokio::fs::metadata(src).await?.len();
        if size > self.config.part_size {
            return self.upload_multipart(object, src, size, creds, annex).await;
        }
        let mut action = self.bucket.put_object(Some(creds), object);
        self.upload_headers(&mut action);
        let signed = sign(action);
        let total = AtomicU64::new(0);
        self.put_part(&signed, src, 0, size, &total, annex).await?;
        Ok(())
    }

    /// PUTs one byte range of `src`, checking the returned ETag against the
    /// MD5 of what was sent, so corruption on the way is caught. Bytes sent
    /// are added to `total` (shared by the parts of one upload) and reported
    /// to git-annex. Returns the ETag.
    #[allow(clippy::too_many_arguments)]
    async fn put_part(
        &self,
        signed: &Signed,
        src: &Path,
        start: u64,
        len: u64,
        total: &AtomicU64,
        annex: &dyn Annex,
    ) -> Result<String> {
        let request = || self.signed_request(Method::PUT, signed);
        let progress = |n| annex.progress(n);
        let spec = Upload {
            request: &request,
            body: BodySource::File(FileRange::new(src, start, len)),
            digest: Some(Algorithm::Md5),
            server_digest: Some(&|response| {
                // Only a plain 32-hex ETag is an MD5 (not with SSE-KMS).
                Some(etag_of(response))
                    .filter(|e| e.len() == 32 && e.chars().all(|c| c.is_ascii_hexdigit()))
            }),
            progress: &progress,
            shared: Some(total),
        };
        match self.client.upload(&spec).await {
            Ok(response) => Ok(etag_of(&response)),
            Err(TransferError::Checksum { expected, got, .. }) => {
                Err(ProviderError::integrity(format!(
                    "upload corrupted on the way: server MD5 {got}, sent {expected}; try again"
                )))
            }
            Err(TransferError::Status { status, detail, .. }) => {
                Err(classify("upload", signed.url.path(), status, &detail))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn upload_multipart(
        &self,
        object: &str,
        src: &Path,
        size: u64,
        creds: &rusty_s3::Credentials,
        annex: &dyn Annex,
    ) -> Result<()> {
        // Grow the part size when the file would need more than 10,000 parts.
        let part_size = self.config.part_size.max(size.div_ceil(MAX_PARTS));
        let mut create = self.bucket.create_multipart_upload(Some(creds), object);
        self.upload_headers(&mut create);
        let create = sign(create);
        let url = create.url.clone();
        let response = self
            .client
            .send(|| {
                self.signed_request(Method::POST, &create)
                    .header(CONTENT_LENGTH, 0)
            })
            .await?;
        if !response.status().is_success() {
            return Err(service_error("start multipart upload", object, response).await);
        }
        let body = response.text().await.map_err(|e| TransferError::Network {
            url: RedactedUrl::new(url.clone()),
            message: transfer::describe_reqwest_error(&e),
        })?;
        let created =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&body).map_err(|e| {
                ProviderError::service("S3 sent a bad multipart reply", Some(Box::new(e)))
            })?;
        let upload_id = created.upload_id().to_string();

        let result = self
            .upload_parts(object, src, size, part_size, &upload_id, creds, annex)
            .await;
        match result {
            Ok(etags) => {
                let complete = self.bucket.complete_multipart_upload(
                    Some(creds),
                    object,
                    &upload_id,
                    etags.iter().map(String::as_str),
                );
                let url = complete.sign(SIGNATURE_LIFETIME);
                let body = self
                    .bucket
                    .complete_multipart_upload(
                        Some(creds),
                        object,
                        &upload_id,
                        etags.iter().map(String::as_str),
                    )
                    .body();
                let response = self
                    .client
                    .send(|| self.request(Method::POST, url.clone()).body(body.clone()))
                    .await?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                // S3 may answer 200 with an <Error> body for a late failure.
                if let Some(e) = failed_reply("complete the upload of", object, status, &text) {
                    self.abort_multipart(object, &upload_id, creds).await;
                    return Err(e);
                }
                Ok(())
            }
            Err(e) => {
                self.abort_multipart(object, &upload_id, creds).await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        object: &str,
        src: &Path,
        size: u64,
        part_size: u64,
        upload_id: &str,
        creds: &rusty_s3::Credentials,
        annex: &dyn Annex,
    ) -> Result<Vec<String>> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let parts = size.div_ceil(part_size);
        // Progress of parallel parts is summed into one absolute count.
        let total = AtomicU64::new(0);
        let etags: Vec<(u64, String)> = stream::iter(0..parts)
            .map(|index| {
                let total = &total;
                async move {
                    let start = index * part_size;
                    let len = part_size.min(size - start);
                    let part_number = u16::try_from(index + 1).map_err(|_| {
                        ProviderError::Unsupported("files that need more than 65535 parts")
                    })?;
                    let part =
                        sign(
                            self.bucket
                                .upload_part(Some(creds), object, part_number, upload_id),
                        );
                    let etag = self.put_part(&part, src, start, len, total, annex).await?;
                    Ok::<_, ProviderError>((index, etag))
                }
            })
            .buffer_unordered(self.config.part_jobs)
            .try_collect()
            .await?;
        let mut etags = etags;
        etags.sort_by_key(|(i, _)| *i);
        Ok(etags.into_iter().map(|(_, e)| e).collect())
    }

    async fn abort_multipart(&self, object: &str, upload_id: &str, creds: &rusty_s3::Credentials) {
        let url = self
            .bucket
            .abort_multipart_upload(Some(creds), object, upload_id)
            .sign(SIGNATURE_LIFETIME);
        let _ = self
            .client
            .send(|| self.request(Method::DELETE, url.clone()))
            .await;
    }

    async fn download(
        &self,
        object: &str,
        expected_size: Option<u64>,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        let make = || {
            let url = self
                .bucket
                .get_object(self.creds.as_ref(), object)
                .sign(SIGNATURE_LIFETIME);
            self.request(Method::GET, url)
        };
        let spec = Download {
            request: &make,
            expected_size,
            checksum: None,
            resume: true,
        };
        let progress = |n| annex.progress(n);
        match self.client.download(&spec, dest, &progress).await {
            Ok(_) => Ok(()),
            Err(e) if e.status().map(StatusKind::of) == Some(StatusKind::NotFound) => {
                Err(ProviderError::NotFound {
                    message: format!("{object} is not in bucket {}", self.config.bucket),
                    source: Some(Box::new(e)),
                })
            }
            // The error document says more than the status (a 403 may be
            // bad credentials rather than a policy).
            Err(TransferError::Status { status, detail, .. }) => {
                Err(classify("download", object, status, &detail))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Lists every object name under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(self.creds.as_ref());
            action.with_prefix(prefix.to_string());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNATURE_LIFETIME);
            let response = self
                .client
                .send_ok(|| self.request(Method::GET, url.clone()))
                .await?;
            let text = response.text().await.map_err(|e| TransferError::Network {
                url: RedactedUrl::new(url.clone()),
                message: transfer::describe_reqwest_error(&e),
            })?;
            let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|e| ProviderError::service("S3 sent a bad listing", Some(Box::new(e))))?;
            names.extend(parsed.contents.into_iter().map(|c| c.key));
            match parsed.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(names),
            }
        }
    }

    fn public_object_url(&self, object: &str) -> Option<String> {
        if let Some(base) = &self.config.public_url {
            let base = base.trim_end_matches('/');
            return Some(format!("{base}/{}", encode_object(object)));
        }
        if self.config.public {
            return self.bucket.object_url(object).ok().map(|u| u.to_string());
        }
        None
    }

    /// The object a claimed URL names, when it is in this bucket.
    fn object_of_url(&self, url: &str) -> Option<String> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, object) = rest.split_once('/')?;
            return (bucket == self.config.bucket && !object.is_empty())
                .then(|| object.to_string());
        }
        let parsed = Url::parse(url).ok()?;
        let base = self.bucket.base_url();
        if parsed.host_str() != base.host_str()
            || parsed.port_or_known_default() != base.port_or_known_default()
        {
            return None;
        }
        let path = parsed.path().strip_prefix(base.path())?;
        let object = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .ok()?;
        (!object.is_empty()).then(|| object.into_owned())
    }
}

fn encode_object(object: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(object, SET).to_string()
}

/// The body of an S3 error response (`<Error><Code>..</Code>..</Error>`).
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

impl ErrorBody {
    /// The error document in `body`, when it is one (it has a `<Code>`).
    fn parse(body: &str) -> Option<Self> {
        quick_xml::de::from_str::<ErrorBody>(body)
            .ok()
            .filter(|e| e.code.is_some())
    }
}

/// What S3 said, kept as the cause of a [`ProviderError`].
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}{}", detail_text(.code, .message))]
pub struct S3ServiceError {
    pub status: StatusCode,
    pub code: Option<String>,
    pub message: Option<String>,
}

fn detail_text(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(m)) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

/// The meaning of an S3 error code; `None` for codes that only the HTTP
/// status can classify.
fn code_kind(code: &str) -> Option<StatusKind> {
    Some(match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NoSuchVersion" => StatusKind::NotFound,
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InvalidObjectState" => {
            StatusKind::PermissionDenied
        }
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidToken"
        | "TokenRefreshRequired" => StatusKind::Unauthenticated,
        "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout" | "Throttling" => {
            StatusKind::Transient
        }
        "OperationAborted" | "ConditionalRequestConflict" | "PreconditionFailed" => {
            StatusKind::Conflict
        }
        _ => return None,
    })
}

/// The error an S3 error response means: by its `<Code>` first, then its
/// status. `action` and `what` name what was tried.
fn classify(action: &str, what: &str, status: StatusCode, body: &str) -> ProviderError {
    let parsed = ErrorBody::parse(body).unwrap_or_default();
    let detail = S3ServiceError {
        status,
        message: match (&parsed.code, parsed.message) {
            (None, _) => Some(transfer::summarize_body(body)),
            (Some(_), m) => m.map(|m| transfer::summarize_body(&m)),
        },
        code: parsed.code,
    };
    let kind = detail
        .code
        .as_deref()
        .and_then(code_kind)
        .unwrap_or_else(|| StatusKind::of(status));
    let context = format!("S3 {action} {what}");
    let source: Option<super::Cause> = Some(Box::new(detail));
    let with = |hint: &str| format!("{context}{hint}");
    match (kind, detail_code(&source)) {
        (_, Some("BadDigest" | "IncompleteBody" | "InvalidDigest")) => ProviderError::Integrity {
            message: with(" (the data was damaged on the way; try again)"),
            source,
        },
        (_, Some("BucketAlreadyExists" | "BucketAlreadyOwnedByYou")) => {
            ProviderError::AlreadyExists {
                message: with(" (choose another bucket name if it is not yours)"),
                source,
            }
        }
        (StatusKind::NotFound, _) => ProviderError::NotFound {
            message: context,
            source,
        },
        (StatusKind::PermissionDenied, _) => ProviderError::PermissionDenied {
            message: with(" (check the credentials and the bucket policy)"),
            source,
        },
        (StatusKind::Unauthenticated, _) => ProviderError::Unauthenticated {
            message: with(" (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the region)"),
            source,
        },
        (StatusKind::Conflict, _) => ProviderError::Conflict {
            message: with(" (the object changed meanwhile; try again)"),
            source,
        },
        (StatusKind::Transient, _) => ProviderError::Transient {
            message: with(" (S3 is busy or unavailable; try again later)"),
            source,
        },
        (StatusKind::Other, _) => ProviderError::Service {
            message: context,
            source,
        },
    }
}

fn detail_code(source: &Option<super::Cause>) -> Option<&str> {
    source
        .as_ref()?
        .downcast_ref::<S3ServiceError>()?
        .code
        .as_deref()
}

/// A readable, classified error from an S3 error response.
async fn service_error(action: &str, what: &str, response: reqwest::Response) -> ProviderError {
    let status = response.status();
    let body = transfer::read_error_body(response).await;
    classify(action, what, status, &body)
}

/// The error a reply means, also when S3 answered 200 with an `<Error>`
/// document (CopyObject, CompleteMultipartUpload).
fn failed_reply(action: &str, what: &str, status: StatusCode, body: &str) -> Option<ProviderError> {
    (!status.is_success() || ErrorBody::parse(body).is_some())
        .then(|| classify(action, what, status, body))
}

/// An upload response's ETag, without quotes.
fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

#[async_trait]
impl Provider for S3Remote {
    async fn store(&self, key: &str, src: &Path, annex: &dyn Annex) -> Result<()> {
        self.upload(&self.key_object(key)?, src, annex).await
    }

    async fn retrieve(&self, key: &str, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let size = key::content_size(key);
        let stored = match self.key_object(key) {
            Ok(object) => self.download(&object, size, dest, annex).await,
            // A key that cannot be an object name (URL keys keep their
            // slashes) was never stored under its own name.
            Err(ProviderError::InvalidName(why)) => Err(ProviderError::not_found(why)),
            Err(e) => Err(e),
        };
        let Err(absent @ ProviderError::NotFound { .. }) = stored else {
            return stored;
        };
        // Not stored as a key: maybe registered with addurl from this bucket.
        for url in annex.get_urls(key, "").await.unwrap_or_default() {
            if let Some(object) = self.object_of_url(&url) {
                return self.download(&object, size, dest, annex).await;
            }
        }
        Err(absent)
    }

    async fn check_present(&self, key: &str, _annex: &dyn Annex) -> Result<bool> {
        Ok(self.head(&self.key_object(key)?).await?.is_some())
    }

    async fn remove(&self, key: &str, _annex: &dyn Annex) -> Result<()> {
        self.delete(&self.key_object(key)?).await
    }

    async fn whereis(&self, key: &str, _annex: &dyn Annex) -> Option<String> {
        let object = self.key_object(key).ok()?;
        Some(
            self.public_object_url(&object)
                .unwrap_or_else(|| format!("s3://{}/{}", self.config.bucket, object)),
        )
    }

    async fn presence_url(&self, key: &str, _annex: &dyn Annex) -> Option<String> {
        // Only the bucket itself is authoritative, and only when public.
        if !self.config.public {
            return None;
        }
        self.bucket
            .object_url(&self.key_object(key).ok()?)
            .ok()
            .map(|u| u.to_string())
    }

    async fn public_url(&self, key: &str, _annex: &dyn Annex) -> Option<String> {
        self.public_object_url(&self.key_object(key).ok()?)
    }

    fn info(&self) -> Vec<(String, String)> {
        let c = &self.config;
        vec![
            ("bucket".into(), c.bucket.clone()),
            (
                "endpoint".into(),
                RedactedUrl::new(c.endpoint.clone()).to_string(),
            ),
            ("region".into(), c.region.clone()),
            ("prefix".into(), c.prefix.clone()),
            ("layout".into(), c.layout.name().into()),
            ("public".into(), if c.public { "yes" } else { "no" }.into()),
            (
                "credentials".into(),
                if self.creds.is_some() {
                    "yes"
                } else {
                    "none (read-only)"
                }
                .into(),
            ),
        ]
    }

    fn export(&self) -> Option<&dyn ExportTree> {
        Some(self)
    }

    fn urls(&self) -> Option<&dyn UrlClaims> {
        Some(self)
    }
}

#[async_trait]
impl ExportTree for S3Remote {
    async fn store_export(
        &self,
        name: &str,
        _key: &str,
        src: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.upload(&self.export_object(name)?, src, annex).await
    }

    async fn retrieve_export(
        &self,
        name: &str,
        key: &str,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.download(
            &self.export_object(name)?,
            key::content_size(key),
            dest,
            annex,
        )
        .await
    }

    async fn check_present_export(
        &self,
        name: &str,
        _key: &str,
        _annex: &dyn Annex,
    ) -> Result<bool> {
        Ok(self.head(&self.export_object(name)?).await?.is_some())
    }

    async fn remove_export(&self, name: &str, _key: &str, _annex: &dyn Annex) -> Result<()> {
        self.delete(&self.export_object(name)?).await
    }

    async fn remove_export_directory(&self, dir: &str, _annex: &dyn Annex) -> Result<()> {
        // S3 has no directories: remove whatever is still stored under it.
        let prefix = format!("{}/", self.export_object(dir.trim_end_matches('/'))?);
        for object in self.list(&prefix).await? {
            self.delete(&object).await?;
        }
        Ok(())
    }

    async fn rename_export(
        &self,
        name: &str,
        _key: &str,
        new_name: &str,
        _annex: &dyn Annex,
    ) -> Result<()> {
        // CopyObject is a PUT with a signed x-amz-copy-source header.
        let creds = self.write_creds()?;
        let from = self.export_object(name)?;
        let to = self.export_object(new_name)?;
        let source = format!("/{}/{}", self.config.bucket, encode_object(&from));
        let mut action = self.bucket.put_object(Some(creds), &to);
        action
            .headers_mut()
            .insert("x-amz-copy-source", source.clone());
        self.upload_headers(&mut action);
        let copy = sign(action);
        let response = self
            .client
            .send(|| {
                self.signed_request(Method::PUT, &copy)
                    .header(CONTENT_LENGTH, 0)
            })
            .await?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if let Some(e) = failed_reply("copy", &format!("{from} -> {to}"), status, &text) {
            return Err(e);
        }
        self.delete(&from).await
    }
}

#[async_trait]
impl UrlClaims for S3Remote {
    fn claims_url(&self, url: &str) -> bool {
        self.object_of_url(url).is_some()
    }

    async fn check_url(&self, url: &str, _annex: &dyn Annex) -> Result<UrlCheck> {
        let object = self
            .object_of_url(url)
            .ok_or_else(|| ProviderError::InvalidName(format!("{url} is not in this bucket")))?;
        // A URL ending in / names a folder: offer every object under it.
        if object.ends_with('/') {
            let objects = self.list(&object).await?;
            let mut entries = Vec::new();
            for o in objects {
                let size = self.head(&o).await?;
                entries.push(UrlEntry {
                    url: format!("s3://{}/{}", self.config.bucket, o),
                    size,
                    filename: o.strip_prefix(&object).unwrap_or(&o).to_string(),
                });
            }
            return Ok(UrlCheck::Multi(entries));
        }
        match self.head(&object).await? {
            Some(size) => Ok(UrlCheck::Contents {
                size: Some(size),
                filename: object.rsplit('/').next().map(str::to_string),
            }),
            None => Err(ProviderError::not_found(format!(
                "{object} is not in bucket {}",
                self.config.bucket
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>the message</Message><RequestId>1</RequestId></Error>"
        )
    }

    fn kind(status: u16, text: &str) -> ProviderError {
        classify("check", "obj", StatusCode::from_u16(status).unwrap(), text)
    }

    #[test]
    fn error_codes_have_kinds() {
        assert!(matches!(
            kind(404, &body("NoSuchKey")),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(404, &body("NoSuchBucket")),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(403, &body("AccessDenied")),
            ProviderError::PermissionDenied { .. }
        ));
        for code in ["InvalidAccessKeyId", "SignatureDoesNotMatch"] {
            assert!(matches!(
                kind(403, &body(code)),
                ProviderError::Unauthenticated { .. }
            ));
        }
        for code in ["SlowDown", "InternalError"] {
            assert!(matches!(
                kind(503, &body(code)),
                ProviderError::Transient { .. }
            ));
        }
        assert!(matches!(
            kind(400, &body("BadDigest")),
            ProviderError::Integrity { .. }
        ));
        assert!(matches!(
            kind(409, &body("BucketAlreadyExists")),
            ProviderError::AlreadyExists { .. }
        ));
        // The code wins over the status.
        assert!(matches!(
            kind(400, &body("NoSuchUpload")),
            ProviderError::NotFound { .. }
        ));
    }

    #[test]
    fn statuses_classify_bodies_without_codes() {
        assert!(matches!(kind(503, ""), ProviderError::Transient { .. }));
        assert!(matches!(
            kind(404, "<html>nope</html>"),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(401, "not xml"),
            ProviderError::Unauthenticated { .. }
        ));
        assert!(matches!(
            kind(400, &body("Weird")),
            ProviderError::Service { .. }
        ));
    }

    #[test]
    fn messages_carry_code_once() {
        let e = kind(403, &body("AccessDenied"));
        let text = super::super::error_chain_text(&e);
        assert_eq!(
            text,
            "S3 check obj (check the credentials and the bucket policy): \
             HTTP 403 Forbidden: AccessDenied: the message"
        );
    }

    #[test]
    fn error_documents_in_successful_replies() {
        let ok =
            "<CompleteMultipartUploadResult><ETag>\"x\"</ETag></CompleteMultipartUploadResult>";
        assert!(failed_reply("copy", "a", StatusCode::OK, ok).is_none());
        assert!(matches!(
            failed_reply("copy", "a", StatusCode::OK, &body("InternalError")),
            Some(ProviderError::Transient { .. })
        ));
        assert!(failed_reply("copy", "a", StatusCode::NOT_FOUND, "").is_some());
        // Text that merely mentions <Error> is not an error document.
        assert!(ErrorBody::parse("<Result><Note>&lt;Error&gt;</Note></Result>").is_none());
    }
}
