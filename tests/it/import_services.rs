//! `git annex import --no-content` from Dataverse, Figshare and GitHub
//! remotes (`importtree=yes`) with the newest git-annex, against the fakes:
//! the imported tree has exactly the listed paths, each with the key its
//! content implies (computed here from the bytes put on the fake, in the
//! backend of the checksum the service publishes), `get` and `fsck` work,
//! and a re-import after files are added, replaced and deleted follows.

use crate::support::common;
use crate::support::dataverse as support_dataverse;
use crate::support::figshare as support_figshare;
use crate::support::github as support_github;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use common::{GitAnnex, Repo};

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

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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

// ---------------------------------------------------------------- Dataverse

mod dataverse {
    use super::*;
    use support_dataverse::{FakeDataverse, PID, TOKEN};

    #[test]
    fn dataverse_import_follows_the_dataset() {
        // SHA-1 checksums: keys must be SHA1E, not a default backend.
        let fake = FakeDataverse::start(&["--checksum", "SHA-1", "--max-page", "2"]);
        let mut files = Files::new();
        for (path, data) in [
            ("README.md", b"a dataset\n".to_vec()),
            (
                "sub-01/anat/sub-01_T1w.nii.gz",
                common::pseudo_random(70_000, 1),
            ),
            (
                "sub-01/func/sub-01_task-rest_bold.json",
                b"{\"TR\": 2}\n".to_vec(),
            ),
            (
                "sub-02/anat/sub-02_T1w.nii.gz",
                common::pseudo_random(1_000, 2),
            ),
            (
                "participants.tsv",
                b"participant_id\nsub-01\nsub-02\n".to_vec(),
            ),
        ] {
            fake.add_file(path, &data);
            files.insert(path.to_string(), data);
        }
        let tmp = tempfile::tempdir().unwrap();
        let repo = newest_repo(&tmp.path().join("repo")).env("DATAVERSE_API_KEY", TOKEN);
        repo.ok(&[
            "git",
            "annex",
            "initremote",
            "src",
            "type=external",
            "externaltype=annexa",
            "provider=dataverse",
            "encryption=none",
            "importtree=yes",
            &format!("url={}", fake.url()),
            &format!("doi={PID}"),
        ]);
        let sha1 = |_: &str| Backend::Sha1;
        import_round(&repo, &files, &sha1);

        // Add, replace (a new file id), delete.
        let added = common::pseudo_random(3_000, 3);
        fake.add_file("sub-03/anat/sub-03_T1w.nii.gz", &added);
        files.insert("sub-03/anat/sub-03_T1w.nii.gz".into(), added);
        let replaced = b"{\"TR\": 2.5}\n".to_vec();
        fake.replace_file("sub-01/func/sub-01_task-rest_bold.json", &replaced);
        files.insert("sub-01/func/sub-01_task-rest_bold.json".into(), replaced);
        fake.delete_file("sub-02/anat/sub-02_T1w.nii.gz");
        files.remove("sub-02/anat/sub-02_T1w.nii.gz");
        import_round(&repo, &files, &sha1);
    }
}

// ---------------------------------------------------------------- Figshare

mod figshare {
    use super::*;
    use support_figshare::{FakeFigshare, ARTICLE, TOKEN};

