//! `annexa import` and service sources of `annexa ls/get`, against a real
//! S3 API (moto_server) read anonymously, Debian's git-annex, the newest
//! git-annex's own `import --no-content` for comparison, and DataLad.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;
use crate::support::zenodo as support_zenodo;

use common::{newest_git_annex_bin, test_path, tool, GitAnnex, Moto, Repo};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BUCKET: &str = "openneuro-like";

fn s3_ops(moto: &Moto, ops: &[serde_json::Value]) {
    crate::support::s3::fill_bucket(moto, BUCKET, ops);
}

use crate::support::s3::put;

/// An OpenNeuro-like BIDS dataset under `ds000001/`: path → content.
fn bids_layout(subjects: usize) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut add = |path: String, data: String| {
        files.insert(path, data);
    };
    add(
        "dataset_description.json".into(),
        r#"{"Name": "import test", "BIDSVersion": "1.8.0"}"#.into(),
    );
    add("README".into(), "An OpenNeuro-like dataset\n".into());
    add(
        "task-rest_bold.json".into(),
        r#"{"RepetitionTime": 2}"#.into(),
    );
    let mut participants = String::from("participant_id\tage\n");
    for s in 1..=subjects {
        let sub = format!("sub-{s:03}");
        participants.push_str(&format!("{sub}\t{}\n", 20 + s % 40));
        for (dir, name) in [
            ("anat", format!("{sub}_T1w.nii.gz")),
            ("anat", format!("{sub}_T1w.json")),
            ("anat", format!("{sub}_T2w.nii.gz")),
            ("func", format!("{sub}_task-rest_bold.nii.gz")),
            ("func", format!("{sub}_task-rest_events.tsv")),
            ("func", format!("{sub}_task-rest_bold.json")),
            ("dwi", format!("{sub}_dwi.nii.gz")),
            ("dwi", format!("{sub}_dwi.bval")),
            ("dwi", format!("{sub}_dwi.bvec")),
            ("dwi", format!("{sub}_dwi.json")),
        ] {
            add(
                format!("{sub}/{dir}/{name}"),
                format!("{name} of {sub}: {}\n", "x".repeat(s % 17)),
            );
        }
    }
    add("participants.tsv".into(), participants);
    files
}

/// git-annex's key for `content` at `path`, as the test computes it: MD5
/// of the content, size, and the file's (known) extension.
fn md5_key(path: &str, content: &[u8]) -> String {
    let name = path.rsplit('/').next().unwrap();
    let ext = [".nii.gz", ".json", ".tsv", ".bval", ".bvec", ".bin"]
        .into_iter()
        .find(|e| name.ends_with(e))
        .unwrap_or("");
    format!(
        "MD5E-s{}--{}{ext}",
        content.len(),
        hex::encode(Md5::digest(content))
    )
}

fn sha256_key(path: &str, content: &[u8]) -> String {
    use sha2::Sha256;
    let ext = if path.ends_with(".bin") { ".bin" } else { "" };
    format!(
        "SHA256E-s{}--{}{ext}",
        content.len(),
        hex::encode(Sha256::digest(content))
    )
}

/// `annexa` with the test PATH, anonymous S3 through moto.
fn annexa(moto: &Moto, dir: &Path, args: &[&str]) -> Output {
    annexa_command(dir, args)
        .env("AWS_ENDPOINT_URL_S3", moto.endpoint())
        .output()
        .unwrap()
}

