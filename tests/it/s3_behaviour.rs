//! What a user meets with an annexa S3 remote, end to end through real
//! git-annex and a real S3 API server (moto_server).

use crate::support::common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{pseudo_random, text as combined, Moto, Repo, AWS_SECRET};

fn initremote(repo: &Repo, moto: &Moto, name: &str, extra: &[&str]) {
    let endpoint = format!("endpoint={}", moto.endpoint());
    let bucket = format!("bucket=annexa-{name}");
    let params = ["provider=s3", "createbucket=yes", &bucket, &endpoint];
    repo.initremote_ok(name, &[&params[..], extra].concat());
}

fn add_file(repo: &Repo, name: &str, content: &[u8]) {
    repo.write(name, content);
    repo.ok(&["git", "annex", "add", "-q", name]);
    repo.ok(&["git", "commit", "-q", "-m", name]);
}

/// Lists object names in a bucket straight from the S3 API (moto does not
/// check signatures, so an unsigned listing works).
fn bucket_objects(moto: &Moto, bucket: &str) -> Vec<String> {
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("{}/{bucket}?list-type=2", moto.endpoint())])
        .output()
        .expect("curl runs");
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn copy_drop_get_roundtrip_with_spaces_and_multipart() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    // partsize=5MiB makes the 12 MiB file a 3-part multipart upload.
    initremote(&repo, &moto, "rt", &["partsize=5MiB", "prefix=annex/"]);
    let big = pseudo_random(12 << 20, 1);
    let small = pseudo_random(1000, 2);
    add_file(&repo, "big file.bin", &big);
    add_file(&repo, "dir with space/small.txt", &small);
    repo.ok(&["git", "annex", "copy", "-J4", "--to", "rt", "."]);
    let objects = bucket_objects(&moto, "annexa-rt");
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert!(
        objects.iter().all(|o| o.starts_with("annex/SHA256E-")),
        "{objects:?}"
    );
    repo.ok(&["git", "annex", "drop", "."]);
    assert!(
        !repo.dir.join("big file.bin").exists(),
        "content still present after drop"
    );
    repo.ok(&["git", "annex", "get", "-J4", "."]);
    assert_eq!(std::fs::read(repo.dir.join("big file.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(repo.dir.join("dir with space/small.txt")).unwrap(),
        small
    );
    repo.ok(&["git", "annex", "fsck", "--from", "rt", "."]);
    let whereis = repo.ok(&["git", "annex", "whereis", "big file.bin"]);
    assert!(
        whereis.contains("s3://annexa-rt/annex/SHA256E-"),
        "{whereis}"
    );
}

#[test]
fn dirhash_layout_and_remove() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "dh", &["layout=dirhash"]);
    add_file(&repo, "a.txt", b"alpha content");
    repo.ok(&["git", "annex", "copy", "--to", "dh", "a.txt"]);
    let objects = bucket_objects(&moto, "annexa-dh");
    assert_eq!(objects.len(), 1);
    let parts: Vec<&str> = objects[0].split('/').collect();
    assert_eq!(parts.len(), 3, "expected abc/def/KEY, got {}", objects[0]);
    assert!(parts[0].len() == 3 && parts[1].len() == 3);
    repo.ok(&["git", "annex", "drop", "--from", "dh", "a.txt"]);
    assert!(bucket_objects(&moto, "annexa-dh").is_empty());
}