    pub fn add(fake: &FakeFigshare, name: &str, data: &[u8], supplied_md5: &str) -> u64 {
        let (status, _, body) = fake.http(
            "POST",
            &format!("/_fake/file?article={ARTICLE}&name={name}&supplied_md5={supplied_md5}"),
            data,
            &[],
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    fn delete(fake: &FakeFigshare, id: u64) {
        let auth = format!("token {TOKEN}");
        let (status, _, body) = fake.http(
            "DELETE",
            &format!("/v2/account/articles/{ARTICLE}/files/{id}"),
            b"",
            &[("Authorization", &auth)],
        );
        assert_eq!(status, 204, "{body}");
    }

    #[test]
    fn figshare_import_follows_the_article() {
        let fake = FakeFigshare::start(&["--max-page", "2"]);
        let mut files = Files::new();
        let mut ids = BTreeMap::new();
        for (name, data) in [
            ("data.csv", b"a,b\n1,2\n".to_vec()),
            ("scan.nii.gz", common::pseudo_random(70_000, 4)),
            ("notes.txt", b"notes\n".to_vec()),
        ] {
            // The uploader's claimed MD5 is wrong: only computed_md5 counts.
            ids.insert(
                name,
                add(&fake, name, &data, "00000000000000000000000000000000"),
            );
            files.insert(name.to_string(), data);
        }
        let tmp = tempfile::tempdir().unwrap();
        let repo = newest_repo(&tmp.path().join("repo")).env("FIGSHARE_API_KEY", TOKEN);
        repo.ok(&[
            "git",
            "annex",
            "initremote",
            "src",
            "type=external",
            "externaltype=annexa",
            "provider=figshare",
            "encryption=none",
            "importtree=yes",
            &format!("api={}", fake.api()),
            &format!("article={ARTICLE}"),
        ]);
        let md5 = |_: &str| Backend::Md5;
        import_round(&repo, &files, &md5);

        // Add; replace (Figshare: delete and upload again: a new file id); delete.
        let added = common::pseudo_random(2_000, 5);
        add(&fake, "more.bin", &added, "");
        files.insert("more.bin".into(), added);
        delete(&fake, ids["data.csv"]);
        let replaced = b"a,b\n3,4\n".to_vec();
        add(&fake, "data.csv", &replaced, "");
        files.insert("data.csv".into(), replaced);
        delete(&fake, ids["notes.txt"]);
        files.remove("notes.txt");
        import_round(&repo, &files, &md5);
    }
}

// ---------------------------------------------------------------- GitHub

mod github {
    use super::*;
    use support_github::{FakeGithub, GH_REPO, GH_TOKEN};

    const TAG: &str = "v1";

    pub fn add(fake: &FakeGithub, name: &str, data: &[u8], digest: bool) -> u64 {
        let v = fake.admin_with(
            "POST",
            &format!(
                "asset?repo={GH_REPO}&tag={TAG}&name={name}{}",
                if digest { "" } else { "&digest=0" }
            ),
            data,
        );
        v["id"].as_u64().unwrap()
    }

    fn delete(fake: &FakeGithub, id: u64) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", fake.api_port)).unwrap();
        let req = format!(
            "DELETE /repos/{GH_REPO}/releases/assets/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Connection: close\r\nAuthorization: Bearer {GH_TOKEN}\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut s, &mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 204") || out.starts_with("HTTP/1.0 204"),
            "{out}"
        );
    }

    #[test]
    fn github_import_follows_the_release() {
        let fake = FakeGithub::start(&["--release", &format!("{GH_REPO}:{TAG}")]);
        // Two assets per page: the listing is paged with Link.
        fake.configure("per_page_max=2");
        let mut files = Files::new();
        let mut ids = BTreeMap::new();
        let mut hashed = std::collections::BTreeSet::new();
        for (name, data, digest) in [
            ("dataset.tar.gz", common::pseudo_random(70_000, 6), true),
            ("README.md", b"release notes\n".to_vec(), true),
            // No digest: the remote must hash the content itself.
            ("checksums.txt", b"no digest for this one\n".to_vec(), false),
            ("extra.zip", common::pseudo_random(500, 7), true),
            ("old.bin", common::pseudo_random(100, 8), true),
        ] {
            ids.insert(name, add(&fake, name, &data, digest));
            if !digest {
                hashed.insert(name.to_string());
            }
            files.insert(name.to_string(), data);
        }
        let tmp = tempfile::tempdir().unwrap();
        let repo = newest_repo(&tmp.path().join("repo")).env("GITHUB_TOKEN", GH_TOKEN);
        repo.ok(&[
            "git",
            "annex",
            "initremote",
            "src",
            "type=external",
            "externaltype=annexa",
            "provider=github",
            "encryption=none",
            "importtree=yes",
            &format!("api={}", fake.api()),
            &format!("repo={GH_REPO}"),
            &format!("tag={TAG}"),
        ]);
        // GitHub's digests are SHA-256, and so is the hash of an asset without one.
        let sha256 = |_: &str| Backend::Sha256;
        import_round(&repo, &files, &sha256);

        // Add (without digest), replace (delete + upload: a new asset id), delete.
        let added = b"added later, no digest\n".to_vec();
        add(&fake, "later.txt", &added, false);
        files.insert("later.txt".into(), added);
        delete(&fake, ids["README.md"]);
        let replaced = b"release notes, revised\n".to_vec();
        add(&fake, "README.md", &replaced, true);
        files.insert("README.md".into(), replaced);
        delete(&fake, ids["old.bin"]);
        files.remove("old.bin");
        import_round(&repo, &files, &sha256);
        assert!(!hashed.is_empty());
    }
}

// ------------------------------------------- URLs of imported files (in process)

use crate::support::annex as support_annex;
use crate::support::annex::annex_key;

