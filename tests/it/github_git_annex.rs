//! The GitHub remote under real git-annex commands, against the fake
//! GitHub: no credential reaches storage, rate limits are waited out,
//! empty files, anonymous reads, release pages added with `git annex
//! addurl`. Set-up errors and resumed downloads: the table in
//! `git_annex.rs`.

use crate::support::common;
use crate::support::github as support_github;

use std::time::Instant;

use common::{pseudo_random, text, Repo};
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

fn init(fake: &FakeGithub, repo: &Repo, tag: &str, extra: &[&str]) -> std::process::Output {
    let api = format!("api={}", fake.api());
    let repo_arg = format!("repo={GH_REPO}");
    let tag = format!("tag={tag}");
    repo.initremote(
        "gh",
        &[&["provider=github", &api, &repo_arg, &tag], extra].concat(),
    )
}

fn no_violations(fake: &FakeGithub) {
    let (requests, violations) = fake.storage_log();
    assert!(
        violations.is_empty(),
        "token sent to storage: {violations:?}"
    );
    for r in &requests {
        let h = r["headers"].as_object().unwrap();
        assert!(
            !h.keys().any(|k| k.eq_ignore_ascii_case("authorization")),
            "{r}"
        );
    }
}

#[test]
fn storage_never_sees_the_token_and_rate_limits_are_waited_out() {
    let fake = FakeGithub::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("GITHUB_TOKEN", GH_TOKEN);
    let out = init(&fake, &repo, "data", &["createrelease=yes"]);
    assert!(out.status.success(), "{}", text(&out));
    // initremote chose a chunk size below GitHub's 2 GiB asset limit.
    let info = repo.ok(&["git", "annex", "info", "gh"]);
    assert!(info.contains("chunk"), "{info}");

    let data = pseudo_random(300_000, 1);
    repo.write("a.dat", &data);
    repo.write("empty.dat", b"");
    repo.ok(&["git", "annex", "add", "a.dat", "empty.dat"]);
    repo.ok(&["git", "commit", "-q", "-m", "data"]);
    repo.ok(&["git", "annex", "copy", "--to", "gh", "a.dat", "empty.dat"]);
    // Only a.dat became an asset: GitHub refuses empty ones.
    assert_eq!(
        fake.asset_names("data").len(),
        1,
        "{:?}",
        fake.asset_names("data")
    );
    repo.ok(&["git", "annex", "drop", "a.dat", "empty.dat"]);

    // Exhausted: 403 with remaining 0 until the reset, 3 s from now.
    fake.configure("ratelimit_remaining=0&ratelimit_reset_in=3");
    let started = Instant::now();
    repo.ok(&["git", "annex", "get", "a.dat", "empty.dat"]);
    assert!(started.elapsed().as_secs_f64() >= 1.5, "did not wait");
    assert!(fake.counts()["ratelimited"].as_u64().unwrap() >= 1);
    assert_eq!(std::fs::read(tmp.path().join("r/a.dat")).unwrap(), data);
    assert_eq!(std::fs::read(tmp.path().join("r/empty.dat")).unwrap(), b"");

    // A secondary rate limit (403 + Retry-After) is waited out too.
    repo.ok(&["git", "annex", "drop", "a.dat"]);
    fake.configure("secondary_limit=2");
    repo.ok(&["git", "annex", "get", "a.dat"]);
    repo.ok(&["git", "annex", "fsck", "--from", "gh", "."]);
    no_violations(&fake);

    // Anonymous reads of a public release: a clone without a token.
    let top = Repo::open(tmp.path());
    top.ok(&["git", "clone", "-q", "r", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone")).env("GITHUB_TOKEN", "");
    clone.ok(&["git", "annex", "init", "clone"]);
    clone.ok(&["git", "annex", "enableremote", "gh"]);
    clone.ok(&["git", "annex", "get", "a.dat", "empty.dat"]);
    assert_eq!(std::fs::read(tmp.path().join("clone/a.dat")).unwrap(), data);
    no_violations(&fake);

    // Drop from the remote removes the asset, and the empty key's record.
    repo.ok(&[
        "git",
        "annex",
        "drop",
        "--from",
        "gh",
        "--force",
        "a.dat",
        "empty.dat",
    ]);
    assert!(fake.asset_names("data").is_empty());
    let whereis = repo.ok(&["git", "annex", "whereis", "empty.dat"]);
    assert!(!whereis.contains("[gh]"), "{whereis}");
}

#[test]
fn addurl_of_a_release_page_registers_every_asset() {
    let fake = FakeGithub::start(&["--release", "annexa/test:v1"]);
    let a = pseudo_random(5000, 4);
    let b = pseudo_random(7000, 5);
    fake.admin_with("POST", "asset?repo=annexa/test&tag=v1&name=a.txt", &a);
    fake.admin_with("POST", "asset?repo=annexa/test&tag=v1&name=b.1.bin", &b);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("GITHUB_TOKEN", GH_TOKEN);
    assert!(init(&fake, &repo, "store", &["createrelease=yes"])
        .status
        .success());
    let page = format!("{}/{GH_REPO}/releases/tag/v1", fake.api());
    repo.ok(&["git", "annex", "addurl", &page]);
    let root = tmp.path().join("r");
    let found: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.path().starts_with(root.join(".git")))
        .filter(|e| e.file_type().is_file() || e.file_type().is_symlink())
        .map(|e| e.path().to_path_buf())
        .collect();
    let read = |name: &str| {
        let p = found
            .iter()
            .find(|p| p.file_name().unwrap() == name)
            .unwrap_or_else(|| panic!("{name} not added: {found:?}"));
        std::fs::read(p).unwrap()
    };
    assert_eq!(read("a.txt"), a);
    assert_eq!(read("b.1.bin"), b);
    // One asset URL too, and the content comes back through the remote.
    let url = format!("{}/{GH_REPO}/releases/download/v1/a.txt", fake.api());
    repo.ok(&["git", "annex", "addurl", "--file", "again.txt", &url]);
    repo.ok(&["git", "annex", "drop", "--force", "again.txt"]);
    repo.ok(&["git", "annex", "get", "again.txt"]);
    assert_eq!(std::fs::read(root.join("again.txt")).unwrap(), a);
    no_violations(&fake);
}

/// Tags of the releases of [`GH_REPO`] on the fake, with their asset counts.
fn releases(fake: &FakeGithub) -> Vec<(String, usize)> {
    let state = fake.admin("GET", "state");
    let mut out: Vec<(String, usize)> = state[GH_REPO]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tag_name"].as_str().unwrap().to_string(),
                r["assets"].as_array().unwrap().len(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A release holds at most so many assets (GitHub: 1,000; the fake: 25
/// here): keys and chunks past that go to overflow releases made from the
/// tag, which fsck, drop and get find, and which an anonymous clone finds
/// without configuration, reading through browser addresses that spend no
/// API budget.
#[test]
fn a_remote_spans_releases_past_the_asset_cap() {
    let fake = FakeGithub::start(&["--max-assets", "25"]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("GITHUB_TOKEN", GH_TOKEN);
    let out = init(&fake, &repo, "data", &["createrelease=yes", "chunk=1KiB"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut files = Vec::new();
    for i in 0..60u64 {
        let name = format!("f{i:02}.dat");
        repo.write(&name, &pseudo_random(200 + i as usize, 100 + i));
        files.push(name);
    }
    // 30 chunks of 1 KiB.
    let big = pseudo_random(30 * 1024, 7);
    repo.write("big.dat", &big);
    repo.ok(&["git", "annex", "add", "."]);
    repo.ok(&["git", "commit", "-q", "-m", "data"]);
    let out = repo.run(&["git", "annex", "copy", "--to", "gh", "."]);
    assert!(out.status.success(), "{}", text(&out));
    let rel = releases(&fake);
    let total: usize = rel.iter().map(|r| r.1).sum();
    assert_eq!(total, 90, "{rel:?}");
    assert!(rel.iter().all(|r| r.1 <= 25), "{rel:?}");
    assert_eq!(rel[0].0, "data");
    assert!(rel.iter().any(|r| r.0 == "data-annexa-4"), "{rel:?}");

    // Every key is found, in whichever release it is.
    let fsck = repo.run(&["git", "annex", "fsck", "--fast", "--from", "gh", "."]);
    assert!(fsck.status.success(), "{}", text(&fsck));
    repo.ok(&["git", "annex", "drop", "."]);
    repo.ok(&["git", "annex", "get", "."]);
    assert_eq!(std::fs::read(tmp.path().join("r/big.dat")).unwrap(), big);

    // Anonymous clone: the overflow releases are found by their tags; the
    // downloads go through browser addresses, outside the API budget.
    let top = Repo::open(tmp.path());
    top.ok(&["git", "clone", "-q", "r", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone")).env("GITHUB_TOKEN", "");
    clone.ok(&["git", "annex", "init", "clone"]);
    clone.ok(&["git", "annex", "enableremote", "gh"]);
    fake.configure("anon_budget=20&anon_reset_in=3600");
    let out = clone.run(&["git", "annex", "get", "."]);
    assert!(out.status.success(), "{}", text(&out));
    for (i, name) in files.iter().enumerate() {
        let got = std::fs::read(tmp.path().join("clone").join(name)).unwrap();
        assert_eq!(got, pseudo_random(200 + i, 100 + i as u64), "{name}");
    }
    assert_eq!(
        std::fs::read(tmp.path().join("clone/big.dat")).unwrap(),
        big
    );
    no_violations(&fake);

    // Removal finds keys in overflow releases too.
    repo.ok(&["git", "annex", "drop", "--from", "gh", "--force", "big.dat"]);
    let total: usize = releases(&fake).iter().map(|r| r.1).sum();
    assert_eq!(total, 60);
}

/// A spent anonymous budget whose reset is an hour away fails at once,
/// saying when it renews and that a token helps.
#[test]
fn a_spent_anonymous_budget_fails_at_once_saying_when() {
    let fake = FakeGithub::start(&["--release", "annexa/test:v1"]);
    fake.admin_with("POST", "asset?repo=annexa/test&tag=v1&name=a.txt", b"hello");
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("GITHUB_TOKEN", "");
    let out = init(&fake, &repo, "v1", &[]);
    assert!(out.status.success(), "{}", text(&out));
    fake.configure("anon_budget=0&anon_reset_in=3000");
    let started = Instant::now();
    let out = repo.run(&[
        "git",
        "annex",
        "fsck",
        "--fast",
        "--from",
        "gh",
        "--key",
        "SHA256E-s5--2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.txt",
    ]);
    let t = text(&out);
    assert!(started.elapsed().as_secs() < 30, "waited: {t}");
    assert!(t.contains("renews at") && t.contains("GITHUB_TOKEN"), "{t}");
}

/// Secondary rate limits (403, GitHub's message, no Retry-After) are
/// waited out, uploads and API requests alike (the wait shortened for the
/// test with ANNEXA_SECONDARY_LIMIT_WAIT).
#[test]
fn secondary_limits_without_retry_after_are_waited_out() {
    let fake = FakeGithub::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r"))
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("ANNEXA_SECONDARY_LIMIT_WAIT", "1");
    assert!(init(&fake, &repo, "data", &["createrelease=yes"])
        .status
        .success());
    let data = pseudo_random(5000, 9);
    repo.write("a.dat", &data);
    repo.ok(&["git", "annex", "add", "a.dat"]);
    fake.configure("secondary_bare=2");
    let started = Instant::now();
    let out = repo.run(&["git", "annex", "copy", "--to", "gh", "a.dat"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed().as_secs_f64() >= 1.0, "did not wait");
    assert!(fake.counts()["ratelimited"].as_u64().unwrap() >= 2);
    assert_eq!(fake.asset_names("data").len(), 1);
    repo.ok(&["git", "annex", "drop", "a.dat"]);
    fake.configure("secondary_bare=1");
    repo.ok(&["git", "annex", "get", "a.dat"]);
    assert_eq!(std::fs::read(tmp.path().join("r/a.dat")).unwrap(), data);
}

/// A name GitHub says is taken but lists nowhere (an unfinished upload,
/// cli/cli#4863) goes to the next release; without createrelease=yes the
/// error names the asset and what to do. A full release with
/// createrelease=no is refused at initremote.
#[test]
fn blocked_names_and_full_releases() {
    let fake = FakeGithub::start(&["--release", "annexa/test:v1"]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("GITHUB_TOKEN", GH_TOKEN);
    assert!(init(&fake, &repo, "v1", &["createrelease=yes"])
        .status
        .success());
    let data = pseudo_random(3000, 11);
    repo.write("a.dat", &data);
    repo.ok(&["git", "annex", "add", "a.dat"]);
    // initremote chose chunk=1GiB: the asset is the key's one chunk.
    let chunk = |key: String| key.trim().replacen("--", "-S1073741824-C1--", 1);
    let key = chunk(repo.ok(&["git", "annex", "lookupkey", "a.dat"]));
    fake.admin("POST", &format!("block?repo={GH_REPO}&tag=v1&name={key}"));
    let out = repo.run(&["git", "annex", "copy", "--to", "gh", "a.dat"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fake.asset_names("v1-annexa-2"),
        std::slice::from_ref(&key),
        "{:?} {}",
        releases(&fake),
        text(&out)
    );
    repo.ok(&["git", "annex", "drop", "a.dat"]);
    repo.ok(&["git", "annex", "get", "a.dat"]);

    // Without createrelease=yes: a clear error naming the asset.
    let other = Repo::init(&tmp.path().join("o")).env("GITHUB_TOKEN", GH_TOKEN);
    fake.admin("POST", &format!("release?repo={GH_REPO}&tag=w1"));
    assert!(init(&fake, &other, "w1", &[]).status.success());
    other.write("b.dat", &pseudo_random(3000, 12));
    other.ok(&["git", "annex", "add", "b.dat"]);
    let key = chunk(other.ok(&["git", "annex", "lookupkey", "b.dat"]));
    fake.admin("POST", &format!("block?repo={GH_REPO}&tag=w1&name={key}"));
    let out = other.run(&["git", "annex", "copy", "--to", "gh", "b.dat"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains(&key) && t.contains("blocked") && t.contains("createrelease=yes"),
        "{t}"
    );

    // A full release, createrelease=no: refused up front.
    fake.admin("POST", &format!("release?repo={GH_REPO}&tag=full"));
    for name in ["x1", "x2"] {
        fake.admin_with(
            "POST",
            &format!("asset?repo={GH_REPO}&tag=full&name={name}"),
            b"x",
        );
    }
    let third = Repo::init(&tmp.path().join("t"))
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("ANNEXA_GITHUB_ASSETS_PER_RELEASE", "2");
    let out = init(&fake, &third, "full", &[]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("createrelease=yes") && t.contains("full-annexa-2"),
        "{t}"
    );
}
