//! The Dataverse remote under real git-annex commands: URL mode, honest
//! drops of published content, a killed download resumed. Set-up errors
//! and broken downloads resumed: the table in `git_annex.rs`.

use crate::support::common;
use crate::support::dataverse as support_dataverse;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{pseudo_random, text, Repo};
use support_dataverse::{FakeDataverse, PID, TOKEN};

fn init(fake: &FakeDataverse, repo: &Repo, extra: &[&str]) -> std::process::Output {
    let url = format!("url={}", fake.url());
    let doi = format!("doi={PID}");
    repo.initremote("dv", &[&["provider=dataverse", &url, &doi], extra].concat())
}

#[test]
fn published_drop_fails_and_url_mode_works() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("DATAVERSE_API_KEY", TOKEN);
    assert!(init(&fake, &repo, &[]).status.success());
    repo.write("a.dat", &pseudo_random(100_000, 1));
    repo.ok(&["git", "annex", "add", "a.dat"]);
    repo.ok(&["git", "annex", "copy", "--to", "dv", "a.dat"]);
    fake.publish();
    let out = repo.run(&["git", "annex", "drop", "--from", "dv", "a.dat"]);
    let t = text(&out);
    assert!(
        !out.status.success(),
        "drop from a published version must fail: {t}"
    );
    assert!(t.contains("published version 1.0"), "{t}");
    let whereis = repo.ok(&["git", "annex", "whereis", "a.dat"]);
    assert!(whereis.contains("[dv]"), "still counted: {whereis}");

    // URL mode: a file somebody else put on Dataverse, added by URL.
    let (status, _, body) = fake.http(
        "POST",
        &format!("/_fake/ingest?persistentId={PID}&name=table.csv"),
        b"x,y\n1,2\n3,4\n",
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["data"]["files"][0]["dataFile"]["id"].as_u64().unwrap();
    let url = format!("{}/api/access/datafile/{id}", fake.url());
    repo.ok(&["git", "annex", "addurl", "--file", "table.csv", &url]);
    assert_eq!(
        std::fs::read(tmp.path().join("r/table.csv")).unwrap(),
        b"x,y\n1,2\n3,4\n"
    );
    repo.ok(&["git", "annex", "drop", "table.csv"]);
    repo.ok(&["git", "annex", "get", "table.csv"]);
    assert_eq!(
        std::fs::read(tmp.path().join("r/table.csv")).unwrap(),
        b"x,y\n1,2\n3,4\n"
    );
    let whereis = repo.ok(&["git", "annex", "whereis", "table.csv"]);
    assert!(whereis.contains("dv"), "{whereis}");
}

#[test]
fn killed_download_resumes_where_it_stopped() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("DATAVERSE_API_KEY", TOKEN);
    assert!(init(&fake, &repo, &[]).status.success());
    let data = pseudo_random(4 << 20, 9);
    repo.write("big.bin", &data);
    repo.ok(&["git", "annex", "add", "big.bin"]);
    repo.ok(&["git", "annex", "copy", "--to", "dv", "big.bin"]);
    repo.ok(&["git", "annex", "drop", "big.bin"]);
    fake.admin("POST", "reset-log");

    // Slow download (1 MiB/s), killed after a good part arrived.
    let mut child = repo
        .command(&["git", "annex", "get", "big.bin"])
        .env("ANNEXA_MAX_RATE", "1MiB")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmpdir = tmp.path().join("r/.git/annex/tmp");
    let start = Instant::now();
    let partial = loop {
        let size = std::fs::read_dir(&tmpdir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| e.metadata().ok())
            .map(|m| m.len())
            .unwrap_or(0);
        if size > 1 << 20 || start.elapsed() > Duration::from_secs(20) {
            break size;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // As if the terminal went away: git-annex and its remote die together
    // (the group we started), leaving the partial file behind.
    let _ = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{}", child.id())])
        .status();
    child.wait().unwrap();
    assert!(
        partial > 0 && partial < data.len() as u64,
        "partial {partial}"
    );
    std::thread::sleep(Duration::from_millis(500));

    repo.ok(&["git", "annex", "get", "big.bin"]);
    assert_eq!(std::fs::read(tmp.path().join("r/big.bin")).unwrap(), data);
    let (requests, violations) = fake.storage_log();
    assert!(violations.is_empty());
    let resumed = requests
        .iter()
        .filter_map(|r| r["headers"]["range"].as_str())
        .find_map(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<u64>()
                .ok()
        });
    assert!(
        resumed.is_some_and(|at| at >= partial.min(1 << 20) / 2),
        "second get resumed with Range: {requests:?}"
    );
}

/// Issue 13, item 3: `git annex copy -J8` into a dataset that locks itself
/// for a moment after every upload (EditInProgress; changes meanwhile are
/// answered 400): every store waits its turn and succeeds; a ZIP file
/// among them comes back byte for byte.
#[test]
fn parallel_copies_into_a_locking_dataset_all_succeed() {
    let fake = FakeDataverse::start(&[]);
    fake.admin("POST", "config?lock_after_upload=0.2");
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("DATAVERSE_API_KEY", TOKEN);
    assert!(init(&fake, &repo, &[]).status.success());
    for i in 0..16u64 {
        repo.write(
            &format!("f{i}.dat"),
            &pseudo_random(3000 + i as usize, 200 + i),
        );
    }
    // Content that is a ZIP archive (an empty one: the end record only).
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    let mut local = b"PK\x03\x04".to_vec();
    local.extend(pseudo_random(500, 7));
    repo.write("z.zip", &zip);
    repo.write("y.docx", &local);
    repo.ok(&["git", "annex", "add", "."]);
    let out = repo.run(&["git", "annex", "copy", "-J8", "--to", "dv", "."]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(fake.latest_files().len(), 18);
    repo.ok(&["git", "annex", "drop", "."]);
    repo.ok(&["git", "annex", "get", "-J8", "."]);
    assert_eq!(std::fs::read(tmp.path().join("r/z.zip")).unwrap(), zip);
    assert_eq!(std::fs::read(tmp.path().join("r/y.docx")).unwrap(), local);
}

/// Issue 13, item 1: on 6.1 (an empty directoryLabel is ignored) a move to
/// the top folder is refused, and git-annex exports the file anew there;
/// other renames are done by the metadata API (text/plain success).
#[test]
fn export_moves_to_the_top_folder_on_old_releases() {
    let fake = FakeDataverse::start(&["--version", "6.1"]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::init(&tmp.path().join("r")).env("DATAVERSE_API_KEY", TOKEN);
    assert!(init(&fake, &repo, &["exporttree=yes"]).status.success());
    repo.write("sub/a.txt", b"content of a\n");
    repo.write("sub/b.txt", b"content of b\n");
    repo.ok(&["git", "annex", "add", "."]);
    repo.ok(&["git", "commit", "-qm", "one"]);
    repo.ok(&["git", "annex", "export", "HEAD", "--to", "dv"]);
    repo.ok(&["git", "mv", "sub/a.txt", "a.txt"]);
    repo.ok(&["git", "mv", "sub/b.txt", "sub/c.txt"]);
    repo.ok(&["git", "commit", "-qm", "two"]);
    repo.ok(&["git", "annex", "export", "HEAD", "--to", "dv"]);
    let mut files: Vec<(String, String)> = fake
        .latest_files()
        .into_iter()
        .map(|(label, dir, _)| (dir, label))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            (String::new(), "a.txt".to_string()),
            ("sub".to_string(), "c.txt".to_string())
        ]
    );
}
