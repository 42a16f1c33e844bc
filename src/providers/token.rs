//! API tokens of the token-based services (Dataverse, Figshare, GitHub):
//! found the same way by each, never printed, and sent only as a header
//! marked sensitive (the transfer layer carries no header but `Range` to
//! signed storage, so a token never leaves its own host).

use reqwest::header::HeaderValue;

use super::{Annex, AnnexError, ProviderError, Result};

/// A token and the scheme its service expects before it in the header
/// (`Bearer`, `token`, or none).
#[derive(Clone)]
pub struct ApiToken {
    secret: String,
    scheme: &'static str,
}

impl ApiToken {
    /// `None` for an empty token or one an HTTP header cannot carry.
    pub fn new(secret: String, scheme: &'static str) -> Option<Self> {
        let token = ApiToken {
            secret: secret.trim().to_string(),
            scheme,
        };
        let usable = !token.secret.is_empty() && token.header_value().is_some();
        if usable {
            // Whatever reads a server's answer masks it (transfer::summarize_body).
            crate::transfer::register_secret(&token.secret);
        }
        usable.then_some(token)
    }

    /// The secret itself, for git-annex's credential store only.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// `text` (a server's message) with the token replaced: some servers
    /// echo a rejected token back.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.secret, "<API token>")
    }

    /// The header value, marked sensitive so HTTP-level debug output never
    /// shows it.
    pub fn header_value(&self) -> Option<HeaderValue> {
        let text = if self.scheme.is_empty() {
            self.secret.clone()
        } else {
            format!("{} {}", self.scheme, self.secret)
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// The token: the environment variable `env` wins over what git-annex
/// stored under `setting`. No token at all is not an error: published
/// data needs none, and writes say which variable to set.
pub async fn find(
    annex: &dyn Annex,
    env: &str,
    setting: &str,
    scheme: &'static str,
) -> Result<Option<ApiToken>> {
    if let Ok(value) = std::env::var(env) {
        if !value.trim().is_empty() {
            return ApiToken::new(value, scheme).map(Some).ok_or_else(|| {
                ProviderError::Config(format!(
                    "{env} contains characters an HTTP header cannot carry; copy the token again"
                ))
            });
        }
    }
    match annex.get_creds(setting).await {
        Ok(Some(creds)) => Ok(ApiToken::new(creds.secret, scheme)),
        Ok(None) | Err(AnnexError::Refused(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether a token the user chose for `base` may travel to `url`: only to
/// the same site (scheme, host and port). The hook the service-API layer
/// calls for every request (`providers::service_api`); the rule of which
/// bases a token may be chosen for lives with the token.
pub fn same_site(base: &url::Url, url: &url::Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_checked_and_never_printed() {
        let t = ApiToken::new("  s3cret\n".into(), "Bearer").unwrap();
        assert_eq!(t.expose(), "s3cret");
        assert_eq!(t.header_value().unwrap(), "Bearer s3cret");
        assert!(t.header_value().unwrap().is_sensitive());
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(
            ApiToken::new("x".into(), "")
                .unwrap()
                .header_value()
                .unwrap(),
            "x"
        );
        assert_eq!(
            t.scrub("User with token s3cret not found."),
            "User with token <API token> not found."
        );
        assert!(ApiToken::new("   ".into(), "token").is_none());
        assert!(ApiToken::new("a\u{7f}b".into(), "token").is_none());
    }
}
