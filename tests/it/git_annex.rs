//! The token services under real git-annex commands, one table over the
//! providers: each behaviour runs against the fake Dataverse, Figshare and
//! GitHub as `git_annex::PROVIDER::BEHAVIOUR`. What only one service does
//! stays in its own module (`dataverse_git_annex.rs` and so on).
//!
//! - `setup_errors_name_the_problem`: a rejected token and a place that
//!   does not exist fail initremote with a message that names them, and
//!   the token is never printed.
//! - `interrupted_download_resumes`: a download whose connection breaks
//!   after 1 MiB is resumed from there (a `Range` request), gives the
//!   content byte for byte, and no token reaches the storage host.
//!
//! Adding a provider: one arm in each `Fake` method and one line in
//! `git_annex_cases!`.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;

use common::{pseudo_random, text, Repo};
use support_dataverse::{FakeDataverse, PID};
use support_figshare::{FakeFigshare, ARTICLE};
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

/// A running fake service.
enum Fake {
    Dataverse(FakeDataverse),
    Figshare(FakeFigshare),
    Github(FakeGithub),
}

impl Fake {
    fn start(kind: &str) -> Fake {
        match kind {
            "dataverse" => Fake::Dataverse(FakeDataverse::start(&[])),
            "figshare" => Fake::Figshare(FakeFigshare::start(&[])),
            "github" => Fake::Github(FakeGithub::start(&[])),
            other => panic!("no fake service for provider={other}"),
        }
    }

    /// The environment variable of the token, and the token the fake takes.
    fn token(&self) -> (&'static str, &'static str) {
        match self {
            Fake::Dataverse(_) => ("DATAVERSE_API_KEY", support_dataverse::TOKEN),
            Fake::Figshare(_) => ("FIGSHARE_API_KEY", support_figshare::TOKEN),
            Fake::Github(_) => ("GITHUB_TOKEN", GH_TOKEN),
        }
    }

    /// initremote parameters of a remote on the fake's own place.
    fn params(&self) -> Vec<String> {
        match self {
            Fake::Dataverse(fake) => vec![
                "provider=dataverse".into(),
                format!("url={}", fake.url()),
                format!("doi={PID}"),
            ],
            Fake::Figshare(fake) => vec![
                "provider=figshare".into(),
                format!("api={}", fake.api()),
                format!("article={ARTICLE}"),
            ],
            Fake::Github(fake) => vec![
                "provider=github".into(),
                format!("api={}", fake.api()),
                format!("repo={GH_REPO}"),
                "tag=data".into(),
                "createrelease=yes".into(),
            ],
        }
    }

    /// A wrong token in the service's shape, and what the error says of it.
    fn wrong_token(&self) -> (&'static str, &'static str) {
        match self {
            Fake::Dataverse(_) | Fake::Figshare(_) => {
                ("wrong-token-value", "rejected the API token")
            }
            Fake::Github(_) => ("ghp_wrong-token-value", "did not accept the token"),
        }
    }

    /// initremote parameters of a place that does not exist, and the
    /// words the error must hold.
    fn missing_place(&self) -> (Vec<String>, &'static [&'static str]) {
        let mut params = self.params();
        let words: &'static [&'static str] = match self {
            Fake::Dataverse(_) => {
                params[2] = "doi=doi:10.5072/FK2/MISSING".into();
                &["doi:10.5072/FK2/MISSING", "not found"]
            }
            Fake::Figshare(_) => {
                params[2] = "article=999".into();
                &["article 999 was not found"]
            }
            Fake::Github(_) => {
                // Without createrelease=yes a missing release is an error
                // that says how to make one.
                params.truncate(3);
                params.push("tag=missing".into());
                &["no release missing", "createrelease=yes"]
            }
        };
        (params, words)
    }

    /// The next download from storage breaks after `bytes`, once.
    fn break_next_download(&self, bytes: u64) {
        let query = format!("drop_after={bytes}&drop_count=1");
        match self {
            Fake::Dataverse(fake) => {
                fake.admin("POST", &format!("config?{query}"));
            }
            Fake::Figshare(fake) => {
                fake.admin("POST", &format!("config?{query}"));
            }
            Fake::Github(fake) => fake.configure(&query),
        }
    }

    /// Every request the storage host received, and those that carried a
    /// token.
    fn storage_log(&self) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
        match self {
            Fake::Dataverse(fake) => fake.storage_log(),
            Fake::Figshare(fake) => fake.storage_log(),
            Fake::Github(fake) => fake.storage_log(),
        }
    }
}

/// `git annex initremote store` with `params`.
fn init(repo: &Repo, params: &[String]) -> std::process::Output {
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    repo.initremote("store", &params)
}

fn setup_errors_name_the_problem(kind: &str) {
    let fake = Fake::start(kind);
    let (var, token) = fake.token();
    let tmp = tempfile::tempdir().unwrap();

    let (wrong, says) = fake.wrong_token();
    let repo = Repo::init(&tmp.path().join("r")).env(var, wrong);
    let out = init(&repo, &fake.params());
    let t = text(&out);
    assert!(!out.status.success(), "{kind}: a wrong token was accepted");
    assert!(t.contains(says), "{kind}: {t}");
    assert!(
        !t.contains("wrong-token-value"),
        "{kind}: token printed: {t}"
    );

    let (params, words) = fake.missing_place();
    let repo = Repo::init(&tmp.path().join("r2")).env(var, token);
    let out = init(&repo, &params);
    let t = text(&out);
    assert!(
        !out.status.success(),
        "{kind}: a missing place was accepted"
    );
    for word in words {
        assert!(t.contains(word), "{kind}: {word:?} not in {t}");
    }
    assert!(!t.contains(token), "{kind}: token printed: {t}");
}

fn interrupted_download_resumes(kind: &str) {
    let fake = Fake::start(kind);
    let (var, token) = fake.token();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env(var, token);
    let out = init(&repo, &fake.params());
    assert!(out.status.success(), "{kind}: {}", text(&out));
    let data = pseudo_random(3 << 20, 9);
    repo.write("big.bin", &data);
    repo.ok(&["git", "annex", "add", "big.bin"]);
    repo.ok(&["git", "annex", "copy", "--to", "store", "big.bin"]);
    repo.ok(&["git", "annex", "drop", "big.bin"]);

    fake.break_next_download(1 << 20);
    repo.ok(&["git", "annex", "get", "big.bin"]);
    assert!(
        std::fs::read(tmp.path().join("r/big.bin")).unwrap() == data,
        "{kind}: other bytes arrived"
    );
    let (requests, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{kind}: {violations:?}");
    let header = |r: &serde_json::Value, name: &str| {
        r["headers"].as_object().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
    };
    assert!(
        requests
            .iter()
            .all(|r| header(r, "authorization").is_none()),
        "{kind}: a token reached storage: {requests:?}"
    );
    let resumed = requests
        .iter()
        .filter_map(|r| header(r, "range"))
        .find_map(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<u64>()
                .ok()
        });
    assert!(
        resumed.is_some_and(|at| at >= 1 << 20),
        "{kind}: the second request resumed with Range: {requests:?}"
    );
}

/// One module per provider, one test per behaviour.
macro_rules! git_annex_cases {
    ($($kind:ident;)*) => {$(
        mod $kind {
            #[test]
            fn setup_errors_name_the_problem() {
                super::setup_errors_name_the_problem(stringify!($kind));
            }
            #[test]
            fn interrupted_download_resumes() {
                super::interrupted_download_resumes(stringify!($kind));
            }
        }
    )*};
}

git_annex_cases! {
    dataverse;
    figshare;
    github;
}
