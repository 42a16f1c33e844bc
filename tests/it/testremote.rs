//! git-annex's own conformance suite, `git annex testremote`, over
//! (provider × variant × git-annex version), against real services where a
//! user meets them: a local folder, moto_server for S3, the fake Dataverse.
//!
//! Depth keeps `make test` inside its time budget: the `encryption=none`
//! variant runs the full suite on Debian's git-annex; the other variants,
//! and every run on the newest git-annex, run `--fast` (the same steps on
//! fewer and smaller keys). `make conformance` sets `ANNEXA_CONFORMANCE=full`
//! and runs every case in full.
//!
//! Adding a provider: one arm in [`Service::start`] and one `cases!` line.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;
use crate::support::zenodo as support_zenodo;

use common::{GitAnnex, Moto, Repo};
use support_dataverse::{FakeDataverse, PID, TOKEN};
use support_figshare::FakeFigshare;
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
use support_zenodo::FakeZenodo;

#[derive(Debug, Clone, Copy)]
enum Provider {
    Directory,
    S3,
    Dataverse,
    /// The fake Dataverse answering as 6.1, the oldest supported release.
    Dataverse61,
    Github,
    Figshare,
    Zenodo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `encryption=none`: every key as it is.
    Plain,
    /// `encryption=shared`: git-annex encrypts keys and content with gpg.
    Shared,
    /// `chunk=1MiB`: keys split into chunk keys.
    Chunked,
    /// `exporttree=yes`: files under their names instead of keys.
    Export,
}

impl Provider {
    /// Whether `make test` runs its full `encryption=none` testremote. The
    /// budget wins: Figshare's upload protocol costs seven requests per
    /// chunk and a listing per absence check (about 10 minutes on 2 busy
    /// cores), and Dataverse's full run takes 5 minutes of the two cores
    /// that the import, soak and kill tests now need; both run in full in
    /// `make conformance`, `--fast` in `make test` like the other variants
    /// (tests/conformance.rs still drives every Dataverse operation).
    /// Zenodo, new, starts `--fast` in `make test` too.
    fn full_in_budget(self) -> bool {
        !matches!(
            self,
            Provider::Figshare | Provider::Dataverse | Provider::Zenodo
        )
    }
}

/// A running service and the initremote parameters that point at it.
enum Service {
    Directory(tempfile::TempDir),
    S3(Moto),
    Dataverse(FakeDataverse),
    Github(FakeGithub),
    Figshare(FakeFigshare),
    Zenodo(FakeZenodo),
}

impl Service {
    fn start(provider: Provider) -> Service {
        match provider {
            Provider::Directory => Service::Directory(tempfile::tempdir().unwrap()),
            Provider::S3 => Service::S3(Moto::start()),
            Provider::Dataverse => Service::Dataverse(FakeDataverse::start(&[])),
            Provider::Dataverse61 => {
                Service::Dataverse(FakeDataverse::start(&["--version", "6.1"]))
            }
            Provider::Github => Service::Github(FakeGithub::start(&[])),
            Provider::Figshare => Service::Figshare(FakeFigshare::start(&[])),
            Provider::Zenodo => Service::Zenodo(FakeZenodo::start(&[])),
        }
    }

    fn params(&self, name: &str, variant: Variant) -> Vec<String> {
        match self {
            Service::Directory(dir) => vec![
                "provider=directory".into(),
                format!("directory={}", dir.path().join(name).display()),
            ],
            Service::S3(moto) => {
                let mut params = vec![
                    "provider=s3".into(),
                    "createbucket=yes".into(),
                    format!("bucket=annexa-{}", name.to_lowercase()),
                    format!("endpoint={}", moto.endpoint()),
                ];
                if variant == Variant::Chunked {
                    params.push("layout=dirhash".into());
                }
                params
            }
            Service::Dataverse(fake) => {
                let mut params = vec![
                    "provider=dataverse".into(),
                    format!("url={}", fake.url()),
                    format!("doi={PID}"),
                ];
                // Keys and export trees in folders of the dataset: both
                // naming paths are exercised.
                match variant {
                    Variant::Plain => params.push("rootpath=annex".into()),
                    Variant::Export => params.push("rootpath=tree".into()),
                    _ => {}
                }
                params
            }
            Service::Github(fake) => vec![
                "provider=github".into(),
                format!("api={}", fake.api()),
                format!("repo={GH_REPO}"),
                format!("tag={}", name.to_lowercase()),
                "createrelease=yes".into(),
            ],
            Service::Figshare(fake) => vec![
                "provider=figshare".into(),
                format!("api={}", fake.api()),
                format!("article={}", support_figshare::ARTICLE),
            ],
            Service::Zenodo(fake) => vec![
                "provider=zenodo".into(),
                format!("api={}", fake.api()),
                format!("record={}", support_zenodo::RECORD),
            ],
        }
    }