/// `annexa` with the test PATH, no S3 credentials and a fixed identity.
fn annexa_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_annexa"));
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", test_path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("GIT_AUTHOR_NAME", "annexa tests")
        .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
        .env("GIT_COMMITTER_NAME", "annexa tests")
        .env("GIT_COMMITTER_EMAIL", "annexa@localhost");
    cmd
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The annexed files of a checked-out dataset: path → key (the name its
/// symlink points to), read from the working tree.
fn checked_out_keys(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git" && e.file_name() != ".datalad")
    {
        let entry = entry.unwrap();
        if !entry.path_is_symlink() {
            continue;
        }
        let target = std::fs::read_link(entry.path()).unwrap();
        let key = target.file_name().unwrap().to_string_lossy().into_owned();
        let rel = entry.path().strip_prefix(dir).unwrap();
        out.insert(rel.to_string_lossy().into_owned(), key);
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("PATH", test_path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    ok(out, &format!("git {args:?}"))
}

fn expected_keys(
    files: &BTreeMap<String, String>,
    big: &(String, Vec<u8>),
) -> BTreeMap<String, String> {
    let mut keys: BTreeMap<String, String> = files
        .iter()
        .map(|(p, c)| (p.clone(), md5_key(p, c.as_bytes())))
        .collect();
    // A multipart upload's ETag is no MD5: the file is hashed.
    keys.insert(big.0.clone(), sha256_key(&big.0, &big.1));
    keys
}

/// The whole S3 story on one bucket (filled once: ~1,000 objects).
#[test]
fn s3_prefix_becomes_a_dataset_and_a_bids_source() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let mut files = bids_layout(100);
    let big_path = "sourcedata/scanner.bin".to_string();
    let big_unit = "multipart content ";
    let big_size = 11 << 20;
    let big_bytes: Vec<u8> = big_unit
        .repeat(big_size / big_unit.len() + 1)
        .into_bytes()
        .into_iter()
        .take(big_size)
        .collect();
    let big = (big_path.clone(), big_bytes);
    let mut ops: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, c)| put(&format!("ds000001/{p}"), c))
        .collect();
    // Another dataset beside it, which must not leak in.
    ops.push(put("ds000002/README", "other\n"));
    ops.push(
        serde_json::json!({"op": "multipart", "key": format!("ds000001/{big_path}"),
        "data": big_unit, "size": big_size}),
    );
    s3_ops(&moto, &ops);
    assert!(files.len() >= 1000);

    // A prefix with nothing under it is an error, not an empty dataset.
    let empty = annexa(
        &moto,
        work,
        &["import", &format!("s3://{BUCKET}/ds9"), "empty"],
    );
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("lists no files"));

    // Import: exactly the listing, with the keys the content has.
    let source = format!("s3://{BUCKET}/ds000001");
    let out = ok(
        annexa(&moto, work, &["import", &source, "ds"]),
        "annexa import",
    );
    let total = files.len() + 1;
    assert!(
        out.contains(&format!(
            "{total} files: {total} added, 0 changed, 0 removed"
        )),
        "{out}"
    );
    let ds = work.join("ds");
    assert_eq!(checked_out_keys(&ds), expected_keys(&files, &big));
    assert!(
        git(
            &ds,
            &["config", "-f", ".datalad/config", "datalad.dataset.id"]
        )
        .trim()
        .len()
            == 36
    );
    assert_eq!(git(&ds, &["rev-list", "--count", "HEAD"]).trim(), "1");
    assert!(git(&ds, &["status", "--porcelain"]).is_empty());

    // Content through the annexa remote, verified by git-annex.
    let repo = Repo::open(&ds);
    let some = [
        "sub-007/anat/sub-007_T1w.nii.gz",
        "participants.tsv",
        &big_path,
    ];
    let mut args = vec!["git", "annex", "get"];
    args.extend(some);
    repo.ok(&args);
    for path in some {
        let got = std::fs::read(ds.join(path)).unwrap();
        let want = if path == big_path {
            big.1.clone()
        } else {
            files[path].as_bytes().to_vec()
        };
        assert!(got == want, "{path} has other content");
    }
    let status = repo.ok(&[
        &tool("datalad").to_string_lossy(),
        "status",
        "--annex",
        "availability",
    ]);
    assert!(!status.contains("modified"), "{status}");

    // The newest git-annex's own import of an importtree remote: same tree.
    let newest = Repo::init_with(&work.join("newest"), GitAnnex::Newest);
    newest.initremote_ok(
        "src",
        &[
            "importtree=yes",
            "provider=s3",
            &format!("bucket={BUCKET}"),
            "prefix=ds000001/",
            &format!("endpoint={}", moto.endpoint()),
            "public=yes",
            "createbucket=no",
        ],
    );
    assert!(newest_git_annex_bin().is_dir());
    newest.ok(&[
        "git",
        "annex",
        "import",
        "--no-content",
        "master",
        "--from",
        "src",
    ]);
    let theirs = git(&newest.dir, &["ls-tree", "-r", "src/master"]);
    let ours = git(&ds, &["ls-tree", "-r", "refs/annexa/import/s3"]);
    assert_eq!(ours, theirs, "annexa import and git annex import differ");

    // A clone: the remote autoenables and gets content.
    let clone = work.join("clone");
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(&ds)
        .arg(&clone)
        .output()
        .unwrap();
    ok(out, "git clone");
    let cloned = Repo::open(&clone);
    cloned.ok(&["git", "annex", "init", "-q"]);
    cloned.ok(&["git", "annex", "get", "sub-042/dwi/sub-042_dwi.bval"]);
    assert_eq!(
        std::fs::read_to_string(clone.join("sub-042/dwi/sub-042_dwi.bval")).unwrap(),
        files["sub-042/dwi/sub-042_dwi.bval"]
    );

    // ls and get of the service source through the cache.
    let cache = work.join("cache");
    let cache_arg = cache.to_string_lossy().into_owned();
    let listed = ok(
        annexa(
            &moto,
            work,
            &[
                "--cache", &cache_arg, "ls", &source, "--sub", "003", "--suffix", "T1w",
            ],
        ),
        "annexa ls",
    );
    let want = [
        "README",
        "dataset_description.json",
        "participants.tsv",
        "sub-003/anat/sub-003_T1w.json",
        "sub-003/anat/sub-003_T1w.nii.gz",
    ];
    assert_eq!(listed.lines().collect::<Vec<_>>(), want);
    let to = work.join("t1");
    let manifest = work.join("t1.jsonl");
    ok(
        annexa(
            &moto,
            work,
            &[
                "--cache",
                &cache_arg,
                "get",
                &source,
                "--to",
                &to.to_string_lossy(),
                "--sub",
                "003",
                "--suffix",
                "T1w",
                "-J",
                "4",
                "--manifest",
                &manifest.to_string_lossy(),
            ],
        ),
        "annexa get",
    );
    let delivered: Vec<String> = walkdir::WalkDir::new(&to)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(&to)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(delivered, want);
    for path in want {
        assert_eq!(std::fs::read_to_string(to.join(path)).unwrap(), files[path]);
    }
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), want.len());
    for record in &records {
        let path = record["path"].as_str().unwrap();
        assert_eq!(
            record["url"].as_str().unwrap(),
            format!("s3://{BUCKET}/ds000001/{path}")
        );
        assert_eq!(record["size"].as_u64().unwrap(), files[path].len() as u64);
    }

    // The service changes: 2 files added, 1 replaced, 3 deleted.
    let added = [
        ("sub-101/anat/sub-101_T1w.nii.gz", "new subject image\n"),
        ("sub-101/anat/sub-101_T1w.json", "{\"new\": true}"),
    ];
    let changed = ("sub-003/anat/sub-003_T1w.nii.gz", "replaced image\n");
    let deleted = [
        "sub-099/dwi/sub-099_dwi.bvec",
        "sub-099/dwi/sub-099_dwi.bval",
        "README",
    ];
    let mut ops: Vec<serde_json::Value> = added
        .iter()
        .chain([&changed])
        .map(|(p, c)| put(&format!("ds000001/{p}"), c))
        .collect();
    ops.extend(
        deleted
            .iter()
            .map(|p| serde_json::json!({"op": "delete", "key": format!("ds000001/{p}")})),
    );
    s3_ops(&moto, &ops);
    for (p, c) in added.iter().chain([&changed]) {
        files.insert(p.to_string(), c.to_string());
    }
    for p in deleted {
        files.remove(p);
    }
    let out = ok(annexa(&moto, work, &["import", &source, "ds"]), "refresh");
    let total = files.len() + 1;
    assert!(
        out.contains(&format!("{total} files: 2 added, 1 changed, 3 removed")),
        "{out}"
    );
    assert_eq!(checked_out_keys(&ds), expected_keys(&files, &big));
    assert_eq!(git(&ds, &["rev-list", "--count", "HEAD"]).trim(), "2");
    assert!(git(&ds, &["log", "-1", "--format=%s"]).contains("2 added, 1 changed, 3 removed"));
    repo.ok(&["git", "annex", "get", changed.0]);
    assert_eq!(
        std::fs::read_to_string(ds.join(changed.0)).unwrap(),
        changed.1
    );
    // Nothing new: no commit.
    let out = ok(annexa(&moto, work, &["import", &source, "ds"]), "again");
    assert!(out.contains("0 added, 0 changed, 0 removed"), "{out}");
    assert_eq!(git(&ds, &["rev-list", "--count", "HEAD"]).trim(), "2");

    // The cache follows with --update.
    let listed = ok(
        annexa(
            &moto,
            work,
            &[
                "--cache", &cache_arg, "ls", &source, "--sub", "101", "--suffix", "T1w", "--update",
            ],
        ),
        "annexa ls --update",
    );
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "dataset_description.json",
            "participants.tsv",
            "sub-101/anat/sub-101_T1w.json",
            "sub-101/anat/sub-101_T1w.nii.gz",
        ]
    );
}

