//! Importing a bucket (or the part under `prefix=`) as a tree.
//!
//! Keys come from the listing alone: a single-part ETag is the MD5 of the
//! content (documented by AWS for objects stored without SSE-KMS/SSE-C);
//! a multipart ETag (`<md5 of md5s>-<parts>`) is not, so such objects are
//! hashed once (see [`crate::providers::import`]). The ETag is also the
//! content identifier: S3 gives a new one whenever an object is replaced.

use std::path::Path;

use async_trait::async_trait;
use reqwest::header::{CONTENT_LENGTH, ETAG};
use reqwest::{Method, StatusCode};

use super::error::service_error;
use super::S3Remote;
use crate::providers::import::{file_matches_key, ContentId};
use crate::providers::{Annex, ImportSink, ImportTree, ImportableFile, Result};
use crate::transfer::{Algorithm, Expected};

/// The content id of an object with this ETag and size.
fn content_id(etag: &str, size: u64) -> ContentId {
    let etag = etag.trim().trim_matches('"');
    // A plain 32-hex ETag is the content's MD5; a multipart one has `-N`.
    let md5 = (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Expected::new(Algorithm::Md5, etag));
    ContentId::new(format!("{etag}/{size}"), md5)
}

impl S3Remote {
    /// The `s3://BUCKET/OBJECT` URL this remote claims for an object.
    fn s3_url(&self, object: &str) -> String {
        format!("s3://{}/{object}", self.config.bucket)
    }

    /// What a HEAD tells of the object for an imported path: `None` when
    /// absent.
    async fn import_head(&self, object: &str) -> Result<Option<ImportableFile>> {
        self.check_object(object)?;
        let url = self
            .presign(self.bucket.head_object(self.creds.as_ref(), object))?
            .url;
        let response = self
            .client
            .send(|| self.request(Method::HEAD, url.clone()))
            .await?;
        match response.status() {
            s if s.is_success() => {
                let header = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let size = header(CONTENT_LENGTH)
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let etag = header(ETAG).unwrap_or_default();
                Ok(Some(ImportableFile {
                    path: object.to_string(),
                    size,
                    id: content_id(&etag, size),
                    url: Some(self.s3_url(object)),
                }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(service_error("check", object, response).await),
        }
    }
}

#[async_trait]
impl ImportTree for S3Remote {
    async fn list_importable(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        let prefix = self.config.prefix.clone();
        self.list_each(&prefix, &mut |object| {
            let path = object.key.strip_prefix(&prefix).unwrap_or(&object.key);
            // "Folders" made by consoles are empty objects ending in `/`.
            if path.is_empty() || path.ends_with('/') {
                if object.size != 0 {
                    sink.skipped(path, "a name ending in / is a folder, not a file");
                }
                return Ok(());
            }
            sink.found(ImportableFile {
                path: path.to_string(),
                size: object.size,
                id: content_id(&object.etag, object.size),
                url: Some(self.s3_url(&object.key)),
            })
        })
        .await
    }

    async fn retrieve_import(
        &self,
        path: &str,
        size: Option<u64>,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.download(&self.export_object(path)?, size, dest, annex)
            .await
    }

    async fn check_present_import(
        &self,
        path: &str,
        key: &str,
        _annex: &dyn Annex,
    ) -> Result<bool> {
        let object = self.export_object(path)?;
        Ok(match self.import_head(&object).await? {
            Some(found) => file_matches_key(&found, key),
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
        let plain = content_id(&format!("\"{hex}\""), 5);
        assert_eq!(plain.checksum, Some(Expected::new(Algorithm::Md5, hex)));
        let multipart = content_id(&format!("\"{hex}-3\""), 5);
        assert_eq!(multipart.checksum, None);
        // A replaced object with the same size still gets a new id.
        assert_ne!(content_id("a", 1).text(), content_id("b", 1).text());
    }
}
