//! The git-annex branch's records of where imported content is: the
//! annexa remote has every key, at the URL the service gave. Written for
//! new keys, read back when content is got from those URLs.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use super::listing::Listed;
use super::repository::git_here;
use crate::dataset::git::{committer_ident, feed, git, quote_path, rev_parse, run};
use crate::dataset::report::Reporter;
use crate::dataset::DatasetError;
use crate::providers;

/// Records, for every new key, its URL and that the annexa remote has
/// it, so `get` asks the remote, which downloads from that URL.
///
/// Keys the git-annex branch knows nothing of yet (all of them on a first
/// import) get their two log files written straight into the branch by
/// one `git fast-import` commit, in git-annex's documented log format:
/// `registerurl --batch` costs milliseconds a key (a CLAIMURL round trip
/// and a journal write each), minutes for 10,000 keys. Keys with logs
/// already go through `registerurl` and `setpresentkey`, which merge.
pub(super) fn register_urls(
    dir: &Path,
    remote: &str,
    files: &[&Listed],
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let missing = files.iter().filter(|f| f.url.is_none()).count();
    if missing > 0 {
        reporter.warning(&format!(
            "{missing} file(s) have no URL from {remote}: their content cannot be got through it"
        ));
    }
    let mut urls: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for file in files {
        if let Some(url) = file.url.as_deref().filter(|u| !u.contains(['\n', '\r'])) {
            urls.entry(file.key.as_str()).or_default().push(url);
        }
    }
    if urls.is_empty() {
        return Ok(());
    }
    let uuid = run(git(dir).args(["config", "--get", &format!("remote.{remote}.annex-uuid")]))?;
    let uuid = String::from_utf8_lossy(&uuid).trim().to_string();
    // The journal holds changes not yet in the branch; a log written
    // beside one would be shadowed by it. `merge` commits it.
    run(git_here(dir).args(["annex", "merge", "--quiet"]))?;
    let branch_sha = rev_parse(dir, "refs/heads/git-annex")
        .ok_or_else(|| DatasetError::NoAnnexBranch(dir.to_path_buf()))?;
    let listed = run(git(dir).args(["ls-tree", "-r", "-z", "--name-only", &branch_sha]))?;
    let existing: std::collections::HashSet<&[u8]> = listed
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    let logs = |key: &str| {
        let dir = providers::hashdir_lower(key);
        (format!("{dir}{key}.log"), format!("{dir}{key}.log.web"))
    };
    let (known, unknown): (Vec<_>, Vec<_>) = urls.iter().partition(|(key, _)| {
        let (location, web) = logs(key);
        existing.contains(location.as_bytes()) || existing.contains(web.as_bytes())
    });
    if !unknown.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}.{:09}s", now.as_secs(), now.subsec_nanos());
        let ident = committer_ident(dir);
        let mut stream: Vec<u8> = Vec::with_capacity(unknown.len() * 300);
        let _ = writeln!(stream, "commit refs/heads/git-annex\ncommitter {ident}");
        let _ = writeln!(stream, "data 7\nupdate\nfrom {branch_sha}");
        for (key, key_urls) in &unknown {
            let (location, web) = logs(key);
            let presence = format!("{stamp} 1 {uuid}\n");
            // URLs a special remote claims are kept with a leading ':'.
            let web_log: String = key_urls
                .iter()
                .map(|u| format!("{stamp} 1 :{u}\n"))
                .collect();
            for (path, content) in [(location, presence), (web, web_log)] {
                let _ = writeln!(stream, "M 100644 inline {}", quote_path(&path));
                let _ = writeln!(stream, "data {}", content.len());
                stream.extend_from_slice(content.as_bytes());
                stream.push(b'\n');
            }
        }
        stream.extend_from_slice(b"done\n");
        let mut cmd = git(dir);
        cmd.args(["fast-import", "--quiet", "--done", "--date-format=raw"]);
        feed(&mut cmd, &stream)?;
    }
    if known.is_empty() {
        return Ok(());
    }
    let mut input = String::new();
    for (key, key_urls) in &known {
        for url in key_urls.iter() {
            input.push_str(&format!("{key} {url}\n"));
        }
    }
    let mut cmd = git_here(dir);
    cmd.args(["annex", "registerurl", "--batch", "--json"]);
    let out = feed(&mut cmd, input.as_bytes())?;
    let failed = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.contains("\"success\":false"))
        .count();
    if failed > 0 {
        return Err(DatasetError::UrlsRefused {
            remote: remote.to_string(),
            count: failed,
        });
    }
    // Older git-annex records a URL a special remote claims without
    // saying that remote has the key: say so.
    let input: String = known
        .iter()
        .map(|(key, _)| format!("{key} {uuid} 1\n"))
        .collect();
    let mut cmd = git(dir);
    cmd.args(["annex", "setpresentkey", "--batch"]);
    let out = feed(&mut cmd, input.as_bytes())?;
    let confirmed = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.ends_with(" ok"))
        .count();
    if confirmed < known.len() {
        return Err(DatasetError::PresenceRefused {
            remote: remote.to_string(),
            count: known.len() - confirmed,
        });
    }
    // Commit the journal now: a clone must see these records.
    run(git_here(dir).args(["annex", "merge", "--quiet"]))?;
    Ok(())
}

/// The URL each key's content can be got from, as recorded in the
/// git-annex branch (`registerurl`, `addurl`): one `cat-file --batch`.
pub(in crate::dataset) fn recorded_urls(
    repo: &Path,
    keys: &[String],
) -> Result<HashMap<String, String>, DatasetError> {
    let names: Vec<String> = keys
        .iter()
        .map(|k| format!("git-annex:{}{k}.log.web", providers::hashdir_lower(k)))
        .collect();
    let mut out = HashMap::new();
    let mut keys = keys.iter();
    crate::dataset::git::cat_objects(repo, &names, |_, content| {
        let Some(key) = keys.next() else {
            return Ok(());
        };
        // No log: no URL recorded.
        if let Some(url) = content.and_then(last_present_url) {
            out.insert(key.clone(), url);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The URL a `.log.web` names last as present: lines "<time> <1|0> <url>",
/// the last word about a URL wins.
fn last_present_url(log: &[u8]) -> Option<String> {
    let mut present: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(log).lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(_), Some(status), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        // URLs claimed by a special remote are kept with a leading ':'.
        let url = url.strip_prefix(':').unwrap_or(url).to_string();
        present.retain(|u| *u != url);
        if status == "1" {
            present.push(url);
        }
    }
    present.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_about_a_url_wins() {
        let log = b"1 1 s3://b/a\n2 1 :https://x/a\n3 0 s3://b/a\n";
        assert_eq!(last_present_url(log).as_deref(), Some("https://x/a"));
        assert_eq!(last_present_url(b"1 1 s3://b/a\n2 0 s3://b/a\n"), None);
        assert_eq!(last_present_url(b"garbage\n"), None);
    }
}