/// `get` of a service source without building a dataset first: every
/// byte checked against its key (a multipart object's content hashed), the
/// listing recorded so that only `--update` lists again, content that
/// changed behind the record refused, and the git-annex dataset built
/// only when one is asked for (`ls --long`), with what `get` fetched in it.
#[test]
fn service_get_records_its_listing_and_builds_the_dataset_when_asked() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let files = bids_layout(12);
    let mut ops: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, c)| put(&format!("ds000003/{p}"), c))
        .collect();
    let big_path = "sub-004/anat/sub-004_T1w.nii.gz";
    let big_unit = "multipart image ";
    let big_size = 11 << 20;
    ops.push(
        serde_json::json!({"op": "multipart", "key": format!("ds000003/{big_path}"),
        "data": big_unit, "size": big_size}),
    );
    s3_ops(&moto, &ops);
    let big: Vec<u8> = big_unit
        .repeat(big_size / big_unit.len() + 1)
        .into_bytes()
        .into_iter()
        .take(big_size)
        .collect();
    let source = format!("s3://{BUCKET}/ds000003");
    let cache = work.join("cache");
    let cache_arg = cache.to_string_lossy().into_owned();
    let get = |to: &str, extra: &[&str]| {
        let to = work.join(to);
        let mut args = vec![
            "--cache",
            &cache_arg,
            "get",
            &source,
            "--to",
            to.to_str().unwrap(),
            "--suffix",
            "T1w",
            "-J",
            "4",
        ];
        args.extend_from_slice(extra);
        annexa(&moto, work, &args)
    };
    let manifest = work.join("m.jsonl");
    ok(
        get(
            "a",
            &["--sub", "001,004", "--manifest", manifest.to_str().unwrap()],
        ),
        "get",
    );
    for path in [
        "sub-001/anat/sub-001_T1w.nii.gz",
        "sub-001/anat/sub-001_T1w.json",
        "sub-004/anat/sub-004_T1w.json",
        "dataset_description.json",
        "participants.tsv",
    ] {
        assert_eq!(
            std::fs::read_to_string(work.join("a").join(path)).unwrap(),
            files[path],
            "{path}"
        );
    }
    assert!(std::fs::read(work.join("a").join(big_path)).unwrap() == big);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let key_of = |path: &str| {
        records
            .iter()
            .find(|r| r["path"] == path)
            .map(|r| r["key"].as_str().unwrap().to_string())
            .unwrap()
    };
    let t1 = "sub-001/anat/sub-001_T1w.nii.gz";
    assert_eq!(key_of(t1), md5_key(t1, files[t1].as_bytes()));
    assert!(key_of(big_path).starts_with("SHA256E-s11534336--"));
    let verified = annexa(
        &moto,
        work,
        &[
            "verify",
            work.join("a").to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    ok(verified, "verify");

    // No git-annex dataset was made for that.
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("repo").is_dir())
        .unwrap();
    let repo = entry.join("repo");
    let annex_uuid = |repo: &Path| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(["config", "annex.uuid"])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!annex_uuid(&repo));

    // The recorded listing serves the next get: a new subject shows up
    // only with --update.
    s3_ops(
        &moto,
        &[put(
            "ds000003/sub-200/anat/sub-200_T1w.nii.gz",
            "new subject\n",
        )],
    );
    let stale = get("b", &["--sub", "200"]);
    assert!(!stale.status.success());
    ok(get("b", &["--sub", "200", "--update"]), "get --update");
    assert_eq!(
        std::fs::read_to_string(work.join("b/sub-200/anat/sub-200_T1w.nii.gz")).unwrap(),
        "new subject\n"
    );

    // Content replaced behind the record (same size): refused, not written.
    let t2 = "sub-002/anat/sub-002_T1w.nii.gz";
    let replaced: String = files[t2].chars().rev().collect();
    assert_eq!(replaced.len(), files[t2].len());
    assert_ne!(replaced, files[t2]);
    s3_ops(&moto, &[put(&format!("ds000003/{t2}"), &replaced)]);
    let refused = get("c", &["--sub", "002"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("does not match"), "{stderr}");
    assert!(!work.join("c").join(t2).exists());

    // Asked for a dataset: built now, with the content get fetched.
    let long = ok(
        annexa(
            &moto,
            work,
            &[
                "--cache", &cache_arg, "ls", &source, "--sub", "001", "--suffix", "T1w", "--long",
            ],
        ),
        "ls --long",
    );
    assert!(annex_uuid(&repo));
    let line = long.lines().find(|l| l.ends_with(t1)).unwrap();
    assert!(line.contains("cached"), "{long}");

    // What a killed get left in the cache's annex tmp: a true prefix is
    // completed; a wrong one is refused and removed, and the next run
    // gets the file whole.
    let t5 = "sub-005/anat/sub-005_T1w.nii.gz";
    let key = md5_key(t5, files[t5].as_bytes());
    let partial = repo.join(".git/annex/tmp").join(&key);
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    let half = files[t5].len() / 2;
    std::fs::write(&partial, &files[t5].as_bytes()[..half]).unwrap();
    ok(get("d", &["--sub", "005"]), "get after a partial download");
    assert_eq!(
        std::fs::read_to_string(work.join("d").join(t5)).unwrap(),
        files[t5]
    );
    assert!(!partial.exists());
    let t6 = "sub-006/anat/sub-006_T1w.nii.gz";
    let key = md5_key(t6, files[t6].as_bytes());
    let partial = repo.join(".git/annex/tmp").join(&key);
    std::fs::write(&partial, "x".repeat(files[t6].len() / 2)).unwrap();
    let refused = get("e", &["--sub", "006"]);
    assert!(!refused.status.success());
    assert!(!work.join("e").join(t6).exists());
    assert!(!partial.exists());
    ok(get("e", &["--sub", "006"]), "get after a refused download");
    assert_eq!(
        std::fs::read_to_string(work.join("e").join(t6)).unwrap(),
        files[t6]
    );
}

