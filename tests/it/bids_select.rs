//! `annexa ls` on git-annex datasets built from the BIDS example layouts:
//! exact matching, inheritance, scopes, directory "files", typos.

use crate::support::bids as support_bids;

use support_bids::{lines, Builder};

fn file_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap()
}

#[test]
fn multi_session_exact_labels_and_inherited_root_sidecars() {
    // 7t_trt: sessions, run-1/run-2, root-level task sidecars; add a
    // task label that starts with another one.
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01", "sub-02"])
        .extra(
            "sub-01/ses-1/func/sub-01_ses-1_task-restEyesOpen_run-1_bold.nii.gz",
            "eyes open",
        )
        .build();

    let got = ds.ls(&[
        "--sub", "01", "--ses", "1", "--suffix", "bold", "--run", "1", "--task", "rest",
    ]);
    assert_eq!(
        got,
        vec![
            "README",
            "dataset_description.json",
            "participants.json",
            "participants.tsv",
            "sub-01/ses-1/func/sub-01_ses-1_task-rest_acq-fullbrain_run-1_bold.nii.gz",
            "sub-01/ses-1/sub-01_ses-1_scans.tsv",
            "sub-01/sub-01_sessions.tsv",
            "task-rest_acq-fullbrain_bold.json",
        ]
    );

    // Without inherited metadata: every file of exactly the rest task with
    // the bold suffix, wherever it lives (the root sidecars carry both).
    let bare = ds.ls(&[
        "--task",
        "rest",
        "--suffix",
        "bold",
        "--root-files",
        "none",
        "--no-inherit",
    ]);
    let expected = ds.origin_files(|p| {
        (p.starts_with("sub-") && p.contains("_task-rest_") && p.ends_with("_bold.nii.gz"))
            || (p.starts_with("task-rest_") && p.ends_with("_bold.json"))
    });
    assert!(!expected.is_empty());
    assert_eq!(bare, expected);
    assert!(!bare.iter().any(|p| p.contains("restEyesOpen")));

    let eyes = ds.ls(&[
        "--task",
        "task-restEyesOpen",
        "--root-files",
        "none",
        "--no-inherit",
    ]);
    assert_eq!(
        eyes,
        vec!["sub-01/ses-1/func/sub-01_ses-1_task-restEyesOpen_run-1_bold.nii.gz"]
    );

    // Both sessions of one subject, prefrontal acquisition: the other
    // acquisition's root sidecar must not come along.
    let pf = ds.ls(&["--sub", "sub-02", "--acq", "prefrontal", "--suffix", "bold"]);
    assert!(pf.contains(&"task-rest_acq-prefrontal_bold.json".to_string()));
    assert!(!pf.contains(&"task-rest_acq-fullbrain_bold.json".to_string()));
    let sessions: Vec<&String> = pf.iter().filter(|p| p.ends_with("_bold.nii.gz")).collect();
    assert_eq!(sessions.len(), 2, "{pf:?}");
}

#[test]
fn single_session_and_numeric_runs() {
    // ds001 names runs run-01..run-03; add run-10 and a run-1 spelling.
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02"])
        .extra(
            "sub-01/func/sub-01_task-balloonanalogrisktask_run-10_bold.nii.gz",
            "ten",
        )
        .build();

    let anat = ds.ls(&["--sub", "01", "--datatype", "anat", "--root-files", "none"]);
    assert_eq!(anat, ds.origin_files(|p| p.starts_with("sub-01/anat/")));

    let run1 = ds.ls(&[
        "--run",
        "1",
        "--suffix",
        "bold",
        "--root-files",
        "none",
        "--no-inherit",
    ]);
    let expected = ds.origin_files(|p| p.contains("_run-01_") && p.ends_with("_bold.nii.gz"));
    assert_eq!(run1, expected);
    assert_eq!(run1.len(), 2, "one run-01 per subject: {run1:?}");

    let run10 = ds.ls(&["--run", "10", "--root-files", "none", "--no-inherit"]);
    assert_eq!(
        run10,
        vec!["sub-01/func/sub-01_task-balloonanalogrisktask_run-10_bold.nii.gz"]
    );

    // The root-level task sidecar applies to every bold file of that task.
    let with_meta = ds.ls(&["--sub", "02", "--run", "02", "--suffix", "bold"]);
    assert!(with_meta.contains(&"task-balloonanalogrisktask_bold.json".to_string()));
    assert!(with_meta.contains(&"CHANGES".to_string()));
}

