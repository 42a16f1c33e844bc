//! The command-line edges of both programs: versions with their commit,
//! shell completions that load and complete, man pages that render, and
//! `annexa doctor`.

use crate::support::common;
use common::text;

use std::process::Command;

fn annexa() -> Command {
    Command::new(env!("CARGO_BIN_EXE_annexa"))
}

#[test]
fn both_programs_print_version_and_commit() {
    for exe in [
        env!("CARGO_BIN_EXE_annexa"),
        env!("CARGO_BIN_EXE_git-annex-remote-annexa"),
    ] {
        let out = Command::new(exe).arg("--version").output().unwrap();
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{line}");
        assert!(line.contains(env!("CARGO_PKG_VERSION")), "{line}");
        let commit = line
            .split("(commit ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("no commit in {line:?}"));
        assert!(
            commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
    }
}

#[test]
fn bash_completion_loads_and_completes_a_subcommand() {
    let script = annexa().args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("annexa.bash");
    std::fs::write(&path, &script.stdout).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(annexa cac); COMP_CWORD=1; COMP_LINE='annexa cac'; \
         COMP_POINT=10; _annexa annexa cac annexa; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(words.trim(), "cache", "{}", text(&out));
    for shell in ["zsh", "fish", "powershell"] {
        let out = annexa().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let out = annexa().args(["completions", "tcsh"]).output().unwrap();
    assert!(!out.status.success(), "an unknown shell was accepted");
}

#[test]
fn man_pages_render() {
    let dir = tempfile::tempdir().unwrap();
    let out = annexa()
        .args(["man", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for (page, must_mention) in [
        ("annexa.1", "doctor"),
        ("git-annex-remote-annexa.1", "initremote"),
    ] {
        let path = dir.path().join(page);
        let rendered = Command::new("man")
            .args(["-l", path.to_str().unwrap()])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man is installed (make deps installs man-db)");
        let shown = String::from_utf8_lossy(&rendered.stdout).into_owned();
        assert!(rendered.status.success(), "{page}: {}", text(&rendered));
        assert!(shown.contains("NAME"), "{page}:\n{shown}");
        assert!(shown.contains(must_mention), "{page}:\n{shown}");
    }
}

#[test]
fn doctor_reports_without_revealing_secrets() {
    let cache = tempfile::tempdir().unwrap();
    let out = annexa()
        .args(["--cache", cache.path().to_str().unwrap(), "doctor"])
        .env("PATH", common::test_path())
        .env("AWS_SECRET_ACCESS_KEY", "do-not-print-me-7f3a")
        .env_remove("GITHUB_TOKEN")
        .output()
        .unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("git-annex: 10."), "{report}");
    assert!(report.contains("AWS_SECRET_ACCESS_KEY"), "{report}");
    assert!(!report.contains("do-not-print-me"), "{report}");
    assert!(
        report.contains(&cache.path().display().to_string()),
        "{report}"
    );
    // Issue 22: Debian's git-annex lacks optional features; that is said
    // once, with the fact that it suffices, not as a warning per feature.
    assert!(!report.contains("warn   feature:"), "{report}");
    assert!(
        report.matches("pip install git-annex").count() <= 1,
        "{report}"
    );
    assert!(report.contains("does everything annexa needs"), "{report}");

    // JSON carries the same checks.
    let out = annexa()
        .args([
            "--cache",
            cache.path().to_str().unwrap(),
            "doctor",
            "--json",
        ])
        .env("PATH", common::test_path())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["checks"].as_array().unwrap().len() > 5);
}

#[test]
fn doctor_fails_and_says_the_fix_when_the_remote_is_missing() {
    let cache = tempfile::tempdir().unwrap();
    // git and git-annex, but not our remote program.
    let out = annexa()
        .args(["--cache", cache.path().to_str().unwrap(), "doctor"])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("MISSING git-annex-remote-annexa"),
        "{report}"
    );
    assert!(report.contains("fix: make install"), "{report}");
}

#[test]
fn doctor_lists_features_of_the_newest_git_annex() {
    let cache = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        common::newest_git_annex_bin().display(),
        common::test_path()
    );
    let out = annexa()
        .args(["--cache", cache.path().to_str().unwrap(), "doctor"])
        .env("PATH", path)
        .output()
        .unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("ok      feature: TRANSFER-RETRIEVE-URL"),
        "{report}"
    );
}