/// Service sources that cannot be used are refused before anything is made.
#[test]
fn unusable_sources_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    for (source, says) in [
        ("s3://", "no bucket name"),
        (
            "https://example.org/not-a-service",
            "not a source annexa can import",
        ),
        ("figshare:abc", "a Figshare article id is a number"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_annexa"))
            .args(["import", source, "x"])
            .current_dir(tmp.path())
            .env("PATH", test_path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{source} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{source}: {stderr}");
        assert!(!tmp.path().join("x").exists(), "{source} left a folder");
    }
}

// ------------------------------------------- Dataverse, Figshare, GitHub

/// The hash a service publishes, hence the key backend.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Md5,
    Sha256,
}

/// What git-annex keeps as a key's extension by default: at most two
/// trailing extensions of 1 to 4 letters or digits.
fn extension(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap();
    let mut kept = Vec::new();
    for part in file
        .split('.')
        .skip(1)
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .take(2)
    {
        if part.is_empty() || part.len() > 4 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        kept.insert(0, format!(".{part}"));
    }
    kept.concat()
}

fn service_keys(files: &BTreeMap<String, Vec<u8>>, backend: Backend) -> BTreeMap<String, String> {
    use sha2::Sha256;
    files
        .iter()
        .map(|(path, data)| {
            let (name, hex) = match backend {
                Backend::Md5 => ("MD5E", hex::encode(Md5::digest(data))),
                Backend::Sha256 => ("SHA256E", hex::encode(Sha256::digest(data))),
            };
            let key = format!("{name}-s{}--{hex}{}", data.len(), extension(path));
            (path.clone(), key)
        })
        .collect()
}

/// A service source and how to reach it.
struct ServiceCase<'a> {
    /// `annexa import` arguments before DIR (the source as a user writes it).
    import_args: Vec<String>,
    /// The same source written another way, for the refresh.
    refresh_args: Vec<String>,
    /// The remote's name (the provider's).
    remote: &'a str,
    /// The token's environment variable and value.
    token: (&'a str, &'a str),
    /// `initremote` parameters of the importtree remote on the same source.
    initremote: Vec<String>,
    backend: Backend,
    /// Files of the first listing without a published checksum.
    unhashed: usize,
}

impl ServiceCase<'_> {
    fn annexa(&self, dir: &Path, args: &[String]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_annexa"))
            .args(args)
            .current_dir(dir)
            .env("PATH", test_path())
            .env(self.token.0, self.token.1)
            .env("GIT_AUTHOR_NAME", "annexa tests")
            .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
            .env("GIT_COMMITTER_NAME", "annexa tests")
            .env("GIT_COMMITTER_EMAIL", "annexa@localhost")
            .output()
            .unwrap()
    }

    fn import(&self, work: &Path, args: &[String]) -> String {
        let mut argv = vec!["import".to_string()];
        argv.extend(args.iter().cloned());
        argv.push("ds".into());
        ok(self.annexa(work, &argv), &format!("annexa {argv:?}"))
    }

    /// Gets `paths` in `ds` with the token and checks their bytes.
    fn get(&self, ds: &Path, files: &BTreeMap<String, Vec<u8>>, paths: &[&str]) {
        let repo = Repo::open(ds).env(self.token.0, self.token.1);
        let mut args = vec!["git", "annex", "get"];
        args.extend(paths);
        repo.ok(&args);
        for path in paths {
            assert!(
                std::fs::read(ds.join(path)).unwrap() == files[*path],
                "{path} has other content"
            );
        }
    }

    /// `annexa get SOURCE --endpoint API --to DIR` on the service (the
    /// listed path): every BIDS and root file delivered, each whole.
    fn get_listed(&self, work: &Path, files: &BTreeMap<String, Vec<u8>>) {
        let source = match &self.import_args[0] {
            id if id.bytes().all(|b| b.is_ascii_digit()) => format!("figshare:{id}"),
            other => other.clone(),
        };
        let got = work.join("got");
        let argv: Vec<String> = [
            "--cache",
            work.join("get-cache").to_str().unwrap(),
            "get",
            &source,
            "--endpoint",
            &self.import_args[2],
            "--root-files",
            "*",
            "--to",
            got.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        ok(self.annexa(work, &argv), &format!("annexa {argv:?}"));
        let delivered = crate::support::bids::files_under(&got);
        let bids_or_root = |p: &&String| p.starts_with("sub-") || !p.contains('/');
        for path in files.keys().filter(bids_or_root) {
            assert!(
                delivered.contains(path),
                "{path} not delivered: {delivered:?}"
            );
        }
        for path in &delivered {
            assert!(
                std::fs::read(got.join(path)).unwrap() == files[path],
                "{path} has other content"
            );
        }
    }

    /// First import, content, the newest git-annex's own import of the same
    /// source, then `change` on the service and a refresh that must count
    /// (added, changed, removed) and give `changed_path`'s new bytes.
    fn story(
        &self,
        mut files: BTreeMap<String, Vec<u8>>,
        change: impl FnOnce(&mut BTreeMap<String, Vec<u8>>),
        counts: (usize, usize, usize),
        changed_path: &str,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path();
        let ds = work.join("ds");
        let n = files.len();
        let out = self.import(work, &self.import_args);
        assert!(
            out.contains(&format!("{n} files: {n} added, 0 changed, 0 removed")),
            "{out}"
        );
        assert_eq!(
            out.contains(&format!(
                "{} file(s) had no published checksum",
                self.unhashed
            )),
            self.unhashed > 0,
            "{out}"
        );
        assert_eq!(checked_out_keys(&ds), service_keys(&files, self.backend));
        assert!(git(&ds, &["status", "--porcelain"]).is_empty());
        let all: Vec<&str> = files.keys().map(String::as_str).collect();
        self.get(&ds, &files, &all);

        // `annexa get` straight from the service (the listed path: no
        // dataset first), its server named by `--endpoint` as for S3
        // (stories with BIDS files: a selection needs some).
        if files.keys().any(|p| p.starts_with("sub-")) {
            self.get_listed(work, &files);
        }

        let newest =
            Repo::init_with(&work.join("newest"), GitAnnex::Newest).env(self.token.0, self.token.1);
        let mut params = vec!["importtree=yes"];
        params.extend(self.initremote.iter().map(String::as_str));
        newest.initremote_ok("src", &params);
        newest.ok(&[
            "git",
            "annex",
            "import",
            "--no-content",
            "master",
            "--from",
            "src",
        ]);
        let theirs = git(&newest.dir, &["ls-tree", "-r", "src/master"]);
        let ours = git(
            &ds,
            &[
                "ls-tree",
                "-r",
                &format!("refs/annexa/import/{}", self.remote),
            ],
        );
        assert_eq!(ours, theirs, "annexa import and git annex import differ");

        change(&mut files);
        let (added, changed, removed) = counts;
        let out = self.import(work, &self.refresh_args);
        let n = files.len();
        assert!(
            out.contains(&format!(
                "{n} files: {added} added, {changed} changed, {removed} removed"
            )),
            "{out}"
        );
        assert_eq!(checked_out_keys(&ds), service_keys(&files, self.backend));
        assert_eq!(git(&ds, &["rev-list", "--count", "HEAD"]).trim(), "2");
        assert!(git(&ds, &["status", "--porcelain"]).is_empty());
        self.get(&ds, &files, &[changed_path]);
        // Nothing new: no commit.
        let out = self.import(work, &self.refresh_args);
        assert!(out.contains("0 added, 0 changed, 0 removed"), "{out}");
        assert_eq!(git(&ds, &["rev-list", "--count", "HEAD"]).trim(), "2");
    }
}

