//! URLs that are safe to print: no user info, no query values.
//!
//! Signed storage URLs carry their signature in the query string and some
//! APIs take tokens there, so every query value is masked.

use std::fmt;

use url::Url;

/// A URL whose `Display` and `Debug` never reveal credentials. Boxed, so
/// the errors that carry one stay small.
#[derive(Clone, PartialEq, Eq)]
pub struct RedactedUrl(Box<Url>);

impl RedactedUrl {
    pub fn new(url: Url) -> Self {
        Self(Box::new(url))
    }

    /// The real URL, for sending. Never print it.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    pub fn host(&self) -> Option<&str> {
        self.0.host_str()
    }
}

impl From<Url> for RedactedUrl {
    fn from(url: Url) -> Self {
        Self::new(url)
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        write!(f, "{}://", url.scheme())?;
        if let Some(host) = url.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if let Some(query) = url.query() {
            let names: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(name, _)| format!("{name}=…"))
                .collect();
            write!(f, "?{}", names.join("&"))?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl({self})")
    }
}

/// Masks query values and user info in any URL-looking text, for error
/// bodies that echo a request back.
pub fn redact_text(text: &str) -> String {
    text.split(' ')
        .map(|word| match Url::parse(word) {
            Ok(url) if url.has_host() => RedactedUrl::new(url).to_string(),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_signature_and_userinfo() {
        let url = Url::parse(
            "https://user:pw@bucket.example.org:9000/a/b.nii.gz?X-Amz-Signature=abc123&X-Amz-Credential=AKIA",
        )
        .unwrap();
        let shown = RedactedUrl::new(url).to_string();
        assert_eq!(
            shown,
            "https://bucket.example.org:9000/a/b.nii.gz?X-Amz-Signature=…&X-Amz-Credential=…"
        );
        assert!(!shown.contains("abc123") && !shown.contains("pw") && !shown.contains("AKIA"));
    }

    #[test]
    fn redacts_urls_inside_text() {
        let t = redact_text("failed GET http://h/x?token=s3cret now");
        assert_eq!(t, "failed GET http://h/x?token=… now");
    }
}
