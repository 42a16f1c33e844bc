//! The remote's parameters, their validation, and its credentials.

use std::collections::HashMap;

use url::Url;

use super::super::{parse_bool, Annex, ConfigSpec, KeyLayout, ProviderError, Result};
use super::naming::{check_bucket_name, check_prefix};
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
    ConfigSpec { name: "createbucket", description: "(s3) create the bucket at initremote when missing (default: no)" },
    ConfigSpec { name: "checksum", description: "(s3) what the server is given to verify each upload: md5 (Content-MD5), sha256 (x-amz-checksum-sha256) or none (default: md5)" },
];

/// What the server is given to verify each upload (PUT or part) against
/// the bytes it received, so damage on the way is refused by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UploadChecksum {
    /// `Content-MD5`: accepted by every S3-compatible store we know of.
    Md5,
    /// `x-amz-checksum-sha256` (S3's flexible checksums); some stores
    /// refuse these headers, and annexa then falls back to `Md5`.
    Sha256,
    /// Nothing; the ETag is compared with the MD5 of what was sent when it
    /// can be one.
    None,
}

impl UploadChecksum {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha256 => "sha256",
            Self::None => "none",
        }
    }
}

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
    pub(super) checksum: UploadChecksum,
}

async fn config_value(annex: &dyn Annex, name: &str) -> Result<Option<String>> {
    Ok(annex
        .get_config(name)
        .await?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

impl S3Config {
    /// Reads and checks every parameter (at INITREMOTE and PREPARE alike).
    pub(super) async fn read(annex: &dyn Annex) -> Result<Self> {
        Self::read_with_region(annex, None).await
    }

    /// Whether the user named the region (else it defaults, and INITREMOTE
    /// may discover the bucket's own).
    pub(super) async fn region_given(annex: &dyn Annex) -> Result<bool> {
        Ok(config_value(annex, "region").await?.is_some())
    }

    /// As [`Self::read`], with `region` in place of the configured one (the
    /// default AWS endpoint follows it).
    pub(super) async fn read_with_region(annex: &dyn Annex, region: Option<&str>) -> Result<Self> {
        let mut values = HashMap::new();
        for spec in CONFIGS {
            if let Some(v) = config_value(annex, spec.name).await? {
                values.insert(spec.name, v);
            }
        }
        if let Some(region) = region {
            values.insert("region", region.to_string());
        }
        Self::parse(|name| values.get(name).cloned())
    }

    /// The configuration from parameter values (trimmed; `None` when
    /// unset or empty).
    pub(super) fn parse(value: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let bucket = value("bucket").ok_or_else(|| {
            ProviderError::Config("bucket=NAME is required for provider=s3".into())
        })?;
        check_bucket_name(&bucket)?;
        let prefix = value("prefix").unwrap_or_default();
        check_prefix(&prefix)?;
        let region = value("region").unwrap_or_else(|| "us-east-1".into());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ProviderError::Config(format!(
                "region={region:?} is not a region name (letters, digits and '-')"
            )));
        }
        let endpoint_text =
            value("endpoint").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = Url::parse(&endpoint_text)
            .map_err(|e| ProviderError::bad_setting("endpoint", &endpoint_text, "a URL", e))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(ProviderError::Config(format!(
                "endpoint={endpoint_text} must be an http:// or https:// URL"
            )));
        }
        let layout = match value("layout").as_deref() {
            None | Some("flat") => KeyLayout::Flat,
            Some("dirhash") => KeyLayout::DirHash,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "layout={other} is not one of flat, dirhash"
                )))
            }
        };
        let url_style = match value("urlstyle").as_deref() {
            None | Some("path") => UrlStyle::Path,
            Some("virtual") => UrlStyle::VirtualHost,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "urlstyle={other} is not one of path, virtual"
                )))
            }
        };
        let part_size = match value("partsize") {
            None => DEFAULT_PART_SIZE,
            Some(text) => transfer::parse_size(&text)
                .filter(|s| *s >= MIN_PART_SIZE && *s <= 5 << 30)
                .ok_or_else(|| {
                    ProviderError::Config(format!(
                        "partsize={text} must be a size between 5MiB and 5GiB"
                    ))
                })?,
        };
        let part_jobs = match value("partjobs") {
            None => 4,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    ProviderError::Config(format!("partjobs={text} must be a number from 1 to 64"))
                })?,
        };
        let checksum = match value("checksum").as_deref() {
            None | Some("md5") => UploadChecksum::Md5,
            Some("sha256") => UploadChecksum::Sha256,
            Some("none") => UploadChecksum::None,
            Some(other) => {
                return Err(ProviderError::Config(format!(
                    "checksum={other} is not one of md5, sha256, none"
                )))
            }
        };
        Ok(Self {
            checksum,
            bucket,
            prefix,
            endpoint,
            region,
            layout,
            url_style,
            public: parse_bool("public", value("public").as_deref(), false)?,
            public_url: value("publicurl"),
            part_size,
            part_jobs,
            storage_class: value("storageclass"),
            // A misspelt bucket= must not quietly become a new bucket.
            create_bucket: parse_bool("createbucket", value("createbucket").as_deref(), false)?,
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
    Some(remembered(
        match std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(token) => rusty_s3::Credentials::new_with_token(key, secret, token),
            None => rusty_s3::Credentials::new(key, secret),
        },
    ))
}

/// `creds`, after telling the transfer layer its secrets, so that no
/// server's echo of them is ever shown.
fn remembered(creds: rusty_s3::Credentials) -> rusty_s3::Credentials {
    crate::transfer::register_secret(creds.secret());
    if let Some(token) = creds.token() {
        crate::transfer::register_secret(token);
    }
    creds
}

