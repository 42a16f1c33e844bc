//! Helpers for the `annexa` integration tests: git-annex datasets built from
//! the layouts in `../shared/bids-examples/`, and running the built binary.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bids-examples")
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    identity(&mut cmd);
    cmd
}

fn identity(cmd: &mut Command) {
    cmd.env("GIT_AUTHOR_NAME", "annexa test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "annexa test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org");
}

/// A dataset (the "origin", holding all content) plus a cache and an
/// output folder, all inside one temporary directory.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub origin: PathBuf,
    pub cache: PathBuf,
}

pub struct Builder {
    example: String,
    subjects: Option<Vec<String>>,
    without: Vec<String>,
    extra: Vec<(String, String)>,
    same_content: Vec<Vec<String>>,
    unlocked: Vec<String>,
}

impl Builder {
    pub fn new(example: &str) -> Builder {
        Builder {
            example: example.to_string(),
            subjects: None,
            without: Vec::new(),
            extra: Vec::new(),
            same_content: Vec::new(),
            unlocked: Vec::new(),
        }
    }

    /// Copy only these `sub-*` folders (keeps big examples quick to annex).
    pub fn subjects(mut self, subjects: &[&str]) -> Builder {
        self.subjects = Some(subjects.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Leaves out these top-level entries (large folders tests do not need).
    pub fn without(mut self, names: &[&str]) -> Builder {
        self.without = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds a file that the example lacks (e.g. a `run-10` next to `run-1`).
    pub fn extra(mut self, path: &str, content: &str) -> Builder {
        self.extra.push((path.to_string(), content.to_string()));
        self
    }

    /// Gives these files identical content, so they share one annex key.
    pub fn same_content(mut self, paths: &[&str]) -> Builder {
        self.same_content
            .push(paths.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Commits these annexed files unlocked (pointer files in git, not symlinks).
    pub fn unlocked(mut self, paths: &[&str]) -> Builder {
        self.unlocked = paths.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn build(self) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let origin = tmp.path().join("origin");
        let source = examples_dir().join(&self.example);
        assert!(source.is_dir(), "missing example {}", source.display());
        fs::create_dir_all(&origin).unwrap();
        for entry in fs::read_dir(&source).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if self.without.contains(&name) {
                continue;
            }
            if let Some(keep) = &self.subjects {
                if name.starts_with("sub-") && !keep.contains(&name) {
                    continue;
                }
            }
            sh(Command::new("cp").arg("-r").arg(entry.path()).arg(&origin));
        }
        // Placeholders are empty: give each its own content (its path), so keys differ.
        for entry in walkdir::WalkDir::new(&origin) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() && entry.metadata().unwrap().len() == 0 {
                let rel = entry.path().strip_prefix(&origin).unwrap();
                fs::write(entry.path(), format!("placeholder {}\n", rel.display())).unwrap();
            }
        }
        for (path, content) in &self.extra {
            let p = origin.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        for group in &self.same_content {
            let content = format!("shared content of {}\n", group.join(" + "));
            for path in group {
                assert!(origin.join(path).exists(), "no {path} in the example");
                fs::write(origin.join(path), &content).unwrap();
            }
        }
        sh(git(&origin).args(["init", "-q"]));
        sh(git(&origin).args(["annex", "init", "-q", "origin"]));
        // As on OpenNeuro: small metadata in git, everything else annexed.
        sh(git(&origin).args([
            "config",
            "annex.largefiles",
            "not (include=*.json or include=*.tsv or include=*.bval or include=*.bvec or include=README* or include=CHANGES* or include=.bidsignore)",
        ]));
        sh(git(&origin).args(["annex", "add", "-q", "."]));
        sh(git(&origin).args(["commit", "-q", "-m", "dataset"]));
        if !self.unlocked.is_empty() {
            sh(git(&origin)
                .args(["annex", "unlock", "-q"])
                .args(&self.unlocked));
            sh(git(&origin).args(["commit", "-q", "-m", "unlock some files"]));
        }
        let cache = tmp.path().join("cache");
        Fixture { tmp, origin, cache }
    }
}

impl Fixture {
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `annexa --cache CACHE ARGS...`
    pub fn annexa(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_annexa"));
        identity(&mut cmd);
        cmd.arg("--cache").arg(&self.cache).args(args);
        cmd.output().expect("run annexa")
    }

    /// Runs annexa and asserts success; returns stdout lines.
    pub fn annexa_ok(&self, args: &[&str]) -> Vec<String> {
        let out = self.annexa(args);
        assert!(
            out.status.success(),
            "annexa {args:?} failed ({:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        lines(&out.stdout)
    }

    /// `annexa ls ORIGIN ARGS...`, sorted.
    pub fn ls(&self, args: &[&str]) -> Vec<String> {
        let origin = self.origin.to_str().unwrap();
        let mut full = vec!["ls", origin];
        full.extend_from_slice(args);
        let mut lines = self.annexa_ok(&full);
        lines.sort();
        lines
    }

    /// Files present in the origin, relative, that satisfy `keep`.
    pub fn origin_files(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let mut files: Vec<String> = walkdir::WalkDir::new(&self.origin)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git")
            .flatten()
            .filter(|e| !e.file_type().is_dir())
            .map(|e| {
                e.path()
                    .strip_prefix(&self.origin)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| keep(p))
            .collect();
        files.sort();
        files
    }

    /// The content of a dataset file as the origin holds it.
    pub fn origin_content(&self, rel: &str) -> Vec<u8> {
        fs::read(self.origin.join(rel)).unwrap()
    }

    /// The clone in the cache (there is one per source).
    pub fn cached_repo(&self) -> PathBuf {
        let out = self.annexa_ok(&["cache", "path", self.origin.to_str().unwrap()]);
        PathBuf::from(&out[0])
    }
}

pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Every regular file below `dir`, relative; panics on a symlink.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(!entry.path_is_symlink(), "{rel} is a symlink");
        if entry.file_type().is_file() {
            files.push(rel);
        }
    }
    files.sort();
    files
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `datalad` from the tools venv (`$ANNEXA_VENV/tools/bin`, else `.venv`
/// in the checkout), else from PATH, run in `dir`.
pub fn datalad(dir: &Path) -> Command {
    let venv = match std::env::var_os("ANNEXA_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    };
    let local = venv.join("tools/bin/datalad");
    let mut cmd = Command::new(if local.is_file() {
        local
    } else {
        PathBuf::from("datalad")
    });
    cmd.current_dir(dir);
    identity(&mut cmd);
    cmd
}

/// Writes `files` (relative path, content) under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}
