//! kill -9 at seeded points of `git annex copy -J8`, `git annex get -J8` and
//! `annexa get`, then run again: everything completes and verifies, and no
//! half-written file is ever visible where the content goes (the bucket,
//! the worktree, the `--to` folder).
//!
//! Kill points are fractions (from the seed) of how long an uninterrupted
//! run took on this machine, so they land mid-run on any machine; nothing
//! asserted depends on time. `make test` runs a few rounds, `make soak`
//! (`ANNEXA_SOAK=long`) more.

use crate::support::bids as support_bids;
use crate::support::common;
use crate::support::faults as support_faults;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{pseudo_random, Moto};
use support_bids::{files_under, Builder};
use support_faults::{
    kill, kill_group, remote_pids, repo_with_s3_remote, report, run_bounded, Rng,
};

fn rounds(short: usize, long: usize) -> usize {
    if std::env::var("ANNEXA_SOAK").is_ok_and(|v| v == "long") {
        long
    } else {
        short
    }
}

const LIMIT: Duration = Duration::from_secs(300);

/// Starts `cmd` in its own process group, waits `after`, then kills the
/// group and every remote working in `dir` with SIGKILL. Returns whether it
/// had already finished.
fn kill_after(cmd: &mut Command, after: Duration, dir: &Path) -> bool {
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    kill_group(child.id());
    for pid in remote_pids(dir) {
        kill(pid);
    }
    child.wait().unwrap();
    // Killed, not yet gone: git-annex's locks are free once every process
    // of the group has exited, as they would be when a user runs it again.
    let gone = Instant::now();
    while group_alive(child.id()) {
        assert!(
            gone.elapsed() < Duration::from_secs(30),
            "killed processes linger"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

use std::os::unix::process::CommandExt;

/// Whether any process of group `pgid` still has a thread that has not
/// exited. A killed multi-threaded process (git-annex) shows as a zombie as
/// soon as its main thread is gone, but keeps its files, and so its locks,
/// until its last thread has exited.
fn group_alive(pgid: u32) -> bool {
    let fields = |stat: &str| -> Option<(String, String)> {
        // After the command name: state, ppid, pgrp.
        let (_, rest) = stat.rsplit_once(')')?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some((f.first()?.to_string(), f.get(2)?.to_string()))
    };
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, group)) = fields(&stat) else {
            return false;
        };
        if group != pgid.to_string() {
            return false;
        }
        std::fs::read_dir(entry.path().join("task"))
            .map(|tasks| {
                tasks.flatten().any(|t| {
                    let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                    fields(&stat).is_some_and(|(state, _)| state != "Z" && state != "X")
                })
            })
            .unwrap_or(false)
    })
}

/// Runs `cmd` to the end and returns how long it took; it must succeed.
fn timed_ok(cmd: &mut Command, what: &str) -> Duration {
    let started = Instant::now();
    let out = run_bounded(cmd, LIMIT);
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// Runs `cmd` after a kill: it completes, or fails only on git-annex's
/// transfer-lock note (see docs/reliability.md), and then the next run
/// completes. Returns whether the lock note was met.
fn rerun_after_kill(mut cmd: impl FnMut() -> Command, what: &str) -> bool {
    let out = run_bounded(&mut cmd(), LIMIT);
    if out.status.success() {
        return false;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("transfer already in progress, or unable to take transfer lock"),
        "{what} failed:\n{text}"
    );
    timed_ok(&mut cmd(), what);
    true
}

/// A point inside a run that took `full`: between 5 % and 95 % of it.
fn kill_point(rng: &mut Rng, full: Duration) -> Duration {
    full.mul_f64(rng.range(5, 95) as f64 / 100.0)
}

const MOTO_AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=AKIAANNEXATEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// Every object in the bucket, read straight from moto, is whole: its
/// content hashes to the key it is stored under.
fn bucket_objects_are_whole(moto: &Moto, bucket: &str) -> usize {
    use sha2::Digest;
    let list = Command::new("curl")
        .args(["-sf", &format!("{}/{bucket}?list-type=2", moto.endpoint())])
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&list.stdout).into_owned();
    let names: Vec<String> = xml
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect();
    for name in &names {
        let got = Command::new("curl")
            // moto checks that a request is signed, not the signature.
            .args(["-s", "-D", "-", "-H", MOTO_AUTH])
            .arg(format!("{}/{bucket}/{name}", moto.endpoint()))
            .output()
            .unwrap()
            .stdout;
        let split = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
        let (head, body) = (
            String::from_utf8_lossy(&got[..split]),
            &got[(split + 4).min(got.len())..],
        );
        let hash = hex::encode(sha2::Sha256::digest(body));
        assert!(
            name.contains(&format!("--{hash}")),
            "{name} in the bucket is not its key's content ({} bytes)\n{head}",
            body.len()
        );
    }
    names.len()
}

