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
/// bodies that echo a request back: whole URLs, request targets
/// (`/path?X-Amz-Signature=...`) and bare query strings (`a=1&b=2`).
pub fn redact_text(text: &str) -> String {
    text.split(' ')
        .map(|word| match Url::parse(word) {
            Ok(url) if url.has_host() => RedactedUrl::new(url).to_string(),
            _ => match word.split_once('?') {
                Some((path, query)) if query.contains('=') => {
                    format!("{path}?{}", masked_query(query))
                }
                _ if word.contains('=') && word.contains('&') => masked_query(word),
                _ => word.to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `a=1&b=2` as `a=…&b=…`.
fn masked_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=…"),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Secrets this process holds (S3 secret keys and session tokens, API
/// tokens), so that any text a server sent back can be cleaned of them
/// before it is shown, whichever provider read it.
static KNOWN_SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Shorter strings are too likely to occur by chance to be masked.
const SHORTEST_SECRET: usize = 8;

/// Remembers `secret` so that [`scrub_secrets`] masks it from now on.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < SHORTEST_SECRET {
        return;
    }
    // As sent in a query string too (session tokens hold `/`, `+`, `=`).
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut known = KNOWN_SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for form in [secret.to_string(), encoded] {
        if !known.contains(&form) {
            known.push(form);
        }
    }
}

/// `text` with every registered secret replaced by `<secret>`.
pub fn scrub_secrets(text: &str) -> String {
    let known = KNOWN_SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "<secret>");
        }
    }
    out
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
    fn registered_secrets_are_masked() {
        register_secret("short");
        register_secret("  a-registered-secret-42 ");
        register_secret("tok/en+with=signs");
        assert_eq!(
            scrub_secrets("tok/en+with=signs tok%2Fen%2Bwith%3Dsigns"),
            "<secret> <secret>"
        );
        assert_eq!(
            scrub_secrets("short and a-registered-secret-42, twice: a-registered-secret-42"),
            "short and <secret>, twice: <secret>"
        );
    }

    #[test]
    fn redacts_urls_inside_text() {
        let t = redact_text("failed GET http://h/x?token=s3cret now");
        assert_eq!(t, "failed GET http://h/x?token=… now");
        let t = redact_text(
            "<p>GET /b/k?X-Amz-Signature=ab12&X-Amz-Security-Token=Fwo</p> x=1&y=2 a=b",
        );
        assert_eq!(
            t,
            "<p>GET /b/k?X-Amz-Signature=…&X-Amz-Security-Token=… x=…&y=… a=b"
        );
    }
}
