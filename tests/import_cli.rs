//! `annexa import` and service sources of `annexa ls/get`, against a real
//! S3 API (moto_server) read anonymously, Debian's git-annex, the newest
//! git-annex's own `import --no-content` for comparison, and DataLad.

mod common;

use common::{newest_git_annex_bin, test_path, tool, GitAnnex, Moto, Repo};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BUCKET: &str = "openneuro-like";

/// Puts, replaces and deletes objects (public-read: moto refuses anonymous
/// reads otherwise), one JSON operation per line on stdin.
const S3_SCRIPT: &str = r#"
import sys, json, boto3
from boto3.s3.transfer import TransferConfig
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="a",
                  aws_secret_access_key="b", region_name="us-east-1")
bucket = sys.argv[2]
try:
    s3.create_bucket(Bucket=bucket, ACL="public-read")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
def run(op):
    if op["op"] == "put":
        s3.put_object(Bucket=bucket, Key=op["key"], Body=op["data"].encode(), ACL="public-read")
    elif op["op"] == "multipart":
        import io
        body = (op["data"] * (op["size"] // len(op["data"]) + 1))[: op["size"]].encode()
        s3.upload_fileobj(io.BytesIO(body), bucket, op["key"], ExtraArgs={"ACL": "public-read"},
                          Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    else:
        s3.delete_object(Bucket=bucket, Key=op["key"])
ops = [json.loads(l) for l in sys.stdin if l.strip()]
with ThreadPoolExecutor(8) as ex:
    list(ex.map(run, ops))
"#;

fn s3_ops(moto: &Moto, ops: &[serde_json::Value]) {
    let mut child = Command::new(tool("python3"))
        .args(["-c", S3_SCRIPT, &moto.endpoint(), BUCKET])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the tools venv's python runs");
    let mut stdin = child.stdin.take().unwrap();
    for op in ops {
        writeln!(stdin, "{op}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "filling moto failed");
}

fn put(key: &str, data: &str) -> serde_json::Value {
    serde_json::json!({"op": "put", "key": key, "data": data})
}

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
    Command::new(env!("CARGO_BIN_EXE_annexa"))
        .args(args)
        .current_dir(dir)
        .env("PATH", test_path())
        .env("AWS_ENDPOINT_URL_S3", moto.endpoint())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("GIT_AUTHOR_NAME", "annexa tests")
        .env("GIT_AUTHOR_EMAIL", "annexa@localhost")
        .env("GIT_COMMITTER_NAME", "annexa tests")
        .env("GIT_COMMITTER_EMAIL", "annexa@localhost")
        .output()
        .unwrap()
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
    newest.ok(&[
        "git",
        "annex",
        "initremote",
        "src",
        "type=external",
        "externaltype=annexa",
        "encryption=none",
        "importtree=yes",
        "provider=s3",
        &format!("bucket={BUCKET}"),
        "prefix=ds000001/",
        &format!("endpoint={}", moto.endpoint()),
        "public=yes",
        "createbucket=no",
    ]);
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

const WAITING_FOR_PROVIDERS: &str = "Dataverse, Figshare and GitHub have no ImportTree in this \
     build yet (being written on branch importsvc); enable once `provider.import()` returns one";

#[test]
#[ignore = "Dataverse/Figshare/GitHub ImportTree not merged yet (branch importsvc)"]
fn dataverse_doi_imports_on_the_fake() {
    panic!("{WAITING_FOR_PROVIDERS}");
}

#[test]
#[ignore = "Dataverse/Figshare/GitHub ImportTree not merged yet (branch importsvc)"]
fn figshare_article_imports_on_the_fake() {
    panic!("{WAITING_FOR_PROVIDERS}");
}

#[test]
#[ignore = "Dataverse/Figshare/GitHub ImportTree not merged yet (branch importsvc)"]
fn github_release_imports_on_the_fake() {
    panic!("{WAITING_FOR_PROVIDERS}");
}