/// A DOI with `--dataverse`, on the fake Dataverse (SHA-256 checksums, a
/// draft only the token sees, pages of two files).
#[test]
fn dataverse_doi_imports_on_the_fake() {
    use support_dataverse::{FakeDataverse, PID, TOKEN};
    let fake = FakeDataverse::start(&["--checksum", "SHA-256", "--max-page", "2"]);
    let mut files = BTreeMap::new();
    for (path, data) in [
        ("README.md", b"a dataset\n".to_vec()),
        (
            "sub-01/anat/sub-01_T1w.nii.gz",
            common::pseudo_random(70_000, 21),
        ),
        (
            "sub-01/func/sub-01_task-rest_bold.json",
            b"{\"TR\": 2}\n".to_vec(),
        ),
        (
            "sub-02/anat/sub-02_T1w.nii.gz",
            common::pseudo_random(1_000, 22),
        ),
        (
            "participants.tsv",
            b"participant_id\nsub-01\nsub-02\n".to_vec(),
        ),
    ] {
        fake.add_file(path, &data);
        files.insert(path.to_string(), data);
    }
    let url = fake.url();
    let case = ServiceCase {
        import_args: vec![PID.into(), "--dataverse".into(), url.clone()],
        refresh_args: vec![format!("{url}/dataset.xhtml?persistentId={PID}")],
        remote: "dataverse",
        token: ("DATAVERSE_API_KEY", TOKEN),
        initremote: vec![
            "provider=dataverse".into(),
            format!("url={url}"),
            format!("doi={PID}"),
        ],
        backend: Backend::Sha256,
        unhashed: 0,
    };
    let changed = "sub-01/func/sub-01_task-rest_bold.json";
    case.story(
        files,
        |files| {
            let added = common::pseudo_random(3_000, 23);
            fake.add_file("sub-03/anat/sub-03_T1w.nii.gz", &added);
            files.insert("sub-03/anat/sub-03_T1w.nii.gz".into(), added);
            let replaced = b"{\"TR\": 2.5}\n".to_vec();
            fake.replace_file(changed, &replaced);
            files.insert(changed.into(), replaced);
            for gone in ["sub-02/anat/sub-02_T1w.nii.gz", "README.md"] {
                fake.delete_file(gone);
                files.remove(gone);
            }
        },
        (1, 1, 2),
        changed,
    );
}

/// A bare article id with `--api` (then the article's API URL) on the
/// fake Figshare: a private article its owner's token sees, keyed by
/// `computed_md5` (the uploader's wrong `supplied_md5` must not count).
#[test]
fn figshare_article_imports_on_the_fake() {
    use support_figshare::{FakeFigshare, ARTICLE, TOKEN};
    let fake = FakeFigshare::start(&["--max-page", "2"]);
    let add = |name: &str, data: &[u8], supplied_md5: &str| {
        fake.add_file(ARTICLE, name, data, supplied_md5)
    };
    let delete = |id: u64| fake.delete_file(ARTICLE, id);
    let mut files = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (name, data) in [
        ("data.csv", b"a,b\n1,2\n".to_vec()),
        ("scan.nii.gz", common::pseudo_random(70_000, 24)),
        ("notes.txt", b"notes\n".to_vec()),
    ] {
        ids.insert(name, add(name, &data, "00000000000000000000000000000000"));
        files.insert(name.to_string(), data);
    }
    let api = fake.api();
    let case = ServiceCase {
        import_args: vec![ARTICLE.to_string(), "--api".into(), api.clone()],
        refresh_args: vec![format!("{api}/articles/{ARTICLE}")],
        remote: "figshare",
        token: ("FIGSHARE_API_KEY", TOKEN),
        initremote: vec![
            "provider=figshare".into(),
            format!("api={api}"),
            format!("article={ARTICLE}"),
        ],
        backend: Backend::Md5,
        unhashed: 0,
    };
    case.story(
        files,
        |files| {
            let added = common::pseudo_random(2_000, 25);
            add("more.bin", &added, "");
            files.insert("more.bin".into(), added);
            // Replacing on Figshare: delete, upload again (a new file id).
            delete(ids["data.csv"]);
            let replaced = b"a,b\n3,4\n".to_vec();
            add("data.csv", &replaced, "");
            files.insert("data.csv".into(), replaced);
            delete(ids["notes.txt"]);
            files.remove("notes.txt");
        },
        (1, 1, 1),
        "data.csv",
    );
}