    /// Checks what the service saw, after the run.
    fn check_after(&self) {
        // No token may reach a service's signed storage host.
        let storage_log = match self {
            Service::Dataverse(fake) => Some(fake.storage_log()),
            Service::Github(fake) => Some(fake.storage_log()),
            Service::Figshare(fake) => Some(fake.storage_log()),
            _ => None,
        };
        if let Some((_, violations)) = storage_log {
            assert!(
                violations.is_empty(),
                "token sent to storage: {violations:?}"
            );
        }
    }
}

fn full_everywhere() -> bool {
    std::env::var("ANNEXA_CONFORMANCE").is_ok_and(|v| v == "full")
}

/// Runs `git annex testremote` for one case; returns its output after
/// checking that it passed and that every step it reports ran.
fn testremote(provider: Provider, variant: Variant, git_annex: GitAnnex) -> String {
    let service = Service::start(provider);
    let tmp = tempfile::tempdir().unwrap();
    let gnupg = common::private_gnupg_home(tmp.path());
    let repo = Repo::init_with(&tmp.path().join("repo"), git_annex)
        .env("GNUPGHOME", gnupg.to_str().unwrap())
        .env("DATAVERSE_API_KEY", TOKEN)
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("FIGSHARE_API_KEY", support_figshare::TOKEN)
        .env("ZENODO_TOKEN", support_zenodo::TOKEN);
    let name = format!("{provider:?}{variant:?}");
    let mut argv: Vec<String> = [
        "git",
        "annex",
        "initremote",
        &name,
        "type=external",
        "externaltype=annexa",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push(
        match variant {
            Variant::Shared => "encryption=shared",
            _ => "encryption=none",
        }
        .into(),
    );
    match variant {
        Variant::Chunked => argv.push("chunk=1MiB".into()),
        Variant::Export => argv.push("exporttree=yes".into()),
        _ => {}
    }
    argv.extend(service.params(&name, variant));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    repo.ok(&argv);

    let full = full_everywhere()
        || (variant == Variant::Plain
            && git_annex == GitAnnex::Debian
            && provider.full_in_budget());
    let mut run = vec!["git", "annex", "testremote", &name];
    if !full {
        run.push("--fast");
    }
    let out = repo.run(&run);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("FAIL") || l.contains("failed"))
        .collect();
    assert!(
        out.status.success() && failures.is_empty(),
        "testremote {name} ({git_annex:?}, full={full}) failed:\n{}\n--- full output ---\n{text}",
        failures.join("\n")
    );
    assert!(
        text.contains("tests passed"),
        "no summary in testremote output:\n{text}"
    );
    if variant == Variant::Export {
        // testremote reports OK for export steps it skipped when
        // EXPORTSUPPORTED fails: make sure they ran.
        for step in [
            "store export:",
            "retrieve export:",
            "rename export:",
            "remove export directory:",
        ] {
            if let Some(line) = text.lines().find(|l| l.contains(step)) {
                assert!(line.trim_end().ends_with("OK"), "{line}");
            } else {
                assert!(
                    step == "rename export:",
                    "export test {step:?} did not run:\n{text}"
                );
            }
        }
    }
    service.check_after();
    text
}

/// One `#[test]` per (provider, variant, git-annex).
macro_rules! cases {
    ($($test:ident: $provider:ident $variant:ident $annex:ident;)*) => {$(
        #[test]
        fn $test() {
            testremote(Provider::$provider, Variant::$variant, GitAnnex::$annex);
        }
    )*};
}

cases! {
    directory_plain: Directory Plain Debian;
    directory_shared: Directory Shared Debian;
    directory_chunked: Directory Chunked Debian;
    directory_export: Directory Export Debian;
    directory_plain_newest: Directory Plain Newest;
    directory_export_newest: Directory Export Newest;

    s3_plain: S3 Plain Debian;
    s3_shared: S3 Shared Debian;
    s3_chunked: S3 Chunked Debian;
    s3_export: S3 Export Debian;
    s3_plain_newest: S3 Plain Newest;
    s3_export_newest: S3 Export Newest;

    dataverse_plain: Dataverse Plain Debian;
    dataverse_shared: Dataverse Shared Debian;
    dataverse_chunked: Dataverse Chunked Debian;
    dataverse_export: Dataverse Export Debian;
    dataverse_plain_newest: Dataverse Plain Newest;
    dataverse_export_newest: Dataverse Export Newest;
    dataverse61_export: Dataverse61 Export Debian;

    github_plain: Github Plain Debian;
    github_shared: Github Shared Debian;
    github_chunked: Github Chunked Debian;
    github_export: Github Export Debian;
    github_plain_newest: Github Plain Newest;
    github_export_newest: Github Export Newest;

    figshare_plain: Figshare Plain Debian;
    figshare_shared: Figshare Shared Debian;
    figshare_chunked: Figshare Chunked Debian;
    figshare_export: Figshare Export Debian;
    figshare_plain_newest: Figshare Plain Newest;
    figshare_export_newest: Figshare Export Newest;

    zenodo_plain: Zenodo Plain Debian;
    zenodo_chunked: Zenodo Chunked Debian;
    zenodo_export: Zenodo Export Debian;
}
