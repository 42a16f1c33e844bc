//! API tokens of the token-based services (Dataverse, Figshare, GitHub):
//! found the same way by each, never printed, and sent only as a header
//! marked sensitive (the transfer layer carries no header but `Range` to
//! signed storage, so a token never leaves its own host).
//!
//! **Which host may receive a token** is decided here, once, for every
//! provider and for the dataset code (docs/security.md): the service's
//! public API host, a host the user chose (`annexa.tokenhost` in their own
//! git config, [`HOSTS_ENV`], or a source they named to `annexa`, which
//! records it in the repository's local config), or a loopback address.
//! An address found in data (a dataset's `remote.log`, `.gitmodules`, a
//! JSON answer) chooses nothing, and a token never travels over plain
//! `http://` except to loopback.

use reqwest::header::HeaderValue;
use url::Url;

use super::{Annex, AnnexError, Credentials, ProviderError, Result};

/// Hosts the user chose for their tokens, separated by commas or spaces
/// (the environment of one command; `annexa import` records the host it was
/// given in the dataset's local git config instead).
pub const HOSTS_ENV: &str = "ANNEXA_TOKEN_HOSTS";
/// The git config setting (multi-valued) that names the same, read from
/// the user's own configuration (global, system, or the repository's local
/// `.git/config`, which no clone copies).
pub const HOSTS_CONFIG: &str = "annexa.tokenhost";

/// A service whose token annexa may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenService {
    Github,
    Figshare,
    Dataverse,
    Zenodo,
}

impl TokenService {
    /// The hosts of the public service, where its tokens are meant to go
    /// when the user named none. A Dataverse key belongs to one
    /// installation among many, so Dataverse has none: its host is always
    /// one the user named.
    pub fn public_hosts(self) -> &'static [&'static str] {
        match self {
            TokenService::Github => &["api.github.com", "uploads.github.com"],
            TokenService::Figshare => &["api.figshare.com"],
            TokenService::Dataverse => &[],
            // The API is on the site itself (https://zenodo.org/api).
            TokenService::Zenodo => &["zenodo.org"],
        }
    }
}

impl TokenService {
    /// The service's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            TokenService::Github => "GitHub",
            TokenService::Figshare => "Figshare",
            TokenService::Dataverse => "Dataverse",
            TokenService::Zenodo => "Zenodo",
        }
    }

    /// Where on the service's web site a user makes a token.
    pub fn token_page(self) -> &'static str {
        match self {
            TokenService::Github => "Settings > Developer settings > Personal access tokens",
            TokenService::Figshare => "Applications and personal tokens in the account settings",
            TokenService::Dataverse => "Account > API Token on the web site",
            TokenService::Zenodo => "Applications > Personal access tokens in the account settings",
        }
    }

    /// The public service's one other host its token goes to, chosen by
    /// code for the API host `api_host`, never by an answer: GitHub's
    /// uploads host; Figshare's downloader, where the documented route for
    /// private files takes the token as `?token=` (figshare/
    /// user_documentation, docs/api/articles.md, "Download private files").
    pub fn second_host(self, api_host: &str) -> Option<&'static str> {
        match (self, api_host) {
            (TokenService::Github, "api.github.com") => Some("uploads.github.com"),
            (TokenService::Figshare, "api.figshare.com") => Some("ndownloader.figshare.com"),
            _ => None,
        }
    }
}

/// Where a request to a URL may carry the user's token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// The public host, a host the user chose, or loopback, over https
    /// (or any scheme to loopback).
    Allowed,
    /// A host nobody but the data named.
    NotChosen,
    /// A chosen host, but over plain `http://` to another machine.
    PlainHttp,
}

/// A loopback address (`127.0.0.0/8`, `::1`, `localhost`): the user's own
/// machine (test servers, SSH tunnels).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// The host an entry of [`HOSTS_ENV`] or [`HOSTS_CONFIG`] names: a bare
/// host (`dv.example.org`, `dv.example.org:8443`) or a URL.
pub fn chosen_host(entry: &str) -> Option<String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return None;
    }
    let url = if entry.contains("://") {
        Url::parse(entry).ok()?
    } else {
        Url::parse(&format!("https://{entry}")).ok()?
    };
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

