//! git-annex's own conformance suite, `git annex testremote` (full run),
//! against annexa Dataverse remotes on the fake Dataverse server.

mod common;
mod support_dataverse;

use common::{testremote_failures, Repo};
use support_dataverse::{FakeDataverse, PID, TOKEN};

/// Runs the full testremote for a remote made with `params`; returns its
/// output after checking that it passed.
fn testremote(name: &str, params: &[&str]) -> String {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    // A private gpg home: encryption=shared runs gpg for every chunk, and
    // other tests' gpg runs on the shared ~/.gnupg made ours fail (lock
    // file contention).
    let gnupg = tmp.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // gpg's default S2K stretching (~65 M hash rounds per call) would
    // dominate a run that encrypts every chunk; the crypto path is the same.
    std::fs::write(gnupg.join("gpg.conf"), "s2k-count 65536\n").unwrap();
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
    let out = repo.run(&["git", "annex", "testremote", name]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "testremote {name} failed:\n{}\n--- full output ---\n{text}",
        testremote_failures(&text).join("\n")
    );
    assert!(
        text.contains("tests passed"),
        "no summary in testremote output:\n{text}"
    );
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