#[test]
fn inherited_root_sidecars_in_ds000117() {
    let ds = Builder::new("ds000117")
        .subjects(&["sub-01"])
        .without(&["stimuli", "derivatives"])
        .extra("stimuli/meg/face01.bmp", "a face")
        .extra(
            "derivatives/freesurfer/sub-01/ses-mri/anat/sub-01_T1w.mgz",
            "fs",
        )
        .build();
    let t1 = ds.ls(&["--sub", "01", "--suffix", "T1w"]);
    assert!(t1.contains(&"acq-mprage_T1w.json".to_string()), "{t1:?}");
    assert!(t1.contains(&"sub-01/ses-mri/anat/sub-01_ses-mri_acq-mprage_T1w.json".to_string()));
    assert!(!t1.iter().any(|p| p.contains("FLASH")));

    // run-1 (written so in the root sidecars) matches run 01 numerically,
    // echo 1 does not select echo-1x, and other runs' sidecars stay out.
    let flash = ds.ls(&[
        "--suffix",
        "FLASH",
        "--run",
        "01",
        "--entity",
        "echo=1",
        "--root-files",
        "none",
    ]);
    assert_eq!(
        flash,
        vec![
            "run-1_echo-1_FLASH.json",
            "sub-01/ses-mri/anat/sub-01_ses-mri_run-1_echo-1_FLASH.nii.gz",
        ]
    );

    // Session-level sidecar and scans table come with a MEG run.
    let meg = ds.ls(&[
        "--sub",
        "01",
        "--suffix",
        "meg",
        "--run",
        "1",
        "--root-files",
        "none",
    ]);
    assert_eq!(
        meg,
        vec![
            "sub-01/ses-meg/meg/sub-01_ses-meg_task-facerecognition_run-01_meg.fif",
            "sub-01/ses-meg/sub-01_ses-meg_scans.tsv",
            "sub-01/ses-meg/sub-01_ses-meg_task-facerecognition_meg.json",
        ]
    );

    // Stimuli and derivatives are not part of the raw scope.
    let all = ds.ls(&[]);
    assert!(all
        .iter()
        .all(|p| !p.starts_with("stimuli/") && !p.starts_with("derivatives/")));
    assert!(all.iter().all(|p| !file_name(p).starts_with('.')));
}