fn host_of(url: &Url) -> Option<String> {
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether a token of `service` may go to `url`, given the hosts the user
/// chose (`chosen`, as [`chosen_host`] normalises them). Pure: the one rule
/// every provider and the dataset code follow.
pub fn destination(service: TokenService, url: &Url, chosen: &[String]) -> Destination {
    let Some(host) = host_of(url) else {
        return Destination::NotChosen;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Destination::NotChosen;
    }
    if is_loopback(url) {
        return Destination::Allowed;
    }
    let named = service.public_hosts().contains(&host.as_str()) || chosen.contains(&host);
    match (named, url.scheme()) {
        (false, _) => Destination::NotChosen,
        (true, "https") => Destination::Allowed,
        (true, _) => Destination::PlainHttp,
    }
}

/// Said wherever a write needs a token and has none: the token may be set
/// and still withheld, because its host is not one the user chose.
pub const NOT_CHOSEN_HINT: &str = "if it is set, annexa sends it only to a host you chose: \
     `git config --global --add annexa.tokenhost HOST` (docs/security.md)";

/// A token and the scheme its service expects before it in the header
/// (`Bearer`, `token`, or none), bound to the hosts it may go to.
#[derive(Clone)]
pub struct ApiToken {
    secret: String,
    scheme: &'static str,
    /// Empty: not bound yet (then only the https-or-loopback rule holds).
    hosts: Vec<String>,
}

impl ApiToken {
    /// `None` for an empty token or one an HTTP header cannot carry.
    pub fn new(secret: String, scheme: &'static str) -> Option<Self> {
        let token = ApiToken {
            secret: secret.trim().to_string(),
            scheme,
            hosts: Vec::new(),
        };
        let usable = !token.secret.is_empty() && token.header_value().is_some();
        if usable {
            // Whatever reads a server's answer masks it (transfer::summarize_body).
            crate::transfer::register_secret(&token.secret);
        }
        usable.then_some(token)
    }

    /// The secret itself, for git-annex's credential store, and for a
    /// documented route that takes it in the query
    /// ([`crate::providers::service_api::ServiceApi::with_token_query`]).
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// `text` (a server's message) with the token replaced: some servers
    /// echo a rejected token back.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.secret, "<API token>")
    }

    /// The token, to be sent only to these hosts.
    pub fn bound_to(mut self, hosts: Vec<String>) -> Self {
        self.hosts = hosts;
        self
    }

    /// The header for a request to `url`: `None` unless `url` is one of the
    /// token's hosts, over https or to loopback. Every provider attaches
    /// its token through this, so no address from an answer can carry it.
    pub fn header_for(&self, url: &Url) -> Option<HeaderValue> {
        let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url));
        let host_ok =
            self.hosts.is_empty() || host_of(url).is_some_and(|h| self.hosts.contains(&h));
        (secure && host_ok).then(|| self.header_value()).flatten()
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

/// Where one service's token comes from and where it is kept: each token
/// service declares one, and every rule about tokens reads it from here.
#[derive(Debug, Clone, Copy)]
pub struct TokenSource {
    /// The environment variable that holds it; it wins over the stored one.
    pub env: &'static str,
    /// git-annex's credential slot for it.
    pub creds: &'static str,
    /// What goes before it in the `Authorization` header.
    pub scheme: &'static str,
    pub service: TokenService,
}

impl TokenSource {
    pub const fn new(
        service: TokenService,
        env: &'static str,
        creds: &'static str,
        scheme: &'static str,
    ) -> Self {
        Self {
            env,
            creds,
            scheme,
            service,
        }
    }

    /// The token for requests to `api` (see [`find`]).
    pub async fn find(&self, annex: &dyn Annex, api: &Url) -> Result<Option<ApiToken>> {
        find(annex, self.env, self.creds, self.scheme, self.service, api).await
    }

    /// At `initremote`: keeps the token in git-annex's credential store
    /// (local, or in the git-annex branch with `embedcreds=yes`: git-annex
    /// decides), or, without one, says what the remote can do anyway
    /// (`without`, e.g. "read a public release").
    pub async fn remember(
        &self,
        annex: &dyn Annex,
        token: Option<&ApiToken>,
        without: &str,
    ) -> Result<()> {
        match token {
            Some(t) => {
                let creds = Credentials {
                    user: "api-token".into(),
                    secret: t.expose().to_string(),
                };
                annex.set_creds(self.creds, &creds).await?;
            }
            // When it is set, `find` already said why it was not used.
            None if std::env::var(self.env).is_ok_and(|v| !v.trim().is_empty()) => {}
            None => annex.info(&format!(
                "no {} set: this remote can only {without}",
                self.env
            )),
        }
        Ok(())
    }

