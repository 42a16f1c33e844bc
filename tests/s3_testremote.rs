//! git-annex's own conformance suite, `git annex testremote` (full run),
//! against annexa S3 remotes on a real S3 API server (moto_server).

mod common;

use common::{Moto, Repo};

/// Runs the full testremote for a remote made with `params`, returning its
/// output after checking that it passed.
fn testremote(name: &str, params: &[&str]) -> String {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    let gnupg = common::private_gnupg_home(tmp.path());
    let repo = repo.env("GNUPGHOME", gnupg.to_str().unwrap());
    let endpoint = format!("endpoint={}", moto.endpoint());
    let bucket = format!("bucket=annexa-{name}");
    let mut argv = vec![
        "git",
        "annex",
        "initremote",
        name,
        "type=external",
        "externaltype=annexa",
        "provider=s3",
        &bucket,
        &endpoint,
    ];
    argv.extend_from_slice(params);
    repo.ok(&argv);
    common::assert_testremote_passes(&repo, name)
}

#[test]
fn testremote_encryption_none() {
    testremote("plain", &["encryption=none"]);
}

#[test]
fn testremote_encryption_shared() {
    testremote("shared", &["encryption=shared"]);
}

#[test]
fn testremote_chunked() {
    testremote(
        "chunked",
        &["encryption=none", "chunk=1MiB", "layout=dirhash"],
    );
}

#[test]
fn testremote_exporttree() {
    let text = testremote("export", &["encryption=none", "exporttree=yes"]);
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
