//! The README's S3 quick start, read from README.md and run as written on a
//! DataLad dataset (whose branch is `master`), against moto: if the README
//! drifts from what works, this fails.
//!
//! Only what a local server needs is changed: the credentials (`...` in the
//! README) are moto's, and each `initremote` gains `endpoint=` (the README:
//! "Any S3-compatible store works with `endpoint=https://host:port`").
//!
//! The other quick starts ("any archive as a dataset", "exact BIDS
//! subsets") run the same way; each substitution is said where it is made.
//! Not run here: the "Install" block (`pip install annexa` reaches PyPI and
//! `make install` writes to the user's PATH and man folder: `make
//! test-wheel` tests the wheel in a fresh venv) and the "Set-up" block
//! (`make demo` and `make test` are the demo and this suite themselves).

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
        if line.trim_start().starts_with('#') {
            continue;
        }
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

/// Where the README's commands run: a folder of their own, the test PATH,
/// a cache of their own (`annexa cache clean --all` must not reach the
/// user's), no credentials from the environment.
struct Shell {
    dir: std::path::PathBuf,
    cache: std::path::PathBuf,
}

impl Shell {
    fn new(tmp: &Path) -> Shell {
        let dir = tmp.join("work");
        std::fs::create_dir_all(&dir).unwrap();
        Shell {
            dir,
            cache: tmp.join("xdg-cache"),
        }
    }

    fn run(&self, command: &str) -> String {
        let out = Repo::open(&self.dir)
            .command(&["sh", "-c", command])
            .env("XDG_CACHE_HOME", &self.cache)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .expect("sh runs");
        assert!(
            out.status.success(),
            "README command failed: {command}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs every command of a block, each changed by `offline` (which
    /// must name why); returns each command with its output.
    fn block(
        &self,
        commands: &[String],
        offline: impl Fn(&str) -> String,
    ) -> Vec<(String, String)> {
        commands
            .iter()
            .map(|c| {
                let c = offline(c);
                let out = self.run(&c);
                (c, out)
            })
            .collect()
    }
}

/// The output of the one command of `ran` that contains `needle`.
fn output_of<'a>(ran: &'a [(String, String)], needle: &str) -> &'a str {
    let found: Vec<_> = ran.iter().filter(|(c, _)| c.contains(needle)).collect();
    assert_eq!(
        found.len(),
        1,
        "one README command with {needle:?}: {ran:?}"
    );
    &found[0].1
}

/// `text` with `from` replaced, which must be there: a README edit that
/// removes it must fail here, not quietly run something else.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{text:?} no longer has {from:?}");
    text.replace(from, to)
}

/// A BIDS example (or the part `keep` keeps) as a DataLad dataset (branch
/// `master`, everything annexed, as `datalad create` makes it), unsaved.
fn datalad_dataset(dir: &Path, example: &str, keep: impl Fn(&str) -> bool) {
    Repo::open(dir.parent().unwrap()).ok(&["datalad", "create", dir.to_str().unwrap()]);
    copy_example(dir, example, keep);
}

/// Copies the files of a bids-examples folder that `keep` keeps into `dir`.
/// Empty placeholder files get their path as content, so each has its own key.
fn copy_example(dir: &Path, example: &str, keep: impl Fn(&str) -> bool) {
    let source = crate::support::bids::examples_dir().join(example);
    for entry in walkdir::WalkDir::new(&source) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&source).unwrap();
        let name = rel.to_string_lossy();
        if !entry.file_type().is_file() || !keep(&name) {
            continue;
        }
        let to = dir.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let data = std::fs::read(entry.path()).unwrap();
        let data = if data.is_empty() {
            format!("placeholder {name}\n").into_bytes()
        } else {
            data
        };
        std::fs::write(to, data).unwrap();
    }
}

/// Relative paths of the files below `dir`.
fn files(dir: &Path) -> Vec<String> {
    crate::support::bids::files_under(dir)
}

