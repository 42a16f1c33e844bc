//! The README's S3 quick start, read from README.md and run as written on a
//! DataLad dataset (whose branch is `master`), against moto: if the README
//! drifts from what works, this fails.
//!
//! Only what a local server needs is changed: the credentials (`...` in the
//! README) are moto's, and each `initremote` gains `endpoint=` (the README:
//! "Any S3-compatible store works with `endpoint=https://host:port`").

use std::path::Path;

use crate::support::common::{self, Moto, Repo};

/// The first ```sh block after the line that starts with `after`.
fn sh_block(readme: &str, after: &str) -> Vec<String> {
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("README.md has no {after:?}"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let close = open + rest[open..].find("```").expect("its end");
    commands(&rest[open..close])
}

/// Shell commands of a block: continuations joined, comments dropped.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let command = current.split_whitespace().collect::<Vec<_>>().join(" ");
        if !command.is_empty() {
            out.push(command);
        }
        current.clear();
    }
    out
}

/// Runs the README's commands in `dataset`, as a user would: `export` sets
/// variables (with moto's credentials for `...`), `cd` is where the dataset
/// already is, and each `initremote` is told where the local server is.
fn run_block(dataset: &Repo, commands: &[String], endpoint: &str) {
    for command in commands {
        if command.starts_with("export AWS_ACCESS_KEY_ID=...") || command.starts_with("cd ") {
            continue;
        }
        let command = if command.contains(" initremote ") {
            format!("{command} endpoint={endpoint}")
        } else {
            command.clone()
        };
        let out = dataset.run(&["sh", "-c", &command]);
        assert!(
            out.status.success(),
            "README command failed: {command}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_s3_quick_start_runs_as_written_on_a_datalad_dataset() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let remote = sh_block(&readme, "## Quick start: an S3 special remote");
    let export = sh_block(&readme, "Export a tree with human-readable names");
    assert!(
        remote.iter().any(|c| c.contains("initremote s3 "))
            && export.iter().any(|c| c.contains("git annex export")),
        "the quick start lost its commands: {remote:?} {export:?}"
    );

    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let top = Repo::open(tmp.path());
    // DataLad's own default branch, whatever git's init.defaultBranch says.
    top.ok(&["datalad", "create", "my-dataset"]);
    let dataset = Repo::open(&tmp.path().join("my-dataset"))
        .env("AWS_ACCESS_KEY_ID", common::AWS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::AWS_SECRET);
    let data = common::pseudo_random(100_000, 7);
    dataset.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    dataset.ok(&["datalad", "save", "-m", "data"]);

    run_block(&dataset, &remote, &moto.endpoint());
    let path = tmp.path().join("my-dataset/sub-01/anat/sub-01_T1w.nii.gz");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        data,
        "content back after get"
    );
    let whereis = dataset.ok(&["git", "annex", "whereis", "sub-01"]);
    assert!(whereis.contains("[s3]"), "{whereis}");

    run_block(&dataset, &export, &moto.endpoint());
    // The exported file is in the bucket under its own name.
    let listed = dataset.ok(&["git", "annex", "whereis", "sub-01"]);
    assert!(listed.contains("[s3-tree]"), "{listed}");
    dataset.ok(&["git", "annex", "drop", "sub-01"]);
    dataset.ok(&["git", "annex", "get", "--from", "s3-tree", "sub-01"]);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        data,
        "content back from the tree"
    );
}
