//! Whole datasets through `datalad-annex::` (datalad-next's git remote
//! helper) over an annexa remote: one round trip, driven per service by
//! the `*_datalad.rs` tests.
//!
//! A superdataset with history, a subdataset and annexed content in both is
//! published the way docs/publish.md tells users to: each dataset gets a
//! content remote (`store`, autoenabled in clones) and a git remote `pub`
//! whose URL keeps the repository in the same place. A fresh `datalad
//! clone` of that URL then gets the content of both datasets, and an update
//! pushed later is fetched and got in the clone.

use std::path::Path;

use crate::support::common::{pseudo_random, tool, Repo};

/// `datalad-annex::` URL for an annexa remote with these initremote
/// parameters (`name=value`). Values are percent-encoded where the URL's
/// query would otherwise split or decode them.
pub fn deposit_url(params: &[String]) -> String {
    let mut query = vec![
        "type=external".to_string(),
        "externaltype=annexa".to_string(),
        "encryption=none".to_string(),
    ];
    for p in params {
        let mut escaped = String::new();
        for c in p.chars() {
            match c {
                '%' | '&' | '#' | ' ' | '+' => escaped.push_str(&format!("%{:02X}", c as u32)),
                c => escaped.push(c),
            }
        }
        query.push(escaped);
    }
    format!("datalad-annex::?{}", query.join("&"))
}

/// Fails with the fix when datalad-next's helper is not installed: these
/// tests must not pass by skipping.
pub fn require_datalad_next() {
    let helper = tool("git-remote-datalad-annex");
    assert!(
        helper.is_absolute() && helper.is_file(),
        "git-remote-datalad-annex (PyPI datalad-next) is not in the tools venv {}: run `make deps`",
        crate::support::common::tools_bin().display()
    );
}

/// Where one service keeps the two datasets, and its credentials.
pub struct Service<'a> {
    /// Environment the service needs (credentials).
    pub env: &'a [(&'a str, &'a str)],
    /// initremote parameters (`name=value`) of the superdataset's place.
    pub superds: Vec<String>,
    /// initremote parameters of the subdataset's place.
    pub subds: Vec<String>,
    /// The superdataset's repository as files (`exporttree=yes` in its
    /// URL only; the content remote keeps keys).
    pub super_exporttree: bool,
    /// Run between the first push and the update (a publication: the
    /// update then goes to a new draft).
    pub after_first_push: Option<&'a dyn Fn()>,
}

/// What a round trip leaves for the service's own checks.
pub struct RoundTrip {
    pub tmp: tempfile::TempDir,
    /// Where the superdataset was published.
    pub super_url: String,
}

fn open(dir: &Path, env: &[(&str, &str)]) -> Repo {
    env.iter()
        .fold(Repo::open(dir), |repo, (k, v)| repo.env(k, v))
}

/// Gives `repo` a content remote `store` at `params` (autoenabled in
/// clones), copies its content there and pushes its history and
/// git-annex branch to `url`.
fn publish(repo: &Repo, params: &[String], url: &str) {
    let mut init = vec!["autoenable=true"];
    init.extend(params.iter().map(String::as_str));
    repo.initremote_ok("store", &init);
    repo.ok(&["git", "annex", "copy", "--to", "store", "."]);
    repo.ok(&["git", "remote", "add", "pub", url]);
    repo.ok(&["git", "push", "pub", "HEAD", "git-annex"]);
}

/// Publishes a superdataset and its subdataset to `service`, clones the
/// superdataset back through `datalad-annex::` and gets content of both;
/// then pushes an update and fetches and gets it in the clone.
pub fn round_trip(service: &Service) -> RoundTrip {
    require_datalad_next();
    let tmp = tempfile::tempdir().unwrap();
    let env = service.env;
    let top = open(tmp.path(), env);
    let super_url = if service.super_exporttree {
        let mut params = service.superds.clone();
        params.push("exporttree=yes".into());
        deposit_url(&params)
    } else {
        deposit_url(&service.superds)
    };
    let sub_url = deposit_url(&service.subds);

    top.ok(&["datalad", "create", "ds"]);
    let ds_dir = tmp.path().join("ds");
    let ds = open(&ds_dir, env);
    ds.ok(&["datalad", "create", "-d", ".", "sub"]);
    let big = pseudo_random(300_000, 24);
    let sub_big = pseudo_random(70_000, 25);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &big);
    ds.write("sub/derived.bin", &sub_big);
    ds.ok(&["datalad", "save", "-r", "-m", "add data"]);
    ds.write("CHANGES", b"1.0.0 first release\n");
    ds.ok(&["datalad", "save", "-m", "second commit"]);

    publish(&open(&ds_dir.join("sub"), env), &service.subds, &sub_url);
    // A clone installs the subdataset from where it was published.
    ds.ok(&[
        "git",
        "config",
        "-f",
        ".gitmodules",
        "submodule.sub.url",
        &sub_url,
    ]);
    ds.ok(&["datalad", "save", "-m", "subdataset published"]);
    publish(&ds, &service.superds, &super_url);

    top.ok(&["datalad", "clone", &super_url, "clone"]);
    let clone_dir = tmp.path().join("clone");
    let clone = open(&clone_dir, env);
    let log = clone.ok(&["git", "log", "--format=%s"]);
    assert!(
        log.contains("second commit") && log.contains("add data"),
        "{log}"
    );
    clone.ok(&[
        "datalad",
        "get",
        "sub-01/anat/sub-01_T1w.nii.gz",
        "sub/derived.bin",
    ]);
    assert_eq!(
        std::fs::read(clone_dir.join("sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        big
    );
    assert_eq!(
        std::fs::read(clone_dir.join("sub/derived.bin")).unwrap(),
        sub_big
    );

    if let Some(hook) = service.after_first_push {
        hook();
    }
    // An update replaces the repository held under the same names.
    let update = pseudo_random(40_000, 26);
    ds.write("sub-02/anat/sub-02_T1w.nii.gz", &update);
    ds.ok(&["datalad", "save", "-m", "add sub-02"]);
    ds.ok(&["git", "annex", "copy", "--to", "store", "."]);
    ds.ok(&["git", "push", "pub", "HEAD", "git-annex"]);
    clone.ok(&["git", "pull", "--ff-only", "origin"]);
    clone.ok(&["datalad", "get", "sub-02/anat/sub-02_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(clone_dir.join("sub-02/anat/sub-02_T1w.nii.gz")).unwrap(),
        update
    );
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-02/anat/sub-02_T1w.nii.gz"]);
    assert!(whereis.contains("[store]"), "{whereis}");

    RoundTrip { tmp, super_url }
}