    /// The error for a write that needs a token and has none.
    pub fn needed_for(&self, what: &str) -> ProviderError {
        ProviderError::MissingCredentials(format!(
            "{what} needs a token: set {}; {NOT_CHOSEN_HINT}",
            self.env
        ))
    }
}

/// The token for requests to `api`: the environment variable `env` wins
/// over what git-annex stored under `setting`. No token at all is not an
/// error: published data needs none, and writes say which variable to set.
///
/// A token is returned only when [`destination`] allows `api` (else the
/// provider works without it, and says why once), bound to `api`'s host
/// (and GitHub's uploads host for its public API). A chosen host over plain
/// `http://` to another machine is a configuration error.
pub async fn find(
    annex: &dyn Annex,
    env: &str,
    setting: &str,
    scheme: &'static str,
    service: TokenService,
    api: &Url,
) -> Result<Option<ApiToken>> {
    let Some(token) = read(annex, env, setting, scheme).await? else {
        return Ok(None);
    };
    let chosen = chosen_hosts(annex).await;
    let host = host_of(api).unwrap_or_default();
    match destination(service, api, &chosen) {
        Destination::Allowed => {
            let mut hosts = vec![host.clone()];
            hosts.extend(service.second_host(&host).map(str::to_string));
            Ok(Some(token.bound_to(hosts)))
        }
        Destination::PlainHttp => Err(ProviderError::Config(format!(
            "refusing to send {env} over plain http to {host}: use an https address"
        ))),
        Destination::NotChosen => {
            annex.info(&format!(
                "{env} is not sent to {host}: that address came with the remote's \
                 configuration (which a dataset can carry), not from you; working without \
                 a token. To trust it: git config --global --add {HOSTS_CONFIG} {host} \
                 (docs/security.md)"
            ));
            Ok(None)
        }
    }
}

/// The hosts the user chose: [`HOSTS_ENV`] and every [`HOSTS_CONFIG`] of
/// the git configuration the repository sees (never anything committed).
pub async fn chosen_hosts(annex: &dyn Annex) -> Vec<String> {
    let mut hosts: Vec<String> = std::env::var(HOSTS_ENV)
        .unwrap_or_default()
        .split([',', ' ', '\n', '\t'])
        .filter_map(chosen_host)
        .collect();
    let mut cmd = tokio::process::Command::new("git");
    if let Ok(dir) = annex.get_git_dir().await {
        cmd.arg("--git-dir").arg(dir);
    }
    cmd.args(["config", "--get-all", HOSTS_CONFIG])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), cmd.output()).await;
    if let Ok(Ok(out)) = output {
        hosts.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(chosen_host),
        );
    }
    hosts
}

