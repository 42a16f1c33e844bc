//! Multipart uploads: start, parts in parallel, complete or abort.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use reqwest::header::CONTENT_LENGTH;
use reqwest::Method;

use super::client::{read_reply, reply_etag, REPLY_LIMIT};
use super::error::{failed_reply, service_error};
use super::S3Remote;
use crate::providers::{Annex, ProviderError, Result};

/// S3 allows at most this many parts in one upload.
pub(super) const MAX_PARTS: u64 = 10_000;

/// One part of a multipart upload: its number (from 1) and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Part {
    pub(super) number: u16,
    pub(super) start: u64,
    pub(super) len: u64,
}

/// The parts of a `size`-byte upload: `part_size` each but the last, the
/// part size grown when the file would need more than [`MAX_PARTS`].
pub(super) fn plan_parts(size: u64, part_size: u64) -> Vec<Part> {
    let part_size = part_size.max(size.div_ceil(MAX_PARTS)).max(1);
    (0..size.div_ceil(part_size))
        .map(|index| {
            let start = index * part_size;
            Part {
                // At most MAX_PARTS (10,000) parts, so this always fits.
                number: u16::try_from(index + 1).unwrap_or(u16::MAX),
                start,
                len: part_size.min(size - start),
            }
        })
        .collect()
}

impl S3Remote {
    pub(super) async fn upload_multipart(
        &self,
        object: &str,
        src: &Path,
        size: u64,
        creds: &rusty_s3::Credentials,
        annex: &dyn Annex,
    ) -> Result<()> {
        let parts = plan_parts(size, self.config.part_size);
        let mut create = self.bucket.create_multipart_upload(Some(creds), object);
        self.upload_headers(&mut create);
        let create = self.presign(create)?;
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
        let body = read_reply(response, REPLY_LIMIT).await?;
        let created =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&body).map_err(|e| {
                ProviderError::service("S3 sent a bad multipart reply", Some(Box::new(e)))
            })?;
        let upload_id = created.upload_id().to_string();

        let result = self
            .upload_parts(object, src, &parts, &upload_id, creds, annex)
            .await;
        match result {
            Ok(etags) => {
                let complete = self.bucket.complete_multipart_upload(
                    Some(creds),
                    object,
                    &upload_id,
                    etags.iter().map(String::as_str),
                );
                let url = match self.presign(complete) {
                    Ok(signed) => signed.url,
                    Err(e) => {
                        self.abort_multipart(object, &upload_id, creds).await;
                        return Err(e);
                    }
                };
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
                let text = match read_reply(response, REPLY_LIMIT).await {
                    Ok(text) => text,
                    Err(e) => {
                        self.abort_multipart(object, &upload_id, creds).await;
                        return Err(e);
                    }
                };
                // S3 may answer 200 with an <Error> body for a late failure;
                // a reply without the object's ETag proves nothing.
                let failed = failed_reply("complete the upload of", object, status, &text)
                    .or_else(|| {
                        reply_etag(&text).is_none().then(|| {
                            ProviderError::integrity(format!(
                                "S3 answered the completion of {object} without an ETag: nothing proves it was stored"
                            ))
                        })
                    });
                if let Some(e) = failed {
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
        parts: &[Part],
        upload_id: &str,
        creds: &rusty_s3::Credentials,
        annex: &dyn Annex,
    ) -> Result<Vec<String>> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        // Progress of parallel parts is summed into one absolute count.
        let total = AtomicU64::new(0);
        let mut etags: Vec<(u16, String)> = stream::iter(parts.iter().copied())
            .map(|part| {
                let total = &total;
                async move {
                    let signed = self.presign(self.bucket.upload_part(
                        Some(creds),
                        object,
                        part.number,
                        upload_id,
                    ))?;
                    let etag = self
                        .put_part(&signed, src, part.start, part.len, total, annex)
                        .await?;
                    Ok::<_, ProviderError>((part.number, etag))
                }
            })
            .buffer_unordered(self.config.part_jobs)
            .try_collect()
            .await?;
        etags.sort_by_key(|(n, _)| *n);
        Ok(etags.into_iter().map(|(_, e)| e).collect())
    }

    pub(super) async fn abort_multipart(
        &self,
        object: &str,
        upload_id: &str,
        creds: &rusty_s3::Credentials,
    ) {
        let Ok(signed) = self.presign(self.bucket.abort_multipart_upload(
            Some(creds),
            object,
            upload_id,
        )) else {
            return;
        };
        let url = signed.url;
        let _ = self
            .client
            .send(|| self.request(Method::DELETE, url.clone()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn parts_cover_the_file_exactly_once() {
        for (size, part) in [
            (1, 5 * MIB),
            (5 * MIB, 5 * MIB),
            (5 * MIB + 1, 5 * MIB),
            (100 * MIB + 7, 64 * MIB),
        ] {
            let parts = plan_parts(size, part);
            let mut next = 0;
            for (i, p) in parts.iter().enumerate() {
                assert_eq!(usize::from(p.number), i + 1);
                assert_eq!(p.start, next);
                assert!(p.len > 0 && p.len <= part.max(size.div_ceil(MAX_PARTS)));
                next += p.len;
            }
            assert_eq!(next, size, "size {size} part {part}");
        }
        assert_eq!(plan_parts(5 * MIB + 1, 5 * MIB).len(), 2);
        assert!(plan_parts(0, 5 * MIB).is_empty());
    }

    #[test]
    fn huge_files_grow_the_part_size_to_stay_within_10000_parts() {
        let size = 5 * (1 << 40); // 5 TiB, S3's largest object
        let parts = plan_parts(size, 5 * MIB);
        assert!(parts.len() as u64 <= MAX_PARTS);
        assert_eq!(parts.iter().map(|p| p.len).sum::<u64>(), size);
        assert_eq!(parts.last().unwrap().number as usize, parts.len());
    }
}
