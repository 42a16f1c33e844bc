//! `git annex import --no-content` from Dataverse, Figshare and GitHub
//! remotes (`importtree=yes`) with the newest git-annex, against the fakes:
//! the imported tree has exactly the listed paths, each with the key its
//! content implies (computed here from the bytes put on the fake, in the
//! backend of the checksum the service publishes), `get` and `fsck` work,
//! and a re-import after files are added, replaced and deleted follows.
//! One case, run for each source as `import_services::PROVIDER::...`.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use common::{text, GitAnnex, Repo};
use support_dataverse::FakeDataverse;
use support_figshare::FakeFigshare;
use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

/// The hash a service publishes, hence the key backend.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Md5,
    Sha1,
    Sha256,
}

/// What git-annex keeps as a key's extension by default: at most two
/// trailing extensions of 1 to 4 letters or digits.
fn extension(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap();
    let parts: Vec<&str> = file.split('.').skip(1).collect();
    let mut kept = Vec::new();
    for part in parts.iter().rev().take(2) {
        if part.is_empty() || part.len() > 4 || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        kept.insert(0, format!(".{part}"));
    }
    kept.concat()
}

fn key_of(path: &str, data: &[u8], backend: Backend) -> String {
    use sha2::Digest as _;
    let (name, hex) = match backend {
        Backend::Md5 => ("MD5E", hex::encode(md5::Md5::digest(data))),
        Backend::Sha1 => ("SHA1E", hex::encode(sha1::Sha1::digest(data))),
        Backend::Sha256 => ("SHA256E", hex::encode(sha2::Sha256::digest(data))),
    };
    format!("{name}-s{}--{hex}{}", data.len(), extension(path))
}

/// The files a source should hold: path -> content.
type Files = BTreeMap<String, Vec<u8>>;

fn expected_tree(files: &Files, backend_of: impl Fn(&str) -> Backend) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, d)| (p.clone(), key_of(p, d, backend_of(p))))
        .collect()
}

