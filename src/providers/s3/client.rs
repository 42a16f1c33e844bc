//! Signed requests and the single-object operations: bucket check and
//! creation, HEAD, GET, PUT, DELETE and listing.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use reqwest::header::{CONTENT_LENGTH, ETAG};
use reqwest::{Method, RequestBuilder, StatusCode};
use rusty_s3::S3Action;
use url::Url;

use super::error::{classify, service_error};
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

pub(super) fn sign<'a, A: S3Action<'a>>(mut action: A) -> Signed {
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

impl S3Remote {
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
    pub(super) async fn ensure_bucket(&self) -> Result<()> {
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

    pub(super) async fn head(&self, object: &str) -> Result<Option<u64>> {
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

    pub(super) async fn delete(&self, object: &str) -> Result<()> {
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

    pub(super) async fn download(
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
    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>> {
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
