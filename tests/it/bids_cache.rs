//! The cache: private clones, `cache list|path|clean`, cleaning read-only
//! annex objects as an ordinary user, and derivative subdatasets.

use crate::support::bids as support_bids;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support_bids::{files_under, git, lines, sh, Builder};

#[test]
fn the_cache_clone_never_announces_itself() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let out = ds.path("out");
    let origin = ds.origin.to_str().unwrap();
    ds.annexa_ok(&[
        "get",
        origin,
        "--to",
        out.to_str().unwrap(),
        "--suffix",
        "T1w",
    ]);
    let repo = ds.cached_repo();
    assert!(repo.starts_with(&ds.cache));
    let private = sh(git(&repo).args(["config", "annex.private"]));
    assert_eq!(private.trim(), "true");
    let uuid = sh(git(&repo).args(["config", "annex.uuid"]))
        .trim()
        .to_string();
    assert!(!uuid.is_empty());
    // Neither the clone's git-annex branch nor the origin's mentions it.
    for place in [&repo, &ds.origin] {
        let found = Command::new("git")
            .arg("-C")
            .arg(place)
            .args(["grep", "-q", &uuid, "git-annex"])
            .status()
            .unwrap();
        assert!(
            !found.success(),
            "{} records the cache uuid",
            place.display()
        );
    }
    let whereis = sh(git(&ds.origin).args(["annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]));
    assert!(!whereis.contains(&uuid), "{whereis}");
}

#[test]
fn cache_list_path_and_clean() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let origin = ds.origin.to_str().unwrap();
    let missing = ds.annexa(&["cache", "path", origin]);
    assert!(!missing.status.success(), "nothing cached yet");

    ds.annexa_ok(&["ls", origin]);
    let list = ds.annexa_ok(&["cache", "list"]);
    assert_eq!(list.len(), 1);
    assert!(list[0].starts_with(origin), "{list:?}");
    let repo = ds.cached_repo();
    assert!(repo.join(".git").is_dir());

    let removed = ds.annexa_ok(&["cache", "clean", origin]);
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(!repo.exists());
    assert!(ds.annexa_ok(&["cache", "list"]).is_empty());
    // A later call clones again.
    assert!(!ds.ls(&["--suffix", "T1w"]).is_empty());
}

/// Runs a command as user `nobody`; `None` when this process cannot switch users.
fn as_nobody(home: &Path, program: &str, args: &[&str]) -> Option<std::process::Output> {
    let uid = fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    let mut cmd = if uid == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        // Already an ordinary user: run directly.
        Command::new(program)
    };
    cmd.args(args)
        .env("HOME", home)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org");
    match cmd.output() {
        Ok(out) => Some(out),
        Err(e) if uid == 0 => {
            println!("skipping: cannot run setpriv to become nobody: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn cache_clean_works_as_an_ordinary_user_on_read_only_objects() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let home = ds.path("home");
    fs::create_dir_all(&home).unwrap();
    // Everything the ordinary user touches belongs to them.
    sh(Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(ds.tmp.path()));
    let annexa = env!("CARGO_BIN_EXE_annexa");
    let (cache, origin, out) = (
        ds.cache.to_str().unwrap().to_string(),
        ds.origin.to_str().unwrap().to_string(),
        ds.path("out").to_str().unwrap().to_string(),
    );
    let Some(got) = as_nobody(
        &home,
        annexa,
        &[
            "--cache",
            &cache,
            "get",
            &origin,
            "--to",
            &out,
            "--datatype",
            "anat",
        ],
    ) else {
        return;
    };
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    assert!(!files_under(Path::new(&out)).is_empty());

    // The premise: annex object folders are read-only, so a plain rm fails.
    let objects: Vec<_> = walkdir::WalkDir::new(&cache)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_dir() && e.path().to_string_lossy().contains("annex/objects/"))
        .collect();
    assert!(!objects.is_empty());
    assert!(objects
        .iter()
        .any(|e| e.metadata().unwrap().permissions().mode() & 0o200 == 0));
    let copy = ds.path("cache-copy");
    sh(Command::new("cp").args(["-a", &cache]).arg(&copy));
    let rm = as_nobody(&home, "rm", &["-rf", copy.to_str().unwrap()]).unwrap();
    assert!(!rm.status.success(), "rm -rf should hit read-only folders");
    assert!(String::from_utf8_lossy(&rm.stderr).contains("Permission denied"));

    let clean = as_nobody(
        &home,
        annexa,
        &["--cache", &cache, "cache", "clean", "--all"],
    )
    .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(!String::from_utf8_lossy(&clean.stderr).contains("Permission denied"));
    assert_eq!(lines(&clean.stdout).len(), 1);
    // Nothing is left: a process that waited on a removed lock file
    // starts over on a new one (lock_entry checks the file it holds).
    let left: Vec<String> = walkdir::WalkDir::new(&cache)
        .min_depth(1)
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left: {left:?}");
    assert!(
        as_nobody(&home, annexa, &["--cache", &cache, "cache", "list"])
            .unwrap()
            .stdout
            .is_empty(),
        "nothing listed after clean"
    );
}

#[test]
fn cache_clean_removes_only_annexa_entries() {
    let ds = Builder::new("synthetic").subjects(&["sub-01"]).build();
    ds.annexa_ok(&["ls", ds.origin.to_str().unwrap()]);
    // A folder of someone else's that happens to hold a file named source.
    let foreign = ds.cache.join("notes");
    fs::create_dir_all(foreign.join("repo")).unwrap();
    fs::write(foreign.join("source"), "https://example.org/x\n").unwrap();
    fs::write(foreign.join("lock"), "").unwrap();
    fs::write(foreign.join("precious.txt"), "keep me").unwrap();
    let removed = ds.annexa_ok(&["cache", "clean", "--all"]);
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(
        fs::read_to_string(foreign.join("precious.txt")).unwrap(),
        "keep me"
    );
    // Cleaning an entry already cleaned says it is not cached.
    let again = ds.annexa(&["cache", "clean", ds.origin.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not in the cache"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn derivative_pipeline_installed_as_a_subdataset() {
    let ds = Builder::new("synthetic")
        .subjects(&["sub-01"])
        .without(&["derivatives"])
        .build();
    // derivatives/fmriprep as its own git-annex dataset, registered in the
    // superdataset the way DataLad does (relative URL).
    let sub = ds.origin.join("derivatives/fmriprep");
    fs::create_dir_all(sub.parent().unwrap()).unwrap();
    let example = support_bids::examples_dir().join("synthetic/derivatives/fmriprep");
    sh(Command::new("cp").arg("-r").arg(&example).arg(&sub));
    for entry in walkdir::WalkDir::new(sub.join("sub-01")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() && entry.metadata().unwrap().len() == 0 {
            fs::write(
                entry.path(),
                format!("derived {}\n", entry.path().display()),
            )
            .unwrap();
        }
    }
    for other in ["sub-02", "sub-03", "sub-04", "sub-05"] {
        let _ = fs::remove_dir_all(sub.join(other));
    }
    sh(git(&sub).args(["init", "-q"]));
    sh(git(&sub).args(["annex", "init", "-q", "fmriprep"]));
    sh(git(&sub).args(["config", "annex.largefiles", "not include=*.json"]));
    sh(git(&sub).args(["annex", "add", "-q", "."]));
    sh(git(&sub).args(["commit", "-q", "-m", "fmriprep"]));
    sh(git(&ds.origin).args([
        "submodule",
        "add",
        "-q",
        "./derivatives/fmriprep",
        "derivatives/fmriprep",
    ]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "add derivatives"]));

    let args = [
        "--scope",
        "fmriprep",
        "--sub",
        "01",
        "--ses",
        "01",
        "--task",
        "rest",
        "--entity",
        "space=T1w",
    ];
    let listed = ds.ls(&args);
    assert!(listed.contains(&"derivatives/fmriprep/dataset_description.json".to_string()));
    let data: Vec<&String> = listed.iter().filter(|p| p.ends_with("_bold.nii")).collect();
    assert_eq!(data.len(), 1, "{listed:?}");

    let out = ds.path("out");
    let origin = ds.origin.to_str().unwrap();
    let mut get = vec!["get", origin, "--to", out.to_str().unwrap()];
    get.extend_from_slice(&args);
    ds.annexa_ok(&get);
    assert_eq!(files_under(&out), listed);
    for rel in &listed {
        assert_eq!(
            fs::read(out.join(rel)).unwrap(),
            fs::read(ds.origin.join(rel)).unwrap()
        );
    }
    // The raw scope does not open the subdataset.
    assert!(ds.ls(&[]).iter().all(|p| !p.starts_with("derivatives/")));
    assert_eq!(
        ds.annexa_ok(&["cache", "list"]).len(),
        2,
        "superdataset + subdataset"
    );
}

#[test]
fn a_subdataset_loop_is_an_error_not_a_hang() {
    let ds = Builder::new("synthetic")
        .subjects(&["sub-01"])
        .without(&["derivatives"])
        .build();
    // derivatives/fmriprep registered with a URL leading back to the
    // superdataset itself.
    let head = sh(git(&ds.origin).args(["rev-parse", "HEAD"]));
    fs::write(
        ds.origin.join(".gitmodules"),
        "[submodule \"loop\"]\n\tpath = derivatives/fmriprep\n\turl = ./\n",
    )
    .unwrap();
    sh(git(&ds.origin).args(["add", ".gitmodules"]));
    sh(git(&ds.origin).args([
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{},derivatives/fmriprep", head.trim()),
    ]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "a loop"]));

    let (tx, rx) = std::sync::mpsc::channel();
    let origin = ds.origin.to_str().unwrap().to_string();
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = ds.annexa(&["ls", &origin, "--scope", "fmriprep"]);
            let _ = tx.send(out);
        });
        let out = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("annexa ls hung on a subdataset loop");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("loop"), "{stderr}");
        assert!(stderr.contains("derivatives/fmriprep"), "{stderr}");
    });
}