/// path -> key of every file of `rev`, read from the annex links git holds.
fn tree_keys(repo: &Repo, rev: &str) -> BTreeMap<String, String> {
    let listing = repo.ok(&["git", "ls-tree", "-r", rev]);
    let mut entries = Vec::new();
    for line in listing.lines() {
        let (meta, path) = line.split_once('\t').unwrap();
        let blob = meta.split_whitespace().nth(2).unwrap().to_string();
        entries.push((path.to_string(), blob));
    }
    let mut child = repo
        .command(&["git", "cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (_, blob) in &entries {
            writeln!(stdin, "{blob}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let mut tree = BTreeMap::new();
    for (path, _) in entries {
        let header = lines.next().unwrap();
        assert!(
            header.ends_with(" blob ") || header.contains(" blob "),
            "{header}"
        );
        let target = lines.next().unwrap();
        let key = target.rsplit('/').next().unwrap().to_string();
        tree.insert(path, key);
    }
    tree
}

fn newest_repo(dir: &std::path::Path) -> Repo {
    Repo::init_with(dir, GitAnnex::Newest)
}

/// Imports without content, checks the tree, merges it, gets every file,
/// checks the bytes, and fscks the remote.
fn import_round(repo: &Repo, files: &Files, backend_of: &dyn Fn(&str) -> Backend) {
    let out = repo.run(&[
        "git",
        "annex",
        "import",
        "--no-content",
        "master",
        "--from",
        "src",
    ]);
    assert!(out.status.success(), "import failed:\n{}", text(&out));
    assert_eq!(
        tree_keys(repo, "src/master"),
        expected_tree(files, backend_of),
        "{}",
        text(&out)
    );
    repo.ok(&[
        "git",
        "merge",
        "-q",
        "--allow-unrelated-histories",
        "-m",
        "import",
        "src/master",
    ]);
    let out = repo.run(&["git", "annex", "get", "."]);
    assert!(out.status.success(), "get failed:\n{}", text(&out));
    for (path, data) in files {
        assert_eq!(&std::fs::read(repo.dir.join(path)).unwrap(), data, "{path}");
    }
    let out = repo.run(&["git", "annex", "fsck", "--fast", "--from", "src"]);
    assert!(out.status.success(), "fsck failed:\n{}", text(&out));
    // Nothing else is in the work tree.
    let tracked = repo.ok(&["git", "ls-files"]);
    let tracked: Vec<&str> = tracked.lines().collect();
    let want: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(tracked, want);
}

// ------------------------------------------------- the sources, as a table

/// A fake service imported from, with what differs between them. Its
/// listings come in pages of two files.
enum Source {
    Dataverse(FakeDataverse),
    Figshare(FakeFigshare, RefCell<BTreeMap<String, u64>>),
    Github(FakeGithub, RefCell<BTreeMap<String, u64>>),
}

const GH_TAG: &str = "v1";

impl Source {
    fn start(kind: &str) -> Source {
        match kind {
            // SHA-1 checksums: keys must be SHA1E, not a default backend.
            "dataverse" => Source::Dataverse(FakeDataverse::start(&[
                "--checksum",
                "SHA-1",
                "--max-page",
                "2",
            ])),
            "figshare" => Source::Figshare(
                FakeFigshare::start(&["--max-page", "2"]),
                RefCell::default(),
            ),
            "github" => {
                let fake = FakeGithub::start(&["--release", &format!("{GH_REPO}:{GH_TAG}")]);
                // Paged with Link.
                fake.configure("per_page_max=2");
                Source::Github(fake, RefCell::default())
            }
            other => panic!("no import source for provider={other}"),
        }
    }

    /// The token's variable and value.
    fn token(&self) -> (&'static str, &'static str) {
        match self {
            Source::Dataverse(..) => ("DATAVERSE_API_KEY", support_dataverse::TOKEN),
            Source::Figshare(..) => ("FIGSHARE_API_KEY", support_figshare::TOKEN),
            Source::Github(..) => ("GITHUB_TOKEN", GH_TOKEN),
        }
    }

    /// initremote parameters of the source.
    fn params(&self) -> Vec<String> {
        match self {
            Source::Dataverse(fake) => vec![
                "provider=dataverse".into(),
                format!("url={}", fake.url()),
                format!("doi={}", support_dataverse::PID),
            ],
            Source::Figshare(fake, _) => vec![
                "provider=figshare".into(),
                format!("api={}", fake.api()),
                format!("article={}", support_figshare::ARTICLE),
            ],
            Source::Github(fake, _) => vec![
                "provider=github".into(),
                format!("api={}", fake.api()),
                format!("repo={GH_REPO}"),
                format!("tag={GH_TAG}"),
            ],
        }
    }

    /// The hash the service publishes, hence the keys' backend. GitHub's
    /// digests are SHA-256, and so is the hash of an asset without one.
    fn backend(&self) -> Backend {
        match self {
            Source::Dataverse(..) => Backend::Sha1,
            Source::Figshare(..) => Backend::Md5,
            Source::Github(..) => Backend::Sha256,
        }
    }

    /// The file's path in the source: Figshare and GitHub names are flat.
    fn path(&self, tree_path: &str) -> String {
        match self {
            Source::Dataverse(..) => tree_path.to_string(),
            Source::Figshare(..) | Source::Github(..) => tree_path.replace('/', "_"),
        }
    }

    fn add(&self, path: &str, data: &[u8]) {
        match self {
            Source::Dataverse(fake) => fake.add_file(path, data),
            Source::Figshare(fake, ids) => {
                // The uploader's claimed MD5 is wrong: only computed_md5 counts.
                let id = fake.add_file(support_figshare::ARTICLE, path, data, &"0".repeat(32));
                ids.borrow_mut().insert(path.to_string(), id);
            }
            Source::Github(fake, ids) => {
                // `.json` assets come without a digest: the remote must
                // hash them itself.
                let digest = !path.ends_with(".json");
                let id = fake.add_asset(GH_TAG, path, data, digest);
                ids.borrow_mut().insert(path.to_string(), id);
            }
        }
    }

    fn delete(&self, path: &str) {
        match self {
            Source::Dataverse(fake) => fake.delete_file(path),
            Source::Figshare(fake, ids) => {
                fake.delete_file(support_figshare::ARTICLE, ids.borrow()[path])
            }
            Source::Github(fake, ids) => fake.delete_asset(ids.borrow()[path]),
        }
    }

    /// New content at `path`: Dataverse replaces (a new file id), Figshare
    /// and GitHub delete and upload again (a new id too).
    fn replace(&self, path: &str, data: &[u8]) {
        match self {
            Source::Dataverse(fake) => fake.replace_file(path, data),
            Source::Figshare(..) | Source::Github(..) => {
                self.delete(path);
                self.add(path, data);
            }
        }
    }
}

/// `git annex import --no-content` follows the source: five files (three
/// pages), then one added, one replaced and one deleted.
fn import_follows_the_source(kind: &str) {
    let source = Source::start(kind);
    let mut files = Files::new();
    let put = |files: &mut Files, tree_path: &str, data: Vec<u8>| {
        let path = source.path(tree_path);
        source.add(&path, &data);
        files.insert(path, data);
    };
    put(&mut files, "README.md", b"a dataset\n".to_vec());
    put(
        &mut files,
        "sub-01/anat/sub-01_T1w.nii.gz",
        common::pseudo_random(70_000, 1),
    );
    put(
        &mut files,
        "sub-01/func/sub-01_task-rest_bold.json",
        b"{\"TR\": 2}\n".to_vec(),
    );
    put(
        &mut files,
        "sub-02/anat/sub-02_T1w.nii.gz",
        common::pseudo_random(1_000, 2),
    );
    put(
        &mut files,
        "participants.tsv",
        b"participant_id\nsub-01\nsub-02\n".to_vec(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let (var, token) = source.token();
    let repo = newest_repo(&tmp.path().join("repo")).env(var, token);
    let params = source.params();
    let mut init = vec!["importtree=yes"];
    init.extend(params.iter().map(String::as_str));
    repo.initremote_ok("src", &init);
    let backend = source.backend();
    let backend_of = |_: &str| backend;
    import_round(&repo, &files, &backend_of);

    put(
        &mut files,
        "sub-03/anat/sub-03_T1w.nii.gz",
        common::pseudo_random(3_000, 3),
    );
    let bold = source.path("sub-01/func/sub-01_task-rest_bold.json");
    let replaced = b"{\"TR\": 2.5}\n".to_vec();
    source.replace(&bold, &replaced);
    files.insert(bold, replaced);
    let gone = source.path("sub-02/anat/sub-02_T1w.nii.gz");
    source.delete(&gone);
    files.remove(&gone);
    import_round(&repo, &files, &backend_of);
}

/// One module per provider.
macro_rules! import_cases {
    ($($kind:ident;)*) => {$(
        mod $kind {
            #[test]
            fn import_follows_the_source() {
                super::import_follows_the_source(stringify!($kind));
            }
        }
    )*};
}

import_cases! {
    dataverse;
    figshare;
    github;
}
