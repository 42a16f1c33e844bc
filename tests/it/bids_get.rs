//! `annexa get`: real files, re-runs, shared keys, `--drop-after`,
//! per-file failures, `--direct`, JSON records, concurrent use of the cache.

use crate::support::bids as support_bids;

use std::fs;
use std::path::Path;
use support_bids::{datalad, files_under, git, lines, mode, sh, write_files, Builder, Fixture};

fn get(ds: &Fixture, out: &Path, args: &[&str]) -> std::process::Output {
    let origin = ds.origin.to_str().unwrap();
    let mut full = vec!["get", origin, "--to", out.to_str().unwrap()];
    full.extend_from_slice(args);
    ds.annexa(&full)
}

fn json_records(stdout: &[u8]) -> Vec<serde_json::Value> {
    lines(stdout)
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn status_of<'a>(records: &'a [serde_json::Value], path: &str) -> &'a str {
    records
        .iter()
        .find(|r| r["path"] == path)
        .and_then(|r| r["status"].as_str())
        .unwrap_or_else(|| panic!("no record for {path}"))
}

#[test]
fn get_writes_real_files_with_the_origin_content() {
    let unlocked = "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz";
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01", "sub-02"])
        .unlocked(&[unlocked])
        .build();
    let pointer = sh(git(&ds.origin).args(["cat-file", "-p", &format!("HEAD:{unlocked}")]));
    assert!(
        pointer.starts_with("/annex/objects/"),
        "fixture: {unlocked} is unlocked"
    );
    let out = ds.path("out");
    let result = get(
        &ds,
        &out,
        &["--sub", "01,02", "--suffix", "T1w", "--jobs", "2"],
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );

    let listed = ds.ls(&["--sub", "01,02", "--suffix", "T1w"]);
    let written = files_under(&out); // also asserts there is no symlink
    assert_eq!(written, listed);
    assert!(written.contains(&unlocked.to_string()));
    for rel in &written {
        assert_eq!(
            fs::read(out.join(rel)).unwrap(),
            ds.origin_content(rel),
            "{rel}"
        );
        assert_eq!(mode(&out.join(rel)), 0o644, "{rel}");
    }
    // Piped output: the paths, then a summary on stderr.
    let mut stdout = lines(&result.stdout);
    stdout.sort();
    assert_eq!(stdout, listed);
    let summary = String::from_utf8_lossy(&result.stderr);
    assert!(
        summary.contains(&format!("{} files", listed.len())),
        "{summary}"
    );
    assert!(!out.read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".annexa-part")));

    // The cache is a no-checkout clone: no working-tree files at all.
    let repo = ds.cached_repo();
    let top: Vec<String> = fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, vec![".git"]);
}

#[test]
fn rerun_after_interrupted_get_fetches_only_what_is_missing() {
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02"])
        .build();
    let out = ds.path("out");
    let args = ["--datatype", "func", "--run", "1,2", "--json"];
    let first = get(&ds, &out, &args);
    assert!(first.status.success());
    let data: Vec<String> = json_records(&first.stdout)
        .iter()
        .filter(|r| r["key"].is_string())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert!(data.len() >= 4, "{data:?}");

    // Leave the state an interrupted run leaves: one file missing with its
    // content still downloading (key dropped from the cache), one file cut
    // short, a temporary part-file, one JSON sidecar missing.
    let missing = &data[0];
    let truncated = &data[1];
    let untouched = &data[2];
    let missing_key = ls_key(&ds, missing);
    let repo = ds.cached_repo();
    sh(git(&repo).args(["annex", "drop", "--force", "--key", &missing_key]));
    fs::remove_file(out.join(missing)).unwrap();
    let part = out.join(missing).with_file_name(format!(
        ".{}.annexa-part",
        Path::new(missing).file_name().unwrap().to_string_lossy()
    ));
    fs::write(&part, "half").unwrap();
    fs::write(out.join(truncated), "cut").unwrap();
    fs::remove_file(out.join("dataset_description.json")).unwrap();

    // annexa itself never leaves a short file under its final name (it
    // writes part-files and renames), so a differing file was changed
    // behind its back: refused, nothing written, until --force.
    let refused = get(&ds, &out, &args);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains(truncated.as_str()));
    assert!(!out.join("dataset_description.json").exists());
    let args = [&args[..], &["--force"]].concat();

    let second = get(&ds, &out, &args);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let records = json_records(&second.stdout);
    assert_eq!(status_of(&records, missing), "written");
    assert_eq!(status_of(&records, truncated), "written");
    assert_eq!(status_of(&records, untouched), "skipped");
    assert_eq!(status_of(&records, "dataset_description.json"), "written");
    assert_eq!(status_of(&records, "participants.tsv"), "skipped");
    let summary = records.last().unwrap();
    assert_eq!(summary["summary"]["written"], 3);
    assert_eq!(summary["summary"]["failed"], 0);
    for rel in [missing, truncated, untouched] {
        assert_eq!(fs::read(out.join(rel)).unwrap(), ds.origin_content(rel));
    }
    assert!(
        !part.exists(),
        "the stale part-file is replaced, not left behind"
    );

    // A third run has nothing to do.
    let third = json_records(&get(&ds, &out, &args).stdout);
    assert_eq!(third.last().unwrap()["summary"]["written"], 0);
}

