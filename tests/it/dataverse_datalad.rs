//! Interoperability with DataLad (from PyPI): a dataset pushed to an
//! annexa Dataverse remote and fetched back in a fresh clone.

use crate::support::common;
use crate::support::datalad_annex as support_datalad_annex;
use crate::support::dataverse as support_dataverse;

use common::{pseudo_random, Repo};
use support_datalad_annex::{round_trip, Service};
use support_dataverse::{FakeDataverse, PID, TOKEN};

const SUB_PID: &str = "doi:10.5072/FK2/SUBDS";

#[test]
fn datalad_annex_clone_through_dataverse() {
    let fake = FakeDataverse::start(&["--dataset", SUB_PID]);
    let place = |pid: &str| {
        vec![
            "provider=dataverse".to_string(),
            format!("url={}", fake.url()),
            format!("doi={pid}"),
        ]
    };
    let done = round_trip(&Service {
        env: &[("DATAVERSE_API_KEY", TOKEN)],
        superds: place(PID),
        subds: place(SUB_PID),
        // The update after a publication goes to a new draft.
        super_exporttree: false,
        after_first_push: Some(&|| fake.publish()),
    });
    // Without a token a clone sees the published version, not the draft.
    Repo::open(done.tmp.path()).ok(&["datalad", "clone", &done.super_url, "anonymous"]);
    let anonymous = Repo::open(&done.tmp.path().join("anonymous"));
    let log = anonymous.ok(&["git", "log", "--format=%s"]);
    assert!(log.contains("subdataset published"), "{log}");
    assert!(!log.contains("add sub-02"), "{log}");
    anonymous.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn datalad_push_clone_get_through_dataverse() {
    let fake = FakeDataverse::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let top = Repo::open(tmp.path()).env("DATAVERSE_API_KEY", TOKEN);
    top.ok(&["datalad", "create", "ds"]);
    let ds = Repo::open(&tmp.path().join("ds")).env("DATAVERSE_API_KEY", TOKEN);
    let data = pseudo_random(3 << 20, 7);
    ds.write("sub-01/anat/sub-01_T1w.nii.gz", &data);
    ds.write("participants.tsv", b"participant_id\tage\nsub-01\t23\n");
    ds.write(
        "sub-01/func/sub-01 task: rest.nii.gz",
        &pseudo_random(4000, 8),
    );
    ds.ok(&["datalad", "save", "-m", "add data"]);
    let url = format!("url={}", fake.url());
    let doi = format!("doi={PID}");
    ds.ok(&[
        "git",
        "annex",
        "initremote",
        "dv",
        "type=external",
        "externaltype=annexa",
        "provider=dataverse",
        "encryption=none",
        &url,
        &doi,
        "rootpath=annex",
        "autoenable=true",
    ]);
    ds.ok(&["datalad", "push", "--to", "dv", "--data", "anything", "."]);
    // The only other copy is the one on Dataverse: drop verifies it is there.
    ds.ok(&["git", "annex", "drop", "."]);
    assert!(fake.latest_files().len() >= 2, "{:?}", fake.latest_files());

    top.ok(&["datalad", "clone", "ds", "clone"]);
    let clone = Repo::open(&tmp.path().join("clone")).env("DATAVERSE_API_KEY", TOKEN);
    clone.ok(&["datalad", "get", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert_eq!(
        std::fs::read(tmp.path().join("clone/sub-01/anat/sub-01_T1w.nii.gz")).unwrap(),
        data
    );
    clone.ok(&["datalad", "get", "sub-01/func/sub-01 task: rest.nii.gz"]);
    let whereis = clone.ok(&["git", "annex", "whereis", "sub-01/anat/sub-01_T1w.nii.gz"]);
    assert!(whereis.contains("[dv]"), "{whereis}");
    clone.ok(&["git", "annex", "fsck", "--from", "dv", "--fast", "."]);
    let (_, violations) = fake.storage_log();
    assert!(violations.is_empty(), "{violations:?}");
}
