//! The special remotes a dataset records (its git-annex branch's
//! `remote.log`): what a refresh reuses (an S3 endpoint) and what the
//! cache can point at when content is only on a remote it has not enabled.

use super::git::{git, run};
use std::collections::BTreeMap;
use std::path::Path;

/// One special remote as the dataset records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRemote {
    pub uuid: String,
    /// `name`, `type`, `externaltype`, `autoenable`, the service's
    /// parameters (`endpoint`, `bucket`, ...).
    pub config: BTreeMap<String, String>,
}

impl RecordedRemote {
    pub fn name(&self) -> Option<&str> {
        self.config.get("name").map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }
}

/// Every special remote of `repo`: the branch's `remote.log`, and the
/// journal's newer lines (not yet committed), the latest line of each
/// UUID winning. Unreadable logs answer an empty list.
pub fn recorded_remotes(repo: &Path) -> Vec<RecordedRemote> {
    let mut text = run(git(repo).args(["cat-file", "blob", "refs/heads/git-annex:remote.log"]))
        .map(|out| String::from_utf8_lossy(&out).into_owned())
        .unwrap_or_default();
    let git_dir = run(git(repo).args(["rev-parse", "--absolute-git-dir"]))
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .unwrap_or_default();
    if !git_dir.is_empty() {
        if let Ok(journal) =
            std::fs::read_to_string(Path::new(&git_dir).join("annex/journal/remote.log"))
        {
            text.push('\n');
            text.push_str(&journal);
        }
    }
    parse_remote_log(&text)
}

/// The recorded remote named `name`.
pub fn recorded_remote(repo: &Path, name: &str) -> Option<RecordedRemote> {
    recorded_remotes(repo)
        .into_iter()
        .find(|r| r.name() == Some(name))
}

/// The special remotes that hold `key` (by the location log) but that
/// `repo` has not enabled: where content is that a get could not reach.
pub fn unenabled_holders(repo: &Path, key: &str) -> Vec<RecordedRemote> {
    let Ok(out) = run(git(repo)
        .args(["annex", "whereis", "--json"])
        .arg(format!("--key={key}")))
    else {
        return Vec::new();
    };
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(&out) else {
        return Vec::new();
    };
    let holders: Vec<&str> = ["whereis", "untrusted"]
        .iter()
        .filter_map(|field| record[field].as_array())
        .flatten()
        .filter_map(|w| w["uuid"].as_str())
        .collect();
    let enabled = enabled_uuids(repo);
    recorded_remotes(repo)
        .into_iter()
        .filter(|r| holders.contains(&r.uuid.as_str()) && !enabled.contains(&r.uuid))
        .collect()
}

