//! The Figshare remote under real git-annex commands, against the fake
//! Figshare: the WAF challenge of the browser path never becomes a file, no
//! credential reaches the storage host, `git annex addurl` of an article
//! registers every file, and a file of a published version is not dropped.
//! Set-up errors and resumed downloads: the table in `git_annex.rs`.

use crate::support::common;
use crate::support::figshare as support_figshare;

use common::{pseudo_random, text, Repo};
use support_figshare::{FakeFigshare, ARTICLE, TOKEN};

fn init(fake: &FakeFigshare, repo: &Repo, name: &str, extra: &[&str]) -> std::process::Output {
    let api = format!("api={}", fake.api());
    let mut params = vec!["provider=figshare", &api];
    params.extend_from_slice(extra);
    let article = format!("article={ARTICLE}");
    if !extra.iter().any(|a| a.starts_with("article=")) {
        params.push(&article);
    }
    repo.initremote(name, &params)
}

fn file_ids(fake: &FakeFigshare) -> Vec<u64> {
    fake.files().into_iter().map(|(_, id, _)| id).collect()
}

#[test]
fn waf_challenge_never_becomes_a_file_and_no_token_reaches_storage() {
    let fake = FakeFigshare::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("FIGSHARE_API_KEY", TOKEN);
    assert!(init(&fake, &repo, "fs", &[]).status.success());
    let data = pseudo_random(700_000, 3);
    repo.write("a.bin", &data);
    repo.ok(&["git", "annex", "add", "a.bin"]);
    repo.ok(&["git", "annex", "copy", "--to", "fs", "a.bin"]);
    let id = file_ids(&fake)[0];

    // The browser path answers an empty 202 challenge: a naive client
    // would save a 0-byte file.
    let (status, head, body) = fake.http("GET", &format!("/ndownloader/files/{id}"), b"", &[]);
    assert_eq!(status, 202);
    assert!(head
        .to_ascii_lowercase()
        .contains("x-amzn-waf-action: challenge"));
    assert!(body.is_empty());
    fake.admin("POST", "reset-log");

    // annexa claims that URL and fetches the file through the API.
    let url = format!("{}/ndownloader/files/{id}", fake.web());
    repo.ok(&["git", "annex", "addurl", "--file", "via-web.bin", &url]);
    assert_eq!(
        std::fs::read(tmp.path().join("r/via-web.bin")).unwrap(),
        data
    );
    repo.ok(&["git", "annex", "drop", "a.bin"]);
    repo.ok(&["git", "annex", "get", "a.bin"]);
    assert_eq!(std::fs::read(tmp.path().join("r/a.bin")).unwrap(), data);
    let api = fake.api_log();
    assert!(
        api.iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("/ndownloader")),
        "annexa used the browser path: {api:?}"
    );

    // A download from the challenge path through the transfer layer is
    // an error, never a file.
    let dest = tmp.path().join("challenge");
    let client = annexa::transfer::Client::new(Default::default()).unwrap();
    let request = || client.http().get(&url);
    let spec = annexa::transfer::Download {
        request: &request,
        expected_size: None,
        checksum: None,
        resume: false,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(client.download(&spec, &dest, &|_| {}));
    assert!(got.is_err(), "a 202 challenge was taken as content");

    let (requests, violations) = fake.storage_log();
    assert!(
        violations.is_empty(),
        "token sent to storage: {violations:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r["path"].as_str().unwrap().starts_with("/files/")),
        "downloads went through signed storage"
    );
    assert!(requests
        .iter()
        .all(|r| r["headers"]["authorization"].is_null()));
}

#[test]
fn addurl_of_an_article_registers_every_file_and_published_drop_fails() {
    let fake = FakeFigshare::start(&["--article", "4343"]);
    let tmp = tempfile::tempdir().unwrap();
    // Somebody publishes an article of three files (by exporting a tree).
    let author = Repo::init(&tmp.path().join("author")).env("FIGSHARE_API_KEY", TOKEN);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("atlas.nii.gz", pseudo_random(300_000, 1)),
        ("labels.tsv", b"index\tname\n1\tV1\n".to_vec()),
        ("README.txt", b"a tractography atlas\n".to_vec()),
    ];
    for (name, data) in &files {
        author.write(name, data);
    }
    author.ok(&["git", "annex", "add", "."]);
    author.ok(&["git", "commit", "-q", "-m", "data"]);
    let out = init(&fake, &author, "fsx", &["article=4343", "exporttree=yes"]);
    assert!(out.status.success(), "{}", text(&out));
    author.ok(&["git", "annex", "export", "HEAD", "--to", "fsx"]);
    fake.admin("POST", "publish?article=4343");

    // A user adds the article by its URL: every file is registered.
    let user = Repo::init(&tmp.path().join("user")).env("FIGSHARE_API_KEY", TOKEN);
    assert!(init(&fake, &user, "fs", &[]).status.success());
    let url = format!(
        "{}/articles/dataset/A_tractography_atlas/4343/1",
        fake.web()
    );
    let out = user.run(&["git", "annex", "addurl", &url]);
    assert!(out.status.success(), "{}", text(&out));
    // git-annex puts the files of a multi-file URL in a folder named
    // after the URL.
    let added: Vec<std::path::PathBuf> = walkdir::WalkDir::new(tmp.path().join("user"))
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(added.len(), files.len(), "{added:?}\n{}", text(&out));
    for (name, data) in &files {
        let path = added
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == *name))
            .unwrap_or_else(|| panic!("{name} not added: {added:?}"));
        assert_eq!(&std::fs::read(path).unwrap(), data, "{name}");
    }
    let atlas = added
        .iter()
        .find(|p| p.ends_with("atlas.nii.gz"))
        .unwrap()
        .strip_prefix(tmp.path().join("user"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    user.ok(&["git", "commit", "-q", "-m", "added by url"]);
    user.ok(&["git", "annex", "drop", &atlas]);
    user.ok(&["git", "annex", "get", &atlas]);
    let whereis = user.ok(&["git", "annex", "whereis", &atlas]);
    assert!(whereis.contains("fs"), "{whereis}");

    // Key mode: a key in a published version cannot be dropped.
    user.write("mine.bin", &pseudo_random(5000, 5));
    user.ok(&["git", "annex", "add", "mine.bin"]);
    user.ok(&["git", "annex", "copy", "--to", "fs", "mine.bin"]);
    fake.publish();
    let out = user.run(&["git", "annex", "drop", "--from", "fs", "mine.bin"]);
    let t = text(&out);
    assert!(
        !out.status.success(),
        "drop of a published file must fail: {t}"
    );
    assert!(t.contains("published version 1"), "{t}");
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}
