//! The dataset an import writes into: a git-annex repository with its
//! annexa special remote, created the first time and followed after (the
//! endpoint the user names, the host they chose for their token).

use std::path::Path;
use std::process::Command;

use crate::dataset::git::{git, run};
use crate::dataset::report::Reporter;
use crate::dataset::service::ServiceSource;
use crate::dataset::DatasetError;

/// `git` with the folder of this program first on PATH, so git-annex finds
/// the `git-annex-remote-annexa` installed beside `annexa`.
pub(super) fn git_here(repo: &Path) -> Command {
    let mut cmd = git(repo);
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("git-annex-remote-annexa").is_file())
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut parts = vec![dir];
        parts.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(parts) {
            cmd.env("PATH", joined);
        }
    }
    cmd
}

/// A git-annex repository with DataLad's dataset marker: `git init` and
/// `git annex init` when needed; the dataset files come with the first
/// import commit.
pub(super) fn ensure_repository(dir: &Path) -> Result<(), DatasetError> {
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    if !dir.join(".git").exists() {
        run(git(dir).args(["init", "--quiet"]))?;
    }
    let initialised = run(git(dir).args(["config", "--get", "annex.uuid"])).is_ok();
    if !initialised {
        run(git_here(dir).args(["annex", "init", "--quiet"]))?;
    }
    Ok(())
}

/// The user named this source (on the command line, or as the source of a
/// cache entry), so its service host is one they chose for their token:
/// recorded in the repository's local config, which no clone copies
/// (docs/security.md). Public hosts and loopback need no record.
pub(super) fn record_chosen_host(dir: &Path, source: &ServiceSource) -> Result<(), DatasetError> {
    use crate::providers::token::{chosen_host, destination, Destination, HOSTS_CONFIG};
    let Some((service, url)) = source.token_destination() else {
        return Ok(());
    };
    if destination(service, &url, &[]) == Destination::Allowed {
        return Ok(());
    }
    let Some(host) = url.host_str().and_then(chosen_host) else {
        return Ok(());
    };
    let known = run(git(dir).args(["config", "--local", "--get-all", HOSTS_CONFIG]))
        .map(|out| {
            String::from_utf8_lossy(&out)
                .lines()
                .any(|l| chosen_host(l).as_deref() == Some(host.as_str()))
        })
        .unwrap_or(false);
    if !known {
        run(git(dir).args(["config", "--local", "--add", HOSTS_CONFIG, &host]))?;
    }
    Ok(())
}

/// `git annex initremote` the first time (the remote autoenables in
/// every clone); later runs reuse it.
pub(super) fn ensure_remote(
    dir: &Path,
    remote: &str,
    params: &[(String, String)],
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let known =
        run(git(dir).args(["config", "--get", &format!("remote.{remote}.annex-uuid")])).is_ok();
    if known {
        let wanted = params.iter().find(|(k, _)| k == "endpoint").map(|(_, v)| v);
        if let Some(wanted) = wanted {
            follow_endpoint(dir, remote, wanted, reporter)?;
        }
        return Ok(());
    }
    let mut cmd = git_here(dir);
    cmd.args(["annex", "initremote", "--quiet", remote])
        .args([
            "type=external",
            "externaltype=annexa",
            "encryption=none",
            "autoenable=true",
        ])
        .args(params.iter().map(|(k, v)| format!("{k}={v}")));
    run(&mut cmd)?;
    Ok(())
}

/// An endpoint the user named replaces the one the remote records, so
/// that content is got from where the listing came from.
pub(in crate::dataset) fn follow_endpoint(
    dir: &Path,
    remote: &str,
    wanted: &str,
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let recorded = crate::dataset::remotes::recorded_remote(dir, remote);
    let had = recorded.as_ref().and_then(|r| r.get("endpoint"));
    if had == Some(wanted) || recorded.is_none() {
        return Ok(());
    }
    run(git_here(dir)
        .args(["annex", "enableremote", remote])
        .arg(format!("endpoint={wanted}")))?;
    reporter.notice(&format!(
        "remote {remote} now uses endpoint {wanted} (it recorded {})",
        had.unwrap_or("AWS's")
    ));
    Ok(())
}
