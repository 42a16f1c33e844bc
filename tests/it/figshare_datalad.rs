//! Interoperability with DataLad (from PyPI): a dataset pushed to an
//! annexa Figshare remote and fetched back in a fresh clone.

use crate::support::common;
use crate::support::datalad_annex as support_datalad_annex;
use crate::support::figshare as support_figshare;

use common::{pseudo_random, Repo};
use support_datalad_annex::{round_trip, Service};
use support_figshare::{FakeFigshare, ARTICLE, TOKEN};

const SUB_ARTICLE: u64 = 4243;

#[test]
fn datalad_annex_clone_through_figshare() {
    let fake = FakeFigshare::start(&["--article", &SUB_ARTICLE.to_string()]);
    let place = |article: u64| {
        vec![
            "provider=figshare".to_string(),
            format!("api={}", fake.api()),
            format!("article={article}"),
        ]
    };
    round_trip(&Service {
        env: &[("FIGSHARE_API_KEY", TOKEN)],
        superds: place(ARTICLE),
        subds: place(SUB_ARTICLE),
        // The update after a publication goes to a new draft.
        // The repository as files, replaced after a publication.
        super_exporttree: true,
        after_first_push: Some(&|| fake.publish()),
    });
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn datalad_push_clone_get_through_figshare() {
    let fake = FakeFigshare::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let top = Repo::open(tmp.path()).env("FIGSHARE_API_KEY", TOKEN);
    top.ok(&["datalad", "create", "ds"]);
    let ds = Repo::open(&tmp.path().join("ds")).env("FIGSHARE_API_KEY", TOKEN);
    let data = pseudo_random(3 << 20, 7);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    ds.write("participants.tsv", b"participant_id\tage\nsub-01\t23\n");
    ds.ok(&["datalad", "save", "-m", "add data"]);
    let api = format!("api={}", fake.api());
    let article = format!("article={ARTICLE}");
    ds.ok(&[
        "git",
        "annex",
        "initremote",
        "fs",
        "type=external",
        "externaltype=annexa",
        "provider=figshare",
        "encryption=none",
        &api,
        &article,
        "autoenable=true",
    ]);
    ds.ok(&["datalad", "push", "--to", "fs", "--data", "anything", "."]);
    // The only other copy is the one on Figshare: drop verifies it is there.
    ds.ok(&["git", "annex", "drop", "."]);
    assert!(!fake.files().is_empty());

    top.ok(&["datalad", "clone", "ds", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone")).env("FIGSHARE_API_KEY", TOKEN);
    clone.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(tmp.path().join("clone/sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        data
    );
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert!(whereis.contains("[fs]"), "{whereis}");
    clone.ok(&["git", "annex", "fsck", "--from", "fs", "--fast", "."]);
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}
