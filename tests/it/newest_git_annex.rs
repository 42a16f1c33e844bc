//! The protocol extensions only a recent git-annex offers, exercised with the
//! newest git-annex from PyPI (`make deps` puts it in the project's venv):
//! TRANSFER-RETRIEVE-URL and CHECKPRESENT-URL on a public S3 bucket, and
//! AVAILABILITY UNAVAILABLE (UNAVAILABLERESPONSE) for a folder that is gone.
//! Debian's git-annex offers none of these; the same remotes must keep
//! working there, which the last test checks.

use crate::support::common;

use common::{text as combined, GitAnnex, Moto, Repo};

/// A repository on `git_annex` with a public S3 remote `pub` holding one
/// file, `open.txt`, dropped locally.
fn public_remote(moto: &Moto, dir: &std::path::Path, git_annex: GitAnnex) -> Repo {
    let repo = Repo::init_with(dir, git_annex);
    // git-annex's own downloads refuse loopback addresses unless allowed;
    // moto listens on 127.0.0.1.
    repo.ok(&[
        "git",
        "config",
        "annex.security.allowed-ip-addresses",
        "all",
    ]);
    repo.initremote_ok(
        "pub",
        &[
            "provider=s3",
            "createbucket=yes",
            "public=yes",
            "bucket=annexa-public",
            &format!("endpoint={}", moto.endpoint()),
        ],
    );
    repo.write("open.txt", b"open data for everyone\n");
    repo.ok(&["git", "annex", "add", "-q", "open.txt"]);
    repo.ok(&["git", "commit", "-q", "-m", "open"]);
    repo.ok(&["git", "annex", "copy", "-q", "--to", "pub", "open.txt"]);
    repo.ok(&["git", "annex", "drop", "-q", "open.txt"]);
    repo
}

/// Lines of a `--debug` transcript that the remote sent: git-annex logs
/// them as `git-annex-remote-annexa[N] --> MESSAGE` (and its own as `<--`).
fn received(transcript: &str) -> Vec<&str> {
    transcript
        .lines()
        .filter(|l| l.contains("git-annex-remote-annexa[") && l.contains("] --> "))
        .collect()
}

#[test]
fn newest_git_annex_downloads_public_content_itself() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = public_remote(&moto, &tmp.path().join("repo"), GitAnnex::Newest);
    let out = repo.run(&["git", "annex", "get", "--debug", "open.txt"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        std::fs::read(repo.dir.join("open.txt")).unwrap(),
        b"open data for everyone\n"
    );
    let from_remote = received(&text);
    assert!(
        from_remote
            .iter()
            .any(|l| l.contains("TRANSFER-RETRIEVE-URL")),
        "the remote did not hand the download to git-annex:\n{text}"
    );
    assert!(
        !from_remote
            .iter()
            .any(|l| l.contains("TRANSFER-SUCCESS RETRIEVE")),
        "the remote downloaded itself although git-annex could:\n{text}"
    );
}

#[test]
fn newest_git_annex_checks_public_presence_itself() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = public_remote(&moto, &tmp.path().join("repo"), GitAnnex::Newest);
    let out = repo.run(&["git", "annex", "fsck", "--fast", "--from", "pub", "--debug"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        received(&text)
            .iter()
            .any(|l| l.contains("CHECKPRESENT-URL")),
        "the remote did not hand the presence check to git-annex:\n{text}"
    );

    // The check git-annex makes is real: with the object deleted behind
    // annexa's back, fsck finds it missing.
    let key = repo.ok(&["git", "annex", "lookupkey", "open.txt"]);
    let objects = std::process::Command::new("curl")
        .args([
            "-sf",
            &format!("{}/annexa-public?list-type=2", moto.endpoint()),
        ])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&objects.stdout).into_owned();
    let object = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .find(|name| name.ends_with(key.trim()))
        .unwrap_or_else(|| panic!("object for {key} not in bucket: {listing}"))
        .to_string();
    let deleted = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "DELETE",
            &format!("{}/annexa-public/{object}", moto.endpoint()),
        ])
        .status()
        .unwrap();
    assert!(deleted.success());
    let out = repo.run(&["git", "annex", "fsck", "--fast", "--from", "pub"]);
    assert!(
        !out.status.success(),
        "fsck found a deleted object present:\n{}",
        combined(&out)
    );
}

#[test]
fn debian_git_annex_gets_the_same_remote_without_the_extensions() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = public_remote(&moto, &tmp.path().join("repo"), GitAnnex::Debian);
    let out = repo.run(&["git", "annex", "get", "--debug", "open.txt"]);
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    let from_remote = received(&text);
    assert!(
        from_remote
            .iter()
            .any(|l| l.contains("TRANSFER-SUCCESS RETRIEVE")),
        "{text}"
    );
    assert!(
        !text.contains("TRANSFER-RETRIEVE-URL"),
        "an extension git-annex did not offer was used:\n{text}"
    );
}

/// A repository on `git_annex` with a directory remote `drive` holding
/// `f.txt` (dropped here), whose folder is then moved away as when a drive
/// is unplugged. Returns the repository and the folder's two places.
fn unplugged_drive(
    tmp: &std::path::Path,
    git_annex: GitAnnex,
) -> (Repo, std::path::PathBuf, std::path::PathBuf) {
    let repo = Repo::init_with(&tmp.join("repo"), git_annex);
    let folder = tmp.join("drive");
    repo.initremote_ok(
        "drive",
        &[
            "provider=directory",
            &format!("directory={}", folder.display()),
        ],
    );
    repo.write("f.txt", b"on the drive\n");
    repo.ok(&["git", "annex", "add", "-q", "f.txt"]);
    repo.ok(&["git", "commit", "-q", "-m", "f"]);
    repo.ok(&["git", "annex", "copy", "-q", "--to", "drive", "f.txt"]);
    repo.ok(&["git", "annex", "drop", "-q", "f.txt"]);
    let away = tmp.join("drive-unplugged");
    std::fs::rename(&folder, &away).unwrap();
    (repo, folder, away)
}

#[test]
fn newest_git_annex_is_told_an_unplugged_drive_is_unavailable() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, folder, away) = unplugged_drive(tmp.path(), GitAnnex::Newest);
    let info = repo.ok(&["git", "annex", "info", "drive"]);
    assert!(info.contains("available: false"), "{info}");
    let out = repo.run(&["git", "annex", "get", "f.txt"]);
    assert!(!out.status.success());
    // Nothing was written where the drive should be mounted.
    assert!(!folder.exists(), "the missing drive's folder was created");

    std::fs::rename(&away, &folder).unwrap();
    let info = repo.ok(&["git", "annex", "info", "drive"]);
    assert!(info.contains("available: true"), "{info}");
    repo.ok(&["git", "annex", "get", "f.txt"]);
}

#[test]
fn debian_git_annex_hears_why_an_unplugged_drive_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, folder, _) = unplugged_drive(tmp.path(), GitAnnex::Debian);
    let out = repo.run(&["git", "annex", "get", "f.txt"]);
    let text = combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("is the drive mounted"), "{text}");
    // A presence check cannot say "absent" for a drive it cannot see.
    let out = repo.run(&["git", "annex", "fsck", "--fast", "--from", "drive", "f.txt"]);
    let text = combined(&out);
    assert!(!out.status.success(), "{text}");
    let whereis = repo.ok(&["git", "annex", "whereis", "f.txt"]);
    assert!(
        whereis.contains("drive"),
        "the copy was forgotten: {whereis}"
    );
    assert!(!folder.exists(), "the missing drive's folder was created");
}