/// A `.gitmodules` URL is data: one that looks like a service page (here a
/// GitHub release on a server the dataset names) is refused before any
/// request, so no token and no listing ever come from there
/// (docs/security.md).
#[test]
fn a_service_url_in_gitmodules_is_never_contacted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ds = Builder::new("synthetic")
        .subjects(&["sub-01"])
        .without(&["derivatives"])
        .build();
    let head = sh(git(&ds.origin).args(["rev-parse", "HEAD"]));
    fs::write(
        ds.origin.join(".gitmodules"),
        format!(
            "[submodule \"evil\"]\n\tpath = derivatives/fmriprep\n\turl = http://127.0.0.1:{port}/o/r/releases/tag/v1\n"
        ),
    )
    .unwrap();
    sh(git(&ds.origin).args(["add", ".gitmodules"]));
    sh(git(&ds.origin).args([
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{},derivatives/fmriprep", head.trim()),
    ]));
    sh(git(&ds.origin).args(["commit", "-q", "-m", "a service subdataset"]));
    let origin = ds.origin.to_str().unwrap().to_string();
    let out = ds.annexa(&["ls", &origin, "--scope", "fmriprep"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        listener.accept().is_err(),
        "annexa contacted the server a .gitmodules URL names: {stderr}"
    );
}