async fn read(
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

/// Whether `url` is on the same origin (scheme, host and port) as `base`,
/// the API address the user chose. The service-API layer
/// (`providers::service_api`) asks this for every request; the token's own
/// host binding ([`ApiToken::header_for`]) must allow the request too.
pub fn same_origin(base: &url::Url, url: &url::Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Credentials;
    use std::path::PathBuf;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_chosen_hosts_get_a_token() {
        use Destination::*;
        let chosen = vec!["dv.example.org".to_string()];
        let cases = [
            (TokenService::Github, "https://api.github.com", Allowed),
            (
                TokenService::Github,
                "https://uploads.github.com/x",
                Allowed,
            ),
            (TokenService::Github, "http://api.github.com", PlainHttp),
            (
                TokenService::Github,
                "https://evil.example/api/v3",
                NotChosen,
            ),
            (
                TokenService::Github,
                "http://evil.example/api/v3",
                NotChosen,
            ),
            (
                TokenService::Figshare,
                "https://api.figshare.com/v2",
                Allowed,
            ),
            (TokenService::Figshare, "https://api.github.com", NotChosen),
            (TokenService::Zenodo, "https://zenodo.org/api", Allowed),
            (
                TokenService::Zenodo,
                "https://sandbox.zenodo.org/api",
                NotChosen,
            ),
            (
                TokenService::Dataverse,
                "https://dataverse.harvard.edu",
                NotChosen,
            ),
            (TokenService::Dataverse, "https://dv.example.org", Allowed),
            (
                TokenService::Dataverse,
                "https://DV.example.org.:8443/",
                Allowed,
            ),
            (TokenService::Dataverse, "http://dv.example.org", PlainHttp),
            (TokenService::Dataverse, "http://127.0.0.1:8080", Allowed),
            (TokenService::Dataverse, "http://[::1]:8080", Allowed),
            (TokenService::Dataverse, "http://localhost:8080", Allowed),
            (TokenService::Dataverse, "ftp://dv.example.org", NotChosen),
        ];
        for (service, text, want) in cases {
            assert_eq!(destination(service, &url(text), &chosen), want, "{text}");
        }
        assert_eq!(
            chosen_host(" https://DV.example.org/x "),
            Some("dv.example.org".into())
        );
        assert_eq!(
            chosen_host("dv.example.org:8443"),
            Some("dv.example.org".into())
        );
        assert_eq!(chosen_host(""), None);
    }

    #[test]
    fn a_bound_token_goes_only_to_its_hosts() {
        let t = ApiToken::new("s3cret".into(), "Bearer")
            .unwrap()
            .bound_to(vec!["api.github.com".into(), "uploads.github.com".into()]);
        assert!(t.header_for(&url("https://api.github.com/repos")).is_some());
        assert!(t.header_for(&url("https://uploads.github.com/x")).is_some());
        assert!(t.header_for(&url("https://evil.example/x")).is_none());
        assert!(t.header_for(&url("http://api.github.com/repos")).is_none());
        let unbound = ApiToken::new("s3cret".into(), "Bearer").unwrap();
        assert!(unbound.header_for(&url("http://evil.example/x")).is_none());
        assert!(unbound.header_for(&url("http://127.0.0.1:9/x")).is_some());
    }

    /// An annex that holds a token in git-annex's credential store.
    struct Stored(PathBuf, std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Annex for Stored {
        async fn get_config(&self, _: &str) -> std::result::Result<Option<String>, AnnexError> {
            Ok(None)
        }
        async fn set_config(&self, _: &str, _: &str) -> std::result::Result<(), AnnexError> {
            Ok(())
        }
        async fn get_creds(&self, _: &str) -> std::result::Result<Option<Credentials>, AnnexError> {
            Ok(Some(Credentials {
                user: "api-token".into(),
                secret: "s3cret".into(),
            }))
        }
        async fn set_creds(&self, _: &str, _: &Credentials) -> std::result::Result<(), AnnexError> {
            Ok(())
        }
        async fn get_state(&self, _: &str) -> std::result::Result<Option<String>, AnnexError> {
            Ok(None)
        }
        async fn set_state(&self, _: &str, _: &str) -> std::result::Result<(), AnnexError> {
            Ok(())
        }
        async fn get_uuid(&self) -> std::result::Result<String, AnnexError> {
            Ok("u".into())
        }
        async fn get_git_dir(&self) -> std::result::Result<PathBuf, AnnexError> {
            Ok(self.0.clone())
        }
        async fn get_urls(&self, _: &str, _: &str) -> std::result::Result<Vec<String>, AnnexError> {
            Ok(Vec::new())
        }
        async fn set_url_present(&self, _: &str, _: &str) -> std::result::Result<(), AnnexError> {
            Ok(())
        }
        fn progress(&self, _: u64) {}
        fn debug(&self, _: &str) {}
        fn info(&self, message: &str) {
            self.1.lock().unwrap().push(message.to_string());
        }
    }

    /// The remote.log route: an api= that came with a dataset never gets
    /// the user's token; one in the repository's own config does.
    #[tokio::test]
    async fn a_token_follows_the_users_config_not_the_remotes() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "{args:?}");
        };
        git(&["init", "-q"]);
        let annex = Stored(repo.path().join(".git"), Default::default());
        let find_for = |api: &'static str| {
            let annex = &annex;
            async move {
                find(
                    annex,
                    "ANNEXA_TEST_UNSET_TOKEN_VARIABLE",
                    "dataverse",
                    "",
                    TokenService::Dataverse,
                    &url(api),
                )
                .await
            }
        };
        let evil = find_for("https://evil.example").await.unwrap();
        assert!(evil.is_none());
        let said = annex.1.lock().unwrap().join("\n");
        assert!(
            said.contains("evil.example") && !said.contains("s3cret"),
            "{said}"
        );
        git(&["config", "--add", HOSTS_CONFIG, "dv.example.org"]);
        let chosen = find_for("https://dv.example.org").await.unwrap().unwrap();
        assert!(chosen
            .header_for(&url("https://dv.example.org/api"))
            .is_some());
        assert!(chosen
            .header_for(&url("https://evil.example/api"))
            .is_none());
        assert!(find_for("https://evil.example").await.unwrap().is_none());
        assert!(matches!(
            find_for("http://dv.example.org").await,
            Err(ProviderError::Config(_))
        ));
        assert!(find_for("http://127.0.0.1:9").await.unwrap().is_some());
    }

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