/// A concept DOI with `--api` on the fake Zenodo: the latest version,
/// keyed by its published `md5:` checksums, a refresh (written as the
/// concept's API URL) after a new version is published, and `ls`/`get`
/// with BIDS filters on the record.
#[test]
fn zenodo_concept_doi_imports_on_the_fake() {
    use support_zenodo::{FakeZenodo, RECORD, TOKEN};
    let fake = FakeZenodo::start(&[]);
    let mut files = BTreeMap::new();
    for (name, data) in [
        ("data.csv", b"a,b\n1,2\n".to_vec()),
        ("scan.nii.gz", common::pseudo_random(70_000, 34)),
        ("notes.txt", b"notes\n".to_vec()),
    ] {
        fake.seed(RECORD, name, &data);
        files.insert(name.to_string(), data);
    }
    let concept = fake.admin("POST", &format!("publish?record={RECORD}"))["parent"]
        .as_u64()
        .unwrap();
    let api = fake.api();
    let case = ServiceCase {
        import_args: vec![
            format!("doi:10.5281/zenodo.{concept}"),
            "--api".into(),
            api.clone(),
        ],
        refresh_args: vec![format!("{api}/records/{concept}")],
        remote: "zenodo",
        token: ("ZENODO_TOKEN", TOKEN),
        initremote: vec![
            "provider=zenodo".into(),
            format!("api={api}"),
            format!("record={concept}"),
        ],
        backend: Backend::Md5,
        unhashed: 0,
    };
    case.story(
        files,
        |files| {
            // A new version: one added, one changed, one removed.
            let id = fake.new_version();
            fake.import_files(id);
            for gone in ["data.csv", "notes.txt"] {
                fake.delete_draft_file(id, gone);
            }
            let added = common::pseudo_random(2_000, 35);
            fake.seed(id, "more.bin", &added);
            files.insert("more.bin".into(), added);
            let replaced = b"a,b\n3,4\n".to_vec();
            fake.seed(id, "data.csv", &replaced);
            files.insert("data.csv".into(), replaced);
            files.remove("notes.txt");
            fake.publish();
        },
        (1, 1, 1),
        "data.csv",
    );
}

/// A release page URL with `--api` on the fake GitHub: SHA-256 digests,
/// an asset without one (hashed), pages of two assets.
#[test]
fn github_release_imports_on_the_fake() {
    use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
    let fake = FakeGithub::start(&["--release", &format!("{GH_REPO}:v1")]);
    fake.configure("per_page_max=2");
    let add = |name: &str, data: &[u8], digest: bool| fake.add_asset("v1", name, data, digest);
    let delete = |id: u64| fake.delete_asset(id);
    let mut files = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (name, data, digest) in [
        ("dataset.tar.gz", common::pseudo_random(70_000, 26), true),
        ("README.md", b"release notes\n".to_vec(), true),
        ("checksums.txt", b"no digest for this one\n".to_vec(), false),
        ("old.bin", common::pseudo_random(100, 27), true),
    ] {
        ids.insert(name, add(name, &data, digest));
        files.insert(name.to_string(), data);
    }
    let api = fake.api();
    let page = format!("{api}/{GH_REPO}/releases/tag/v1");
    let case = ServiceCase {
        import_args: vec![page.clone(), "--api".into(), api.clone()],
        refresh_args: vec![page, "--api".into(), api.clone()],
        remote: "github",
        token: ("GITHUB_TOKEN", GH_TOKEN),
        initremote: vec![
            "provider=github".into(),
            format!("api={api}"),
            format!("repo={GH_REPO}"),
            "tag=v1".into(),
        ],
        // Digests are SHA-256, and so is the hash of an asset without one.
        backend: Backend::Sha256,
        unhashed: 1,
    };
    case.story(
        files,
        |files| {
            let added = b"added later, no digest\n".to_vec();
            add("later.txt", &added, false);
            files.insert("later.txt".into(), added);
            delete(ids["README.md"]);
            let replaced = b"release notes, revised\n".to_vec();
            add("README.md", &replaced, true);
            files.insert("README.md".into(), replaced);
            delete(ids["old.bin"]);
            files.remove("old.bin");
        },
        (1, 1, 1),
        "README.md",
    );
}

/// `--version` is refused (no provider can list a chosen version yet),
/// and `--api` is refused where it means nothing, before anything is made.
#[test]
fn unsupported_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec![
                "doi:10.5072/FK2/X",
                "--dataverse",
                "http://127.0.0.1:9",
                "--version",
                "2.0",
            ],
            "--version 2.0: choosing a version is not supported yet for dataverse sources",
        ),
        (
            vec!["12345", "--version", "2"],
            "--version 2: choosing a version is not supported yet for figshare sources",
        ),
        (
            vec!["s3://b/p", "--api", "http://127.0.0.1:9"],
            "--api is for Figshare and GitHub sources",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_annexa"))
            .arg("import")
            .args(&args)
            .arg("x")
            .current_dir(tmp.path())
            .env("PATH", test_path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!tmp.path().join("x").exists(), "{args:?} left a folder");
    }
}

