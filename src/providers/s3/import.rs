//! Importing a bucket (or the part under `prefix=`) as a tree.
//!
//! Keys come from the listing and, for objects whose ETag looks like an MD5
//! and a reader with credentials, one HEAD (an anonymous reader needs none:
//! see [`ImportTree::list_importable`] below): a single-part ETag is the MD5 of the content only for objects
//! stored without SSE-KMS or SSE-C (AWS documents this), and the listing
//! does not say which, while a HEAD does (`x-amz-server-side-encryption`,
//! `x-amz-server-side-encryption-customer-algorithm`). Any other object
//! (multipart ETags `<md5 of md5s>-<parts>`, SSE-KMS, SSE-C) is hashed
//! once; a HEAD that fails fails the listing (see [`crate::providers::import`]): no checksum
//! key is ever registered unverified. The ETag is also the content
//! identifier: S3 gives a new one whenever an object is replaced.

use std::path::Path;

use async_trait::async_trait;
use reqwest::header::{CONTENT_LENGTH, ETAG};

use super::client::{header_text, ListPager};
use super::S3Remote;
use crate::providers::import::{file_matches_key, ContentId, ListedFile};
use crate::providers::{
    Annex, ExportPath, ExportedFile, ImportSink, ImportTree, ImportableFile, Result,
};
use crate::transfer::{Algorithm, Expected};
use rusty_s3::actions::list_objects_v2::ListObjectsContent;

/// How objects are encrypted at rest, as far as their ETag is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encryption {
    /// None or SSE-S3 (`AES256`): a single-part ETag is the MD5.
    EtagIsMd5,
    /// SSE-KMS, SSE-C, or not known: the ETag says nothing of the content.
    Opaque,
}

/// What a HEAD's headers say: SSE-KMS (`aws:kms`, `aws:kms:dsse`) and
/// SSE-C (a customer algorithm) make the ETag opaque.
fn encryption(headers: &reqwest::header::HeaderMap) -> Encryption {
    let value = |name: &str| header_text(headers, name).map(|v| v.to_ascii_lowercase());
    let kms = value("x-amz-server-side-encryption").is_some_and(|v| v != "aes256");
    let customer = value("x-amz-server-side-encryption-customer-algorithm").is_some();
    if kms || customer {
        Encryption::Opaque
    } else {
        Encryption::EtagIsMd5
    }
}

