//! Export trees (`exporttree=yes`): files under their own names.

use std::path::Path;

use async_trait::async_trait;
use reqwest::Method;
use rusty_s3::S3Action;

use super::client::{read_reply, reply_etag, REPLY_LIMIT};
use super::error::failed_reply;
use super::urls::encode_object;
use super::S3Remote;
use crate::providers::{Annex, ExportPath, ExportTree, ExportedFile, ProviderError, Result};

impl S3Remote {
    /// The object of the exported (or imported) file at `path`.
    pub(super) fn export_object(&self, path: &ExportPath) -> String {
        format!("{}{path}", self.config.prefix)
    }
}

#[async_trait]
impl ExportTree for S3Remote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        let object = self.export_object(file.path);
        self.upload(&object, src, file.annex).await
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        let object = self.export_object(file.path);
        let size = file.key.content_size();
        self.download(&object, size, dest, file.annex).await
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        self.present(&self.export_object(file.path), file.key).await
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        self.delete(&self.export_object(file.path)).await
    }

    async fn remove_export_directory(&self, dir: &ExportPath, _annex: &dyn Annex) -> Result<()> {
        // S3 has no directories: remove whatever is still stored under it.
        let prefix = format!("{}/", self.export_object(dir));
        // Only what is under it: a server listing other names is not obeyed.
        for object in self.list(&prefix).await? {
            if !object.starts_with(&prefix) {
                continue;
            }
            self.delete(&object).await?;
        }
        Ok(())
    }

    async fn rename_export(&self, file: ExportedFile<'_>, to: &ExportPath) -> Result<()> {
        // CopyObject is a PUT with a signed x-amz-copy-source header.
        let creds = self.write_creds()?;
        let from = self.export_object(file.path);
        let to = self.export_object(to);
        self.check_object(&from)?;
        self.check_object(&to)?;
        let source = format!("/{}/{}", self.config.bucket, encode_object(&from));
        let mut action = self.bucket.put_object(Some(creds), &to);
        action
            .headers_mut()
            .insert("x-amz-copy-source", source.clone());
        self.upload_headers(&mut action);
        let copy = self.presign(action)?;
        let response = self.send_empty(Method::PUT, &copy).await?;
        let status = response.status();
        let text = read_reply(response, REPLY_LIMIT).await?;
        if let Some(e) = failed_reply("copy", &format!("{from} -> {to}"), status, &text) {
            return Err(e);
        }
        // The copy's ETag is the proof it exists; without it the original
        // stays (git-annex then stores the file again).
        if reply_etag(&text).is_none() {
            return Err(ProviderError::integrity(format!(
                "S3 answered the copy {from} -> {to} without an ETag: nothing proves it was made"
            )));
        }
        self.delete(&from).await
    }
}