/// Names git's fast-import takes but git will not check out (issue 18):
/// each is named and left out before anything is written, the dataset
/// checks out and clones; and a dataset an earlier annexa left broken (HEAD
/// on a tree git refuses) is repaired by the next import.
#[test]
fn names_git_refuses_are_left_out_and_a_broken_import_is_repaired() {
    use support_dataverse::{FakeDataverse, PID, TOKEN};
    let fake = FakeDataverse::start(&["--checksum", "SHA-256"]);
    let good = "sub-01/anat/sub-01_T1w.nii.gz";
    fake.add_file(good, b"good content\n");
    let long = format!("e/{}", "n".repeat(256));
    // (Dataverse folder names cannot start with a dot, so `.git ` folders
    // cannot come from it; the unit tests of dataset::paths cover those.)
    let bad = ["a/.gitmodules", "d/git~1", "gitmod~1", long.as_str()];
    for path in bad {
        fake.add_file(path, b"planted\n");
    }
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let ds = work.join("ds");
    let import = || {
        Command::new(env!("CARGO_BIN_EXE_annexa"))
            .args(["import", PID, "--dataverse", &fake.url(), "ds"])
            .current_dir(work)
            .env("PATH", test_path())
            .env("DATAVERSE_API_KEY", TOKEN)
            .env("GIT_AUTHOR_NAME", "annexa tests")
            .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
            .env("GIT_COMMITTER_NAME", "annexa tests")
            .env("GIT_COMMITTER_EMAIL", "annexa@localhost")
            .output()
            .unwrap()
    };
    let out = import();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out, "annexa import");
    for path in bad {
        assert!(
            stderr.contains(&format!("not imported: {path} (")),
            "{path}: {stderr}"
        );
    }
    let keys = checked_out_keys(&ds);
    assert_eq!(keys.keys().collect::<Vec<_>>(), vec![good], "{stderr}");
    assert!(git(&ds, &["status", "--porcelain"]).is_empty());
    git(work, &["clone", "-q", "ds", "clone1"]);

    // The state an earlier annexa left: HEAD and the import ref on a commit
    // with a name git refuses, the index and work tree behind.
    let branch = git(&ds, &["symbolic-ref", "HEAD"]);
    let head = git(&ds, &["rev-parse", "HEAD"]);
    let imported = git(&ds, &["rev-parse", "refs/annexa/import/dataverse"]);
    let stream = format!(
        "commit {}\ncommitter t <t@example.org> 0 +0000\ndata 6\nbroken\nfrom {}\n\
         M 120000 inline z/.gitmodules\ndata 4\nnone\n\
         commit refs/annexa/import/dataverse\ncommitter t <t@example.org> 0 +0000\n\
         data 6\nbroken\nfrom {}\n\
         M 120000 inline z/.gitmodules\ndata 4\nnone\ndone\n",
        branch.trim(),
        head.trim(),
        imported.trim()
    );
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&ds)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = import();
    ok(out, "annexa import over a broken state");
    assert_eq!(checked_out_keys(&ds).keys().collect::<Vec<_>>(), vec![good]);
    assert!(git(&ds, &["status", "--porcelain"]).is_empty());
    git(work, &["clone", "-q", "ds", "clone2"]);
    assert!(git(&ds, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .all(|p| !p.contains(".gitmodules")));
}

/// `annexa` with no S3 endpoint in the environment: only `--endpoint`, or
/// what a dataset's remote records, can lead it to moto.
fn annexa_without_endpoint_env(dir: &Path, args: &[&str]) -> Output {
    annexa_command(dir, args)
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

/// Issue 22: `--endpoint` names the server for `ls`, `plan` and `get` as
/// for `import`, and refreshes (`--update`, a second `import`) read the
/// server the dataset's remote records, not AWS.
#[test]
fn endpoint_is_named_once_and_refreshes_reuse_it() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let cache = work.join("cache");
    let cache_arg = cache.to_string_lossy().into_owned();
    s3_ops(
        &moto,
        &[
            put(
                "ep/dataset_description.json",
                r#"{"Name": "ep", "BIDSVersion": "1.8.0"}"#,
            ),
            put("ep/sub-01/anat/sub-01_T1w.nii.gz", "one"),
            put("ep/sub-02/anat/sub-02_T1w.nii.gz", "two"),
        ],
    );
    let source = format!("s3://{BUCKET}/ep");
    let endpoint = moto.endpoint();
    let run = |args: &[&str]| annexa_without_endpoint_env(work, args);

    // Before: `unexpected argument '--endpoint'`.
    let listed = ok(
        run(&[
            "--cache",
            &cache_arg,
            "ls",
            &source,
            "--endpoint",
            &endpoint,
            "--sub",
            "01",
        ]),
        "ls --endpoint",
    );
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.starts_with("sub-"))
            .collect::<Vec<_>>(),
        ["sub-01/anat/sub-01_T1w.nii.gz"]
    );
    let plan = ok(
        run(&[
            "--cache",
            &cache_arg,
            "plan",
            &source,
            "--endpoint",
            &endpoint,
            "--shards",
            "2",
        ]),
        "plan --endpoint",
    );
    assert_eq!(plan.lines().count(), 2, "{plan}");

    // A new subject; the refresh names no endpoint, and none is in the
    // environment: the cache's remote records moto.
    s3_ops(&moto, &[put("ep/sub-03/anat/sub-03_T1w.nii.gz", "three")]);
    let listed = ok(
        run(&[
            "--cache", &cache_arg, "ls", &source, "--sub", "03", "--update",
        ]),
        "ls --update without --endpoint",
    );
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.starts_with("sub-"))
            .collect::<Vec<_>>(),
        ["sub-03/anat/sub-03_T1w.nii.gz"]
    );
    let out = work.join("out");
    ok(
        run(&[
            "--cache",
            &cache_arg,
            "get",
            &source,
            "--to",
            &out.to_string_lossy(),
            "--sub",
            "03",
        ]),
        "get without --endpoint",
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sub-03/anat/sub-03_T1w.nii.gz")).unwrap(),
        "three"
    );

    // `annexa import`: the same for a dataset of the user's.
    ok(
        run(&["import", &source, "ds", "--endpoint", &endpoint]),
        "import --endpoint",
    );
    s3_ops(&moto, &[put("ep/sub-04/anat/sub-04_T1w.nii.gz", "four")]);
    let refreshed = ok(
        run(&["import", &source, "ds"]),
        "import refresh without --endpoint",
    );
    assert!(refreshed.contains("1 added"), "{refreshed}");
}

