//! Signed requests and the single-object operations: bucket check and
//! creation, HEAD, GET, PUT, DELETE and listing.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_LENGTH, ETAG};
use reqwest::{Method, RequestBuilder, StatusCode};
use rusty_s3::actions::list_objects_v2::ListObjectsContent;
use rusty_s3::S3Action;
use url::Url;

use super::actions::CreateUpload;
use super::config::UploadChecksum;
use super::error::{classify, s3_error_code, service_error};
use super::naming::{self, check_object_name, within_bucket};
use super::{S3Remote, SIGNATURE_LIFETIME};
use crate::providers::{Annex, ProviderError, Result};
use crate::transfer::{
    self, Algorithm, BodySource, Download, FileRange, RedactedUrl, TransferError, Upload,
};

/// A presigned request: the URL plus the headers that were signed with it
/// and so must be sent exactly as signed.
pub(super) struct Signed {
    pub(super) url: Url,
    pub(super) headers: Vec<(String, String)>,
}

/// Most of a listing page we read: 1,000 names of at most 1 KiB each, with
/// their details, fit well.
pub(super) const LIST_PAGE_LIMIT: usize = 8 << 20;
/// Most of any other XML reply we read (multipart, copy results).
pub(super) const REPLY_LIMIT: usize = transfer::ERROR_BODY_LIMIT;
/// Most listing pages one listing may take (10 million names).
pub(super) const MAX_LIST_PAGES: usize = 10_000;
/// How long reading a reply may wait for its next bytes.
const BODY_WAIT: Duration = Duration::from_secs(60);

impl S3Remote {
    /// Signs `action` and checks that the request goes to this remote's
    /// endpoint and bucket. An action naming an object must only be made
    /// for a name [`check_object`](Self::check_object) accepted: rusty-s3
    /// panics on some others.
    pub(super) fn presign<'a, A: S3Action<'a>>(&self, mut action: A) -> Result<Signed> {
        let headers = action
            .headers_mut()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let url = action.sign(SIGNATURE_LIFETIME);
        if !within_bucket(self.bucket.base_url(), &url) {
            return Err(ProviderError::InvalidName(format!(
                "a request for bucket {} would go to {}; not sent",
                self.config.bucket,
                RedactedUrl::new(url)
            )));
        }
        Ok(Signed { url, headers })
    }

