//! Signed requests and the single-object operations: bucket check and
//! creation, HEAD, GET, PUT, DELETE and listing.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, ETAG};
use reqwest::{Method, RequestBuilder, StatusCode};
use rusty_s3::S3Action;
use url::Url;

use super::error::{classify, service_error};
use super::naming::{check_object_name, within_bucket};
use super::{S3Remote, SIGNATURE_LIFETIME};
use crate::providers::{Annex, ProviderError, Result, StatusKind};
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
                "writing to S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or credentials stored at initremote (git annex enableremote with them set)".into(),
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

    pub(super) async fn ensure_bucket(&self) -> Result<()> {
        let response = self.head_bucket().await?;
        match response.status() {
            s if s.is_success() => Ok(()),
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

    /// `None` when `object` is absent, else its `Content-Length` when the
    /// reply gave one.
    pub(super) async fn head(&self, object: &str) -> Result<Option<Option<u64>>> {
        self.check_object(object)?;
        let url = self
            .presign(self.bucket.head_object(self.creds.as_ref(), object))?
            .url;
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
                    .and_then(|v| v.parse().ok()),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(service_error("check", object, response).await),
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

    /// Uploads `src` to `object`, in parts when it is large.
    pub(super) async fn upload(&self, object: &str, src: &Path, annex: &dyn Annex) -> Result<()> {
        self.check_object(object)?;
        let creds = self.write_creds()?;
        let size = tokio::fs::metadata(src).await?.len();
        if size > self.config.part_size {
            return self.upload_multipart(object, src, size, creds, annex).await;
        }
        let mut action = self.bucket.put_object(Some(creds), object);
        self.upload_headers(&mut action);
        let signed = self.presign(action)?;
        let total = AtomicU64::new(0);
        self.put_part(&signed, src, 0, size, &total, annex).await?;
        Ok(())
    }

    /// PUTs one byte range of `src`, checking the returned ETag against the
    /// MD5 of what was sent, so corruption on the way is caught. Bytes sent
    /// are added to `total` (shared by the parts of one upload) and reported
    /// to git-annex. Returns the ETag: the service's proof of storage, so
    /// a reply without one (a web server, a portal answering 200) fails.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn put_part(
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
            server_digest: Some(&|response| etag_as_md5(response.headers())),
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

    /// Lists every object name under `prefix`. A server that repeats a
    /// continuation token, sends a page with nothing new, or never ends
    /// (more than [`MAX_LIST_PAGES`]) makes it fail rather than loop.
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut seen_names = HashSet::new();
        let mut seen_tokens = HashSet::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut action = self.bucket.list_objects_v2(self.creds.as_ref());
            action.with_prefix(prefix.to_string());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = self.presign(action)?.url;
            let response = self
                .client
                .send_ok(|| self.request(Method::GET, url.clone()))
                .await?;
            let text = read_reply(response, LIST_PAGE_LIMIT).await?;
            let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|e| ProviderError::service("S3 sent a bad listing", Some(Box::new(e))))?;
            let before = names.len();
            for object in parsed.contents {
                if seen_names.insert(object.key.clone()) {
                    names.push(object.key);
                }
            }
            let next = match parsed.next_continuation_token {
                Some(t) if !t.is_empty() => t,
                _ => return Ok(names),
            };
            if names.len() == before {
                return Err(bad_listing(prefix, "a page with nothing new"));
            }
            if !seen_tokens.insert(next.clone()) {
                return Err(bad_listing(prefix, "a continuation token again"));
            }
            token = Some(next);
        }
        Err(bad_listing(prefix, "more pages than a listing may have"))
    }
}

fn bad_listing(prefix: &str, what: &str) -> ProviderError {
    ProviderError::service(
        format!("S3 sent {what} while listing {prefix:?}; listing stopped"),
        None,
    )
}

/// The body of a successful reply, at most `limit` bytes: a longer one is
/// an error, never read whole.
pub(super) async fn read_reply(mut response: reqwest::Response, limit: usize) -> Result<String> {
    let url = RedactedUrl::new(response.url().clone());
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(BODY_WAIT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                return Err(TransferError::Network {
                    url,
                    message: transfer::describe_reqwest_error(&e),
                }
                .into())
            }
            Err(_) => {
                return Err(TransferError::Stalled {
                    url,
                    seconds: BODY_WAIT.as_secs(),
                }
                .into())
            }
        };
        if body.len() + chunk.len() > limit {
            return Err(ProviderError::service(
                format!("S3 sent a reply longer than {limit} bytes from {url}"),
                None,
            ));
        }
        body.extend_from_slice(&chunk);
    }
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
