//! Multipart uploads: start, parts in parallel, complete or abort.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use reqwest::header::CONTENT_LENGTH;
use reqwest::Method;
use rusty_s3::S3Action;

use super::client::sign;
use super::error::{failed_reply, service_error};
use super::{S3Remote, SIGNATURE_LIFETIME};
use crate::providers::{Annex, ProviderError, Result};
use crate::transfer::{self, RedactedUrl, TransferError};

/// S3 allows at most this many parts in one upload.
pub(super) const MAX_PARTS: u64 = 10_000;

impl S3Remote {
    pub(super) async fn upload_multipart(
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
    pub(super) async fn upload_parts(
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

    pub(super) async fn abort_multipart(
        &self,
        object: &str,
        upload_id: &str,
        creds: &rusty_s3::Credentials,
    ) {
        let url = self
            .bucket
            .abort_multipart_upload(Some(creds), object, upload_id)
            .sign(SIGNATURE_LIFETIME);
        let _ = self
            .client
            .send(|| self.request(Method::DELETE, url.clone()))
            .await;
    }
}