#[test]
fn derivatives_scope() {
    let ds = Builder::new("synthetic")
        .subjects(&["sub-01", "sub-02"])
        .build();
    let raw = ds.ls(&["--sub", "01"]);
    assert!(raw.iter().all(|p| !p.starts_with("derivatives/")));

    let args = [
        "--scope",
        "fmriprep",
        "--sub",
        "01",
        "--ses",
        "01",
        "--entity",
        "space=T1w",
        "--suffix",
        "bold",
    ];
    let got = ds.ls(&args);
    let expected_data = ds.origin_files(|p| {
        p.starts_with("derivatives/fmriprep/sub-01/ses-01/") && p.contains("_space-T1w_") && {
            let name = file_name(p);
            name.ends_with("_bold.nii") || name.ends_with("_bold.json")
        }
    });
    assert!(!expected_data.is_empty());
    for p in &expected_data {
        assert!(got.contains(p), "{p} missing from {got:?}");
    }
    assert!(got.contains(&"derivatives/fmriprep/dataset_description.json".to_string()));
    assert!(
        got.iter().all(|p| p.starts_with("derivatives/fmriprep/")),
        "{got:?}"
    );

    let all_derivs = ds.ls(&[
        "--scope",
        "derivatives",
        "--sub",
        "02",
        "--root-files",
        "none",
    ]);
    assert!(!all_derivs.is_empty());
    assert!(all_derivs.iter().all(|p| p.starts_with("derivatives/")));

    let out = ds.annexa(&["ls", ds.origin.to_str().unwrap(), "--scope", "fmriprp"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fmriprep"), "{err}");
}

#[test]
fn directory_extensions_select_whole_directories() {
    let ds = Builder::new("ds000246").build();
    let got = ds.ls(&[
        "--ext",
        ".ds/",
        "--run",
        "1",
        "--root-files",
        "none",
        "--no-inherit",
    ]);
    // run 1 of both subjects, and nothing from run-02's directory
    let expected = ds.origin_files(|p| p.contains("_run-01_meg.ds/"));
    assert!(expected.iter().any(|p| p.starts_with("sub-emptyroom/")));
    assert!(expected.len() > 10);
    assert_eq!(got, expected);

    let one = ds.ls(&[
        "--sub",
        "0001",
        "--ext",
        ".ds",
        "--run",
        "2",
        "--no-inherit",
    ]);
    assert!(one.iter().any(|p| p.contains("_run-02_meg.ds/")));
    assert!(!one.contains(&"sub-0001/sub-0001_scans.tsv".to_string()));

    let zarr = Builder::new("micr_SEMzarr").build();
    let got = zarr.ls(&["--ext", "ome.zarr/", "--root-files", "none", "--no-inherit"]);
    let expected = zarr.origin_files(|p| p.contains(".ome.zarr/"));
    assert!(
        expected.iter().any(|p| p.ends_with("/.zgroup")),
        "{expected:?}"
    );
    assert_eq!(got, expected);
}

#[test]
fn misspelt_subject_is_an_error_listing_existing_values() {
    let ds = Builder::new("ds001")
        .subjects(&["sub-01", "sub-02"])
        .build();
    let out = ds.annexa(&["ls", ds.origin.to_str().unwrap(), "--sub", "O1"]);
    assert!(!out.status.success());
    assert!(lines(&out.stdout).is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"O1\"") && err.contains("01, 02"), "{err}");

    let target = ds.path("out");
    let out = ds.annexa(&[
        "get",
        ds.origin.to_str().unwrap(),
        "--to",
        target.to_str().unwrap(),
        "--sub",
        "01",
        "--task",
        "balloon",
    ]);
    assert!(!out.status.success());
    assert!(!target.exists(), "a failed selection must not create files");
    assert!(String::from_utf8_lossy(&out.stderr).contains("balloonanalogrisktask"));
}

#[test]
fn json_listing_reports_keys_sizes_and_cache_state() {
    let ds = Builder::new("ds001").subjects(&["sub-01"]).build();
    let origin = ds.origin.to_str().unwrap();
    let records: Vec<serde_json::Value> = ds
        .annexa_ok(&["ls", origin, "--suffix", "T1w", "--json"])
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let t1 = records
        .iter()
        .find(|r| r["path"] == "sub-01/anat/sub-01_T1w.nii.gz")
        .expect("T1w listed");
    let size = ds.origin_content("sub-01/anat/sub-01_T1w.nii.gz").len() as u64;
    assert_eq!(t1["size"].as_u64(), Some(size));
    assert!(t1["key"].as_str().unwrap().starts_with("SHA256E-s"));
    assert_eq!(t1["cached"], false);
    assert_eq!(t1["role"], "selected");
    let desc = records
        .iter()
        .find(|r| r["path"] == "dataset_description.json")
        .unwrap();
    assert!(desc["key"].is_null());
    assert_eq!(desc["role"], "root");

    let out = ds.path("out");
    ds.annexa_ok(&[
        "get",
        origin,
        "--to",
        out.to_str().unwrap(),
        "--suffix",
        "T1w",
    ]);
    let again = ds.annexa_ok(&["ls", origin, "--suffix", "T1w", "--json"]);
    assert!(again
        .iter()
        .any(|l| l.contains("sub-01_T1w.nii.gz") && l.contains("\"cached\":true")));
}

#[test]
fn root_level_files_with_entities_are_selected_like_any_other() {
    // The query of issue 11: the root sidecar is the only .json of task
    // rest with acq fullbrain, and must be found (pybids finds it too).
    let ds = Builder::new("7t_trt").subjects(&["sub-01"]).build();
    let got = ds.ls(&[
        "--task",
        "rest",
        "--acq",
        "fullbrain",
        "--ext",
        ".json",
        "--root-files",
        "none",
    ]);
    assert_eq!(got, vec!["task-rest_acq-fullbrain_bold.json"]);

    // Values that exist on their own but not together: the error names
    // the filter that emptied the selection.
    let out = ds.annexa(&[
        "ls",
        ds.origin.to_str().unwrap(),
        "--sub",
        "01",
        "--suffix",
        "T1w",
        "--task",
        "rest",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("together with"), "{stderr}");
    assert!(!stderr.contains("existing values"), "{stderr}");
}

#[test]
fn ls_long_and_plan_describe_the_selection() {
    let ds = Builder::new("7t_trt")
        .subjects(&["sub-01", "sub-02", "sub-03"])
        .build();
    let origin = ds.origin.to_str().unwrap();
    let long = ds.annexa_ok(&["ls", origin, "--suffix", "T1w", "--long"]);
    assert!(!long.is_empty());
    for line in &long {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.contains(&"cached") || words.contains(&"remote"),
            "{line}"
        );
        assert!(
            ["data", "root", "sidecar", "associated"]
                .iter()
                .any(|r| words.contains(r)),
            "{line}"
        );
    }

    // The parts of a plan add up to the whole selection.
    let whole = ds.ls(&["--suffix", "T1w"]).len();
    let plan = ds.annexa_ok(&["plan", origin, "--suffix", "T1w", "--shards", "2", "--json"]);
    let files: u64 = plan
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["files"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(plan.len(), 2);
    assert_eq!(files as usize, whole);
}
