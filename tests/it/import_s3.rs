//! `importtree=yes` on S3 with the newest git-annex (Debian's has no import
//! interface for external remotes): `git annex import --no-content` of an
//! OpenNeuro-like public prefix builds the tree from the listing alone, keys
//! named by the published MD5s (multipart objects hashed once), and the tree
//! follows the bucket when objects are added, replaced and deleted.

use crate::support::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{tool, GitAnnex, Moto, Repo};
use md5::{Digest, Md5};
use sha2::Sha256;

const BUCKET: &str = "openneuro-like";
const PREFIX: &str = "ds000001/";

/// What a key of `path` with `content` is: MD5E from the published ETag,
/// or SHA256E when the object went up in parts (its ETag is no MD5).
fn expected_key(path: &str, content: &[u8], multipart: bool) -> String {
    let ext = extension(path);
    if multipart {
        format!(
            "SHA256E-s{}--{}{ext}",
            content.len(),
            hex::encode(Sha256::digest(content))
        )
    } else {
        format!(
            "MD5E-s{}--{}{ext}",
            content.len(),
            hex::encode(Md5::digest(content))
        )
    }
}

/// git-annex's `*E` extension: up to two trailing parts of 1-4 characters.
fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap();
    let parts: Vec<&str> = name.split('.').skip(1).collect();
    let mut kept: Vec<&str> = Vec::new();
    for part in parts.iter().rev() {
        if kept.len() == 2
            || part.is_empty()
            || part.len() > 4
            || !part.chars().all(|c| c.is_ascii_alphanumeric())
        {
            break;
        }
        kept.insert(0, part);
    }
    kept.iter().map(|p| format!(".{p}")).collect()
}

fn s3_objects(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/s3_objects.py");
    let out = Command::new(tool("python3"))
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "s3_objects.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `files` under `dir` and uploads them under PREFIX.
fn publish(moto: &Moto, dir: &Path, files: &BTreeMap<String, Vec<u8>>, multipart_over: usize) {
    let _ = std::fs::remove_dir_all(dir);
    for (path, content) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    s3_objects(&[
        "put",
        &moto.endpoint(),
        BUCKET,
        PREFIX,
        dir.to_str().unwrap(),
        "--multipart-over",
        &multipart_over.to_string(),
    ]);
}

/// The tree git-annex built: path -> key (from each annex symlink).
fn imported_tree(repo: &Repo, rev: &str) -> BTreeMap<String, String> {
    let listing = repo.ok(&["git", "ls-tree", "-r", "-z", rev]);
    let mut tree = BTreeMap::new();
    for entry in listing.split('\0').filter(|e| !e.is_empty()) {
        let (meta, path) = entry.split_once('\t').unwrap();
        let blob = meta.split_whitespace().nth(2).unwrap();
        assert!(meta.starts_with("120000"), "{path} is not an annexed link");
        let target = repo.ok(&["git", "cat-file", "blob", blob]);
        let key = target.rsplit('/').next().unwrap().to_string();
        tree.insert(path.to_string(), key);
    }
    tree
}

fn expected_tree(
    files: &BTreeMap<String, Vec<u8>>,
    multipart_over: usize,
) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, content)| {
            (
                path.clone(),
                expected_key(path, content, content.len() > multipart_over),
            )
        })
        .collect()
}

fn bids_files(subjects: usize) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert(
        "dataset_description.json".to_string(),
        br#"{"Name": "import test", "BIDSVersion": "1.9.0"}"#.to_vec(),
    );
    files.insert("participants.tsv".to_string(), b"participant_id\n".to_vec());
    for s in 1..=subjects {
        let sub = format!("sub-{s:04}");
        for (path, seed) in [
            (format!("{sub}/anat/{sub}_T1w.nii.gz"), 1u64),
            (format!("{sub}/anat/{sub}_T1w.json"), 2),
            (format!("{sub}/func/{sub}_task-rest_bold.nii.gz"), 3),
            (format!("{sub}/func/{sub}_task-rest_bold.json"), 4),
        ] {
            let len = 20 + (s * 7 + seed as usize * 13) % 300;
            files.insert(path, common::pseudo_random(len, s as u64 * 10 + seed));
        }
    }
    files
}

fn import_remote(dir: &Path, moto: &Moto) -> Repo {
    let repo = Repo::init_with(dir, GitAnnex::Newest);
    repo.initremote_ok(
        "openneuro",
        &[
            "provider=s3",
            "createbucket=yes",
            "importtree=yes",
            "public=yes",
            &format!("bucket={BUCKET}"),
            &format!("prefix={PREFIX}"),
            &format!("endpoint={}", moto.endpoint()),
        ],
    );
    repo
}

