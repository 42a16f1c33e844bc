//! URLs of objects: claiming `s3://` and endpoint URLs (addurl), and
//! public URLs for whereis.

use async_trait::async_trait;
use url::Url;

use super::S3Remote;
use crate::providers::{Annex, ProviderError, Result, UrlCheck, UrlClaims, UrlEntry};

impl S3Remote {
    pub(super) fn public_object_url(&self, object: &str) -> Option<String> {
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
    pub(super) fn object_of_url(&self, url: &str) -> Option<String> {
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

pub(super) fn encode_object(object: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(object, SET).to_string()
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
