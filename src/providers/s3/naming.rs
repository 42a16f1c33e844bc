//! Names that must stay inside the bucket: the bucket name, `prefix=`,
//! object names, and the URLs requests are signed for.
//!
//! Object names go into a URL through `Url::join`, which resolves `..`,
//! and takes `//HOST/...` to another host; rusty-s3 even panics on some
//! (`//HOST:PORT`). So every name is checked before it becomes a URL, and
//! every signed URL is checked to be under the bucket's own before it is
//! sent.

use url::Url;

use crate::providers::{ProviderError, Result};

/// Longest bucket name accepted (legacy us-east-1 names; today's rules
/// say 63).
const MAX_BUCKET_NAME: usize = 255;

/// A bucket name: ASCII letters, digits, `.`, `-` and `_`, not only dots.
/// Anything else (`/`, `:`, `@`, ...) would change the URL's host or path.
pub(super) fn check_bucket_name(bucket: &str) -> Result<()> {
    let plain = !bucket.is_empty()
        && bucket.len() <= MAX_BUCKET_NAME
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !bucket.bytes().all(|b| b == b'.');
    if plain {
        Ok(())
    } else {
        Err(ProviderError::Config(format!(
            "bucket={bucket:?} is not a bucket name (letters, digits, '.', '-' and '_')"
        )))
    }
}

/// What breaks S3's naming rules for new buckets in `bucket`, if anything
/// (3–63 lowercase letters, digits, `.` and `-`, starting and ending with
/// a letter or digit, no `..`, not an IP address, none of the reserved
/// prefixes and suffixes). Older buckets may have names outside them
/// (uppercase, `_`), so this is asked only of a bucket not found.
pub(super) fn s3_rules_problem(bucket: &str) -> Option<&'static str> {
    let bytes = bucket.as_bytes();
    let letter_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !(3..=63).contains(&bucket.len()) {
        Some("S3 bucket names are 3 to 63 characters long")
    } else if bytes.iter().any(u8::is_ascii_uppercase) {
        Some("S3 bucket names have no uppercase letters")
    } else if !bytes
        .iter()
        .all(|&b| letter_or_digit(b) || b == b'.' || b == b'-')
    {
        Some("S3 bucket names have only lowercase letters, digits, '.' and '-' (no '_')")
    } else if !letter_or_digit(bytes[0]) || !letter_or_digit(bytes[bytes.len() - 1]) {
        Some("S3 bucket names start and end with a letter or digit")
    } else if bucket.contains("..") {
        Some("S3 bucket names have no two dots in a row")
    } else if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("S3 bucket names are not IP addresses")
    } else if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| bucket.starts_with(p))
        || ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| bucket.ends_with(s))
    {
        Some("S3 reserves that prefix or suffix")
    } else {
        None
    }
}

/// Whether `segment`, a piece between two `/`, may appear in an object name.
fn bad_segment(segment: &str) -> bool {
    segment.is_empty() || segment == "." || segment == ".."
}

/// `prefix=`: every object name starts with it, so it may not start with
/// `/`, and every folder in it (each piece followed by a `/`) must be a
/// plain name. The last piece (after the last `/`) is only the start of
/// a name, so it may be empty (`annex/`) or anything else.
pub(super) fn check_prefix(prefix: &str) -> Result<()> {
    let folders_ok = match prefix.rsplit_once('/') {
        None => true,
        Some((folders, _)) => !folders.split('/').any(bad_segment),
    };
    if folders_ok && !prefix.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ProviderError::Config(format!(
            "prefix={prefix:?} must be a relative path: no leading '/', no empty, '.' or '..' folders"
        )))
    }
}

/// An object name: `/`-separated segments, none empty, `.` or `..`, no
/// control characters. The same rule as export paths.
pub(super) fn check_object_name(object: &str) -> Result<()> {
    if object.split('/').any(bad_segment) || object.chars().any(char::is_control) {
        return Err(ProviderError::InvalidName(format!(
            "{object:?} cannot be an object name in this bucket"
        )));
    }
    Ok(())
}