/// The "any archive as a dataset" quick start, on moto (S3), the fake
/// Dataverse and the fake GitHub of tests/fakes.
#[test]
fn the_import_quick_start_runs_on_local_servers() {
    use crate::support::dataverse::{FakeDataverse, PID};
    use crate::support::github::{FakeGithub, GH_REPO};

    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let block = sh_block(&readme, "## Quick start: any archive as a dataset");

    // S3: the public bucket `openneuro.org` on moto, prefix ds004712, with
    // ds001's first two subjects renamed to the README's sub-03286/03287.
    let moto = Moto::start();
    let source = crate::support::bids::examples_dir().join("ds001");
    let mut objects = Vec::new();
    let mut s3_files = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(&source) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(&source)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = rel.split('/').next().unwrap();
        let other_subject = top.starts_with("sub-") && !matches!(top, "sub-01" | "sub-02");
        if !entry.file_type().is_file() || other_subject {
            continue;
        }
        let name = rel
            .replace("sub-01", "sub-03286")
            .replace("sub-02", "sub-03287");
        let data = String::from_utf8(std::fs::read(entry.path()).unwrap())
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("placeholder {name}\n"));
        objects.push(
            serde_json::json!({"op": "put", "key": format!("ds004712/{name}"), "data": data}),
        );
        s3_files.insert(name, data);
    }
    crate::support::s3::fill_bucket(&moto, "openneuro.org", &objects);

    // Dataverse: a published dataset on the fake (its PID stands for the
    // README's placeholder XXXXXX).
    let dataverse = FakeDataverse::start(&[]);
    let t1w = common::pseudo_random(5_000, 31);
    dataverse.add_file("sub-01/anat/sub-01_T1w.nii.gz", &t1w);
    dataverse.add_file("participants.tsv", b"participant_id\nsub-01\n");
    dataverse.publish();

    // GitHub: release v1.0 of the fake's repository (for ORG/REPO).
    let github = FakeGithub::start(&["--release", &format!("{GH_REPO}:v1.0")]);
    let asset = common::pseudo_random(3_000, 32);
    github.admin_with(
        "POST",
        &format!("asset?repo={GH_REPO}&tag=v1.0&name=data.tar.gz"),
        &asset,
    );

    let tmp = tempfile::tempdir().unwrap();
    let shell = Shell::new(tmp.path());
    let endpoint = format!("--endpoint {}", moto.endpoint());
    let ran = shell.block(&block, |command| {
        let mut c = command.to_string();
        if c.contains("s3://openneuro.org/") {
            // The bucket is on moto: its address, as the README's
            // import docs say (`--endpoint` on import, ls and get).
            c = format!("{c} {endpoint}");
        }
        if c.contains("doi:10.7910/DVN/XXXXXX") {
            // The fake's dataset for the placeholder, at the fake's address
            // (the README's own `--dataverse URL`).
            c = replace(&c, "doi:10.7910/DVN/XXXXXX", PID);
            c = format!("{c} --dataverse {}", dataverse.url());
        }
        if c.contains("https://github.com/ORG/REPO/") {
            // The fake's repository for the placeholder; the API at the
            // fake's address (`--api`, docs/import.md).
            c = replace(&c, "ORG/REPO", GH_REPO);
            c = format!("{c} --api {}", github.api());
        }
        c
    });
    assert_eq!(ran.len(), 5, "the quick start has five commands: {ran:?}");

    // `annexa import s3://…`: every object is an annexed file, and
    // `git annex get sub-03286/anat` (the fourth command) got its content.
    let ds = shell.dir.join("ds004712");
    let imported: Vec<String> = files_or_links(&ds);
    assert_eq!(imported, s3_files.keys().cloned().collect::<Vec<_>>());
    let anat = "sub-03286/anat/sub-03286_T1w.nii.gz";
    assert_eq!(
        std::fs::read_to_string(ds.join(anat)).unwrap(),
        s3_files[anat],
        "git annex get fetched the content"
    );
    assert!(
        std::fs::read(
            ds.join("sub-03286/func/sub-03286_task-balloonanalogrisktask_run-01_bold.nii.gz")
        )
        .is_err(),
        "only sub-03286/anat was fetched"
    );
    // Dataverse and GitHub: the dataset's and the release's files.
    assert_eq!(
        files_or_links(&shell.dir.join("mydata")),
        ["participants.tsv", "sub-01/anat/sub-01_T1w.nii.gz"]
    );
    assert_eq!(files_or_links(&shell.dir.join("release")), ["data.tar.gz"]);
    // `annexa get s3://… --sub 03286 --suffix T1w`: that file alone, real.
    let t1 = shell.dir.join("t1");
    let got = files(&t1);
    assert!(got.contains(&anat.to_string()), "{got:?}");
    assert!(
        got.iter()
            .all(|f| !f.starts_with("sub-") || f.ends_with("_T1w.nii.gz")),
        "{got:?}"
    );
    assert_eq!(
        std::fs::read_to_string(t1.join(anat)).unwrap(),
        s3_files[anat]
    );
}

/// Files and symlinks below `dir` outside `.git` and `.datalad`, relative.
fn files_or_links(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".datalad")))
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| p != ".gitattributes")
        .collect();
    out.sort();
    out
}

