//! URLs of objects: claiming `s3://` and endpoint URLs (addurl), and
//! public URLs for whereis.

use async_trait::async_trait;
use url::Url;

use super::naming::{check_object_name, within_bucket};
use super::S3Remote;
use crate::providers::{ProviderError, Result, UrlCheck, UrlEntry, UrlTargets};

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

    /// The object a claimed URL names, when it is in this bucket on this
    /// endpoint and is a plain object name (a folder when it ends in `/`).
    /// `s3://BUCKET///HOST/x` and the like name nothing.
    pub(super) fn object_of_url(&self, url: &str) -> Option<String> {
        let object = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, object) = rest.split_once('/')?;
            if bucket != self.config.bucket {
                return None;
            }
            object.to_string()
        } else {
            let parsed = Url::parse(url).ok()?;
            let base = self.bucket.base_url();
            if !within_bucket(base, &parsed)
                || parsed.query().is_some()
                || parsed.fragment().is_some()
            {
                return None;
            }
            let path = parsed.path().strip_prefix(base.path())?;
            percent_encoding::percent_decode_str(path)
                .decode_utf8()
                .ok()?
                .into_owned()
        };
        let name = object.strip_suffix('/').unwrap_or(&object);
        check_object_name(name).ok()?;
        Some(object)
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
impl UrlTargets for S3Remote {
    type Target = String;

    fn parse_url(&self, url: &str) -> Option<String> {
        self.object_of_url(url)
    }

    fn claimed_urls(&self) -> String {
        format!("in bucket {}", self.config.bucket)
    }

    async fn check_target(&self, object: String) -> Result<UrlCheck> {
        // A URL ending in / names a folder: offer every object under it.
        if object.ends_with('/') {
            let objects = self.list(&object).await?;
            let mut entries = Vec::new();
            for o in objects {
                if !o.starts_with(&object) || self.check_object(&o).is_err() {
                    continue;
                }
                let size = self.head(&o).await?.flatten();
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
                size,
                filename: object.rsplit('/').next().map(str::to_string),
            }),
            None => Err(ProviderError::not_found(format!(
                "{object} is not in bucket {}",
                self.config.bucket
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::tests::parse;
    use super::*;
    use crate::providers::UrlClaims;
    use proptest::prelude::*;

    fn remote(extra: &[(&str, &str)]) -> S3Remote {
        let mut pairs = vec![("bucket", "annexa-b"), ("endpoint", "http://s3.test:9000")];
        pairs.extend_from_slice(extra);
        let creds = rusty_s3::Credentials::new("AKIDEXAMPLE", "secret");
        S3Remote::new(parse(&pairs).unwrap(), Some(creds)).unwrap()
    }

    #[test]
    fn claims_own_bucket_urls() {
        let r = remote(&[]);
        assert_eq!(
            r.object_of_url("s3://annexa-b/a/b.txt").as_deref(),
            Some("a/b.txt")
        );
        assert_eq!(
            r.object_of_url("s3://annexa-b/dir/").as_deref(),
            Some("dir/")
        );
        assert_eq!(
            r.object_of_url("http://s3.test:9000/annexa-b/a%20b.txt")
                .as_deref(),
            Some("a b.txt")
        );
        assert_eq!(r.object_of_url("s3://other/a"), None);
        assert_eq!(r.object_of_url("s3://annexa-b/"), None);
        assert_eq!(r.object_of_url("http://s3.test:9001/annexa-b/a"), None);
        assert_eq!(r.object_of_url("https://s3.test:9000/annexa-b/a"), None);
        assert_eq!(r.object_of_url("http://s3.test:9000/other/a"), None);
        assert_eq!(r.object_of_url("http://example.org/annexa-b/a"), None);
    }

    /// Regression (issue 8): a URL recorded for a key named an object that
    /// took the signed request (and its credentials) to another host or
    /// bucket, or panicked inside rusty-s3 (`//HOST:PORT`).
    #[test]
    fn recorded_urls_never_leave_the_bucket_or_host() {
        let r = remote(&[]);
        for url in [
            "s3://annexa-b///evil.example/x",
            "s3://annexa-b///evil.example:9000/x",
            "s3://annexa-b/../other/x",
            "s3://annexa-b/a/../../other/x",
            "s3://annexa-b/./x",
            "http://s3.test:9000/annexa-b/%2e%2e/other/x",
            "http://s3.test:9000/annexa-b/%2F%2Fevil.example/x",
            "http://s3.test:9000/annexa-b//evil.example/x",
            "http://user@s3.test:9000/annexa-b/x",
        ] {
            assert_eq!(r.object_of_url(url), None, "{url}");
            assert!(!r.claims_url(url), "{url}");
        }
    }

    /// Regression (issue 8): every request is checked before it is sent,
    /// whatever object name reaches the client.
    #[test]
    fn requests_for_escaping_names_are_refused_before_signing() {
        let r = remote(&[]);
        for object in [
            "//evil.example:9000/x",
            "//evil.example/x",
            "../other/x",
            "/x",
            "a//b",
        ] {
            assert!(
                matches!(r.check_object(object), Err(ProviderError::InvalidName(_))),
                "{object}"
            );
        }
        r.check_object("a/b c.txt").unwrap();
        let signed = r
            .presign(r.bucket.get_object(r.creds.as_ref(), "a/b c.txt"))
            .unwrap();
        assert!(signed
            .url
            .as_str()
            .starts_with("http://s3.test:9000/annexa-b/a/b%20c.txt?"));
    }

    #[test]
    fn public_urls() {
        let r = remote(&[("publicurl", "https://cdn.example.org/files/")]);
        assert_eq!(
            r.public_object_url("a b/c").as_deref(),
            Some("https://cdn.example.org/files/a%20b/c")
        );
        assert_eq!(remote(&[]).public_object_url("a"), None);
        assert_eq!(
            remote(&[("public", "yes")])
                .public_object_url("k")
                .as_deref(),
            Some("http://s3.test:9000/annexa-b/k")
        );
        assert_eq!(encode_object("a+b/ü~.x"), "a%2Bb/%C3%BC~.x");
    }

    proptest! {
        /// No URL text panics, and whatever is claimed is signed for this
        /// bucket on this endpoint only.
        #[test]
        fn any_url_is_claimed_safely(url in "(s3://annexa-b/|http://s3\\.test:9000/annexa-b/|)[ -~]{0,40}") {
            for style in [&[][..], &[("urlstyle", "virtual")][..]] {
                let r = remote(style);
                if let Some(object) = r.object_of_url(&url) {
                    if r.check_object(&object).is_ok() {
                        let signed = r.presign(r.bucket.get_object(r.creds.as_ref(), &object));
                        prop_assert!(signed.is_ok(), "{url:?} -> {object:?}");
                    }
                }
            }
        }

        #[test]
        fn any_object_name_is_checked_without_panic(object in "\\PC{0,30}") {
            let r = remote(&[]);
            if r.check_object(&object).is_ok() {
                prop_assert!(r.presign(r.bucket.head_object(None, &object)).is_ok());
                prop_assert!(r.presign(r.bucket.delete_object(r.creds.as_ref(), &object)).is_ok());
            }
        }
    }
}