/// The UUIDs of the remotes `repo` has enabled.
fn enabled_uuids(repo: &Path) -> Vec<String> {
    run(git(repo).args(["config", "--get-regexp", r"^remote\..*\.annex-uuid$"]))
        .map(|out| {
            String::from_utf8_lossy(&out)
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Where a server is, as a URL or `host[:port]` names it: the host
/// (normalised as the token rule does) and the port, the scheme's own when
/// none is written (`https` when no scheme is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    host: String,
    port: Option<u16>,
}

impl Place {
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        let url = if entry.contains("://") {
            url::Url::parse(entry).ok()?
        } else {
            url::Url::parse(&format!("https://{entry}")).ok()?
        };
        Some(Self {
            host: crate::providers::token::chosen_host(url.as_str())?,
            port: url.port_or_known_default(),
        })
    }
}

/// Whether annexa may enable `remote` on its own (issue 18): it reads
/// with no secret (an unencrypted annexa S3 remote read anonymously,
/// `public=yes`) and only from a place the user chose (`chosen`: the
/// source's server, an endpoint they passed), host and port alike: another
/// port of the same host can be another server. Any other remote is named
/// with its command instead.
pub fn enables_itself(remote: &RecordedRemote, chosen: &[Place]) -> bool {
    let no_secret = remote.get("type") == Some("external")
        && remote.get("externaltype") == Some("annexa")
        && remote.get("provider") == Some("s3")
        && remote.get("public") == Some("yes")
        && remote.get("encryption") == Some("none");
    let place = remote.get("endpoint").and_then(Place::parse);
    no_secret && place.is_some_and(|p| chosen.contains(&p))
}

/// Enables every remote `repo` records but has not enabled that
/// [`enables_itself`]; returns their names. A remote git-annex refuses
/// to enable is left for [`enable_command`].
pub fn enable_chosen(repo: &Path, chosen: &[Place]) -> Vec<String> {
    if chosen.is_empty() {
        return Vec::new();
    }
    let enabled = enabled_uuids(repo);
    recorded_remotes(repo)
        .into_iter()
        .filter(|r| !enabled.contains(&r.uuid) && enables_itself(r, chosen))
        .filter_map(|r| {
            let name = r.name()?.to_string();
            run(git(repo).args(["annex", "enableremote", &name]))
                .ok()
                .map(|_| name)
        })
        .collect()
}

/// How to enable `remote` in `repo`, for a person to run.
pub fn enable_command(repo: &Path, remote: &RecordedRemote) -> String {
    let name = remote.name().unwrap_or(remote.uuid.as_str());
    format!(
        "git -C {} annex enableremote {name}",
        shell_quote(&repo.display().to_string())
    )
}

fn shell_quote(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// `UUID key=value ... timestamp=SECONDSs` lines; values escape
/// whitespace and `&` as `&NNN;` (git-annex's Logs/Remote/Pure.hs).
fn parse_remote_log(text: &str) -> Vec<RecordedRemote> {
    let mut latest: BTreeMap<String, (f64, BTreeMap<String, String>)> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(uuid) = words.next() else {
            continue;
        };
        let mut config = BTreeMap::new();
        let mut when = 0.0;
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            if key == "timestamp" {
                when = value.trim_end_matches('s').parse().unwrap_or(0.0);
            } else {
                config.insert(key.to_string(), unescape(value));
            }
        }
        if latest.get(uuid).map_or(true, |(t, _)| when >= *t) {
            latest.insert(uuid.to_string(), (when, config));
        }
    }
    latest
        .into_iter()
        .map(|(uuid, (_, config))| RecordedRemote { uuid, config })
        .collect()
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let code = tail
            .split_once(';')
            .and_then(|(n, after)| Some((char::from_u32(n.parse().ok()?)?, after)));
        match code {
            Some((c, after)) => {
                out.push(c);
                rest = after;
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_line_of_each_remote_wins_and_values_are_unescaped() {
        let log = "u1 name=s3 type=external endpoint=http://a:9000 timestamp=10s\n\
                   u1 name=s3 type=external endpoint=http://b:9000 timestamp=20.5s\n\
                   u2 name=web&32;x autoenable=true timestamp=5s\n\
                   u1 name=s3 endpoint=http://old timestamp=15s\n";
        let remotes = parse_remote_log(log);
        assert_eq!(remotes.len(), 2);
        assert_eq!(remotes[0].get("endpoint"), Some("http://b:9000"));
        assert_eq!(remotes[1].name(), Some("web x"));
        assert_eq!(unescape("a&38;b&c"), "a&b&c");
    }

    #[test]
    fn only_secretless_remotes_of_a_chosen_host_enable_themselves() {
        let remote = |line: &str| parse_remote_log(line).remove(0);
        let s3 = "u type=external externaltype=annexa provider=s3 encryption=none public=yes";
        let chosen = vec![Place::parse("http://127.0.0.1:9000/").unwrap()];
        let ok = remote(&format!("{s3} endpoint=http://127.0.0.1:9000"));
        assert!(enables_itself(&ok, &chosen));
        // The scheme's own port, written or not, is the same place.
        let aws = remote(&format!("{s3} endpoint=s3.example.org"));
        assert!(enables_itself(
            &aws,
            &[Place::parse("https://s3.example.org:443").unwrap()]
        ));
        // Another host or port, no endpoint (AWS), credentials, encryption:
        // named only.
        for line in [
            format!("{s3} endpoint=http://example.org:9000"),
            format!("{s3} endpoint=http://127.0.0.1:9001"),
            format!("{s3} endpoint=127.0.0.1"),
            s3.to_string(),
            format!("{} endpoint=http://127.0.0.1:9000", s3.replace("public=yes", "public=no")),
            format!(
                "{} endpoint=http://127.0.0.1:9000",
                s3.replace("encryption=none", "encryption=shared")
            ),
            "u type=external externaltype=annexa provider=dataverse encryption=none url=http://127.0.0.1:9"
                .to_string(),
        ] {
            assert!(!enables_itself(&remote(&line), &chosen), "{line}");
        }
        assert!(!enables_itself(&ok, &[]));
    }
}