/// Credentials for this remote: the environment first (so a user can
/// override), then what git-annex stored at initremote.
pub(super) async fn find_credentials(annex: &dyn Annex) -> Result<Option<rusty_s3::Credentials>> {
    if let Some(c) = env_credentials() {
        return Ok(Some(c));
    }
    match annex.get_creds(CREDS_SETTING).await {
        Ok(Some(c)) => Ok(Some(remembered(rusty_s3::Credentials::new(
            c.user, c.secret,
        )))),
        Ok(None) => Ok(None),
        // An older git-annex or a refused query: behave as if none stored.
        Err(crate::providers::AnnexError::Refused(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A configuration from `name=value` pairs, as initremote gives them.
    pub(in crate::providers::s3) fn parse(pairs: &[(&str, &str)]) -> Result<S3Config> {
        S3Config::parse(|name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    }

    fn config_error(pairs: &[(&str, &str)]) -> String {
        match parse(pairs) {
            Err(e @ (ProviderError::Config(_) | ProviderError::BadSetting { .. })) => {
                crate::error_chain_text(&e)
            }
            other => panic!("{pairs:?}: expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = parse(&[("bucket", "b")]).unwrap();
        assert_eq!(c.bucket, "b");
        assert_eq!(c.prefix, "");
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.endpoint.as_str(), "https://s3.us-east-1.amazonaws.com/");
        assert_eq!(c.layout, KeyLayout::Flat);
        assert!(matches!(c.url_style, UrlStyle::Path));
        assert!(!c.public);
        assert!(!c.create_bucket);
        assert_eq!(c.part_size, DEFAULT_PART_SIZE);
        assert_eq!(c.part_jobs, 4);
        assert_eq!(c.storage_class, None);
        assert_eq!(c.public_url, None);
        assert_eq!(c.checksum, UploadChecksum::Md5);
    }

    #[test]
    fn every_parameter_is_read() {
        let c = parse(&[
            ("bucket", "b"),
            ("prefix", "annex/"),
            ("endpoint", "http://127.0.0.1:9000"),
            ("region", "eu-west-1"),
            ("layout", "dirhash"),
            ("urlstyle", "virtual"),
            ("public", "yes"),
            ("publicurl", "https://cdn.example.org/b"),
            ("partsize", "5MiB"),
            ("partjobs", "8"),
            ("storageclass", "STANDARD_IA"),
            ("createbucket", "yes"),
            ("checksum", "sha256"),
        ])
        .unwrap();
        assert_eq!(c.prefix, "annex/");
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.layout, KeyLayout::DirHash);
        assert!(matches!(c.url_style, UrlStyle::VirtualHost));
        assert!(c.public);
        assert_eq!(c.public_url.as_deref(), Some("https://cdn.example.org/b"));
        assert_eq!(c.part_size, MIN_PART_SIZE);
        assert_eq!(c.part_jobs, 8);
        assert_eq!(c.storage_class.as_deref(), Some("STANDARD_IA"));
        assert!(c.create_bucket);
        assert_eq!(c.checksum, UploadChecksum::Sha256);
        assert_eq!(
            parse(&[("bucket", "b"), ("checksum", "none")])
                .unwrap()
                .checksum,
            UploadChecksum::None
        );
    }

    #[test]
    fn bad_values_are_config_errors_naming_the_parameter() {
        assert!(config_error(&[]).contains("bucket=NAME is required"));
        for (pairs, names) in [
            (&[("bucket", "b"), ("endpoint", "ftp://x")][..], "endpoint="),
            (&[("bucket", "b"), ("endpoint", "not a url")], "endpoint="),
            (&[("bucket", "b"), ("layout", "spiral")], "layout="),
            (&[("bucket", "b"), ("urlstyle", "sideways")], "urlstyle="),
            (&[("bucket", "b"), ("partsize", "1k")], "partsize="),
            (&[("bucket", "b"), ("partsize", "6GiB")], "partsize="),
            (&[("bucket", "b"), ("partjobs", "0")], "partjobs="),
            (&[("bucket", "b"), ("partjobs", "65")], "partjobs="),
            (&[("bucket", "b"), ("public", "maybe")], "public="),
            (&[("bucket", "b"), ("createbucket", "2")], "createbucket="),
            (&[("bucket", "b"), ("checksum", "crc64")], "checksum="),
            (&[("bucket", "b"), ("region", "evil.example/")], "region="),
            (&[("bucket", "evil.example:443")], "bucket="),
            (&[("bucket", "//evil.example")], "bucket="),
        ] {
            let text = config_error(pairs);
            assert!(text.contains(names), "{pairs:?}: {text}");
        }
    }

    /// Regression (issue 8): a prefix with a leading `/` or empty, `.` or
    /// `..` folders made object names leave the bucket; it is refused when
    /// the configuration is read (INITREMOTE and PREPARE both read it).
    #[test]
    fn prefixes_that_leave_the_bucket_are_refused() {
        for prefix in [
            "/other-bucket/",
            "../other/",
            "a//b/",
            "a/./b/",
            "a/../../x/",
        ] {
            let text = config_error(&[("bucket", "b"), ("prefix", prefix)]);
            assert!(text.contains("prefix="), "{prefix}: {text}");
        }
        assert!(parse(&[("bucket", "b"), ("prefix", "annex/keys/")]).is_ok());
        assert!(parse(&[("bucket", "b"), ("prefix", "annex-")]).is_ok());
    }
}