/// Issue 22: a clone that fails leaves nothing in the cache, and what an
/// older or killed run left (a folder with a source and a lock, no clone)
/// is listed as incomplete and removed by `cache clean --all`.
#[test]
fn failed_clones_leave_nothing_and_clean_removes_leftovers() {
    use sha2::{Digest, Sha256};
    let ds = Builder::new("synthetic").subjects(&["sub-01"]).build();
    // Nothing listens on port 1: git fails at once.
    let unreachable = "https://127.0.0.1:1/nowhere/ds.git";
    let failed = ds.annexa(&["ls", unreachable]);
    assert!(!failed.status.success());
    let left: Vec<_> = fs::read_dir(&ds.cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed clone left {left:?}");

    // A leftover as an interrupted clone leaves it.
    let source = "https://example.org/left/over.git";
    let digest = hex::encode(Sha256::digest(source.as_bytes()));
    let leftover = ds.cache.join(format!("over-{}", &digest[..12]));
    fs::create_dir_all(&leftover).unwrap();
    fs::write(leftover.join("source"), format!("{source}\n")).unwrap();
    fs::write(leftover.join("lock"), "").unwrap();
    let listed = ds.annexa_ok(&["cache", "list"]);
    assert!(
        listed.len() == 1 && listed[0].starts_with(source) && listed[0].ends_with("(incomplete)"),
        "{listed:?}"
    );
    let removed = ds.annexa_ok(&["cache", "clean", "--all"]);
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(!leftover.exists());
    assert!(ds.annexa_ok(&["cache", "list"]).is_empty());
}