    /// `CreateMultipartUpload` for `object`, shaped as the AWS SDKs send it
    /// (see [`super::actions`]).
    pub(super) fn create_upload<'a>(
        &'a self,
        creds: &'a rusty_s3::Credentials,
        object: &str,
    ) -> Result<CreateUpload<'a>> {
        self.check_object(object)?;
        CreateUpload::new(&self.bucket, creds, object).ok_or_else(|| {
            ProviderError::InvalidName(format!(
                "{object:?} is not an object name inside bucket {}",
                self.config.bucket
            ))
        })
    }

    /// Checks that `object` is a plain object name whose URL is inside the
    /// bucket, before any request is made for it.
    pub(super) fn check_object(&self, object: &str) -> Result<()> {
        check_object_name(object)?;
        match self.bucket.object_url(object) {
            Ok(url) if within_bucket(self.bucket.base_url(), &url) => Ok(()),
            _ => Err(ProviderError::InvalidName(format!(
                "{object:?} is not an object name inside bucket {}",
                self.config.bucket
            ))),
        }
    }

    pub(super) fn write_creds(&self) -> Result<&rusty_s3::Credentials> {
        self.creds.as_ref().ok_or_else(|| {
            ProviderError::MissingCredentials(
                "writing to S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (or stored by git-annex: set them once and run `git annex enableremote` on this remote)".into(),
            )
        })
    }

    pub(super) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.http().request(method, url)
    }

    /// A request for a presigned action, with its signed headers.
    pub(super) fn signed_request(&self, method: Method, signed: &Signed) -> RequestBuilder {
        signed
            .headers
            .iter()
            .fold(self.request(method, signed.url.clone()), |b, (k, v)| {
                b.header(k.as_str(), v.as_str())
            })
    }

    /// Sends a presigned request without a body (a copy, the start of a
    /// multipart upload): S3 wants its length said, 0.
    pub(super) async fn send_empty(
        &self,
        method: Method,
        signed: &Signed,
    ) -> Result<reqwest::Response> {
        Ok(self
            .client
            .send(|| {
                self.signed_request(method.clone(), signed)
                    .header(CONTENT_LENGTH, 0)
            })
            .await?)
    }

    /// Creates the bucket when it is missing (idempotent).
    /// The region S3 says the bucket is in (`x-amz-bucket-region`, sent
    /// with any answer about the bucket, redirects and refusals too);
    /// `None` when the store does not say (most S3-compatible ones).
    pub(super) async fn bucket_region(&self) -> Result<Option<String>> {
        let response = self.head_bucket().await?;
        Ok(response
            .headers()
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')))
    }

    /// HEAD on the bucket itself, whatever its answer.
    async fn head_bucket(&self) -> Result<reqwest::Response> {
        let url = self
            .presign(self.bucket.head_bucket(self.creds.as_ref()))?
            .url;
        Ok(self
            .client
            .send(|| self.request(Method::HEAD, url.clone()))
            .await?)
    }

    /// Checks that the bucket is there; creates it only with
    /// `createbucket=yes`. `true` when it was created.
    pub(super) async fn ensure_bucket(&self) -> Result<bool> {
        let response = self.head_bucket().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(false);
        }
        let bucket = &self.config.bucket;
        // Not found, or about to be created: a name outside S3's rules says
        // why better than the store's answer (moto answers 500 for some), and
        // is never worth creating. Otherwise a refusal (403) or a server
        // error says nothing of the name: an older bucket with such a name
        // must keep working.
        let about_the_name = self.config.create_bucket
            || matches!(status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST);
        if let Some(rule) = naming::s3_rules_problem(bucket).filter(|_| about_the_name) {
            return Err(ProviderError::Config(format!("bucket={bucket}: {rule}")));
        }
        match status {
            StatusCode::NOT_FOUND if self.config.create_bucket => {
                let creds = self.write_creds()?;
                let url = self.presign(self.bucket.create_bucket(creds))?.url;
                let response = self
                    .client
                    .send(|| {
                        self.request(Method::PUT, url.clone())
                            .header(CONTENT_LENGTH, 0)
                    })
                    .await?;
                let status = response.status();
                if status.is_success() {
                    Ok(true)
                } else if status == StatusCode::CONFLICT {
                    Ok(false)
                } else {
                    Err(service_error("create bucket", bucket, response).await)
                }
            }
            StatusCode::NOT_FOUND => Err(ProviderError::Config(format!(
                "bucket {bucket} does not exist at {}; check bucket= for a misspelling, or add \
                 createbucket=yes to create it",
                RedactedUrl::new(self.config.endpoint.clone())
            ))),
            _ => Err(service_error("check bucket", bucket, response).await),
        }
    }

    /// `None` when `object` is absent, else its `Content-Length` when the
    /// reply gave one.
    pub(super) async fn head(&self, object: &str) -> Result<Option<Option<u64>>> {
        Ok(self
            .head_headers(object, "check")
            .await?
            .map(|headers| header_text(&headers, CONTENT_LENGTH).and_then(|v| v.parse().ok())))
    }

    /// The headers of a HEAD of `object`; `None` when it is absent. Any
    /// other refusal is an error, `doing` in its words ("check").
    pub(super) async fn head_headers(
        &self,
        object: &str,
        doing: &str,
    ) -> Result<Option<HeaderMap>> {
        self.check_object(object)?;
        let url = self
            .presign(self.bucket.head_object(self.creds.as_ref(), object))?
            .url;
        let response = self
            .client
            .send(|| self.request(Method::HEAD, url.clone()))
            .await?;
        match response.status() {
            s if s.is_success() => Ok(Some(response.headers().clone())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(service_error(doing, object, response).await),
        }
    }

    pub(super) async fn delete(&self, object: &str) -> Result<()> {
        self.check_object(object)?;
        let creds = self.write_creds()?;
        let url = self
            .presign(self.bucket.delete_object(Some(creds), object))?
            .url;
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

    pub(super) fn upload_headers<'a, A: S3Action<'a>>(&'a self, action: &mut A) {
        if self.config.public {
            action.headers_mut().insert("x-amz-acl", "public-read");
        }
        if let Some(class) = &self.config.storage_class {
            action
                .headers_mut()
                .insert("x-amz-storage-class", class.clone());
        }
    }

    /// How uploads are verified now: the configured `checksum=`, or
    /// Content-MD5 once this store refused the flexible checksum headers.
    pub(super) fn upload_checksum(&self) -> UploadChecksum {
        match self.config.checksum {
            UploadChecksum::Sha256 if self.flexible_refused.load(Ordering::Relaxed) => {
                UploadChecksum::Md5
            }
            mode => mode,
        }
    }

    /// Uploads `src` to `object`, in parts when it is large. A store that
    /// refuses `x-amz-checksum-*` headers (some S3-compatible ones answer
    /// 400 InvalidArgument or 501 NotImplemented) gets the upload again
    /// with Content-MD5, and every later upload of this process too.
    pub(super) async fn upload(&self, object: &str, src: &Path, annex: &dyn Annex) -> Result<()> {
        self.check_object(object)?;
        let creds = self.write_creds()?;
        let size = tokio::fs::metadata(src).await?.len();
        let mode = self.upload_checksum();
        let result = self.upload_as(object, src, size, creds, mode, annex).await;
        match result {
            Err(e) if mode == UploadChecksum::Sha256 && refuses_flexible_checksums(&e) => {
                self.flexible_refused.store(true, Ordering::Relaxed);
                annex.info(&format!(
                    "{} refused the x-amz-checksum-sha256 header ({}); uploading with Content-MD5 instead (checksum=md5 avoids this first try)",
                    RedactedUrl::new(self.config.endpoint.clone()),
                    s3_error_code(&e).unwrap_or("refused")
                ));
                self.upload_as(object, src, size, creds, UploadChecksum::Md5, annex)
                    .await
            }
            other => other,
        }
    }

    async fn upload_as(
        &self,
        object: &str,
        src: &Path,
        size: u64,
        creds: &rusty_s3::Credentials,
        mode: UploadChecksum,
        annex: &dyn Annex,
    ) -> Result<()> {
        if size > self.config.part_size {
            return self
                .upload_multipart(object, src, size, creds, mode, annex)
                .await;
        }
        let checksum = PartChecksum::of_range(src, 0, size, mode).await?;
        let mut action = self.bucket.put_object(Some(creds), object);
        self.upload_headers(&mut action);
        if let Some(c) = &checksum {
            c.add_to(&mut action);
        }
        let signed = self.presign(action)?;
        let total = AtomicU64::new(0);
        self.put_part(&signed, src, 0, size, mode, &total, annex)
            .await?;
        Ok(())
    }

    /// PUTs one byte range of `src`. The server verifies it against the
    /// checksum header signed into `signed` (`mode`); without one, the
    /// returned ETag is compared with the MD5 of what was sent when it can
    /// be one. Bytes sent are added to `total` (shared by the parts of one
    /// upload) and reported to git-annex. Returns the ETag: the service's
    /// proof of storage, so a reply without one (a web server, a portal
    /// answering 200) fails.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn put_part(
        &self,
        signed: &Signed,
        src: &Path,
        start: u64,
        len: u64,
        mode: UploadChecksum,
        total: &AtomicU64,
        annex: &dyn Annex,
    ) -> Result<String> {
        let request = || self.signed_request(Method::PUT, signed);
        let progress = |n| annex.progress(n);
        let etag_md5 = |response: &reqwest::Response| etag_as_md5(response.headers());
        let echoed_sha256 = |response: &reqwest::Response| echoed_sha256(response.headers());
        let (digest, server_digest): (_, Option<&transfer::ServerDigestFn>) = match mode {
            UploadChecksum::None => (Some(Algorithm::Md5), Some(&etag_md5)),
            // The server checked the bytes against Content-MD5; the ETag
            // need not be an MD5 (SSE-KMS, SSE-C, some stores).
            UploadChecksum::Md5 => (None, None),
            // A server that echoes the checksum says what it stored.
            UploadChecksum::Sha256 => (Some(Algorithm::Sha256), Some(&echoed_sha256)),
        };
        let spec = Upload {
            request: &request,
            body: BodySource::File(FileRange::new(src, start, len)),
            digest,
            server_digest,
            progress: &progress,
            shared: Some(total),
        };
        match self.client.upload(&spec).await {
            Ok(response) => {
                let etag = etag_of(&response);
                if etag.is_empty() {
                    return Err(ProviderError::integrity(format!(
                        "S3 answered the upload of {} with {} but no ETag: nothing proves it was stored (is the endpoint an S3 service?)",
                        signed.url.path(),
                        response.status()
                    )));
                }
                Ok(etag)
            }
            Err(TransferError::Checksum {
                algorithm,
                expected,
                got,
                ..
            }) => Err(ProviderError::integrity(format!(
                "upload corrupted on the way: the server's {algorithm} is {got}, of the bytes sent {expected}; try again"
            ))),
            Err(TransferError::Status { status, detail, .. }) => {
                Err(classify("upload", signed.url.path(), status, &detail))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn download(
        &self,
        object: &str,
        expected_size: Option<u64>,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.check_object(object)?;
        // Checked once here; every attempt signs the same URL afresh.
        self.presign(self.bucket.get_object(self.creds.as_ref(), object))?;
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
            Ok(outcome) => {
                if !outcome.length_verified {
                    annex.info(&format!(
                        "{object}: the server sent no length and closed the connection; {} bytes \
                         kept, but the key records no size or checksum to prove they are all",
                        outcome.size
                    ));
                }
                Ok(())
            }
            // The error document says more than the status (a 403 may be
            // bad credentials rather than a policy), in one line.
            Err(TransferError::Status { status, detail, .. }) => {
                match classify("download", object, status, &detail) {
                    ProviderError::NotFound { source, .. } => Err(ProviderError::NotFound {
                        message: format!("{object} is not in bucket {}", self.config.bucket),
                        source,
                    }),
                    e => Err(e),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Lists every object name under `prefix` (see [`S3Remote::list_each`]).
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        self.list_each(prefix, &mut |object| {
            names.push(object.key);
            Ok(())
        })
        .await?;
        Ok(names)
    }

    /// Hands every object under `prefix` to `each`, page by page: memory
    /// holds one page, never the whole listing (see [`ListPager`]).
    pub(super) async fn list_each(
        &self,
        prefix: &str,
        each: &mut (dyn FnMut(ListObjectsContent) -> Result<()> + Send),
    ) -> Result<()> {
        let mut pager = ListPager::new(prefix);
        while let Some(page) = pager.next_page(self).await? {
            for object in page {
                each(object)?;
            }
        }
        Ok(())
    }
}

/// A listing read one page at a time, so that a caller can work on a page
/// (check, select, download) before asking for the next. A server that
/// repeats a continuation token, sends a page with nothing new, or never
/// ends (more than [`MAX_LIST_PAGES`]) makes it fail rather than loop.
pub(super) struct ListPager {
    prefix: String,
    previous_page: HashSet<String>,
    seen_tokens: HashSet<String>,
    token: Option<String>,
    pages: usize,
    done: bool,
}

impl ListPager {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            previous_page: HashSet::new(),
            seen_tokens: HashSet::new(),
            token: None,
            pages: 0,
            done: false,
        }
    }

    /// The next page's new objects; `None` once the listing has ended.
    pub(super) async fn next_page(
        &mut self,
        remote: &S3Remote,
    ) -> Result<Option<Vec<ListObjectsContent>>> {
        if self.done {
            return Ok(None);
        }
        if self.pages == MAX_LIST_PAGES {
            return Err(bad_listing(
                &self.prefix,
                "more pages than a listing may have",
            ));
        }
        self.pages += 1;
        let mut action = remote.bucket.list_objects_v2(remote.creds.as_ref());
        action.with_prefix(self.prefix.clone());
        if let Some(t) = &self.token {
            action.with_continuation_token(t.clone());
        }
        let url = remote.presign(action)?.url;
        let response = remote
            .client
            .send_ok(|| remote.request(Method::GET, url.clone()))
            .await?;
        let text = read_reply(response, LIST_PAGE_LIMIT).await?;
        let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
            .map_err(|e| ProviderError::service("S3 sent a bad listing", Some(Box::new(e))))?;
        let mut page = HashSet::with_capacity(parsed.contents.len());
        let mut objects = Vec::with_capacity(parsed.contents.len());
        for mut object in parsed.contents {
            object.key = listed_key(&object.key)
                .ok_or_else(|| bad_listing(&self.prefix, "a name that is not URL-encoded UTF-8"))?;
            if !page.insert(object.key.clone()) || self.previous_page.contains(&object.key) {
                continue;
            }
            objects.push(object);
        }
        match parsed.next_continuation_token {
            Some(next) if !next.is_empty() => {
                if objects.is_empty() {
                    return Err(bad_listing(&self.prefix, "a page with nothing new"));
                }
                if !self.seen_tokens.insert(next.clone()) {
                    return Err(bad_listing(&self.prefix, "a continuation token again"));
                }
                self.previous_page = page;
                self.token = Some(next);
            }
            _ => self.done = true,
        }
        Ok(Some(objects))
    }
}

/// An object name as a listing gives it: rusty-s3 asks for
/// `encoding-type=url` (names with control characters survive the XML) but
/// hands the names on as sent, form-encoded (`+` a space, as botocore's
/// `unquote_plus` reads them). Unread, a name with a space or a non-ASCII
/// letter names no object, and a HEAD of it says "deleted".
fn listed_key(sent: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&sent.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

fn bad_listing(prefix: &str, what: &str) -> ProviderError {
    ProviderError::service(
        format!("S3 sent {what} while listing {prefix:?}; listing stopped"),
        None,
    )
}

/// The body of a successful reply, at most `limit` bytes: a longer one is
/// an error, never read whole.
pub(super) async fn read_reply(response: reqwest::Response, limit: usize) -> Result<String> {
    // The same bounded reader as every JSON API answer (service_api).
    let body = match transfer::read_limited(response, limit, BODY_WAIT).await {
        Ok(body) => body,
        Err(e @ TransferError::TooLarge { .. }) => {
            return Err(ProviderError::service(
                "S3 sent a reply longer than a reply may be",
                Some(Box::new(e)),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    String::from_utf8(body)
        .map_err(|e| ProviderError::service("S3 sent a reply that is not text", Some(Box::new(e))))
}

/// The `<ETag>` of a CompleteMultipartUpload or CopyObject result, the
/// service's proof that the object was stored.
pub(super) fn reply_etag(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Result {
        #[serde(rename = "ETag")]
        etag: Option<String>,
    }
    quick_xml::de::from_str::<Result>(body)
        .ok()?
        .etag
        .map(|e| e.trim().trim_matches('"').to_string())
        .filter(|e| !e.is_empty())
}

/// An upload response's ETag, without quotes.
pub(super) fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_names_are_read_as_s3_encodes_them() {
        assert_eq!(
            listed_key("sub-01/task+rest+%C3%BCn.json").as_deref(),
            Some("sub-01/task rest ün.json")
        );
        assert_eq!(listed_key("a%2Bb%25").as_deref(), Some("a+b%"));
        assert_eq!(
            listed_key("plain/name.txt").as_deref(),
            Some("plain/name.txt")
        );
        assert_eq!(listed_key("%FF"), None);
    }

    #[test]
    fn etags_of_results() {
        assert_eq!(
            reply_etag("<CompleteMultipartUploadResult><Location>x</Location><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>").as_deref(),
            Some("abc-2")
        );
        assert_eq!(
            reply_etag("<?xml version=\"1.0\"?><CopyObjectResult><ETag>&quot;d41d&quot;</ETag></CopyObjectResult>").as_deref(),
            Some("d41d")
        );
        assert_eq!(reply_etag("<CopyObjectResult></CopyObjectResult>"), None);
        assert_eq!(
            reply_etag("<CopyObjectResult><ETag></ETag></CopyObjectResult>"),
            None
        );
        assert_eq!(reply_etag("<html>welcome</html>"), None);
        assert_eq!(reply_etag(""), None);
    }
}

/// Whether `e` is a store refusing S3's flexible checksum headers rather
/// than the upload itself: 400 InvalidArgument/InvalidRequest or 501
/// NotImplemented (Google Cloud Storage's XML API, older Ceph and MinIO).
/// A wrong checksum is BadDigest (an integrity error), never this.
pub(super) fn refuses_flexible_checksums(e: &ProviderError) -> bool {
    matches!(
        s3_error_code(e),
        Some("InvalidArgument" | "InvalidRequest" | "NotImplemented")
    )
}

/// The checksum header one upload request carries, computed from the bytes
/// before they are sent, so the server can refuse what it did not receive
/// intact.
pub(super) struct PartChecksum {
    header: &'static str,
    /// Base64 of the digest, as S3 wants it.
    pub(super) value: String,
}

impl PartChecksum {
    /// The checksum of `len` bytes of `src` from `start` for `mode`
    /// (`None` for [`UploadChecksum::None`]). Hashing reads the range once
    /// more, in fixed-size blocks off the async threads.
    pub(super) async fn of_range(
        src: &Path,
        start: u64,
        len: u64,
        mode: UploadChecksum,
    ) -> Result<Option<Self>> {
        use base64::Engine;
        let (algorithm, header) = match mode {
            UploadChecksum::None => return Ok(None),
            UploadChecksum::Md5 => (Algorithm::Md5, "content-md5"),
            UploadChecksum::Sha256 => (Algorithm::Sha256, "x-amz-checksum-sha256"),
        };
        let path = src.to_path_buf();
        let hex = tokio::task::spawn_blocking(move || hash_range(&path, start, len, algorithm))
            .await
            .map_err(|e| ProviderError::Io(std::io::Error::other(e)))??;
        let bytes = hex::decode(&hex).map_err(|e| ProviderError::Io(std::io::Error::other(e)))?;
        Ok(Some(Self {
            header,
            value: base64::engine::general_purpose::STANDARD.encode(bytes),
        }))
    }

    /// Puts the header among those signed with `action`, so it is sent
    /// exactly as computed.
    pub(super) fn add_to<'a, A: S3Action<'a>>(&self, action: &mut A) {
        action.headers_mut().insert(self.header, self.value.clone());
    }
}

/// The hex digest of `len` bytes of `path` from `start`; a file shorter
/// than that is an error (it changed under us).
fn hash_range(path: &Path, start: u64, len: u64, algorithm: Algorithm) -> std::io::Result<String> {
    let (read, hex) = crate::transfer::hash_file_blocking(path, algorithm, start, Some(len))?;
    if read != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "{} ended after {read} of {len} bytes to upload",
                path.display()
            ),
        ));
    }
    Ok(hex)
}

/// The SHA-256 a server reports for what it stored (`x-amz-checksum-sha256`
/// in the answer to a PUT), as hex; `None` when it does not say.
fn echoed_sha256(headers: &reqwest::header::HeaderMap) -> Option<String> {
    use base64::Engine;
    let value = headers.get("x-amz-checksum-sha256")?.to_str().ok()?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

/// The ETag of a single PUT (or part) when it is the MD5 of the bytes sent.
/// It is not for objects encrypted with SSE-KMS or SSE-C, whose ETags are
/// 32 hex digits too: comparing those would fail every upload to a bucket
/// with KMS default encryption. S3 says which encryption it applied in the
/// answer's headers.
fn etag_as_md5(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let kms = header("x-amz-server-side-encryption").is_some_and(|v| v.starts_with("aws:kms"));
    let customer_key = header("x-amz-server-side-encryption-customer-algorithm").is_some();
    if kms || customer_key {
        return None;
    }
    let etag = header("etag")?.trim_matches('"').to_string();
    (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(etag)
}

#[cfg(test)]
mod etag_tests {
    use super::etag_as_md5;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_plain_etags_of_unencrypted_or_s3_managed_objects_are_md5s() {
        let md5 = "\"9e107d9d372bb6826bd81d3542a419d6\"";
        assert_eq!(
            etag_as_md5(&headers(&[("etag", md5)])).as_deref(),
            Some("9e107d9d372bb6826bd81d3542a419d6")
        );
        assert!(etag_as_md5(&headers(&[
            ("etag", md5),
            ("x-amz-server-side-encryption", "AES256")
        ]))
        .is_some());
        assert!(etag_as_md5(&headers(&[
            ("etag", md5),
            ("x-amz-server-side-encryption", "aws:kms")
        ]))
        .is_none());
        assert!(etag_as_md5(&headers(&[
            ("etag", md5),
            ("x-amz-server-side-encryption", "aws:kms:dsse")
        ]))
        .is_none());
        assert!(etag_as_md5(&headers(&[
            ("etag", md5),
            ("x-amz-server-side-encryption-customer-algorithm", "AES256")
        ]))
        .is_none());
        assert!(etag_as_md5(&headers(&[("etag", "\"abc-2\"")])).is_none());
    }
}

#[cfg(test)]
mod checksum_tests {
    use super::*;

    fn refusal(status: u16, code: &str) -> ProviderError {
        classify(
            "upload",
            "obj",
            StatusCode::from_u16(status).unwrap(),
            &format!("<Error><Code>{code}</Code><Message>m</Message></Error>"),
        )
    }

    #[test]
    fn stores_refusing_the_headers_are_told_from_damage() {
        for (status, code) in [
            (400, "InvalidArgument"),
            (400, "InvalidRequest"),
            (501, "NotImplemented"),
        ] {
            assert!(refuses_flexible_checksums(&refusal(status, code)), "{code}");
        }
        for (status, code) in [(400, "BadDigest"), (403, "AccessDenied"), (503, "SlowDown")] {
            assert!(
                !refuses_flexible_checksums(&refusal(status, code)),
                "{code}"
            );
        }
        assert!(!refuses_flexible_checksums(&ProviderError::integrity("x")));
    }

    #[tokio::test]
    async fn checksums_of_ranges_are_base64_digests_of_exactly_those_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"xxhello worldyy").unwrap();
        let md5 = PartChecksum::of_range(&path, 2, 11, UploadChecksum::Md5)
            .await
            .unwrap()
            .unwrap();
        // MD5("hello world")
        assert_eq!(md5.header, "content-md5");
        assert_eq!(md5.value, "XrY7u+Ae7tCTyyK7j1rNww==");
        let sha = PartChecksum::of_range(&path, 2, 11, UploadChecksum::Sha256)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sha.header, "x-amz-checksum-sha256");
        assert_eq!(sha.value, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert!(PartChecksum::of_range(&path, 2, 11, UploadChecksum::None)
            .await
            .unwrap()
            .is_none());
        // A file shorter than the range changed under us: an error.
        assert!(PartChecksum::of_range(&path, 10, 11, UploadChecksum::Md5)
            .await
            .is_err());
    }

    #[test]
    fn echoed_sha256_is_read_only_when_it_is_one() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(echoed_sha256(&h), None);
        h.insert(
            "x-amz-checksum-sha256",
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
                .parse()
                .unwrap(),
        );
        assert_eq!(
            echoed_sha256(&h).as_deref(),
            Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        );
        // A composite checksum of parts is not the object's.
        h.insert(
            "x-amz-checksum-sha256",
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=-3"
                .parse()
                .unwrap(),
        );
        assert_eq!(echoed_sha256(&h), None);
    }
}

/// A header's value as text, trimmed; `None` when absent or not text.
pub(super) fn header_text(
    headers: &HeaderMap,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}
