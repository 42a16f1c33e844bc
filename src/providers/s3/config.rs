//! The remote's parameters, their validation, and its credentials.

use url::Url;

use super::super::{parse_bool, Annex, ConfigSpec, KeyLayout, ProviderError, Result};
use crate::transfer;
use rusty_s3::UrlStyle;

/// The git-annex credential setting our keys are stored under.
pub(super) const CREDS_SETTING: &str = "annexa-s3";
pub(super) const DEFAULT_PART_SIZE: u64 = 64 << 20;
pub(super) const MIN_PART_SIZE: u64 = 5 << 20;

pub(super) const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec { name: "bucket", description: "(s3) bucket name (required)" },
    ConfigSpec { name: "prefix", description: "(s3) prefix for every object name, e.g. annex/ (default: none)" },
    ConfigSpec { name: "endpoint", description: "(s3) service URL, e.g. https://s3.example.org:9000 (default: AWS for the region)" },
    ConfigSpec { name: "region", description: "(s3) region (default: us-east-1)" },
    ConfigSpec { name: "layout", description: "(s3) object names for keys: flat (prefix+key, like git-annex's S3 remote) or dirhash (prefix+abc/def/+key) (default: flat)" },
    ConfigSpec { name: "urlstyle", description: "(s3) path (endpoint/bucket/object) or virtual (bucket.endpoint/object) (default: path)" },
    ConfigSpec { name: "public", description: "(s3) yes: uploads are public-read and reads work without credentials (default: no)" },
    ConfigSpec { name: "publicurl", description: "(s3) base URL where objects can be downloaded publicly, shown by whereis" },
    ConfigSpec { name: "partsize", description: "(s3) multipart upload part size, e.g. 64MiB; larger files are uploaded in parts (default: 64MiB)" },
    ConfigSpec { name: "partjobs", description: "(s3) parts of one multipart upload sent at once (default: 4)" },
    ConfigSpec { name: "storageclass", description: "(s3) storage class of new objects, e.g. STANDARD_IA (default: the bucket's)" },
    ConfigSpec { name: "createbucket", description: "(s3) create the bucket at initremote when missing (default: yes)" },
];

/// Everything read from the remote's configuration.
#[derive(Debug, Clone)]
pub(super) struct S3Config {
    pub(super) bucket: String,
    pub(super) prefix: String,
    pub(super) endpoint: Url,
    pub(super) region: String,
    pub(super) layout: KeyLayout,
    pub(super) url_style: UrlStyle,
    pub(super) public: bool,
    pub(super) public_url: Option<String>,
    pub(super) part_size: u64,
    pub(super) part_jobs: usize,
    pub(super) storage_class: Option<String>,
    pub(super) create_bucket: bool,
}

async fn config_value(annex: &dyn Annex, name: &str) -> Result<Option<String>> {
    Ok(annex
        .get_config(name)
        .await?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

impl S3Config {
    pub(super) async fn read(annex: &dyn Annex) -> Result<Self> {
        let bucket = config_value(annex, "bucket").await?.ok_or_else(|| {
            ProviderError::Config("bucket=NAME is required for provider=s3".into())
        })?;
        let region = config_value(annex, "region")
            .await?
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint_text = config_value(annex, "endpoint")
            .await?
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = Url::parse(&endpoint_text).map_err(|e| {
            ProviderError::Config(format!("endpoint={endpoint_text} is not a URL: {e}"))
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(ProviderError::Config(format!(
                "endpoint={endpoint_text} must be an http:// or https:// URL"
            )));
        }
        let layout = match config_value(annex, "layout").await?.as_deref() {
            None | Some("flat") => KeyLayout::Flat,
            Some("dirhash") => KeyLayout::DirHash,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "layout={other} is not one of flat, dirhash"
                )))
            }
        };
        let url_style = match config_value(annex, "urlstyle").await?.as_deref() {
            None | Some("path") => UrlStyle::Path,
            Some("virtual") => UrlStyle::VirtualHost,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "urlstyle={other} is not one of path, virtual"
                )))
            }
        };
        let part_size = match config_value(annex, "partsize").await? {
            None => DEFAULT_PART_SIZE,
            Some(text) => transfer::parse_size(&text)
                .filter(|s| *s >= MIN_PART_SIZE && *s <= 5 << 30)
                .ok_or_else(|| {
                    ProviderError::Config(format!(
                        "partsize={text} must be a size between 5MiB and 5GiB"
                    ))
                })?,
        };
        let part_jobs = match config_value(annex, "partjobs").await? {
            None => 4,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    ProviderError::Config(format!("partjobs={text} must be a number from 1 to 64"))
                })?,
        };
        Ok(Self {
            bucket,
            prefix: config_value(annex, "prefix").await?.unwrap_or_default(),
            endpoint,
            region,
            layout,
            url_style,
            public: parse_bool(
                "public",
                config_value(annex, "public").await?.as_deref(),
                false,
            )?,
            public_url: config_value(annex, "publicurl").await?,
            part_size,
            part_jobs,
            storage_class: config_value(annex, "storageclass").await?,
            create_bucket: parse_bool(
                "createbucket",
                config_value(annex, "createbucket").await?.as_deref(),
                true,
            )?,
        })
    }
}

/// AWS credentials from the standard environment variables.
pub(super) fn env_credentials() -> Option<rusty_s3::Credentials> {
    let key = std::env::var("AWS_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty())?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(
        match std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(token) => rusty_s3::Credentials::new_with_token(key, secret, token),
            None => rusty_s3::Credentials::new(key, secret),
        },
    )
}

/// Credentials for this remote: the environment first (so a user can
/// override), then what git-annex stored at initremote.
pub(super) async fn find_credentials(annex: &dyn Annex) -> Result<Option<rusty_s3::Credentials>> {
    if let Some(c) = env_credentials() {
        return Ok(Some(c));
    }
    match annex.get_creds(CREDS_SETTING).await {
        Ok(Some(c)) => Ok(Some(rusty_s3::Credentials::new(c.user, c.secret))),
        Ok(None) => Ok(None),
        // An older git-annex or a refused query: behave as if none stored.
        Err(crate::providers::AnnexError::Refused(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