/// The "exact BIDS subsets" quick start on DataLad datasets made from
/// bids-examples: `///openneuro/NAME` (datasets.datalad.org, which needs
/// the network) becomes a local dataset of the same name, `DATASET` one
/// whose `derivatives/fmriprep` is a DataLad subdataset.
#[test]
fn the_bids_quick_start_runs_on_local_datalad_datasets() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let block = sh_block(&readme, "## Quick start: exact BIDS subsets");

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("datasets");
    std::fs::create_dir_all(&data).unwrap();
    let ds004712 = data.join("ds004712");
    datalad_dataset(&ds004712, "ds001", |p| {
        !p.starts_with("sub-")
            || ["sub-01/", "sub-02/", "sub-03/", "sub-04/"]
                .iter()
                .any(|s| p.starts_with(s))
    });
    Repo::open(&ds004712).ok(&["datalad", "save", "-m", "ds001 as ds004712"]);
    let ds000117 = data.join("ds000117");
    datalad_dataset(&ds000117, "ds000117", |p| {
        !p.starts_with("derivatives/")
            && !p.starts_with("stimuli/")
            && (!p.starts_with("sub-") || p.starts_with("sub-01/") || p.starts_with("sub-02/"))
    });
    Repo::open(&ds000117).ok(&["datalad", "save", "-m", "ds000117"]);
    // `synthetic`, with derivatives/fmriprep as a DataLad subdataset.
    let synthetic = data.join("synthetic");
    datalad_dataset(&synthetic, "synthetic", |p| {
        !p.starts_with("derivatives/") && (!p.starts_with("sub-") || p.starts_with("sub-01/"))
    });
    let pipeline = synthetic.join("derivatives/fmriprep");
    Repo::open(&synthetic).ok(&["datalad", "create", "-d", ".", "derivatives/fmriprep"]);
    copy_example(&pipeline, "synthetic/derivatives/fmriprep", |_| true);
    Repo::open(&synthetic).ok(&["datalad", "save", "-r", "-m", "synthetic"]);

    let shell = Shell::new(tmp.path());
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let ran = shell.block(&block, |command| {
        let mut c = command.to_string();
        // datasets.datalad.org is on the network: the local datasets.
        if c.contains("///openneuro/ds004712") {
            c = replace(&c, "///openneuro/ds004712", &path(&ds004712));
        }
        if c.contains("///openneuro/ds000117") {
            c = replace(&c, "///openneuro/ds000117", &path(&ds000117));
        }
        // DATASET is the README's placeholder for any dataset.
        if c.contains(" DATASET ") {
            c = replace(&c, " DATASET ", &format!(" {} ", path(&synthetic)));
        }
        c
    });
    assert_eq!(ran.len(), 5, "the quick start has five commands: {ran:?}");

    // ls: the T1w images of sub-01 and sub-02 (and metadata that applies).
    let listed = output_of(&ran, "annexa ls ");
    for sub in ["01", "02"] {
        assert!(
            listed.contains(&format!("sub-{sub}/anat/sub-{sub}_T1w.nii.gz")),
            "{listed}"
        );
    }
    assert!(
        !listed.contains("sub-03/") && !listed.contains("_bold"),
        "{listed}"
    );
    // get --to ./t1w: real files, the origin's bytes, no other subject.
    let t1w = shell.dir.join("t1w");
    let got = files(&t1w);
    for sub in ["01", "02", "03"] {
        let name = format!("sub-{sub}/anat/sub-{sub}_T1w.nii.gz");
        assert!(got.contains(&name), "{got:?}");
        assert_eq!(
            std::fs::read(t1w.join(&name)).unwrap(),
            std::fs::read(ds004712.join(&name)).unwrap()
        );
    }
    assert!(got.iter().all(|f| !f.starts_with("sub-04")), "{got:?}");
    // faces: bold and events of task facerecognition only.
    let faces = files(&shell.dir.join("faces"));
    assert!(
        faces
            .iter()
            .any(|f| f.ends_with("_task-facerecognition_run-01_bold.nii.gz")),
        "{faces:?}"
    );
    assert!(
        faces.iter().any(|f| f.ends_with("_events.tsv")),
        "{faces:?}"
    );
    // Sidecars and the sessions/scans tables that apply come along.
    let metadata =
        |f: &str| f.ends_with(".json") || f.ends_with("_scans.tsv") || f.ends_with("_sessions.tsv");
    for f in faces
        .iter()
        .filter(|f| f.starts_with("sub-") && !metadata(f))
    {
        assert!(
            f.contains("task-facerecognition")
                && (f.ends_with("_bold.nii.gz") || f.ends_with("_events.tsv")),
            "{f} is not selected"
        );
    }
    // prep: fmriprep's MNI outputs of sub-01, from the subdataset.
    let prep = files(&shell.dir.join("prep"));
    let mni: Vec<_> = prep
        .iter()
        .filter(|f| f.contains("space-MNI152NLin2009cAsym"))
        .collect();
    assert!(!mni.is_empty(), "{prep:?}");
    assert!(
        prep.iter()
            .filter(|f| f.contains("/sub-"))
            .all(|f| f.contains("sub-01")
                && (f.contains("space-MNI152NLin2009cAsym") || !f.contains("space-"))),
        "{prep:?}"
    );
    // cache list named the three datasets; clean --all emptied the cache.
    let listed = output_of(&ran, "annexa cache list");
    for ds in [&ds004712, &ds000117, &synthetic] {
        assert!(listed.contains(&path(ds)), "{listed}");
    }
    let after = shell.run("annexa cache list");
    assert!(!after.contains(&path(&ds004712)), "{after}");
}