fn ls_key(ds: &Fixture, path: &str) -> String {
    let origin = ds.origin.to_str().unwrap();
    let records = json_records(
        ds.annexa(&[
            "ls",
            origin,
            "--json",
            "--root-files",
            "none",
            "--no-inherit",
        ])
        .stdout
        .as_slice(),
    );
    records
        .iter()
        .find(|r| r["path"] == path)
        .and_then(|r| r["key"].as_str())
        .unwrap_or_else(|| panic!("no key for {path}"))
        .to_string()
}

#[test]
fn drop_after_keeps_shared_keys_until_every_path_is_written() {
    let a = "sub-01/ses-1/fmap/sub-01_ses-1_run-1_magnitude1.nii.gz";
    let b = "sub-01/ses-2/fmap/sub-01_ses-2_run-1_magnitude1.nii.gz";
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01"])
        .same_content(&[a, b])
        .build();
    let key = ls_key(&ds, a);
    assert_eq!(key, ls_key(&ds, b), "fixture: both paths share one key");

    let out = ds.path("out");
    let result = get(
        &ds,
        &out,
        &[
            "--suffix",
            "magnitude1",
            "--run",
            "1",
            "--drop-after",
            "--json",
        ],
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let records = json_records(&result.stdout);
    assert_eq!(status_of(&records, a), "written");
    assert_eq!(status_of(&records, b), "written");
    assert_eq!(fs::read(out.join(a)).unwrap(), ds.origin_content(a));
    assert_eq!(fs::read(out.join(b)).unwrap(), ds.origin_content(b));

    // Every fetched key has left the cache again.
    let repo = ds.cached_repo();
    let present = sh(git(&repo).args([
        "annex",
        "find",
        "--in=here",
        "--format=${key}\\n",
        "--branch=HEAD",
    ]));
    assert!(
        !present.contains(&key),
        "shared key still cached: {present}"
    );
    let in_ls = ds.annexa(&[
        "ls",
        ds.origin.to_str().unwrap(),
        "--suffix",
        "magnitude1",
        "--json",
    ]);
    let annexed: Vec<serde_json::Value> = json_records(&in_ls.stdout)
        .into_iter()
        .filter(|r| r["key"].is_string())
        .collect();
    assert_eq!(annexed.len(), 4);
    assert!(annexed.iter().all(|r| r["cached"] == false), "{annexed:?}");

    // Without --drop-after the content stays for the next call.
    let out2 = ds.path("out2");
    assert!(get(&ds, &out2, &["--suffix", "magnitude1", "--run", "1"])
        .status
        .success());
    let present = sh(git(&repo).args([
        "annex",
        "find",
        "--in=here",
        "--format=${key}\\n",
        "--branch=HEAD",
    ]));
    assert!(present.contains(&key));
}

#[test]
fn a_failed_file_is_named_and_the_others_still_arrive() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let lost = "sub-01/anat/sub-01_T1w.nii.gz";
    // The only copy disappears from the origin.
    sh(git(&ds.origin).args(["annex", "drop", "--force", lost]));
    let out = ds.path("out");
    let result = get(&ds, &out, &["--datatype", "anat"]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains(lost) && stderr.contains("FAILED"),
        "{stderr}"
    );
    assert!(!out.join(lost).exists());
    let inplane = "sub-01/anat/sub-01_inplaneT2.nii.gz";
    assert_eq!(
        fs::read(out.join(inplane)).unwrap(),
        ds.origin_content(inplane)
    );
    assert!(out.join("dataset_description.json").is_file());

    let json = json_records(&get(&ds, &out, &["--datatype", "anat", "--json"]).stdout);
    let failed = json.iter().find(|r| r["path"] == lost).unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(!failed["error"].as_str().unwrap().is_empty());
    assert_eq!(json.last().unwrap()["summary"]["failed"], 1);
}