/// Whether an ETag has the shape of an MD5 (32 hex digits, no `-N`).
fn md5_shaped(etag: &str) -> bool {
    let etag = etag.trim().trim_matches('"');
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The content id of an object with this ETag and size; the ETag is its
/// checksum only when it is MD5-shaped and known to be the MD5.
fn content_id(etag: &str, size: u64, encryption: Encryption) -> ContentId {
    let etag = etag.trim().trim_matches('"');
    let md5 = (md5_shaped(etag) && encryption == Encryption::EtagIsMd5)
        .then(|| Expected::new(Algorithm::Md5, etag));
    ContentId::new(format!("{etag}/{size}"), md5)
}

/// HEADs at once while an import checks encryption.
const HEAD_CONCURRENCY: usize = 16;

impl S3Remote {
    /// How `object` is encrypted, from a HEAD; `None` when it is gone
    /// since the listing. A HEAD that fails is an error, never a reason to
    /// download and hash the object unasked.
    async fn encryption_of(&self, object: &str) -> Result<Option<Encryption>> {
        let headers = self.head_headers(object, "check the encryption of").await?;
        Ok(headers.as_ref().map(encryption))
    }

    /// The `s3://BUCKET/OBJECT` URL this remote claims for an object.
    fn s3_url(&self, object: &str) -> String {
        format!("s3://{}/{object}", self.config.bucket)
    }

    /// What a HEAD tells of the object for an imported path: `None` when
    /// absent.
    async fn import_head(&self, object: &str) -> Result<Option<ImportableFile>> {
        let Some(headers) = self.head_headers(object, "check").await? else {
            return Ok(None);
        };
        let size = header_text(&headers, CONTENT_LENGTH)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let etag = header_text(&headers, ETAG).unwrap_or_default();
        Ok(Some(ImportableFile {
            path: object.to_string(),
            size,
            id: content_id(&etag, size, encryption(&headers)),
            url: Some(self.s3_url(object)),
        }))
    }
}

impl S3Remote {
    /// The files of one listing page, as (path, object name, size, ETag);
    /// console "folders" are reported to `sink` and left out.
    fn page_files(
        &self,
        page: Vec<ListObjectsContent>,
        sink: &mut dyn ImportSink,
    ) -> Vec<(String, String, u64, String)> {
        let prefix = &self.config.prefix;
        let mut files = Vec::with_capacity(page.len());
        for object in page {
            let path = object
                .key
                .strip_prefix(prefix.as_str())
                .unwrap_or(&object.key);
            // "Folders" made by consoles are empty objects ending in `/`.
            if path.is_empty() || path.ends_with('/') {
                if object.size != 0 {
                    sink.skipped(path, "a name ending in / is a folder, not a file");
                }
                continue;
            }
            files.push((path.to_string(), object.key, object.size, object.etag));
        }
        files
    }

    /// The listing does not say how an object is encrypted: a HEAD does,
    /// for the objects whose ETag could be an MD5. `None` for an object
    /// deleted since the listing.
    async fn checked_page(
        &self,
        files: Vec<(String, String, u64, String)>,
    ) -> Vec<Result<Option<ImportableFile>>> {
        use futures_util::stream::{self, StreamExt};
        stream::iter(files)
            .map(|(path, key, size, etag)| async move {
                let sse = if md5_shaped(&etag) {
                    match self.encryption_of(&key).await? {
                        Some(sse) => sse,
                        None => return Ok(None),
                    }
                } else {
                    Encryption::Opaque
                };
                Ok(Some(ImportableFile {
                    path,
                    size,
                    id: content_id(&etag, size, sse),
                    url: Some(self.s3_url(&key)),
                }))
            })
            .buffered(HEAD_CONCURRENCY)
            .collect()
            .await
    }
}

#[async_trait]
impl ImportTree for S3Remote {
    /// Page by page: the HEADs of one page run while the next page is
    /// fetched, and memory holds two pages, never the whole listing.
    ///
    /// Read anonymously, no HEAD is needed: S3 refuses anonymous reads of
    /// SSE-KMS objects ("Requests specifying Server Side Encryption with
    /// AWS KMS managed keys require AWS Signature Version 4", AWS re:Post
    /// knowledge-center/s3-kms-signature-version-error) and SSE-C objects
    /// need the customer's key in every request, so every object an
    /// anonymous reader can fetch has no encryption or SSE-S3, whose
    /// single-part ETag is the MD5 (AWS, "Checking object integrity").
    /// Content is still checked against its key when it is fetched.
    async fn list_importable(&self, sink: &mut dyn ImportSink, annex: &dyn Annex) -> Result<()> {
        if self.creds.is_none() {
            return self.list_unconfirmed(sink, annex).await;
        }
        let mut pager = ListPager::new(&self.config.prefix);
        let mut pending = pager.next_page(self).await?;
        while let Some(page) = pending {
            let files = self.page_files(page, sink);
            let (checked, next) = tokio::join!(self.checked_page(files), pager.next_page(self));
            for file in checked {
                // Deleted since the listing: not part of the tree.
                if let Some(file) = file? {
                    sink.found(file)?;
                }
            }
            pending = next?;
        }
        Ok(())
    }

    /// Without the HEADs: an MD5-shaped ETag is handed on as a candidate
    /// checksum that [`ImportTree::confirm_checksum`] confirms (one HEAD)
    /// before it may name a key.
    async fn list_unconfirmed(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        let mut pager = ListPager::new(&self.config.prefix);
        while let Some(page) = pager.next_page(self).await? {
            for (path, key, size, etag) in self.page_files(page, sink) {
                sink.found(ImportableFile {
                    path,
                    size,
                    id: content_id(&etag, size, Encryption::EtagIsMd5),
                    url: Some(self.s3_url(&key)),
                })?;
            }
        }
        Ok(())
    }

    /// One HEAD, for a reader with credentials only (see
    /// [`ImportTree::list_importable`]: what an anonymous reader can fetch
    /// has an MD5 ETag; the download is checked against it either way).
    async fn confirm_checksum(&self, file: ImportableFile) -> Result<Option<ImportableFile>> {
        if file.id.checksum.is_none() || self.creds.is_none() {
            return Ok(Some(file));
        }
        let object = self.export_object(&ExportPath::new(file.path.as_str())?);
        Ok(match self.encryption_of(&object).await? {
            None => None,
            Some(Encryption::EtagIsMd5) => Some(file),
            Some(Encryption::Opaque) => Some(ImportableFile {
                id: ContentId::new(file.id.version.clone(), None),
                ..file
            }),
        })
    }

    async fn retrieve_import(&self, file: ListedFile<'_>, dest: &Path) -> Result<()> {
        let object = self.export_object(file.path);
        self.download(&object, file.size, dest, file.annex).await
    }

    async fn check_present_import(&self, file: ExportedFile<'_>) -> Result<bool> {
        let object = self.export_object(file.path);
        Ok(match self.import_head(&object).await? {
            Some(found) => file_matches_key(&found, file.key),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_part_etags_name_keys() {
        let hex = "5d41402abc4b2a76b9719d911017c592";
        let md5 = Encryption::EtagIsMd5;
        let plain = content_id(&format!("\"{hex}\""), 5, md5);
        assert_eq!(plain.checksum, Some(Expected::new(Algorithm::Md5, hex)));
        let multipart = content_id(&format!("\"{hex}-3\""), 5, md5);
        assert_eq!(multipart.checksum, None);
        // A replaced object with the same size still gets a new id.
        assert_ne!(
            content_id("a", 1, md5).text(),
            content_id("b", 1, md5).text()
        );
    }

    /// SSE-KMS and SSE-C objects have 32-hex ETags that are no MD5: such a
    /// key could never verify (issue 18).
    #[test]
    fn encrypted_objects_etags_name_no_key() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let hex = "5d41402abc4b2a76b9719d911017c592";
        let head = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            encryption(&h)
        };
        assert_eq!(head(&[]), Encryption::EtagIsMd5);
        assert_eq!(
            head(&[("x-amz-server-side-encryption", "AES256")]),
            Encryption::EtagIsMd5
        );
        for sse in [
            &[("x-amz-server-side-encryption", "aws:kms")][..],
            &[("x-amz-server-side-encryption", "aws:kms:dsse")][..],
            &[("x-amz-server-side-encryption-customer-algorithm", "AES256")][..],
        ] {
            let e = head(sse);
            assert_eq!(e, Encryption::Opaque, "{sse:?}");
            assert_eq!(content_id(hex, 5, e).checksum, None);
        }
    }
}