/// Whether `url` goes to the bucket at `base` (same scheme, host and port,
/// a path under the bucket's), so a request signed for it carries the
/// credentials nowhere else.
pub(super) fn within_bucket(base: &Url, url: &Url) -> bool {
    crate::providers::token::same_origin(base, url)
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path().starts_with(base.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_naming_rules() {
        for good in ["my-lab-data", "abc", "a.b-c9", &"a".repeat(63)] {
            assert_eq!(s3_rules_problem(good), None, "{good}");
        }
        for bad in [
            "My_Lab",
            "my_lab",
            "ab",
            "-abc",
            "abc.",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "abc-s3alias",
            &"a".repeat(64),
        ] {
            assert!(s3_rules_problem(bad).is_some(), "{bad}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn bucket_names() {
        for good in ["annexa-x", "a.b.c", "Legacy_Bucket", "b1"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "host:9000",
            "//evil",
            "a@b",
            "a b",
            "a?b",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(check_bucket_name(bad), Err(ProviderError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn prefixes() {
        for good in ["", "annex/", "a/b/", "annex-", "a/b/c", "a/.x", "a/..", "."] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "/",
            "/annex/",
            "a//b/",
            "./",
            "../other/",
            "a/../b/",
            "a/./",
            "a\n/",
        ] {
            assert!(
                matches!(check_prefix(bad), Err(ProviderError::Config(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn object_names() {
        for good in ["KEY", "a/b/KEY", "a b/c#d?e", "..x", "x.."] {
            assert!(check_object_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/x",
            "x/",
            "a//b",
            "./x",
            "a/../b",
            "..",
            "//host:9000/x",
            "a\rb",
        ] {
            assert!(
                matches!(check_object_name(bad), Err(ProviderError::InvalidName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_within_the_bucket() {
        let base = Url::parse("https://s3.example.org/bucket/").unwrap();
        let inside = |u: &str| within_bucket(&base, &Url::parse(u).unwrap());
        assert!(inside(
            "https://s3.example.org/bucket/a/b?x-amz-signature=1"
        ));
        assert!(inside("https://s3.example.org:443/bucket/"));
        assert!(!inside("https://s3.example.org/other/a"));
        assert!(!inside("https://s3.example.org/bucketx/a"));
        assert!(!inside("http://s3.example.org/bucket/a"));
        assert!(!inside("https://evil.example/bucket/a"));
        assert!(!inside("https://s3.example.org:8443/bucket/a"));
        assert!(!inside("https://u:p@s3.example.org/bucket/a"));
    }

    proptest! {
        /// No string makes a checked name leave the bucket, and nothing
        /// panics on the way (rusty-s3 does for some unchecked names).
        #[test]
        fn checked_names_stay_in_the_bucket(object in "([a-z:%/.@]|\\PC){0,24}", prefix in "[a-z/.]{0,6}") {
            let base = Url::parse("http://127.0.0.1:9000/bucket/").unwrap();
            let name = format!("{prefix}{object}");
            if check_prefix(&prefix).is_ok() && check_object_name(&name).is_ok() {
                let bucket = rusty_s3::Bucket::new(
                    Url::parse("http://127.0.0.1:9000").unwrap(),
                    rusty_s3::UrlStyle::Path,
                    "bucket",
                    "us-east-1",
                )
                .unwrap();
                if let Ok(url) = bucket.object_url(&name) {
                    prop_assert!(within_bucket(&base, &url), "{name:?} -> {url}");
                }
            }
        }

        #[test]
        fn bucket_names_never_move_the_host(bucket in "[a-zA-Z0-9._:/@%-]{0,20}") {
            if check_bucket_name(&bucket).is_ok() {
                for style in [rusty_s3::UrlStyle::Path, rusty_s3::UrlStyle::VirtualHost] {
                    if let Ok(b) = rusty_s3::Bucket::new(
                        Url::parse("http://s3.example.org:9000").unwrap(),
                        style,
                        bucket.clone(),
                        "us-east-1",
                    ) {
                        let host = b.base_url().host_str().unwrap_or("").to_string();
                        prop_assert!(host.ends_with("s3.example.org"), "{bucket:?} -> {host}");
                    }
                }
            }
        }
    }
}
