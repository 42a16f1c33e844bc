//! `annexa doctor`: what this machine has, and what annexa can do with it.
//!
//! Only gathers facts ([`Report`]); the binary prints them. Credentials are
//! reported by name only: a value never leaves the environment.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but something is worth knowing (an older git-annex, a
    /// different remote version).
    Warn,
    /// Something annexa needs is not there: `doctor` fails.
    Missing,
    /// A fact, neither good nor bad.
    Info,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about it, for `Warn` and `Missing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub version: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether everything annexa needs is there.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Missing)
    }
}

/// git-annex features that depend on its version: (feature, first release).
pub const FEATURES: &[(&str, GitAnnexVersion)] = &[
    (
        "ASYNC (one process serves all -J jobs)",
        GitAnnexVersion(8, 20200908),
    ),
    ("UNAVAILABLERESPONSE", GitAnnexVersion(10, 20230828)),
    (
        "TRANSFER-RETRIEVE-URL (git-annex downloads public content itself)",
        GitAnnexVersion(10, 20251215),
    ),
    ("CHECKPRESENT-URL", GitAnnexVersion(10, 20260316)),
    (
        "importtree=yes for external remotes",
        GitAnnexVersion(10, 20260717),
    ),
    (
        "IMPORTKEY (git annex import --no-content)",
        GitAnnexVersion(10, 20260718),
    ),
];

/// The oldest git-annex annexa is tested with (Debian bookworm's).
pub const OLDEST_TESTED: GitAnnexVersion = GitAnnexVersion(10, 20230126);

/// A git-annex version, `MAJOR.DATE` (`10.20230126`), comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct GitAnnexVersion(pub u32, pub u32);

impl GitAnnexVersion {
    /// Reads `10.20230126`, also with a suffix (`-3`, `-g351f69fa`).
    pub fn parse(text: &str) -> Option<GitAnnexVersion> {
        let (major, rest) = text.trim().split_once('.')?;
        let date: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(GitAnnexVersion(major.parse().ok()?, date.parse().ok()?))
    }
}

impl std::fmt::Display for GitAnnexVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Credentials each provider reads from the environment (names only).
pub const CREDENTIALS: &[(&str, &[&str])] = &[
    (
        "s3",
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ],
    ),
    ("dataverse", &["DATAVERSE_API_KEY"]),
    ("figshare", &["FIGSHARE_API_KEY"]),
    ("github", &["GITHUB_TOKEN"]),
    ("zenodo", &["ZENODO_TOKEN"]),
];

/// Gathers the report. `version` is this program's version text; `cache`
/// the cache folder in use.
pub fn examine(version: &str, cache: &Path) -> Report {
    let mut checks = Vec::new();
    checks.push(match first_line("git", &["--version"]) {
        Some(v) => ok("git", v),
        None => missing("git", "git was not found on PATH", "install git"),
    });
    checks.extend(git_annex_checks());
    checks.push(remote_check());
    checks.extend(cache_checks(cache));
    for (provider, names) in CREDENTIALS {
        let set: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
            .collect();
        let detail = if set.is_empty() {
            format!(
                "none of {} set (stored credentials of a remote may still be used)",
                names.join(", ")
            )
        } else {
            format!("set: {}", set.join(", "))
        };
        checks.push(Check {
            name: format!("credentials for {provider}"),
            status: Status::Info,
            detail,
            fix: None,
        });
    }
    Report {
        version: version.to_string(),
        checks,
    }
}

fn git_annex_checks() -> Vec<Check> {
    let Some(raw) = first_line("git-annex", &["version", "--raw"]) else {
        return vec![missing(
            "git-annex",
            "git-annex was not found on PATH",
            "install git-annex (apt install git-annex, or pip install git-annex)",
        )];
    };
    let Some(found) = GitAnnexVersion::parse(&raw) else {
        return vec![Check {
            name: "git-annex".into(),
            status: Status::Warn,
            detail: format!("version {raw:?} could not be read"),
            fix: None,
        }];
    };
    let mut checks = vec![if found < OLDEST_TESTED {
        Check {
            name: "git-annex".into(),
            status: Status::Warn,
            detail: format!("{raw}: older than {OLDEST_TESTED}, the oldest annexa is tested with"),
            fix: Some("pip install git-annex (a current release)".into()),
        }
    } else {
        ok("git-annex", raw.clone())
    }];
    let mut newer = 0;
    for (feature, since) in FEATURES {
        checks.push(if found >= *since {
            ok(&format!("feature: {feature}"), "available".into())
        } else {
            newer += 1;
            // An optional extra, not a fault: said once below, not as a
            // warning per feature.
            Check {
                name: format!("feature: {feature}"),
                status: Status::Info,
                detail: format!("not available: needs git-annex {since} or newer"),
                fix: None,
            }
        });
    }
    if newer > 0 && found >= OLDEST_TESTED {
        checks.push(Check {
            name: "git-annex features".into(),
            status: Status::Info,
            detail: format!(
                "git-annex {found} does everything annexa needs (remotes, get, copy, annexa \
                 get/import); {newer} optional feature(s) above need a newer one \
                 (pip install git-annex)"
            ),
            fix: None,
        });
    }
    checks
}

fn remote_check() -> Check {
    const REMOTE: &str = "git-annex-remote-annexa";
    let ours = env!("CARGO_PKG_VERSION");
    let Some(path) = find_on_path(REMOTE) else {
        return missing(
            REMOTE,
            "not found on PATH: git-annex cannot use externaltype=annexa remotes",
            "make install (or pip install annexa), and put its folder on PATH",
        );
    };
    let text = first_line(&path.to_string_lossy(), &["--version"]).unwrap_or_default();
    let theirs = text.split_whitespace().nth(1).unwrap_or("");
    if theirs == ours {
        ok(REMOTE, format!("{} ({})", path.display(), text))
    } else {
        Check {
            name: REMOTE.into(),
            status: Status::Warn,
            detail: format!(
                "{} is version {theirs:?}, this annexa is {ours}",
                path.display()
            ),
            fix: Some("install both programs from the same release".into()),
        }
    }
}

fn cache_checks(cache: &Path) -> Vec<Check> {
    let size: u64 = walkdir::WalkDir::new(cache)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let mut checks = vec![Check {
        name: "cache".into(),
        status: Status::Info,
        detail: format!("{} ({})", cache.display(), indicatif::HumanBytes(size)),
        fix: None,
    }];
    // The nearest folder that exists tells the free space the cache has.
    let existing = cache.ancestors().find(|p| p.is_dir());
    if let Some(free) = existing.and_then(|p| fs2::available_space(p).ok()) {
        checks.push(Check {
            name: "cache free space".into(),
            status: if free < (1 << 30) {
                Status::Warn
            } else {
                Status::Info
            },
            detail: indicatif::HumanBytes(free).to_string(),
            fix: (free < (1 << 30)).then(|| {
                "less than 1 GiB free: `annexa cache clean`, or --cache on a larger disk".into()
            }),
        });
    }
    checks
}

fn ok(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        status: Status::Ok,
        detail,
        fix: None,
    }
}

fn missing(name: &str, detail: &str, fix: &str) -> Check {
    Check {
        name: name.into(),
        status: Status::Missing,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The first line a program prints, when it runs and succeeds.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_date() {
        let debian = GitAnnexVersion::parse("10.20230126-3").unwrap();
        let pypi = GitAnnexVersion::parse("10.20261026-g351f69fa638bde0d2f68").unwrap();
        assert_eq!(debian, OLDEST_TESTED);
        assert!(pypi > debian);
        assert!(GitAnnexVersion::parse("8.20200908").unwrap() < debian);
        assert!(GitAnnexVersion::parse("garbage").is_none());
        assert!(GitAnnexVersion::parse("").is_none());
    }
}
