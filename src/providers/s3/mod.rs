//! `provider=s3`: Amazon S3 and S3-compatible stores.
//!
//! Requests are signed with `rusty-s3` (presigned URLs, never hand-written
//! SigV4) and sent by our own transfer layer, so S3 gets the same
//! streaming, resume, retry and verification as every other provider.
//!
//! - [`config`]: parameters, their validation, credentials.
//! - [`client`]: signed requests; HEAD, GET, PUT, DELETE, listing.
//! - [`multipart`]: large uploads in parts; [`actions`]: requests signed in
//!   the AWS SDKs' shape where rusty-s3's differs.
//! - [`error`]: S3 error documents as typed [`ProviderError`]s.
//! - [`export`]: export trees.
//! - [`urls`]: `s3://` and endpoint URLs (addurl), public URLs.

mod actions;
mod client;
mod config;
mod error;
mod export;
mod fuzz;
mod import;
mod multipart;
mod naming;
mod urls;

use crate::key::Key;
use crate::providers::KindInfo;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusty_s3::Bucket;

pub use self::error::S3ServiceError;
#[doc(hidden)]
pub(crate) use self::fuzz::fuzz_documents;

use self::config::{
    env_credentials, find_credentials, S3Config, UploadChecksum, CONFIGS, CREDS_SETTING,
};
use super::{Annex, Capabilities, Credentials, Provider, ProviderError, ProviderKind, Result};
use crate::transfer::{Client, RedactedUrl, RetryPolicy};

const SIGNATURE_LIFETIME: Duration = Duration::from_secs(3600);

const INFO: KindInfo = KindInfo {
    name: "s3",
    configs: CONFIGS,
    capabilities: Capabilities::ALL,
};

pub struct S3Kind;

#[async_trait]
impl ProviderKind for S3Kind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    async fn initremote(&self, annex: &dyn Annex) -> Result<()> {
        let config = S3Config::read(annex).await?;
        let creds = match env_credentials() {
            Some(c) => {
                // git-annex decides where these go: local only, or in the
                // git-annex branch with embedcreds=yes.
                annex
                    .set_creds(
                        CREDS_SETTING,
                        &Credentials {
                            user: c.key().to_string(),
                            secret: c.secret().to_string(),
                        },
                    )
                    .await?;
                Some(c)
            }
            // enableremote in a clone: embedded credentials may be there.
            None => find_credentials(annex).await?,
        };
        if creds.is_none() && !config.public {
            return Err(ProviderError::MissingCredentials(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or public=yes to read a public bucket without them".into(),
            ));
        }
        let mut remote = S3Remote::new(config, creds.clone())?;
        // Users rarely know a bucket's region; S3 names it in every answer
        // about the bucket. A signature for the wrong region is refused by
        // AWS, so the discovered region is used and remembered.
        if !S3Config::region_given(annex).await? {
            if let Some(found) = remote.bucket_region().await? {
                if found != remote.config.region {
                    let config = S3Config::read_with_region(annex, Some(&found)).await?;
                    annex.set_config("region", &found).await?;
                    annex.info(&format!(
                        "bucket {} is in region {found}; remembered as region={found}",
                        config.bucket
                    ));
                    remote = S3Remote::new(config, creds)?;
                }
            }
        }
        if remote.ensure_bucket().await? {
            annex.info(&format!(
                "created bucket {} at {} (createbucket=yes)",
                remote.config.bucket,
                RedactedUrl::new(remote.config.endpoint.clone())
            ));
        }
        // The bucket exists now. createbucket=yes is for this set-up only:
        // stored as given, a clone's enableremote (or autoenable) would
        // quietly make the bucket again wherever it went missing.
        if remote.config.create_bucket {
            annex.set_config("createbucket", "no").await?;
        }
        // checksum=sha256 on a store that refuses the flexible checksum
        // headers: found out once here and remembered for every clone,
        // rather than on the first upload of every process.
        if remote.config.checksum == UploadChecksum::Sha256 && remote.creds.is_some() {
            if let Some(code) = remote.probe_flexible_checksums().await? {
                annex
                    .set_config("checksum", UploadChecksum::Md5.name())
                    .await?;
                annex.info(&format!(
                    "this store refuses the x-amz-checksum-sha256 header ({code}); uploads are verified with Content-MD5 instead, remembered as checksum=md5"
                ));
            }
        }
        Ok(())
    }

    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>> {
        let config = S3Config::read(annex).await?;
        let creds = find_credentials(annex).await?;
        Ok(Arc::new(S3Remote::new(config, creds)?))
    }
}

pub struct S3Remote {
    config: S3Config,
    bucket: Bucket,
    creds: Option<rusty_s3::Credentials>,
    client: Client,
    /// The store refused `x-amz-checksum-*` headers: uploads of this
    /// process use Content-MD5 instead.
    flexible_refused: AtomicBool,
}