#[test]
fn initremote_rejects_bad_parameters_clearly() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    let endpoint = format!("endpoint={}", moto.endpoint());
    let cases: &[(&[&str], &str)] = &[
        (&["bucket=annexa-x"], "provider=NAME is required"),
        (
            &["provider=nosuch", "bucket=annexa-x"],
            "unknown provider=nosuch",
        ),
        (&["provider=s3"], "bucket=NAME is required"),
        (
            &["provider=s3", "bucket=annexa-x", "layout=spiral"],
            "layout=spiral",
        ),
        (
            &["provider=s3", "bucket=annexa-x", "partsize=1k"],
            "partsize=1k",
        ),
        (
            &[
                "provider=s3",
                "bucket=annexa-x",
                "endpoint=http://127.0.0.1:1",
            ],
            "connection refused",
        ),
        // Issue 22: a misspelt bucket is not quietly created, and a name
        // outside S3's rules is said before any work.
        (
            &["provider=s3", "bucket=annexa-mispelt"],
            "check bucket= for a misspelling, or add createbucket=yes",
        ),
        (
            &["provider=s3", "bucket=My_Lab", "createbucket=yes"],
            "bucket=My_Lab: S3 bucket names have no uppercase letters",
        ),
    ];
    for (params, expected) in cases {
        let mut params = params.to_vec();
        if !params.iter().any(|p| p.starts_with("endpoint=")) {
            params.push(&endpoint);
        }
        let out = repo.initremote("bad", &params);
        let text = combined(&out);
        assert!(!out.status.success(), "{params:?} was accepted");
        assert!(text.contains(expected), "{params:?}: {text}");
    }
    let status = |bucket: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I"])
            .arg(format!("{}/{bucket}", moto.endpoint()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(status("annexa-mispelt"), "404", "not created");
    let params = ["provider=s3", "bucket=annexa-new", "createbucket=yes"];
    let out = repo.initremote_ok("bad", &[&params[..], &[&endpoint]].concat());
    assert!(
        out.contains(&format!("created bucket annexa-new at {}", moto.endpoint())),
        "{out}"
    );
    assert_eq!(status("annexa-new"), "200");
    // createbucket=yes was for that set-up: the remote's stored
    // configuration says no, so a clone's enableremote never makes the
    // bucket again where it went missing.
    let log = repo.ok(&["git", "cat-file", "blob", "git-annex:remote.log"]);
    let line = log
        .lines()
        .find(|l| l.contains("bucket=annexa-new"))
        .unwrap_or_else(|| panic!("no remote.log line: {log}"));
    assert!(line.contains("createbucket=no"), "{line}");
}

#[test]
fn credentials_are_stored_required_and_never_printed() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));

    // No credentials at all: a clear error, nothing set up.
    let endpoint = format!("endpoint={}", moto.endpoint());
    let out = repo
        .command(&[
            "git",
            "annex",
            "initremote",
            "nocreds",
            "type=external",
            "externaltype=annexa",
            "provider=s3",
            "createbucket=yes",
            "encryption=none",
            "bucket=annexa-nocreds",
            &endpoint,
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        combined(&out).contains("missing credentials: set AWS_ACCESS_KEY_ID"),
        "{}",
        combined(&out)
    );
    assert!(
        !combined(&out).contains("not enabled"),
        "{}",
        combined(&out)
    );

    // With credentials: stored by git-annex, used later without the env.
    initremote(&repo, &moto, "creds", &[]);
    add_file(&repo, "f.txt", b"some content for creds");
    // (git-annex's own --debug prints the protocol, CREDS included, so
    // only annexa's logging is turned up here.)
    let out = repo
        .command(&["git", "annex", "copy", "--to", "creds", "f.txt"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("ANNEXA_LOG", "trace")
        .output()
        .unwrap();
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains(AWS_SECRET),
        "the secret key appeared in output"
    );
    let objects = bucket_objects(&moto, "annexa-creds");
    assert_eq!(
        objects.len(),
        1,
        "stored credentials were not used: {objects:?}"
    );

    // Not embedded by default: the git-annex branch does not hold it.
    let branch = repo.ok(&["git", "log", "-p", "git-annex"]);
    assert!(!branch.contains(AWS_SECRET));
}

/// A clone autoenables the remotes it inherits; one it has no credentials
/// for is named once, with how to enable it: no set-up advice for a
/// remote the clone did not set up.
#[test]
fn a_clone_says_once_which_remote_it_could_not_enable() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "auto", &["autoenable=true"]);
    let clone_dir = tmp.path().join("clone");
    repo.ok(&[
        "git",
        "clone",
        "-q",
        repo.dir.to_str().unwrap(),
        clone_dir.to_str().unwrap(),
    ]);
    let clone = Repo::open(&clone_dir)
        .env("AWS_ACCESS_KEY_ID", common::AWS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
    let out = clone
        .command(&["git", "annex", "init", "clone"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    let said = "remote auto was not enabled (missing credentials): set AWS_ACCESS_KEY_ID";
    assert_eq!(text.matches(said).count(), 1, "{text}");
    assert!(text.contains("`git annex enableremote auto`"), "{text}");
    assert!(!text.contains("initremote"), "{text}");
    // With credentials, enabling works as told.
    clone.ok(&["git", "annex", "enableremote", "auto"]);
}

#[test]
fn embedcreds_lets_a_clone_read() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "emb", &["embedcreds=yes"]);
    add_file(&repo, "f.txt", b"embedded creds content");
    repo.ok(&["git", "annex", "copy", "--to", "emb", "f.txt"]);
    let clone_dir = tmp.path().join("clone");
    repo.ok(&[
        "git",
        "clone",
        "-q",
        repo.dir.to_str().unwrap(),
        clone_dir.to_str().unwrap(),
    ]);
    let clone = Repo::open(&clone_dir);
    clone.ok(&["git", "annex", "init", "-q", "clone"]);
    let out = clone
        .command(&["git", "annex", "enableremote", "emb"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", combined(&out));
    let out = clone
        .command(&["git", "annex", "get", "--from", "emb", "f.txt"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", combined(&out));
    assert_eq!(
        std::fs::read(clone_dir.join("f.txt")).unwrap(),
        b"embedded creds content"
    );
}

/// Finds running `git-annex-remote-annexa` processes started for `repo`.
fn remote_pids(repo: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if exe.ends_with("git-annex-remote-annexa") && cwd.starts_with(repo) {
            pids.push(pid);
        }
    }
    pids
}

fn partial_files(repo: &Path) -> Vec<(PathBuf, u64)> {
    let tmp = repo.join(".git/annex/tmp");
    std::fs::read_dir(tmp)
        .map(|d| {
            d.flatten()
                .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn killed_retrieve_resumes_and_verifies() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "kill", &[]);
    let content = pseudo_random(48 << 20, 7);
    add_file(&repo, "large.bin", &content);
    repo.ok(&["git", "annex", "copy", "--to", "kill", "large.bin"]);
    repo.ok(&["git", "annex", "drop", "large.bin"]);

    // A slow first attempt (bandwidth-limited) that we kill mid-way.
    let mut get = repo
        .command(&["git", "annex", "get", "large.bin"])
        .env("ANNEXA_MAX_RATE", "8MiB")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let killed_at = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "download never started"
        );
        let partial: u64 = partial_files(&repo.dir).iter().map(|(_, n)| n).sum();
        if partial > 8 << 20 {
            let pids = remote_pids(&repo.dir);
            assert!(!pids.is_empty(), "no remote process found");
            // As if the machine or the terminal went away: git-annex and
            // the remote die together, leaving the partial file behind.
            kill_group(get.id());
            for pid in pids {
                kill(pid);
            }
            break partial;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = get.wait().unwrap();
    assert!(
        !status.success(),
        "get succeeded although its remote was killed"
    );
    let left: u64 = partial_files(&repo.dir).iter().map(|(_, n)| n).sum();
    assert!(
        left >= killed_at && left < content.len() as u64,
        "partial file: {left}"
    );

    // The second attempt continues from the partial file.
    let out = repo
        .command(&["git", "annex", "get", "large.bin"])
        .env("ANNEXA_LOG", "annexa=debug")
        .output()
        .unwrap();
    let text = combined(&out);
    assert!(out.status.success(), "{text}");
    let resumed_from: u64 = text
        .split("resuming download from byte ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume in the second attempt:\n{text}"));
    assert!(resumed_from >= killed_at, "resumed from {resumed_from}");
    assert_eq!(std::fs::read(repo.dir.join("large.bin")).unwrap(), content);
    repo.ok(&["git", "annex", "fsck", "large.bin"]);
}

fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .status();
}

#[test]
fn public_bucket_reads_without_credentials() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "pub", &["public=yes"]);
    add_file(&repo, "open.txt", b"open data for everyone");
    repo.ok(&["git", "annex", "copy", "--to", "pub", "open.txt"]);
    let whereis = repo.ok(&["git", "annex", "whereis", "open.txt"]);
    let url = whereis
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no public URL in whereis: {whereis}"))
        .to_string();
    // The URL a person would use really serves the content.
    let out = std::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"open data for everyone");
    // Reading needs no credentials at all.
    repo.ok(&["git", "annex", "drop", "open.txt"]);
    let out = repo
        .command(&["git", "annex", "get", "open.txt"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", combined(&out));
}

#[test]
fn addurl_of_an_s3_url_is_claimed() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    initremote(&repo, &moto, "urls", &[]);
    // Put an object there the way another tool would.
    moto.put_object("annexa-urls/shared/data.csv", "a,b\n1,2\n");
    let out = repo.run(&[
        "git",
        "annex",
        "addurl",
        "--file",
        "data.csv",
        "s3://annexa-urls/shared/data.csv",
    ]);
    assert!(out.status.success(), "{}", combined(&out));
    assert_eq!(
        std::fs::read(repo.dir.join("data.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
    let whereis = repo.ok(&["git", "annex", "whereis", "data.csv"]);
    assert!(whereis.contains("urls"), "{whereis}");
}

#[test]
fn a_bucket_in_another_region_is_found_and_remembered() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo"));
    // Made by someone else, in eu-west-1; the user does not say so.
    let made = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/xml",
            "--data",
            "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
            &format!("{}/annexa-elsewhere", moto.endpoint()),
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let out = repo.initremote(
        "far",
        &[
            "provider=s3",
            "createbucket=yes",
            "bucket=annexa-elsewhere",
            &format!("endpoint={}", moto.endpoint()),
        ],
    );
    assert!(out.status.success(), "{}", combined(&out));
    let log = repo.ok(&["git", "show", "git-annex:remote.log"]);
    assert!(log.contains("region=eu-west-1"), "{log}");
    add_file(&repo, "far.txt", b"far away");
    repo.ok(&["git", "annex", "copy", "--to", "far", "far.txt"]);
    repo.ok(&["git", "annex", "drop", "far.txt"]);
    repo.ok(&["git", "annex", "get", "far.txt"]);

    // A region the user gives is kept as given.
    let out = repo.initremote(
        "given",
        &[
            "provider=s3",
            "createbucket=yes",
            "bucket=annexa-elsewhere",
            "region=us-west-2",
            &format!("endpoint={}", moto.endpoint()),
        ],
    );
    assert!(out.status.success(), "{}", combined(&out));
    let log = repo.ok(&["git", "show", "git-annex:remote.log"]);
    assert!(log.contains("region=us-west-2"), "{log}");
}

/// Issue 22: a dead server costs one failure per command, not minutes per
/// key, and every failure says which endpoint and why.
#[test]
fn a_stopped_or_silent_server_fails_fast_naming_the_endpoint() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("repo")).env("ANNEXA_TIMEOUT", "3");
    initremote(&repo, &moto, "dead", &[]);
    let files: Vec<String> = (0..8).map(|i| format!("f{i}.dat")).collect();
    for (i, f) in files.iter().enumerate() {
        add_file(&repo, f, &pseudo_random(100, i as u64 + 40));
    }
    repo.ok(&["git", "annex", "copy", "-J4", "--to", "dead", "."]);
    repo.ok(&["git", "annex", "drop", "."]);
    let port = moto.port;
    let endpoint = format!("http://127.0.0.1:{port}");
    drop(moto);

    // Stopped: connection refused, tried twice, then every key fails at once.
    let started = Instant::now();
    let out = repo.run(&["git", "annex", "get", "-J1", "."]);
    let took = started.elapsed();
    let text = combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(took < Duration::from_secs(30), "took {took:?}: {text}");
    let named = format!("{endpoint}: connection refused");
    assert!(
        text.matches(&named).count() >= files.len(),
        "each failure names the endpoint and the cause: {text}"
    );
    assert!(text.contains("the port wrong"), "{text}");

    // Silent: accepts connections and never answers. One key's get ends
    // within 2 x ANNEXA_TIMEOUT.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let out = repo.run(&["git", "annex", "get", &files[0]]);
    let took = started.elapsed();
    let text = combined(&out);
    assert!(!out.status.success(), "{text}");
    assert!(took < Duration::from_secs(6), "took {took:?}: {text}");
    assert!(
        text.contains(&format!("{endpoint}: the server accepted")),
        "{text}"
    );
}
