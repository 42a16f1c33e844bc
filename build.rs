//! Build-time facts for both programs: the git commit for `--version`, and
//! man pages rendered from the same clap definitions the programs parse with.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/cli/annexa.rs"]
#[allow(dead_code)]
mod annexa_cli;
#[path = "src/cli/remote.rs"]
mod remote_cli;

fn main() {
    println!("cargo:rerun-if-changed=src/cli");
    println!("cargo:rerun-if-env-changed=ANNEXA_GIT_COMMIT");
    println!("cargo:rustc-env=ANNEXA_GIT_COMMIT={}", git_commit());

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    use clap::CommandFactory;
    render(annexa_cli::Cli::command(), &out.join("annexa.1"));
    render(
        remote_cli::command(),
        &out.join("git-annex-remote-annexa.1"),
    );
}

/// The commit this build comes from: `ANNEXA_GIT_COMMIT` when a packager
/// sets it (a source archive has no .git), else git's answer, else "unknown".
fn git_commit() -> String {
    if let Ok(commit) = std::env::var("ANNEXA_GIT_COMMIT") {
        return commit;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    // Rebuild when HEAD moves (worktrees keep HEAD in their own git dir).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        let dir = Path::new(&dir);
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_default();
            let common = Path::new(&common);
            // A missing path would make cargo rerun this script every time.
            let loose = common.join(reference);
            let packed = common.join("packed-refs");
            for path in [loose, packed] {
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into())
}

fn render(command: clap::Command, path: &Path) {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .expect("a man page renders");
    std::fs::write(path, page).expect("OUT_DIR is writable");
}