impl S3Remote {
    fn new(config: S3Config, creds: Option<rusty_s3::Credentials>) -> Result<Self> {
        let bucket = Bucket::new(
            config.endpoint.clone(),
            config.url_style,
            config.bucket.clone(),
            config.region.clone(),
        )
        .map_err(|e| ProviderError::Config(format!("bucket/endpoint: {e}")))?;
        Ok(Self {
            config,
            bucket,
            creds,
            client: Client::new(RetryPolicy::default())?,
            flexible_refused: AtomicBool::new(false),
        })
    }

    fn key_object(&self, key: &Key) -> Result<String> {
        let name = self.config.layout.object_name(key.as_str())?;
        Ok(format!("{}{name}", self.config.prefix))
    }

    /// Whether `object` holds `key`'s content, as far as a HEAD tells: when
    /// the key has a size, an object of another size (or of no stated
    /// size) is not this key's content, and is never reported present.
    async fn present(&self, object: &str, key: &Key) -> Result<bool> {
        let Some(found) = self.head(object).await? else {
            return Ok(false);
        };
        match (key.content_size(), found) {
            (Some(want), Some(got)) if want == got => Ok(true),
            (None, _) => Ok(true),
            (Some(want), got) => Err(ProviderError::integrity(format!(
                "{object} in bucket {} is {} where the key has {want} bytes: not this key's content",
                self.config.bucket,
                got.map_or("of unknown size".to_string(), |n| format!("{n} bytes"))
            ))),
        }
    }
}

#[async_trait]
impl Provider for S3Remote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        self.upload(&self.key_object(key)?, src, annex).await
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let size = key.content_size();
        // Content registered from this bucket (`annexa import`, addurl) is
        // read where it was registered, first: asking for a key-named
        // object that an import never wrote costs a 404 per file. Only URLs
        // of this bucket on this endpoint, naming a plain object.
        let mut registered_failure = None;
        for url in annex.get_urls(key.as_str(), "").await.unwrap_or_default() {
            let Some(object) = self
                .object_of_url(&url)
                .filter(|o| self.check_object(o).is_ok())
            else {
                continue;
            };
            match self.download(&object, size, dest, annex).await {
                Ok(()) => return Ok(()),
                // Gone or changed there: the key may be stored by name too.
                Err(e) => registered_failure = Some(e),
            }
        }
        let stored = match self.key_object(key) {
            Ok(object) => self.download(&object, size, dest, annex).await,
            // A key that cannot be an object name (URL keys keep their
            // slashes) was never stored under its own name.
            Err(ProviderError::InvalidName(why)) => Err(ProviderError::not_found(why)),
            Err(e) => Err(e),
        };
        match (stored, registered_failure) {
            // What went wrong where the content was registered says more
            // than a key-named object that was never there.
            (Err(ProviderError::NotFound { .. }), Some(registered)) => Err(registered),
            (stored, _) => stored,
        }
    }

    async fn check_present(&self, key: &Key, _annex: &dyn Annex) -> Result<bool> {
        self.present(&self.key_object(key)?, key).await
    }

    async fn remove(&self, key: &Key, _annex: &dyn Annex) -> Result<()> {
        self.delete(&self.key_object(key)?).await
    }

    async fn whereis(&self, key: &Key, annex: &dyn Annex) -> Option<String> {
        // Content registered by URL (`annexa import`, addurl) is stored
        // under its path, which git-annex shows itself as that URL: the
        // key-named object would answer 404. Its public address, if any.
        for url in annex.get_urls(key.as_str(), "").await.unwrap_or_default() {
            if let Some(object) = self.object_of_url(&url) {
                return self.public_object_url(&object);
            }
        }
        let object = self.key_object(key).ok()?;
        Some(
            self.public_object_url(&object)
                .unwrap_or_else(|| format!("s3://{}/{}", self.config.bucket, object)),
        )
    }

    async fn presence_url(&self, key: &Key, _annex: &dyn Annex) -> Option<String> {
        // Only the bucket itself is authoritative, and only when public.
        if !self.config.public {
            return None;
        }
        self.bucket
            .object_url(&self.key_object(key).ok()?)
            .ok()
            .map(|u| u.to_string())
    }

    async fn public_url(&self, key: &Key, _annex: &dyn Annex) -> Option<String> {
        self.public_object_url(&self.key_object(key).ok()?)
    }

    fn info(&self) -> Vec<(String, String)> {
        let c = &self.config;
        vec![
            ("bucket".into(), c.bucket.clone()),
            (
                "endpoint".into(),
                RedactedUrl::new(c.endpoint.clone()).to_string(),
            ),
            ("region".into(), c.region.clone()),
            ("prefix".into(), c.prefix.clone()),
            ("layout".into(), c.layout.name().into()),
            ("public".into(), if c.public { "yes" } else { "no" }.into()),
            (
                "upload checksum".into(),
                self.upload_checksum().name().into(),
            ),
            (
                "credentials".into(),
                if self.creds.is_some() {
                    "yes"
                } else {
                    "none (read-only)"
                }
                .into(),
            ),
        ]
    }

    provides_every_capability!();
}