#[test]
fn a_public_prefix_imports_without_content_and_follows_changes() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    // 60 subjects x 4 files + 2 objects (tests/import_cli.rs imports over
    // 1,000 with `annexa import`, whose tree must equal this one); one big
    // file goes up in
    // parts (its ETag is no MD5), an empty "folder" object and an object
    // outside the prefix are not part of the tree.
    const MULTIPART_OVER: usize = 6 << 20;
    let mut files = bids_files(60);
    files.insert(
        "sub-0001/dwi/sub-0001_dwi.nii.gz".into(),
        common::pseudo_random((6 << 20) + 4321, 99),
    );
    publish(&moto, &tmp.path().join("v1"), &files, MULTIPART_OVER);
    s3_objects(&[
        "folder",
        &moto.endpoint(),
        BUCKET,
        &format!("{PREFIX}derivatives/"),
    ]);
    let mut other = BTreeMap::new();
    other.insert("elsewhere.txt".to_string(), b"another dataset".to_vec());
    let other_dir = tmp.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    std::fs::write(other_dir.join("elsewhere.txt"), b"another dataset").unwrap();
    s3_objects(&[
        "put",
        &moto.endpoint(),
        BUCKET,
        "ds000002/",
        other_dir.to_str().unwrap(),
    ]);

    // No credentials at all: a public bucket is read anonymously.
    let repo = import_remote(&tmp.path().join("repo"), &moto);
    let out = repo.ok(&[
        "git",
        "annex",
        "import",
        "--no-content",
        "master",
        "--from",
        "openneuro",
    ]);
    assert!(
        out.contains("hashed its content") || out.contains("reading its"),
        "the multipart object's hashing was not said:\n{out}"
    );
    assert_eq!(
        imported_tree(&repo, "openneuro/master"),
        expected_tree(&files, MULTIPART_OVER)
    );

    // The content arrives and verifies (git-annex checks every key).
    repo.ok(&[
        "git",
        "merge",
        "-q",
        "--allow-unrelated-histories",
        "openneuro/master",
    ]);
    let wanted = [
        "sub-0007/anat/sub-0007_T1w.nii.gz",
        "sub-0001/dwi/sub-0001_dwi.nii.gz",
        "dataset_description.json",
    ];
    let mut get = vec!["git", "annex", "get", "-J4"];
    get.extend(wanted);
    repo.ok(&get);
    for path in wanted {
        assert_eq!(
            &std::fs::read(repo.dir.join(path)).unwrap(),
            &files[path],
            "{path}"
        );
    }
    let fsck = repo.run(&[
        "git",
        "annex",
        "fsck",
        "--from",
        "openneuro",
        "--fast",
        "sub-0007/anat/sub-0007_T1w.nii.gz",
    ]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );

    // The publisher adds, replaces and deletes objects; a new import
    // follows exactly.
    let added = "sub-0061/anat/sub-0061_T1w.nii.gz".to_string();
    let replaced = "sub-0002/anat/sub-0002_T1w.json".to_string();
    let deleted = "sub-0003/func/sub-0003_task-rest_bold.nii.gz".to_string();
    let mut changes = BTreeMap::new();
    changes.insert(added.clone(), common::pseudo_random(77, 5));
    changes.insert(replaced.clone(), br#"{"RepetitionTime": 2.5}"#.to_vec());
    publish(&moto, &tmp.path().join("v2"), &changes, MULTIPART_OVER);
    s3_objects(&[
        "delete",
        &moto.endpoint(),
        BUCKET,
        &format!("{PREFIX}{deleted}"),
    ]);
    files.extend(changes);
    files.remove(&deleted);
    repo.ok(&[
        "git",
        "annex",
        "import",
        "--no-content",
        "master",
        "--from",
        "openneuro",
    ]);
    assert_eq!(
        imported_tree(&repo, "openneuro/master"),
        expected_tree(&files, MULTIPART_OVER)
    );
    repo.ok(&["git", "merge", "-q", "openneuro/master"]);
    repo.ok(&["git", "annex", "get", &replaced]);
    assert_eq!(
        std::fs::read(repo.dir.join(&replaced)).unwrap(),
        files[&replaced]
    );
}

#[test]
fn import_needs_a_provider_that_lists_and_says_so_on_debian_git_annex() {
    // Debian's git-annex refuses importtree=yes for external remotes: the
    // user gets git-annex's own refusal, never a half-configured remote.
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init_with(&tmp.path().join("repo"), GitAnnex::Debian);
    let out = repo.initremote(
        "src",
        &[
            "provider=s3",
            "createbucket=yes",
            "importtree=yes",
            "public=yes",
            "bucket=b",
            &format!("endpoint={}", moto.endpoint()),
        ],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("importtree"), "{text}");
}