#[test]
fn git_annex_copy_and_get_killed_at_seeded_points_complete_when_run_again() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    // A small part size makes the larger files multipart uploads, so kills
    // also land between parts.
    let repo = repo_with_s3_remote(
        tmp.path(),
        &moto.endpoint(),
        "annexa-kill",
        &["partsize=5MiB"],
    );
    let mut rng = Rng::new(11);
    for i in 0..16 {
        let size = rng.range(200_000, 3_000_000) as usize;
        repo.write(&format!("f{i:02}.bin"), &pseudo_random(size, 100 + i));
    }
    repo.write("big.bin", &pseudo_random(12 << 20, 99));
    repo.ok(&["git", "annex", "add", "-q", "."]);
    repo.ok(&["git", "commit", "-q", "-m", "files"]);
    // Slowed so that the runs last long enough to be cut anywhere.
    let slow = |argv: &[&str]| {
        let mut cmd = repo.command(argv);
        cmd.env("ANNEXA_MAX_RATE", "6MiB");
        cmd
    };
    let copy = ["git", "annex", "copy", "--to", "R", "-J8", "."];
    let get = ["git", "annex", "get", "-J8", "."];
    let copy_time = timed_ok(&mut slow(&copy), "copy");
    repo.ok(&["git", "annex", "drop", "-J8", "."]);
    let get_time = timed_ok(&mut slow(&get), "get");
    repo.ok(&["git", "annex", "drop", "--from", "R", "-J8", "."]);

    let n = rounds(3, 12);
    let mut finished_before_kill = 0;
    let mut lock_refusals = 0;
    for _ in 0..n {
        if kill_after(&mut slow(&copy), kill_point(&mut rng, copy_time), &repo.dir) {
            finished_before_kill += 1;
        }
        bucket_objects_are_whole(&moto, "annexa-kill");
        lock_refusals += rerun_after_kill(|| slow(&copy), "copy after a kill") as usize;
        assert_eq!(bucket_objects_are_whole(&moto, "annexa-kill"), 17);
        repo.ok(&["git", "annex", "fsck", "--from", "R", "--fast", "-q", "."]);

        repo.ok(&["git", "annex", "drop", "-J8", "."]);
        if kill_after(&mut slow(&get), kill_point(&mut rng, get_time), &repo.dir) {
            finished_before_kill += 1;
        }
        // What is present after the kill is whole (fsck checks only
        // present content, and fails on any that does not verify).
        repo.ok(&["git", "annex", "fsck", "-q", "."]);
        lock_refusals += rerun_after_kill(|| slow(&get), "get after a kill") as usize;
        repo.ok(&["git", "annex", "fsck", "-q", "."]);
        let missing = repo.ok(&["git", "annex", "find", "--not", "--in", "here"]);
        assert!(missing.trim().is_empty(), "not got: {missing}");
        repo.ok(&["git", "annex", "drop", "--from", "R", "-J8", "."]);
    }
    report(
        "kill_git_annex",
        serde_json::json!({
            "rounds": n,
            "kills": 2 * n,
            "finished_before_kill": finished_before_kill,
            "reruns_refused_by_a_transfer_lock": lock_refusals,
            "uninterrupted_copy_ms": copy_time.as_millis() as u64,
            "uninterrupted_get_ms": get_time.as_millis() as u64,
        }),
    );
}

#[test]
fn annexa_get_killed_at_seeded_points_completes_when_run_again() {
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02", "sub-03", "sub-04", "sub-05", "sub-06"])
        .build();
    let origin = ds.origin.to_str().unwrap();
    let expected = ds.ls(&[]);
    let annexa = |out: &Path, cache: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_annexa"));
        cmd.arg("--cache").arg(cache).args([
            "get",
            origin,
            "--to",
            out.to_str().unwrap(),
            "--jobs",
            "4",
        ]);
        cmd
    };
    let check_whole = |out: &Path| {
        if !out.exists() {
            return;
        }
        for rel in files_under(out) {
            if !rel.ends_with(".annexa-part") {
                assert_eq!(
                    std::fs::read(out.join(&rel)).unwrap(),
                    ds.origin_content(&rel),
                    "{rel} is visible but not whole"
                );
            }
        }
    };
    let full = timed_ok(
        &mut annexa(&ds.path("warm"), &ds.path("warm-cache")),
        "annexa get",
    );
    let mut rng = Rng::new(12);
    let n = rounds(4, 20);
    let mut finished_before_kill = 0;
    let mut lock_refusals = 0;
    for round in 0..n {
        // Each round starts without a cache or an output, so kills land
        // anywhere: while cloning, fetching into the cache, or writing out.
        let out = ds.path(&format!("out{round}"));
        let cache = ds.path(&format!("cache{round}"));
        if kill_after(
            &mut annexa(&out, &cache),
            kill_point(&mut rng, full),
            &cache,
        ) {
            finished_before_kill += 1;
        }
        check_whole(&out);
        lock_refusals +=
            rerun_after_kill(|| annexa(&out, &cache), "annexa get after a kill") as usize;
        let files = files_under(&out);
        assert_eq!(files, expected, "left over or missing after the rerun");
        check_whole(&out);
    }
    report(
        "kill_annexa_get",
        serde_json::json!({
            "rounds": n,
            "finished_before_kill": finished_before_kill,
            "reruns_refused_by_a_transfer_lock": lock_refusals,
            "uninterrupted_ms": full.as_millis() as u64,
        }),
    );
}