mod urls {
    use super::*;
    use annexa::providers::import::content_key;
    use annexa::providers::{self, Annex, ImportSink, ImportableFile};
    use support_annex::MemAnnex;

    #[derive(Default)]
    struct Collect(Vec<ImportableFile>);

    impl ImportSink for Collect {
        fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
            self.0.push(file);
            Ok(())
        }
        fn skipped(&mut self, name: &str, why: &str) {
            panic!("{name} skipped: {why}");
        }
    }

    /// Every listed file has a URL the provider claims and, recorded for
    /// the file's key in a git-annex that knows nothing else of it, the
    /// provider's key store downloads the file's bytes from it (what
    /// `annexa import` relies on after `git annex registerurl`).
    fn urls_fetch_keys(kind: &str, config: &[(&str, &str)], files: &Files) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        rt.block_on(async {
            let annex = MemAnnex::with(config);
            let kind = providers::find_kind(kind).unwrap();
            kind.initremote(&annex).await.unwrap();
            let provider = kind.prepare(&annex).await.unwrap();
            let import = provider.import().expect("import capability");
            let mut listed = Collect::default();
            import.list_importable(&mut listed, &annex).await.unwrap();
            let paths: Vec<&str> = listed.0.iter().map(|f| f.path.as_str()).collect();
            let want: Vec<&str> = files.keys().map(String::as_str).collect();
            let mut sorted = paths.clone();
            sorted.sort();
            assert_eq!(sorted, want);
            for (n, file) in listed.0.iter().enumerate() {
                let url = file.url.as_deref().expect("a URL");
                assert!(provider.urls().unwrap().claims_url(url), "{url}");
                let scratch = tmp.path().join(format!("scratch-{n}"));
                let (key, _) =
                    content_key(import, &file.path, file.size, &file.id, &scratch, &annex)
                        .await
                        .unwrap();
                let fresh = MemAnnex::with(config);
                fresh.set_url_present(&key, url).await.unwrap();
                let prepared = kind.prepare(&fresh).await.unwrap();
                let dest = tmp.path().join(format!("got-{n}"));
                prepared
                    .retrieve(&annex_key(&key), &dest, &fresh)
                    .await
                    .unwrap();
                assert_eq!(&std::fs::read(&dest).unwrap(), &files[&file.path], "{url}");
            }
        });
    }

    #[test]
    fn dataverse_urls_fetch_keys() {
        use support_dataverse::{FakeDataverse, PID, TOKEN};
        std::env::set_var("DATAVERSE_API_KEY", TOKEN);
        let fake = FakeDataverse::start(&["--checksum", "SHA-256"]);
        let mut files = Files::new();
        for (path, data) in [
            ("a/b.txt", b"b\n".to_vec()),
            ("c.nii.gz", common::pseudo_random(5_000, 9)),
        ] {
            fake.add_file(path, &data);
            files.insert(path.to_string(), data);
        }
        let url = fake.url();
        urls_fetch_keys("dataverse", &[("url", &url), ("doi", PID)], &files);
    }

    #[test]
    fn figshare_urls_fetch_keys() {
        use support_figshare::{FakeFigshare, ARTICLE, TOKEN};
        std::env::set_var("FIGSHARE_API_KEY", TOKEN);
        let fake = FakeFigshare::start(&[]);
        let mut files = Files::new();
        for (name, data) in [
            ("x.csv", b"1\n".to_vec()),
            ("y.bin", common::pseudo_random(4_000, 10)),
        ] {
            super::figshare::add(&fake, name, &data, "");
            files.insert(name.to_string(), data);
        }
        let api = fake.api();
        let article = ARTICLE.to_string();
        urls_fetch_keys("figshare", &[("api", &api), ("article", &article)], &files);
    }

    #[test]
    fn github_urls_fetch_keys() {
        use support_github::{FakeGithub, GH_REPO, GH_TOKEN};
        std::env::set_var("GITHUB_TOKEN", GH_TOKEN);
        let fake = FakeGithub::start(&["--release", &format!("{GH_REPO}:v1")]);
        let mut files = Files::new();
        for (name, data, digest) in [
            ("r.tar.gz", common::pseudo_random(3_000, 11), true),
            ("s.txt", b"no digest\n".to_vec(), false),
        ] {
            super::github::add(&fake, name, &data, digest);
            files.insert(name.to_string(), data);
        }
        let api = fake.api();
        urls_fetch_keys(
            "github",
            &[("api", &api), ("repo", GH_REPO), ("tag", "v1")],
            &files,
        );
    }
}
