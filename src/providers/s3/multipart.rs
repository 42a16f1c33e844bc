//! Multipart uploads: start, parts in parallel, complete or abort.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use reqwest::Method;
use rusty_s3::S3Action;

use super::client::{
    read_reply, refuses_flexible_checksums, reply_etag, PartChecksum, REPLY_LIMIT,
};
use super::config::UploadChecksum;
use super::error::{failed_reply, s3_error_code, service_error};
use super::S3Remote;
use crate::providers::{Annex, ProviderError, Result};

/// The object name under `prefix` the flexible-checksum probe starts (and
/// aborts) a multipart upload for; nothing is ever stored under it.
const PROBE_OBJECT: &str = "annexa-checksum-probe";

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
        mode: UploadChecksum,
        annex: &dyn Annex,
    ) -> Result<()> {
        let parts = plan_parts(size, self.config.part_size);
        let body = self
            .start_upload(object, creds, mode, true, "start multipart upload")
            .await?;
        let created =
            rusty_s3::actions::CreateMultipartUpload::parse_response(&body).map_err(|e| {
                ProviderError::service("S3 sent a bad multipart reply", Some(Box::new(e)))
            })?;
        let upload_id = created.upload_id().to_string();

        let result = self
            .upload_parts(object, src, &parts, &upload_id, creds, mode, annex)
            .await;
        match result {
            Ok(uploaded) => {
                let etags: Vec<String> = uploaded.iter().map(|(e, _)| e.clone()).collect();
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
                let body = if mode == UploadChecksum::Sha256 {
                    completion_with_checksums(&uploaded)
                } else {
                    self.bucket
                        .complete_multipart_upload(
                            Some(creds),
                            object,
                            &upload_id,
                            etags.iter().map(String::as_str),
                        )
                        .body()
                };
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
        mode: UploadChecksum,
        annex: &dyn Annex,
    ) -> Result<Vec<(String, Option<String>)>> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        // Progress of parallel parts is summed into one absolute count.
        let total = AtomicU64::new(0);
        let mut etags: Vec<(u16, String, Option<String>)> = stream::iter(parts.iter().copied())
            .map(|part| {
                let total = &total;
                async move {
                    let checksum = PartChecksum::of_range(src, part.start, part.len, mode).await?;
                    let mut action =
                        self.bucket
                            .upload_part(Some(creds), object, part.number, upload_id);
                    if let Some(c) = &checksum {
                        c.add_to(&mut action);
                    }
                    let signed = self.presign(action)?;
                    let etag = self
                        .put_part(&signed, src, part.start, part.len, mode, total, annex)
                        .await?;
                    Ok::<_, ProviderError>((part.number, etag, checksum.map(|c| c.value)))
                }
            })
            .buffer_unordered(self.config.part_jobs)
            .try_collect()
            .await?;
        etags.sort_by_key(|(n, _, _)| *n);
        Ok(etags.into_iter().map(|(_, e, c)| (e, c)).collect())
    }

    /// Whether this store accepts S3's flexible checksum headers: starts a
    /// multipart upload declaring SHA-256 and aborts it at once (nothing is
    /// stored). `Some(code)` when the store refused them.
    pub(super) async fn probe_flexible_checksums(&self) -> Result<Option<String>> {
        let creds = self.write_creds()?;
        let object = format!("{}{PROBE_OBJECT}", self.config.prefix);
        let doing = "start a multipart upload to test checksums for";
        let body = match self
            .start_upload(&object, creds, UploadChecksum::Sha256, false, doing)
            .await
        {
            Ok(body) => body,
            Err(e) if refuses_flexible_checksums(&e) => {
                return Ok(s3_error_code(&e).map(str::to_string))
            }
            Err(e) => return Err(e),
        };
        if let Ok(created) = rusty_s3::actions::CreateMultipartUpload::parse_response(&body) {
            self.abort_multipart(&object, created.upload_id(), creds)
                .await;
        }
        Ok(None)
    }

    /// Starts a multipart upload of `object` (CreateMultipartUpload) and
    /// returns S3's reply; with [`UploadChecksum::Sha256`] S3 then requires
    /// each part's checksum, and all of them again in the completion.
    /// `stored` says the upload is to be kept (the remote's ACL and storage
    /// class apply).
    async fn start_upload(
        &self,
        object: &str,
        creds: &rusty_s3::Credentials,
        mode: UploadChecksum,
        stored: bool,
        doing: &str,
    ) -> Result<String> {
        let mut create = self.create_upload(creds, object)?;
        if stored {
            self.upload_headers(&mut create);
        }
        if mode == UploadChecksum::Sha256 {
            create
                .headers_mut()
                .insert("x-amz-checksum-algorithm", "SHA256");
        }
        let response = self
            .send_empty(Method::POST, &self.presign(create)?)
            .await?;
        if !response.status().is_success() {
            return Err(service_error(doing, object, response).await);
        }
        read_reply(response, REPLY_LIMIT).await
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

/// The CompleteMultipartUpload document with each part's SHA-256, which S3
/// requires when the upload was started with a checksum algorithm
/// (rusty-s3 writes ETags and part numbers only).
fn completion_with_checksums(parts: &[(String, Option<String>)]) -> String {
    use quick_xml::escape::escape;
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (index, (etag, checksum)) in parts.iter().enumerate() {
        xml.push_str("<Part>");
        if let Some(c) = checksum {
            xml.push_str(&format!(
                "<ChecksumSHA256>{}</ChecksumSHA256>",
                escape(c.as_str())
            ));
        }
        xml.push_str(&format!(
            "<ETag>{}</ETag><PartNumber>{}</PartNumber></Part>",
            escape(etag.as_str()),
            index + 1
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
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
        // Cloudflare R2 wants every part but the last the same size, and
        // the last no larger.
        for (size, part) in [(23 * MIB + 5, 5 * MIB), (5 * (1u64 << 40), 5 * MIB)] {
            let parts = plan_parts(size, part);
            let first = parts[0].len;
            assert!(parts[..parts.len() - 1].iter().all(|p| p.len == first));
            assert!(parts.last().unwrap().len <= first);
        }
        assert!(plan_parts(0, 5 * MIB).is_empty());
    }

    #[test]
    fn completion_lists_every_part_with_its_checksum_in_order() {
        let xml = completion_with_checksums(&[
            ("\"a<1\"".into(), Some("c1==".into())),
            ("b2".into(), Some("c2==".into())),
        ]);
        assert_eq!(
            xml,
            "<CompleteMultipartUpload>\
             <Part><ChecksumSHA256>c1==</ChecksumSHA256><ETag>&quot;a&lt;1&quot;</ETag><PartNumber>1</PartNumber></Part>\
             <Part><ChecksumSHA256>c2==</ChecksumSHA256><ETag>b2</ETag><PartNumber>2</PartNumber></Part>\
             </CompleteMultipartUpload>"
        );
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