/// `annexa get s3://...` downloads into the cache while the listing still
/// arrives (src/dataset/listed.rs): killed anywhere (listing, fetching,
/// copying), nothing half-written is visible in the target, and the next
/// run completes with every file whole and leaves no lock file per key.
#[test]
fn annexa_get_from_s3_killed_at_seeded_points_completes_when_run_again() {
    use crate::support::s3::{fill_bucket, put};
    let moto = Moto::start();
    let mut content = std::collections::BTreeMap::new();
    content.insert(
        "dataset_description.json".to_string(),
        "{\"Name\": \"k\"}\n".to_string(),
    );
    content.insert(
        "participants.tsv".to_string(),
        "participant_id\n".to_string(),
    );
    for n in 1..=8 {
        let sub = format!("sub-{n:02}");
        // Images large enough that kills land mid-download.
        let image = format!("{sub} image ").repeat((3 << 20) / 15);
        content.insert(format!("{sub}/anat/{sub}_T1w.nii.gz"), image);
        content.insert(
            format!("{sub}/anat/{sub}_T1w.json"),
            format!("{{\"n\": {n}}}\n"),
        );
        content.insert(
            format!("{sub}/func/{sub}_task-rest_bold.nii.gz"),
            format!("{sub} bold\n"),
        );
    }
    let ops: Vec<_> = content
        .iter()
        .map(|(p, c)| put(&format!("ds/{p}"), c))
        .collect();
    fill_bucket(&moto, "killed", &ops);
    let tmp = tempfile::tempdir().unwrap();
    let annexa = |out: &Path, cache: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_annexa"));
        cmd.arg("--cache")
            .arg(cache)
            .args([
                "get",
                "s3://killed/ds",
                "--suffix",
                "T1w",
                "--jobs",
                "4",
                "--to",
            ])
            .arg(out)
            .env("AWS_ENDPOINT_URL_S3", moto.endpoint())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        cmd
    };
    let check_whole = |out: &Path| {
        if !out.exists() {
            return;
        }
        for rel in files_under(out) {
            if !rel.ends_with(".annexa-part") {
                assert!(
                    std::fs::read(out.join(&rel)).unwrap() == content[&rel].as_bytes(),
                    "{rel} is visible but not whole"
                );
            }
        }
    };
    let warm = tmp.path().join("warm");
    let full = timed_ok(
        &mut annexa(&warm, &tmp.path().join("warm-cache")),
        "annexa get",
    );
    let expected = files_under(&warm);
    assert!(
        expected.contains(&"sub-08/anat/sub-08_T1w.nii.gz".to_string()),
        "{expected:?}"
    );
    assert!(!expected.iter().any(|p| p.contains("bold")), "{expected:?}");
    check_whole(&warm);
    let mut rng = Rng::new(21);
    let n = rounds(3, 15);
    let mut finished_before_kill = 0;
    for round in 0..n {
        let out = tmp.path().join(format!("out{round}"));
        let cache = tmp.path().join(format!("cache{round}"));
        if kill_after(
            &mut annexa(&out, &cache),
            kill_point(&mut rng, full),
            &cache,
        ) {
            finished_before_kill += 1;
        }
        check_whole(&out);
        timed_ok(&mut annexa(&out, &cache), "annexa get after a kill");
        assert_eq!(
            files_under(&out),
            expected,
            "left over or missing after the rerun"
        );
        check_whole(&out);
        let locks: Vec<_> = walkdir::WalkDir::new(&cache)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".annexa-lock"))
            .map(|e| e.path().display().to_string())
            .collect();
        assert!(locks.is_empty(), "lock files left in the cache: {locks:?}");
    }
    report(
        "kill_annexa_get_s3",
        serde_json::json!({
            "rounds": n,
            "finished_before_kill": finished_before_kill,
            "uninterrupted_ms": full.as_millis() as u64,
        }),
    );
}
