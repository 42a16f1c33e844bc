//! S3 actions whose request rusty-s3 shapes differently from the AWS SDKs.
//!
//! rusty-s3 signs `CreateMultipartUpload` as `POST /KEY?uploads=1`. The AWS
//! SDKs (botocore, the Rust and Java SDKs, the CLI) send `POST /KEY?uploads`,
//! whose canonical form in SigV4 is `uploads=` — an empty value. AWS ignores
//! the value, but stores that route requests by their query do not have to:
//! moto 5.2.6 routes requests through the S3 service model and answers
//! `?uploads=1` with 500 (docs/s3.md, "Requests as the SDKs send them").
//! So annexa signs that request itself, still with rusty-s3's signer (never
//! hand-written SigV4), in the SDKs' shape; a test pins the URL to what
//! botocore presigns for the same inputs.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, Map, Method, S3Action};
use url::Url;

/// `CreateMultipartUpload` as the AWS SDKs send it: `POST /KEY?uploads`.
pub(super) struct CreateUpload<'a> {
    url: Url,
    bucket: &'a Bucket,
    credentials: &'a Credentials,
    query: Map<'a>,
    headers: Map<'a>,
}

impl<'a> CreateUpload<'a> {
    /// `None` when `object` makes no URL in this bucket (callers check the
    /// name first, so this is a refusal, never a panic).
    pub(super) fn new(
        bucket: &'a Bucket,
        credentials: &'a Credentials,
        object: &str,
    ) -> Option<Self> {
        let url = bucket.object_url(object).ok()?;
        Some(CreateUpload {
            url,
            bucket,
            credentials,
            query: Map::new(),
            headers: Map::new(),
        })
    }
}

impl<'a> S3Action<'a> for CreateUpload<'a> {
    const METHOD: Method = Method::Post;

    fn query_mut(&mut self) -> &mut Map<'a> {
        &mut self.query
    }

    fn headers_mut(&mut self) -> &mut Map<'a> {
        &mut self.headers
    }

    fn sign_with_time(&self, expires_in: Duration, time: &jiff::Timestamp) -> Url {
        // `Map` keeps its entries sorted, as SigV4's canonical query needs.
        let mut query = self.query.clone();
        query.insert("uploads", "");
        rusty_s3::signing::sign(
            time,
            Self::METHOD,
            self.url.clone(),
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            expires_in.as_secs(),
            query.iter(),
            self.headers.iter(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rusty_s3::UrlStyle;

    use super::*;

    fn pairs(url: &Url) -> BTreeSet<(String, String)> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The URL botocore 1.44.18 presigns for the same request
    /// (`generate_presigned_url('create_multipart_upload', ...)`, SigV4,
    /// virtual-hosted style, at 2013-05-24T00:00:00Z, 86,400 s, with AWS's
    /// documentation credentials). Same query and same signature: the
    /// request is the SDK's, byte for byte where it is signed.
    const BOTOCORE: &str = "https://examplebucket.s3.amazonaws.com/test.txt?uploads=&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=3d4de4a52b8e9d46725bc6c6abcc0df7b0eee514a40a9eba5ee77d7c094be395";

    #[test]
    fn create_upload_is_signed_as_botocore_signs_it() {
        let bucket = Bucket::new(
            "https://s3.amazonaws.com".parse().unwrap(),
            UrlStyle::VirtualHost,
            "examplebucket",
            "us-east-1",
        )
        .unwrap();
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let time: jiff::Timestamp = "2013-05-24T00:00:00Z".parse().unwrap();
        let action = CreateUpload::new(&bucket, &creds, "test.txt").unwrap();
        let ours = action.sign_with_time(Duration::from_secs(86_400), &time);
        let sdk: Url = BOTOCORE.parse().unwrap();
        assert_eq!(ours.host_str(), sdk.host_str());
        assert_eq!(ours.path(), sdk.path());
        assert_eq!(pairs(&ours), pairs(&sdk));
        // Never the `uploads=1` that rusty-s3's own action sends.
        assert!(ours
            .query_pairs()
            .any(|(k, v)| k == "uploads" && v.is_empty()));
    }

    #[test]
    fn signed_headers_are_kept() {
        let bucket = Bucket::new(
            "http://127.0.0.1:9000".parse().unwrap(),
            UrlStyle::Path,
            "b",
            "us-east-1",
        )
        .unwrap();
        let creds = Credentials::new("k", "s");
        let mut action = CreateUpload::new(&bucket, &creds, "a b/c").unwrap();
        action
            .headers_mut()
            .insert("x-amz-checksum-algorithm", "SHA256");
        let url = action.sign(Duration::from_secs(60));
        assert_eq!(url.path(), "/b/a%20b/c");
        let signed = pairs(&url)
            .into_iter()
            .find(|(k, _)| k == "X-Amz-SignedHeaders")
            .map(|(_, v)| v);
        assert_eq!(signed.as_deref(), Some("host;x-amz-checksum-algorithm"));
    }
}
