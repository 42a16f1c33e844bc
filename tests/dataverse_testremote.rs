//! git-annex's own conformance suite, `git annex testremote` (full run),
//! against annexa Dataverse remotes on the fake Dataverse server.

mod common;
mod support_dataverse;

use common::Repo;
use support_dataverse::{FakeDataverse, PID, TOKEN};

/// Runs the full testremote for a remote made with `params`; returns its
/// output after checking that it passed.
fn testremote(name: &str, params: &[&str]) -> String {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let gnupg = common::private_gnupg_home(tmp.path());
    let repo = Repo::init(&tmp.path().join("repo"))
        .env("DATAVERSE_API_KEY", TOKEN)
        .env("GNUPGHOME", gnupg.to_str().unwrap());
    let url = format!("url={}", fake.url());
    let doi = format!("doi={PID}");
    let mut argv = vec![
        "git",
        "annex",
        "initremote",
        name,
        "type=external",
        "externaltype=annexa",
        "provider=dataverse",
        &url,
        &doi,
    ];
    argv.extend_from_slice(params);
    repo.ok(&argv);
    let text = common::assert_testremote_passes(&repo, name);
    let (_, violations) = fake.storage_log();
    assert!(
        violations.is_empty(),
        "token sent to storage: {violations:?}"
    );
    text
}

#[test]
fn testremote_encryption_none() {
    testremote("plain", &["encryption=none", "rootpath=annex"]);
}

#[test]
fn testremote_encryption_shared() {
    testremote("shared", &["encryption=shared"]);
}

#[test]
fn testremote_chunked() {
    testremote("chunked", &["encryption=none", "chunk=1MiB"]);
}

#[test]
fn testremote_exporttree() {
    let text = testremote(
        "export",
        &["encryption=none", "exporttree=yes", "rootpath=tree"],
    );
    // EXPORTSUPPORTED must succeed so the export tests really run.
    for step in [
        "store export:",
        "retrieve export:",
        "remove export directory:",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(step))
            .unwrap_or_else(|| panic!("export test {step:?} did not run:\n{text}"));
        assert!(line.trim_end().ends_with("OK"), "{line}");
    }
}