/// Issue 22: an object deleted from the bucket after the import. Before,
/// `annexa get` printed moto's whole error document (request ids and all,
/// 1.5 KB) three times: once per attempt of git-annex's `annex.retry`.
/// Now: one line, once, naming S3's code and message and the object.
#[test]
fn a_deleted_object_is_one_line_said_once() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    s3_ops(
        &moto,
        &[
            put("gone/dataset_description.json", r#"{"Name": "gone"}"#),
            put("gone/sub-01/anat/sub-01_T1w.nii.gz", "one"),
        ],
    );
    let source = format!("s3://{BUCKET}/gone");
    let run = |args: &[&str]| annexa_without_endpoint_env(work, args);
    ok(
        run(&["import", &source, "ds", "--endpoint", &moto.endpoint()]),
        "import",
    );
    let object = "gone/sub-01/anat/sub-01_T1w.nii.gz";
    s3_ops(&moto, &[serde_json::json!({"op": "delete", "key": object})]);

    let out = run(&[
        "--cache",
        &work.join("cache").to_string_lossy(),
        "get",
        "./ds",
        "--to",
        "out",
        "--sub",
        "01",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("annexa: failed:"))
        .collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    let line = failed[0];
    assert_eq!(
        line.matches("NoSuchKey: The specified key does not exist.")
            .count(),
        1,
        "{line}"
    );
    assert!(
        line.contains(&format!("{object} is not in bucket {BUCKET}")),
        "{line}"
    );
    for raw in ["<?xml", "<Error>", "RequestId", "HostId"] {
        assert!(!stderr.contains(raw), "{raw} in {stderr}");
    }
    assert!(line.len() < 400, "{} characters: {line}", line.len());
}

/// Issue 22: `whereis` of an imported file names where it is (its path
/// in the bucket), never a key-named object that answers 404.
#[test]
fn whereis_of_an_imported_file_names_its_path() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    s3_ops(&moto, &[put("wi/sub-01/anat/sub-01_T1w.nii.gz", "one")]);
    let source = format!("s3://{BUCKET}/wi");
    ok(
        annexa_without_endpoint_env(
            work,
            &["import", &source, "ds", "--endpoint", &moto.endpoint()],
        ),
        "import",
    );
    let ds = Repo::open(&work.join("ds"));
    let whereis = ds.ok(&["git", "annex", "whereis", "sub-01"]);
    let urls: Vec<&str> = whereis
        .lines()
        .filter_map(|l| l.trim().strip_prefix("s3: "))
        .collect();
    let path_url = format!(
        "{}/{BUCKET}/wi/sub-01/anat/sub-01_T1w.nii.gz",
        moto.endpoint()
    );
    assert!(urls.contains(&path_url.as_str()), "{whereis}");
    assert!(
        urls.iter()
            .all(|u| u.ends_with("/wi/sub-01/anat/sub-01_T1w.nii.gz")),
        "a URL that is not the file's path: {whereis}"
    );
    // Each URL shown answers with the content.
    let path = path_url.strip_prefix(&moto.endpoint()).unwrap();
    let (status, _, body) = common::raw_http(moto.port, "GET", path, b"", &[]);
    assert_eq!((status, body.as_str()), (200, "one"));
}

/// An anonymous import trusts single-part ETags without a HEAD per object
/// (S3 serves no SSE-KMS or SSE-C object to an anonymous reader, so every
/// object it can read has an ETag that is the MD5); an import with
/// credentials asks each object how it is encrypted, and an SSE-KMS object
/// (whose ETag is no MD5 on AWS) gets a key from its hashed content.
#[test]
fn anonymous_imports_trust_etags_and_credentials_check_encryption() {
    let proxy = crate::support::s3::StoreProxy::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    s3_ops(&proxy.moto, &[]);
    proxy.encrypt_bucket_with_kms(BUCKET);
    let files: BTreeMap<String, String> = (1..=30)
        .map(|n| {
            (
                format!("sub-{n:02}/anat/sub-{n:02}_T1w.nii.gz"),
                format!("image {n}\n"),
            )
        })
        .chain([("dataset_description.json".into(), "{}\n".into())])
        .collect();
    let ops: Vec<_> = files
        .iter()
        .map(|(p, c)| put(&format!("kms/{p}"), c))
        .collect();
    s3_ops(&proxy.moto, &ops);
    let source = format!("s3://{BUCKET}/kms");
    let heads = |from: usize| {
        proxy.seen()[from..]
            .iter()
            // HEADs of objects; a HEAD of the bucket is not per object.
            .filter(|seen| seen.method == "HEAD" && seen.path.trim_matches('/').contains('/'))
            .count()
    };

    let before = proxy.seen().len();
    let out = annexa_command(work, &["import", &source, "anonymous"])
        .env("AWS_ENDPOINT_URL_S3", proxy.endpoint())
        .output()
        .unwrap();
    ok(out, "anonymous annexa import");
    assert_eq!(heads(before), 0, "an anonymous import sent HEADs");
    let keys = checked_out_keys(&work.join("anonymous"));
    assert_eq!(keys.len(), files.len());
    for (path, content) in &files {
        assert_eq!(keys[path], md5_key(path, content.as_bytes()), "{path}");
    }
    // Content comes from where the import registered it, never first from
    // a key-named object (which an import never writes: a 404 per file).
    let before = proxy.seen().len();
    Repo::open(&work.join("anonymous")).ok(&["git", "annex", "get", "."]);
    let seen = &proxy.seen()[before..];
    let asked_by_key: Vec<&str> = seen
        .iter()
        .filter(|s| s.path.contains("MD5E-"))
        .map(|s| s.path.as_str())
        .collect();
    assert!(
        asked_by_key.is_empty(),
        "key-named requests: {asked_by_key:?}"
    );
    let got = seen
        .iter()
        .filter(|s| s.method == "GET" && s.status == 200 && s.path.contains("kms/"))
        .count();
    assert_eq!(got, files.len(), "one GET per file");
    for (path, content) in &files {
        let bytes = std::fs::read(work.join("anonymous").join(path)).unwrap();
        assert_eq!(bytes, content.as_bytes(), "{path}");
    }

    let before = proxy.seen().len();
    let out = annexa_command(work, &["import", &source, "signed"])
        .env("AWS_ENDPOINT_URL_S3", proxy.endpoint())
        .env("AWS_ACCESS_KEY_ID", "a")
        .env("AWS_SECRET_ACCESS_KEY", "b")
        .output()
        .unwrap();
    ok(out, "annexa import with credentials");
    assert!(
        heads(before) >= files.len(),
        "an import with credentials sent {} HEADs for {} objects",
        heads(before),
        files.len()
    );
    let keys = checked_out_keys(&work.join("signed"));
    for (path, content) in &files {
        // The extension is the importer's choice; the digest is not.
        let want = sha256_key(path, content.as_bytes());
        assert!(
            keys[path].starts_with(&want),
            "{path}: {} is not {want}",
            keys[path]
        );
    }
}