/// Every Python tool venv holds exactly its lock (contrib/python/*.txt):
/// a tool picked up at a newer release, or a stray package, fails here
/// before it can change what the other tests prove. `make test-latest`
/// (ANNEXA_LATEST=1) installs unlocked releases on purpose and skips this.
#[test]
fn python_tool_venvs_hold_exactly_their_locks() {
    if std::env::var_os("ANNEXA_LATEST").is_some() {
        return;
    }
    let locks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/python");
    let check = locks.join("check_venv.py");
    for (venv, lock) in [
        ("tools", "tools.txt"),
        ("git-annex-newest", "git-annex-newest.txt"),
    ] {
        let python = common::venv_root().join(venv).join("bin/python");
        assert!(
            python.is_file(),
            "no venv at {}: run `make deps`",
            python.display()
        );
        let out = Command::new(&python)
            .arg(&check)
            .arg(locks.join(lock))
            .output()
            .unwrap();
        assert!(out.status.success(), "{venv}: {}", text(&out));
    }

    // The check itself tells a venv that differs from its lock: the tools
    // lock with moto's pin changed and one package more.
    let lock = std::fs::read_to_string(locks.join("tools.txt")).unwrap();
    let moto = lock
        .lines()
        .find(|l| l.starts_with("moto=="))
        .expect("moto is locked");
    let version = moto
        .trim_start_matches("moto==")
        .split([' ', ';'])
        .next()
        .unwrap();
    let changed =
        lock.replacen(moto, &moto.replace(version, "0.0.1"), 1) + "not-installed-anywhere==1.0\n";
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("tools.txt");
    std::fs::write(&other, changed).unwrap();
    let out = Command::new(common::venv_root().join("tools/bin/python"))
        .arg(&check)
        .arg(&other)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!("moto is {version}, the lock says 0.0.1")),
        "{said}"
    );
    assert!(
        said.contains("missing not-installed-anywhere==1.0"),
        "{said}"
    );
}

/// Issue 22: a folder that exists but is not a dataset is said to be so,
/// with what to do, before any clone.
#[test]
fn a_folder_that_is_not_a_dataset_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("ds006");
    std::fs::create_dir_all(folder.join("sub-01")).unwrap();
    let cache = tmp.path().join("cache");
    let out = annexa()
        .arg("--cache")
        .arg(&cache)
        .arg("ls")
        .arg(&folder)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("not a dataset (try `datalad create --force`, or pass the dataset's root)"),
        "{said}"
    );
    assert!(!said.contains("git clone"), "{said}");
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "nothing cached: {leftovers:?}");
}

#[test]
fn get_help_shows_examples_and_comma_separated_values() {
    let out = annexa().args(["get", "--help"]).output().unwrap();
    let help = text(&out);
    assert!(out.status.success(), "{help}");
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("separate values with commas"), "{help}");
    let verify = text(&annexa().args(["verify", "--help"]).output().unwrap());
    assert!(
        verify.contains("The manifest `annexa get --manifest FILE` wrote"),
        "{verify}"
    );
    let import = text(&annexa().args(["import", "--help"]).output().unwrap());
    // --version exists for Zenodo's record versions only, and says so.
    assert!(import.contains("Refused for other services"), "{import}");
}

/// The subcommands a `--help` text lists under "Commands:" (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Issue 22: every subcommand's `--help`, found by walking the command
/// tree as a user would, ends with two or three examples of itself, and
/// every one that takes filters says that values can be comma-separated.
#[test]
fn every_subcommand_help_has_examples_and_says_where_commas_work() {
    let mut todo: Vec<Vec<String>> = subcommands(&text(&annexa().arg("--help").output().unwrap()))
        .into_iter()
        .map(|c| vec![c])
        .collect();
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        let out = annexa().args(&path).arg("--help").output().unwrap();
        let help = text(&out);
        assert!(out.status.success(), "{path:?}: {help}");
        let children = subcommands(&help);
        if !children.is_empty() {
            todo.extend(
                children
                    .into_iter()
                    .map(|c| [path.clone(), vec![c]].concat()),
            );
        }
        let examples = help
            .lines()
            .skip_while(|l| !l.starts_with("Example"))
            .filter(|l| l.starts_with(&format!("  annexa {}", path.join(" "))))
            .count();
        assert!(
            (2..=3).contains(&examples),
            "annexa {} --help has {examples} examples of itself:\n{help}",
            path.join(" ")
        );
        if help.contains("--sub <SUB>") || help.contains("--scope <SCOPE>") {
            assert!(help.contains("separate values with commas"), "{help}");
        }
        seen.push(path.join(" "));
    }
    seen.sort();
    for expected in [
        "cache clean",
        "cache list",
        "completions",
        "doctor",
        "get",
        "import",
        "ls",
        "plan",
        "verify",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} not walked: {seen:?}"
        );
    }
}

/// The library reports through `dataset::Reporter`; only the binaries
/// (src/bin, src/cli) print. A `println!` in the library would bypass
/// `--json`, the progress bar and every other caller's choice.
#[test]
fn only_the_binaries_print() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut printing = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(&src).unwrap();
        if rel.starts_with("bin")
            || rel.starts_with("cli")
            || path.extension() != Some("rs".as_ref())
        {
            continue;
        }
        let code = std::fs::read_to_string(path).unwrap();
        // Unit tests may print; the library's code above them may not.
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            if ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("]
                .iter()
                .any(|m| line.contains(m))
            {
                printing.push(format!("{}:{}: {line}", rel.display(), n + 1));
            }
        }
    }
    assert!(
        printing.is_empty(),
        "the library prints:\n{}",
        printing.join("\n")
    );
}
