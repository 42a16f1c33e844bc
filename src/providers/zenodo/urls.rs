//! Which URLs name a Zenodo record or file, and record ids.
//!
//! Recognised forms, on `zenodo.org` (and `sandbox.zenodo.org`) or on the
//! remote's own API site (`api=`, another InvenioRDM or a test server):
//! - `/records/ID` and the legacy `/record/ID` (a record: every file);
//! - `/records/ID/files/NAME[?download=1]` (one file);
//! - `{api}/records/ID` and `{api}/records/ID/files/NAME[/content]`;
//! - `https://doi.org/10.5281/zenodo.ID` (Zenodo's DOIs name record ids).
//!
//! Whatever URL names a file, its bytes are fetched from the API the user
//! chose (`{api}/records/ID/files/NAME/content`): the URL only says which.

use url::Url;

/// What a claimed URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZUrl {
    Record(String),
    File { record: String, name: String },
}

/// Whether `id` can be a record id: Zenodo's numbers, or InvenioRDM's
/// `abcde-12345` ids. Nothing that could change a URL's path.
pub fn is_record_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The record id in a Zenodo DOI (`10.5281/zenodo.123`, with or without
/// `doi:`, `https://doi.org/`; the sandbox's `10.5072` too).
pub fn record_of_doi(text: &str) -> Option<String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("doi:")
        .or_else(|| text.strip_prefix("https://doi.org/"))
        .or_else(|| text.strip_prefix("http://doi.org/"))
        .unwrap_or(text);
    let lower = rest.to_ascii_lowercase();
    let id = lower
        .strip_prefix("10.5281/zenodo.")
        .or_else(|| lower.strip_prefix("10.5072/zenodo."))?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

fn is_zenodo_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "zenodo.org" || h == "www.zenodo.org" || h == "sandbox.zenodo.org"
}

fn decoded(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

/// The record or file `url` names, if it is a Zenodo URL (or one of the
/// API at `api`).
pub fn parse(url: &str, api: &Url) -> Option<ZUrl> {
    if let Some(id) = record_of_doi(url) {
        if url.contains("doi.org/") {
            return Some(ZUrl::Record(id));
        }
    }
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?;
    let (segments, below) = crate::providers::service_api::segments_below(api, &parsed);
    let ours = crate::providers::token::same_origin(api, &parsed);
    if !ours && !is_zenodo_host(host) {
        return None;
    }
    // Below the API's base path (`/api`), or the site's own paths.
    let rest: &[&str] = match (&below, segments.as_slice()) {
        (Some(below), _) => below,
        (None, ["api", rest @ ..]) => rest,
        (None, all) => all,
    };
    let record = |id: &str| is_record_id(id).then(|| id.to_string());
    match rest {
        ["records" | "record", id] => record(id).map(ZUrl::Record),
        ["records" | "record", id, "files", name] | ["records", id, "files", name, "content"] => {
            Some(ZUrl::File {
                record: record(id)?,
                name: decoded(name)?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::assert_unclaimed;

    fn p(url: &str) -> Option<ZUrl> {
        parse(url, &Url::parse("https://zenodo.org/api").unwrap())
    }

    fn file(record: &str, name: &str) -> Option<ZUrl> {
        Some(ZUrl::File {
            record: record.into(),
            name: name.into(),
        })
    }

    #[test]
    fn forms() {
        let record = |id: &str| Some(ZUrl::Record(id.into()));
        for (url, want) in [
            ("https://zenodo.org/records/123", record("123")),
            ("https://zenodo.org/record/123", record("123")),
            (
                "https://zenodo.org/records/123/files/sub-01_T1w.nii.gz?download=1",
                file("123", "sub-01_T1w.nii.gz"),
            ),
            (
                "https://zenodo.org/api/records/123/files/a%20b.txt/content",
                file("123", "a b.txt"),
            ),
            ("https://doi.org/10.5281/zenodo.77", record("77")),
        ] {
            assert_eq!(p(url), want, "{url}");
        }
        let local = Url::parse("http://127.0.0.1:8080/api").unwrap();
        for (url, want) in [
            (
                "http://127.0.0.1:8080/api/records/9/files/x/content",
                file("9", "x"),
            ),
            ("http://127.0.0.1:8080/records/9", record("9")),
        ] {
            assert_eq!(parse(url, &local), want, "{url}");
        }
        // The same path on another port is another server's.
        assert_unclaimed(
            |url| parse(url, &local),
            &["http://127.0.0.1:9999/api/records/9"],
        );
        for (doi, want) in [
            ("doi:10.5281/zenodo.1234", Some("1234")),
            ("10.5281/ZENODO.1234", Some("1234")),
            ("doi:10.7910/DVN/X", None),
            ("doi:10.5281/zenodo.12a", None),
        ] {
            assert_eq!(record_of_doi(doi).as_deref(), want, "{doi}");
        }
    }

    #[test]
    fn foreign_urls_are_not_claimed() {
        let foreign = [
            "https://example.org/records/123",
            "https://zenodo.org.evil.example/records/1",
            "https://zenodo.org/records/1%2F..%2Fx",
            "https://zenodo.org/search?q=1",
            "ftp://zenodo.org/records/1",
            "https://zenodo.org/records/1/files/",
            "not a url",
        ];
        assert_unclaimed(p, &foreign);
    }
}
