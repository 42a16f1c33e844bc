//! Secrets never show: every output channel (git-annex's stdout and stderr,
//! its --debug protocol transcript, the remote's own log at
//! ANNEXA_LOG=trace) is searched for every secret the run used, through a
//! store, a get, a failing request and a bad-credential answer. Only
//! git-annex's own --debug record of the SETCREDS/CREDS protocol lines,
//! which must carry the secret to its credential store, is exempt.

mod common;
mod support_dataverse;

use common::{Moto, Repo, AWS_SECRET};
use support_dataverse::{FakeDataverse, PID, TOKEN};

const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLESESSIONTOKENsecret0123";

fn all_output(repo: &Repo, argv: &[&str]) -> String {
    let out = repo
        .command(argv)
        .env("ANNEXA_LOG", "trace")
        .output()
        .expect("runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every line but git-annex's own record of the credential messages of the
/// protocol: SETCREDS/CREDS must carry the secret to git-annex's credential
/// store, and git-annex's `--debug` logs every protocol line it exchanges.
/// That is git-annex's output, not annexa's; all the rest must be clean.
fn assert_clean(text: &str, secrets: &[&str]) {
    for line in text.lines() {
        let protocol_creds = line.contains("git-annex-remote-annexa[")
            && (line.contains(" SETCREDS ") || line.contains(" CREDS "));
        if protocol_creds {
            continue;
        }
        for secret in secrets {
            assert!(
                !line.contains(secret),
                "a secret appeared in the output: {line}"
            );
        }
    }
}

#[test]
fn s3_secrets_never_appear_in_any_output() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    let secrets = [AWS_SECRET, SESSION_TOKEN];
    let mut seen = String::new();
    seen += &all_output(
        &repo,
        &[
            "git",
            "annex",
            "initremote",
            "s3",
            "type=external",
            "externaltype=annexa",
            "provider=s3",
            "encryption=none",
            "bucket=annexa-secrets",
            &format!("endpoint={}", moto.endpoint()),
            "--debug",
        ],
    );
    repo.write("a.txt", b"some content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "copy", "--to", "s3", "--debug", "a.txt"],
    );
    seen += &all_output(&repo, &["git", "annex", "drop", "--debug", "a.txt"]);
    seen += &all_output(&repo, &["git", "annex", "get", "--debug", "a.txt"]);
    // Requests that fail: an object that is not in the bucket, checked
    // (HEAD 404) and fetched (GET 404 with an error document).
    repo.write("c.txt", b"never stored");
    repo.ok(&["git", "annex", "add", "c.txt"]);
    let key = repo.ok(&["git", "annex", "lookupkey", "c.txt"]);
    let failed = all_output(
        &repo,
        &[
            "git",
            "annex",
            "checkpresentkey",
            key.trim(),
            "s3",
            "--debug",
        ],
    );
    assert!(failed.contains("CHECKPRESENT-FAILURE"), "{failed}");
    seen += &failed;
    let uuid = repo.ok(&["git", "config", "remote.s3.annex-uuid"]);
    repo.ok(&[
        "git",
        "annex",
        "setpresentkey",
        key.trim(),
        uuid.trim(),
        "1",
    ]);
    seen += &all_output(&repo, &["git", "annex", "drop", "--force", "c.txt"]);
    let failed = all_output(
        &repo,
        &["git", "annex", "get", "--from", "s3", "--debug", "c.txt"],
    );
    assert!(failed.contains("TRANSFER-FAILURE"), "{failed}");
    seen += &failed;
    seen += &all_output(&repo, &["git", "annex", "drop", "--force", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "get", "--from", "s3", "--debug", "a.txt"],
    );
    assert!(
        seen.contains("TRANSFER-SUCCESS"),
        "the run did not happen:\n{seen}"
    );
    assert_clean(&seen, &secrets);
}

#[test]
fn dataverse_token_never_appears_in_any_output() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("DATAVERSE_API_KEY", TOKEN);
    let mut seen = String::new();
    seen += &all_output(
        &repo,
        &[
            "git",
            "annex",
            "initremote",
            "dv",
            "type=external",
            "externaltype=annexa",
            "provider=dataverse",
            "encryption=none",
            &format!("url={}", fake.url()),
            &format!("doi={PID}"),
            "--debug",
        ],
    );
    repo.write("a.txt", b"some content");
    repo.ok(&["git", "annex", "add", "a.txt"]);
    seen += &all_output(
        &repo,
        &["git", "annex", "copy", "--to", "dv", "--debug", "a.txt"],
    );
    seen += &all_output(&repo, &["git", "annex", "drop", "--debug", "a.txt"]);
    seen += &all_output(&repo, &["git", "annex", "get", "--debug", "a.txt"]);
    // A rejected token: the server's answer must not carry it to the user.
    let bad = "bad-token-that-must-not-print-42";
    repo.write("b.txt", b"other content");
    repo.ok(&["git", "annex", "add", "b.txt"]);
    let rejected = all_output(
        &repo.env("DATAVERSE_API_KEY", bad),
        &["git", "annex", "copy", "--to", "dv", "--debug", "b.txt"],
    );
    assert!(rejected.contains("failed"), "{rejected}");
    seen += &rejected;
    assert!(
        seen.contains("TRANSFER-SUCCESS"),
        "the run did not happen:\n{seen}"
    );
    assert_clean(&seen, &[TOKEN, bad]);
}