#[test]
fn dry_run_changes_nothing() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let result = get(&ds, &out, &["--suffix", "T1w", "--dry-run"]);
    assert!(result.status.success());
    let plan = lines(&result.stdout);
    assert!(
        plan.contains(&"would-fetch\tsub-01/anat/sub-01_T1w.nii.gz".to_string()),
        "{plan:?}"
    );
    assert!(plan.contains(&"would-copy\tdataset_description.json".to_string()));
    assert!(!out.exists());
    // Totals: what would be fetched, what the cache already holds.
    let summary = String::from_utf8_lossy(&result.stderr);
    let fetching = plan.iter().filter(|l| l.starts_with("would-fetch")).count();
    assert!(
        summary.contains(&format!("{fetching} to fetch")),
        "{summary}"
    );
    assert!(summary.contains("to copy from the cache"), "{summary}");
    let json = get(&ds, &out, &["--suffix", "T1w", "--dry-run", "--json"]);
    let records = json_records(&json.stdout);
    let totals = &records.last().unwrap()["summary"];
    assert_eq!(totals["would_fetch"]["files"], fetching as u64);
    assert!(totals["would_fetch"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn direct_makes_the_folder_a_clone_with_selected_content_unlocked() {
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02"])
        .build();
    let out = ds.path("direct");
    let result = get(&ds, &out, &["--sub", "01", "--suffix", "T1w", "--direct"]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let chosen = out.join("sub-01/anat/sub-01_T1w.nii.gz");
    let meta = fs::symlink_metadata(&chosen).unwrap();
    assert!(meta.file_type().is_file(), "selected file is a real file");
    assert_eq!(
        fs::read(&chosen).unwrap(),
        ds.origin_content("sub-01/anat/sub-01_T1w.nii.gz")
    );
    // The rest of the dataset is there, without content.
    let other = out.join("sub-02/anat/sub-02_T1w.nii.gz");
    assert!(fs::symlink_metadata(&other)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(
        fs::metadata(&other).is_err(),
        "unselected content is not fetched"
    );
    let origin_url = sh(git(&out).args(["config", "remote.origin.url"]));
    assert_eq!(Path::new(origin_url.trim()), ds.origin.as_path());
    // A second run into the same clone works and adds to it.
    let again = get(&ds, &out, &["--sub", "02", "--suffix", "T1w", "--direct"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(fs::symlink_metadata(&other).unwrap().file_type().is_file());
}

#[test]
fn two_processes_share_the_cache_safely() {
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02", "sub-03"])
        .build();
    let origin = ds.origin.to_str().unwrap().to_string();
    let spawn = |name: &str| {
        let out = ds.path(name);
        std::process::Command::new(env!("CARGO_BIN_EXE_annexa"))
            .arg("--cache")
            .arg(&ds.cache)
            .args(["get", &origin, "--to"])
            .arg(&out)
            .args(["--datatype", "func"])
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("a"));
        let b = s.spawn(|| spawn("b"));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(files_under(&ds.path("a")), files_under(&ds.path("b")));
    let list = ds.annexa_ok(&["cache", "list"]);
    assert_eq!(list.len(), 1, "one clone for one source: {list:?}");
}

/// `annexa get` of the whole dataset, one download at a time, stdout piped.
fn spawn_get_one_at_a_time(
    ds: &Fixture,
    out: &Path,
    stderr: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_annexa"))
        .arg("--cache")
        .arg(&ds.cache)
        .args(["get", ds.origin.to_str().unwrap(), "--to"])
        .arg(out)
        .args(["--jobs", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_get_leaves_no_half_file_and_a_rerun_completes() {
    use std::io::BufRead;
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02", "sub-03"])
        .build();
    let out = ds.path("out");
    let mut child = spawn_get_one_at_a_time(&ds, &out, std::process::Stdio::null());
    // Kill it as soon as the first file is reported: mid-run on any machine
    // where the batch takes longer than one file.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!first.trim().is_empty());
    // Whatever arrived under its real name is complete.
    for rel in files_under(&out) {
        if !rel.ends_with(".annexa-part") {
            assert_eq!(
                fs::read(out.join(&rel)).unwrap(),
                ds.origin_content(&rel),
                "{rel}"
            );
        }
    }
    let rerun = get(&ds, &out, &[]);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let listed = ds.ls(&[]);
    // No temporary file is left either: each is replaced by its real file.
    assert_eq!(files_under(&out), listed);
    for rel in &listed {
        assert_eq!(
            fs::read(out.join(rel)).unwrap(),
            ds.origin_content(rel),
            "{rel}"
        );
    }
}

#[test]
fn get_never_writes_through_a_symlink_in_the_target() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let elsewhere = ds.path("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    // A link where the dataset has a folder, e.g. left by another version.
    fs::create_dir_all(out.join("sub-01/ses-1")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("sub-01/ses-1/anat")).unwrap();
    let result = get(&ds, &out, &["--sub", "01", "--suffix", "T1w"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        !result.status.success(),
        "a write through a link was reported as done: {stderr}"
    );
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "something was written through the link"
    );
}

#[test]
fn manifest_records_delivery_and_verify_catches_changes() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let manifest = ds.path("delivered.jsonl");
    let result = get(
        &ds,
        &out,
        &[
            "--sub",
            "01",
            "--suffix",
            "T1w",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let delivered = files_under(&out);
    let entries: Vec<serde_json::Value> = fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<String> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, delivered,
        "the manifest lists exactly what was delivered"
    );
    assert!(entries
        .iter()
        .all(|e| e["checksum"].as_str().unwrap().contains(':')));

    let verify = |args: &[&str]| {
        let mut full = vec!["verify", out.to_str().unwrap(), "--manifest"];
        full.push(manifest.to_str().unwrap());
        full.extend_from_slice(args);
        ds.annexa(&full)
    };
    let ok = verify(&[]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Change one file's bytes (same size) and remove another.
    let data: Vec<&String> = delivered
        .iter()
        .filter(|p| p.ends_with(".nii.gz"))
        .collect();
    let changed = out.join(data[0]);
    let mut bytes = fs::read(&changed).unwrap();
    bytes[0] ^= 0xff;
    fs::write(&changed, &bytes).unwrap();
    let gone = delivered.iter().find(|p| p.ends_with(".json")).unwrap();
    fs::remove_file(out.join(gone)).unwrap();
    let bad = verify(&[]);
    let report = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!("changed: {}", data[0])),
        "{report}"
    );
    assert!(report.contains(&format!("missing: {gone}")), "{report}");
}

#[test]
fn four_concurrent_shards_deliver_exactly_the_unsharded_selection() {
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"])
        .build();
    let origin = ds.origin.to_str().unwrap().to_string();
    // Warm the cache once (the clone itself is exclusive), then 4 shards at
    // once on the same cache entry and the same target.
    ds.annexa_ok(&["ls", &origin]);
    let sharded = ds.path("sharded");
    let filters = ["--suffix", "T1w,bold", "--jobs", "2"];
    for by in ["subject", "file"] {
        let _ = fs::remove_dir_all(&sharded);
        let children: Vec<_> = (1..=4)
            .map(|k| {
                let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_annexa"));
                cmd.env("GIT_AUTHOR_NAME", "t")
                    .env("GIT_AUTHOR_EMAIL", "t@localhost")
                    .env("GIT_COMMITTER_NAME", "t")
                    .env("GIT_COMMITTER_EMAIL", "t@localhost")
                    .arg("--cache")
                    .arg(&ds.cache)
                    .args(["get", &origin, "--to", sharded.to_str().unwrap()])
                    .args(filters)
                    .args(["--shard", &format!("{k}/4"), "--shard-by", by])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let mut delivered_by_shards = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "a shard failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            delivered_by_shards.extend(lines(&out.stdout));
        }
        let mut sorted = delivered_by_shards.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            delivered_by_shards.len(),
            "shards overlapped ({by})"
        );

        let whole = ds.path(&format!("whole-{by}"));
        let result = get(&ds, &whole, &filters);
        assert!(result.status.success());
        assert_eq!(files_under(&sharded), files_under(&whole), "{by}");
        for rel in files_under(&whole) {
            assert_eq!(
                fs::read(sharded.join(&rel)).unwrap(),
                fs::read(whole.join(&rel)).unwrap(),
                "{rel}"
            );
        }
    }
}

#[test]
fn files_that_differ_in_the_target_are_never_replaced_unasked() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let args = ["--sub", "01", "--suffix", "T1w"];
    assert!(get(&ds, &out, &args).status.success());
    let data = files_under(&out)
        .into_iter()
        .find(|p| p.ends_with(".nii.gz"))
        .unwrap();
    let mine = b"my own edited file, not the dataset's";
    fs::write(out.join(&data), mine).unwrap();

    let again = get(&ds, &out, &args);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "{stderr}");
    assert!(
        stderr.contains(&data) && stderr.contains("--force"),
        "{stderr}"
    );
    // Issue 22: an edit of the user's is called one, not a new version.
    assert!(stderr.contains("were changed there"), "{stderr}");
    assert!(!stderr.contains("changed in the source"), "{stderr}");
    assert_eq!(fs::read(out.join(&data)).unwrap(), mine, "replaced unasked");

    let forced = get(&ds, &out, &[&args[..], &["--force"]].concat());
    assert!(forced.status.success());
    assert_eq!(fs::read(out.join(&data)).unwrap(), ds.origin_content(&data));
}

/// Binary content, so DataLad's text2git configuration annexes it.
fn image(label: &str) -> String {
    format!("\u{0}\u{1}image {label}\u{0}")
}

/// Every path below `dir` outside `.git` folders, relative, for checking
/// that nothing half-made (`.annexa-part`) is left.
fn all_entries(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .flatten()
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Each file the plain `get` wrote is, in the `--direct` clone, a real file
/// (not an annex link) with the same bytes.
fn assert_direct_matches_plain(direct: &Path, plain: &Path) {
    let expected = files_under(plain);
    assert!(!expected.is_empty());
    for rel in &expected {
        let meta = fs::symlink_metadata(direct.join(rel))
            .unwrap_or_else(|e| panic!("{rel} missing from the direct clone: {e}"));
        assert!(meta.file_type().is_file(), "{rel} is not a real file");
        assert_eq!(
            fs::read(direct.join(rel)).unwrap(),
            fs::read(plain.join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn direct_installs_the_subject_subdatasets_the_selection_reaches() {
    // A DataLad superdataset whose subjects are subdatasets (as large
    // cohorts are kept), made with DataLad itself: the superdataset's JSON
    // in git, the subjects' files all annexed (DataLad's default),
    // subdataset URLs relative to the superdataset.
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    sh(datalad(tmp.path()).args(["create", "-c", "text2git", "origin"]));
    write_files(
        &origin,
        &[
            (
                "dataset_description.json",
                r#"{"Name": "cohort", "BIDSVersion": "1.8.0"}"#,
            ),
            (
                "participants.tsv",
                "participant_id\nsub-01\nsub-02\nsub-03\n",
            ),
            ("T1w.json", r#"{"MagneticFieldStrength": 3}"#),
        ],
    );
    for s in ["01", "02", "03"] {
        // Subject datasets annex everything (DataLad's default).
        sh(datalad(&origin).args(["create", "-d", ".", &format!("sub-{s}")]));
        let t1 = format!("sub-{s}/anat/sub-{s}_T1w.nii.gz");
        let json = format!("sub-{s}/anat/sub-{s}_T1w.json");
        let bold = format!("sub-{s}/func/sub-{s}_task-rest_bold.nii.gz");
        write_files(
            &origin,
            &[
                (&t1, &image(&t1)),
                (&json, r#"{"EchoTime": 0.003}"#),
                (&bold, &image(&bold)),
            ],
        );
    }
    sh(datalad(&origin).args(["save", "-r", "-m", "subjects"]));
    // The subject dataset moves on after the superdataset recorded it: the
    // recorded state is what gets installed.
    let recorded = sh(git(&origin).args(["rev-parse", "HEAD:sub-01"]));
    write_files(&origin, &[("sub-01/anat/later.txt", "not recorded")]);
    sh(git(&origin.join("sub-01")).args(["add", "anat/later.txt"]));
    sh(git(&origin.join("sub-01")).args(["commit", "-q", "-m", "later"]));
    let ds = Fixture {
        cache: tmp.path().join("cache"),
        origin,
        tmp,
    };

    let args = ["--sub", "01,02", "--suffix", "T1w"];
    let preview = ds.path("preview");
    assert!(get(
        &ds,
        &preview,
        &[&args[..], &["--direct", "--dry-run"]].concat()
    )
    .status
    .success());
    assert!(!preview.exists(), "a dry run cloned something");

    let out = ds.path("direct");
    let result = get(&ds, &out, &[&args[..], &["--direct"]].concat());
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let plain = ds.path("plain");
    assert!(get(&ds, &plain, &args).status.success());
    assert!(files_under(&plain).contains(&"sub-02/anat/sub-02_T1w.nii.gz".to_string()));
    assert_direct_matches_plain(&out, &plain);

    // Only the selection's subdatasets are installed, at the recorded commit.
    for s in ["sub-01", "sub-02"] {
        assert!(out.join(s).join(".git").exists(), "{s} not installed");
    }
    assert_eq!(
        fs::read_dir(out.join("sub-03")).unwrap().count(),
        0,
        "sub-03 has no selected file and stays an empty mount point"
    );
    let head = sh(git(&out.join("sub-01")).args(["rev-parse", "HEAD"]));
    assert_eq!(head.trim(), recorded.trim());
    assert!(!out.join("sub-01/anat/later.txt").exists());
    // Unselected content stays without content, as in any DataLad clone.
    let bold = out.join("sub-01/func/sub-01_task-rest_bold.nii.gz");
    assert!(fs::symlink_metadata(&bold)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::metadata(&bold).is_err());
    assert!(all_entries(&out).iter().all(|p| !p.contains("annexa-part")));
    // DataLad sees the installed subdatasets as its own.
    let present = sh(datalad(&out).args(["subdatasets", "--state", "present"]));
    assert!(
        present.contains("sub-01") && present.contains("sub-02"),
        "{present}"
    );
    assert!(!present.contains("sub-03"), "{present}");

    // A later run into the same clone installs what it newly reaches.
    let more = get(&ds, &out, &["--sub", "03", "--suffix", "bold", "--direct"]);
    assert!(
        more.status.success(),
        "{}",
        String::from_utf8_lossy(&more.stderr)
    );
    let bold3 = "sub-03/func/sub-03_task-rest_bold.nii.gz";
    assert!(fs::symlink_metadata(out.join(bold3))
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(fs::read(out.join(bold3)).unwrap(), ds.origin_content(bold3));
}

#[test]
fn direct_installs_nested_derivative_subdatasets_and_never_through_a_link() {
    let ds = Builder::new("synthetic")
        .subjects(&["sub-01"])
        .without(&["derivatives"])
        .build();
    // derivatives/fmriprep is a DataLad dataset whose subject is a
    // subdataset of its own, registered in the raw dataset with a relative URL.
    let pipeline = ds.origin.join("derivatives/fmriprep");
    fs::create_dir_all(ds.origin.join("derivatives")).unwrap();
    sh(datalad(&ds.origin).args(["create", "-c", "text2git", "derivatives/fmriprep"]));
    sh(datalad(&pipeline).args(["create", "-d", ".", "sub-01"]));
    let preproc = "sub-01/func/sub-01_task-rest_space-MNI_desc-preproc_bold.nii.gz";
    let sidecar = "sub-01/func/sub-01_task-rest_space-MNI_desc-preproc_bold.json";
    write_files(
        &pipeline,
        &[
            (
                "dataset_description.json",
                r#"{"Name": "fmriprep", "DatasetType": "derivative"}"#,
            ),
            (preproc, &image(preproc)),
            (sidecar, r#"{"SkullStripped": true}"#),
        ],
    );
    sh(datalad(&pipeline).args(["save", "-r", "-m", "derivatives"]));
    sh(git(&ds.origin).args([
        "submodule",
        "add",
        "-q",
        "./derivatives/fmriprep",
        "derivatives/fmriprep",
    ]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "add derivatives"]));

    // The raw part first: the pipeline's mount point stays empty.
    let out = ds.path("direct");
    assert!(
        get(&ds, &out, &["--sub", "01", "--suffix", "T1w", "--direct"])
            .status
            .success()
    );
    let mount = out.join("derivatives/fmriprep");
    assert_eq!(fs::read_dir(&mount).unwrap().count(), 0);

    // A link planted at the mount point is never cloned into.
    let elsewhere = ds.path("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::remove_dir(&mount).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &mount).unwrap();
    let args = ["--scope", "fmriprep", "--sub", "01", "--direct"];
    let refused = get(&ds, &out, &args);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // The pipeline's files fail by name; the run itself goes on.
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(stderr.contains(preproc), "{stderr}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);

    fs::remove_file(&mount).unwrap();
    fs::create_dir(&mount).unwrap();
    let result = get(&ds, &out, &args);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for rel in [preproc, sidecar, "dataset_description.json"] {
        let path = mount.join(rel);
        assert!(
            fs::symlink_metadata(&path).unwrap().file_type().is_file(),
            "{rel}"
        );
        assert_eq!(
            fs::read(&path).unwrap(),
            fs::read(pipeline.join(rel)).unwrap()
        );
    }
    assert!(
        mount.join("sub-01/.git").exists(),
        "the nested subdataset is installed"
    );
    let plain = ds.path("plain");
    assert!(get(&ds, &plain, &args[..4]).status.success());
    assert_direct_matches_plain(&out, &plain);
    assert!(all_entries(&out).iter().all(|p| !p.contains("annexa-part")));
}

#[test]
fn content_nobody_has_fails_by_name_after_one_more_try_and_the_rest_is_delivered() {
    // Failed keys are asked for once more in a second batch (a refusal
    // such as a transfer lock left by a killed run passes on its own); a key
    // whose content is nowhere still ends as a failure naming the file,
    // without holding back the others.
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01", "sub-02"])
        .build();
    let gone = "sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz";
    sh(git(&ds.origin).args(["annex", "drop", "--force", gone]));
    let out = ds.path("out");
    let result = get(&ds, &out, &["--suffix", "T1w", "--json"]);
    assert!(!result.status.success(), "a missing file must fail the run");
    let records = json_records(&result.stdout);
    assert_eq!(status_of(&records, gone), "failed");
    let failure = records.iter().find(|r| r["path"] == gone).unwrap();
    assert!(
        failure["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failure}"
    );
    assert!(!out.join(gone).exists());
    let delivered = "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz";
    assert_eq!(status_of(&records, delivered), "written");
    assert_eq!(
        fs::read(out.join(delivered)).unwrap(),
        ds.origin_content(delivered)
    );
}

/// Commits `files` (path, content) onto the origin's branch with
/// fast-import, which takes names `git add` refuses (as a hostile dataset
/// would be made).
fn plant(ds: &Fixture, files: &[(&str, &str)]) {
    use std::io::Write;
    let branch = sh(git(&ds.origin).args(["symbolic-ref", "HEAD"]));
    let mut stream = format!(
        "commit {}\ncommitter t <t@example.org> 0 +0000\ndata 5\nplant\nfrom HEAD\n",
        branch.trim()
    );
    for (path, content) in files {
        stream.push_str(&format!(
            "M 100644 inline {path}\ndata {}\n{content}\n",
            content.len()
        ));
    }
    stream.push_str("done\n");
    let mut child = git(&ds.origin)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// A directory unit (`*.ome.zarr/`) is selected whole, but a `.git` inside
/// it (in any spelling git fears) is never written: a planted
/// `.git/config` would run its `core.fsmonitor` as soon as anything ran
/// `git status` there.
#[test]
fn a_git_folder_inside_a_directory_unit_is_never_written() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let unit = "sub-01/ses-1/anat/sub-01_ses-1_acq-x_T1w.ome.zarr";
    let hook = "[core]\n\tfsmonitor = touch pwned\n";
    plant(
        &ds,
        &[
            (&format!("{unit}/.zattrs"), "{}"),
            (&format!("{unit}/.git/config"), hook),
            (&format!("{unit}/0/.GIT./config"), hook),
            (&format!("{unit}/1/git~1/config"), hook),
        ],
    );
    let out = ds.path("out");
    for args in [&["--json"][..], &[][..]] {
        let _ = fs::remove_dir_all(&out);
        let mut full = vec!["--sub", "01", "--suffix", "T1w"];
        full.extend_from_slice(args);
        let result = get(&ds, &out, &full);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "{stderr}");
        assert!(out.join(unit).join(".zattrs").is_file(), "{stderr}");
        let written = files_under(&out);
        assert!(
            written.iter().all(|p| !p
                .split('/')
                .any(|c| c.to_ascii_lowercase().starts_with(".git")
                    || c.eq_ignore_ascii_case("git~1"))),
            "{written:?}"
        );
        if args.is_empty() {
            assert!(
                stderr.contains(&format!("not written: {unit}/.git/config")),
                "{stderr}"
            );
        } else {
            let records = json_records(&result.stdout);
            assert_eq!(
                status_of(&records, &format!("{unit}/.git/config")),
                "refused"
            );
            assert_eq!(
                status_of(&records, &format!("{unit}/1/git~1/config")),
                "refused"
            );
        }
    }
    // `ls` names them too, and lists the rest.
    let origin = ds.origin.to_str().unwrap();
    let listed = ds.annexa(&["ls", origin, "--sub", "01", "--suffix", "T1w"]);
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(stderr.contains("not listed"), "{stderr}");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(".git/"));
}

/// A new dataset version that changes a file's bytes but not its size:
/// `get --update` must not call the old bytes "already in place", and the
/// manifest never vouches for bytes that are not the key's.
#[test]
fn a_changed_file_of_the_same_size_is_not_in_place() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let manifest = ds.path("delivered.jsonl");
    let args = [
        "--sub",
        "01",
        "--suffix",
        "T1w",
        "--manifest",
        manifest.to_str().unwrap(),
    ];
    assert!(get(&ds, &out, &args).status.success());
    let data = files_under(&out)
        .into_iter()
        .find(|p| p.ends_with(".nii.gz"))
        .unwrap();
    // The next version: same size, other bytes.
    let old = ds.origin_content(&data);
    let mut new = old.clone();
    new[0] ^= 0x55;
    fs::remove_file(ds.origin.join(&data)).unwrap();
    fs::write(ds.origin.join(&data), &new).unwrap();
    sh(git(&ds.origin).args(["annex", "add", "-q", &data]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "v2"]));

    let update = [&args[..], &["--update"]].concat();
    let again = get(&ds, &out, &update);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success(),
        "stale bytes counted as in place: {stderr}"
    );
    assert!(
        stderr.contains(&data) && stderr.contains("--force"),
        "{stderr}"
    );
    // Issue 22: the source made the change, and says so; the user edited
    // nothing.
    assert!(
        stderr.contains("1 changed in the source since they were written there"),
        "{stderr}"
    );
    assert!(!stderr.contains("changed in the target"), "{stderr}");
    assert_eq!(fs::read(out.join(&data)).unwrap(), old);

    let forced = get(&ds, &out, &[&update[..], &["--force"]].concat());
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(fs::read(out.join(&data)).unwrap(), new);
    let verify = ds.annexa(&[
        "verify",
        out.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Issue 22: a subject added to a local dataset after it was cached is
/// "not there" until `--update`; annexa says that the source moved on,
/// how old its copy is, and what to pass.
#[test]
fn a_stale_cache_says_so_and_suggests_update() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    assert!(!ds.ls(&["--sub", "01"]).is_empty());
    // A new subject in the source, committed after the cache cloned it.
    let new = "sub-02/anat/sub-02_T1w.nii.gz";
    write_files(&ds.origin, &[(new, "the second subject")]);
    sh(git(&ds.origin).args(["annex", "add", "-q", new]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "sub-02"]));

    let origin = ds.origin.to_str().unwrap();
    let out = ds.annexa(&["ls", origin, "--sub", "02"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("existing values"), "{stderr}");
    assert!(
        stderr.contains("annexa's copy of") && stderr.contains("old: pass --update"),
        "{stderr}"
    );

    // A lookup that succeeds still hears that the source moved on.
    let out = ds.annexa(&["ls", origin, "--sub", "01"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("has changed since annexa cached it") && stderr.contains("--update"),
        "{stderr}"
    );

    let listed = ds.ls(&["--sub", "02", "--update"]);
    assert!(listed.iter().any(|l| l == new), "{listed:?}");
    let out = ds.annexa(&["ls", origin, "--sub", "01"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("changed since"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 22: a target that cannot take files is refused before anything
/// is downloaded (it used to fail once per file, after every download).
#[test]
fn an_unwritable_target_is_refused_before_any_download() {
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    // A file where a folder must be: no user, root included, can write
    // below it.
    let blocker = ds.path("blocker");
    fs::write(&blocker, "a file, not a folder").unwrap();
    let out = blocker.join("out");
    let got = get(&ds, &out, &["--sub", "01", "--suffix", "T1w"]);
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(!got.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot write to the target") && stderr.contains("nothing was downloaded"),
        "{stderr}"
    );
    // Not even the dataset was cloned into the cache.
    let cached: Vec<_> = fs::read_dir(&ds.cache)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(cached.is_empty(), "{cached:?}");
    // A dry run writes nothing, so it needs no writable target.
    assert!(get(&ds, &out, &["--sub", "01", "--dry-run"])
        .status
        .success());
}

/// Makes an annexa special remote `name` of the origin with `params` (no
/// `autoenable`) and moves a T1w image there: (its path, its content).
fn a_t1w_only_on(ds: &Fixture, name: &str, params: &[&str]) -> (String, Vec<u8>) {
    use crate::support::common::{test_path, AWS_KEY, AWS_SECRET};
    let git_here = || {
        let mut cmd = git(&ds.origin);
        cmd.env("PATH", test_path())
            .env("AWS_ACCESS_KEY_ID", AWS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
        cmd
    };
    sh(git_here()
        .args([
            "annex",
            "initremote",
            name,
            "type=external",
            "externaltype=annexa",
        ])
        .arg("encryption=none")
        .args(params));
    let data = ds
        .origin_files(|p| p.ends_with("T1w.nii.gz"))
        .into_iter()
        .next()
        .unwrap();
    let want = ds.origin_content(&data);
    sh(git_here().args(["annex", "move", "-q", "--to", name, &data]));
    (data, want)
}

/// Issue 22: content only on a special remote without `autoenable` is
/// not reachable from the cache; the failure names the remote and the
/// command that enables it, and that command works.
#[test]
fn content_on_a_remote_the_cache_has_not_enabled_is_pointed_at() {
    use crate::support::common::test_path;
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let store = ds.path("store");
    fs::create_dir_all(&store).unwrap();
    let with_path = |mut cmd: std::process::Command| {
        cmd.env("PATH", test_path());
        cmd
    };
    let directory = format!("directory={}", store.display());
    let (data, want) = a_t1w_only_on(&ds, "store", &["provider=directory", &directory]);

    let out = ds.path("out");
    let run_get = || {
        let mut cmd = with_path(std::process::Command::new(env!("CARGO_BIN_EXE_annexa")));
        cmd.arg("--cache")
            .arg(&ds.cache)
            .args(["get", ds.origin.to_str().unwrap(), "--to"])
            .arg(&out)
            .args(["--sub", "01", "--suffix", "T1w"]);
        cmd.output().unwrap()
    };
    let failed = run_get();
    let stderr = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(!failed.status.success(), "{stderr}");
    assert!(
        stderr.contains("special remote store (annexa)")
            && stderr.contains("annex enableremote store`"),
        "{stderr}"
    );
    // The printed command, run as printed.
    let command = stderr
        .split("run `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap();
    let mut shell = with_path(std::process::Command::new("sh"));
    sh(shell.args(["-c", command]));
    let again = run_get();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(fs::read(out.join(&data)).unwrap(), want);
}

/// Issue 22: Ctrl-C during a `get` ends it with a line saying what was
/// written (and clears a progress bar on a terminal), exit status 130.
#[test]
fn an_interrupted_get_says_what_was_done() {
    use std::io::{BufRead, Read};
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02", "sub-03"])
        .build();
    let out = ds.path("out");
    let mut child = spawn_get_one_at_a_time(&ds, &out, std::process::Stdio::piped());
    // Interrupted as soon as the first file is reported (as in
    // a_killed_get_leaves_no_half_file_and_a_rerun_completes).
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    sh(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]));
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("annexa: interrupted: ") && stderr.contains("files written"),
        "{stderr}"
    );
    assert!(!stderr.contains("FAILED"), "{stderr}");
}

/// Issues 18 and 22: content only on an S3 remote the dataset records
/// without `autoenable`, read anonymously (`public=yes`). Its endpoint is
/// not a host the user chose: the command is named, nothing is enabled.
/// With `--endpoint` naming that server, annexa enables it and says so.
#[test]
fn an_anonymous_remote_on_a_chosen_host_is_enabled_by_itself() {
    use crate::support::common::{test_path, Moto};
    let moto = Moto::start();
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let endpoint = format!("endpoint={}", moto.endpoint());
    let (data, want) = a_t1w_only_on(
        &ds,
        "pub",
        &[
            "provider=s3",
            "bucket=anon-read",
            "public=yes",
            "createbucket=yes",
            &endpoint,
        ],
    );

    let out = ds.path("out");
    let run_get = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_annexa"));
        cmd.env("PATH", test_path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .arg("--cache")
            .arg(&ds.cache)
            .args(["get", ds.origin.to_str().unwrap(), "--to"])
            .arg(&out)
            .args(["--sub", "01", "--suffix", "T1w"])
            .args(extra);
        cmd.output().unwrap()
    };
    let failed = run_get(&[]);
    let stderr = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(!failed.status.success(), "{stderr}");
    assert!(stderr.contains("annex enableremote pub`"), "{stderr}");
    assert!(!stderr.contains("enabled the special remote"), "{stderr}");

    let again = run_get(&["--endpoint", &moto.endpoint()]);
    let stderr = String::from_utf8_lossy(&again.stderr).into_owned();
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains("enabled the special remote pub in annexa's copy"),
        "{stderr}"
    );
    assert_eq!(fs::read(out.join(&data)).unwrap(), want);
}
