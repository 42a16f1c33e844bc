//! The BIDS selection of `src/bids` against a small reference model of the
//! rules, on generated datasets and generated filter combinations.
//!
//! The model never parses a file name: each generated file is described by
//! its parts (folder, entities, suffix, extension), and the model applies
//! the rules of docs/bids.md to those parts directly:
//! - a file is selectable below a `sub-*` folder, or anywhere when its name
//!   carries entities; subject and session come from the name, else from
//!   the folders;
//! - values within a filter are alternatives, filters must all match, and a
//!   file without a value for a filter does not match it;
//! - labels match exactly, index entities (`run`) as numbers, an optional
//!   `key-` prefix is ignored;
//! - extensions match whole; a trailing `/` asks for a directory;
//! - a value no selectable file has is an error; values that each exist but
//!   select nothing together are an error too;
//! - each selected file brings, by inheritance, every JSON sidecar at its
//!   level or higher with the same suffix and no entity it lacks, and of
//!   every other metadata extension the nearest such file (deepest folder,
//!   then most entities; the file itself is nearest for its own extension),
//!   plus the `sessions`/`scans` tables of the folders above it;
//! - the root files come along when anything is selected.
//!
//! The real code is run on the same paths (as strings) and must agree.

use annexa::bids::{
    select, BidsError, FilterKey, FilterSet, Layout, Role, Scope, SelectOptions, DEFAULT_ROOT_FILES,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const SUBJECTS: &[&str] = &["01", "02", "1", "ctrl"];
const SESSIONS: &[&str] = &["1", "01", "pre"];
const TASKS: &[&str] = &["rest", "restEyes", "nback"];
const ACQS: &[&str] = &["full", "half"];
const RUNS: &[&str] = &["1", "01", "2", "10"];

/// (datatype, suffix, extensions, whether names carry a task)
const KINDS: &[(&str, &str, &[&str], bool)] = &[
    ("anat", "T1w", &[".nii.gz", ".nii", ".json"], false),
    ("func", "bold", &[".nii.gz", ".json"], true),
    ("func", "events", &[".tsv", ".json"], true),
    ("func", "sbref", &[".nii.gz", ".json"], true),
    ("dwi", "dwi", &[".nii.gz", ".bval", ".bvec", ".json"], false),
    ("meg", "meg", &[".ds/", ".json"], true),
    ("meg", "channels", &[".tsv"], true),
];

const INDEX_ENTITIES: &[&str] = &["run"];
const METADATA_EXTENSIONS: &[&str] = &[".json", ".tsv", ".bval", ".bvec"];

/// One generated file (or directory unit), by its parts.
#[derive(Debug, Clone)]
struct Spec {
    /// Folder relative to the dataset root (`""` at the root).
    dir: String,
    name: String,
    folder_sub: Option<String>,
    folder_ses: Option<String>,
    datatype: Option<String>,
    /// Entities written in the name.
    entities: Vec<(String, String)>,
    suffix: Option<String>,
    /// Without the trailing `/` of a directory unit.
    extension: String,
    is_dir: bool,
}

impl Spec {
    /// The unit's path as the selection reports it.
    fn path(&self) -> String {
        let joined = if self.dir.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.dir, self.name)
        };
        if self.is_dir {
            format!("{joined}/")
        } else {
            joined
        }
    }

    /// The dataset paths that make up the unit (a directory's files,
    /// dotfiles included).
    fn member_paths(&self) -> Vec<String> {
        let path = self.path();
        if self.is_dir {
            vec![
                format!("{path}.hidden"),
                format!("{path}a.meg4"),
                format!("{path}inner/b.res4"),
            ]
        } else {
            vec![path]
        }
    }

    /// The value of an entity: from the name, else (sub/ses) the folders.
    fn entity(&self, key: &str) -> Option<&str> {
        if let Some((_, v)) = self.entities.iter().find(|(k, _)| k == key) {
            return Some(v);
        }
        match key {
            "sub" => self.folder_sub.as_deref(),
            "ses" => self.folder_ses.as_deref(),
            _ => None,
        }
    }

    /// Every entity the file has, name or folders.
    fn all_entities(&self) -> Vec<(String, String)> {
        let mut all = self.entities.clone();
        for key in ["sub", "ses"] {
            if !all.iter().any(|(k, _)| k == key) {
                if let Some(v) = self.entity(key) {
                    all.push((key.to_string(), v.to_string()));
                }
            }
        }
        all
    }

    fn selectable(&self) -> bool {
        self.dir.starts_with("sub-") || !self.entities.is_empty()
    }
}

/// Two values of one entity are the same: numbers for indices, text otherwise.
fn same_value(key: &str, a: &str, b: &str) -> bool {
    if INDEX_ENTITIES.contains(&key) {
        match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    } else {
        a == b
    }
}

/// What one generated file choice says; turned into a [`Spec`].
#[derive(Debug, Clone)]
struct Choice {
    level: u8,
    sub: &'static str,
    ses: Option<&'static str>,
    kind: usize,
    ext: usize,
    task: usize,
    acq: Option<&'static str>,
    run: Option<&'static str>,
    name_has_sub: bool,
}

fn choice() -> impl Strategy<Value = Choice> {
    (
        0u8..6,
        prop::sample::select(SUBJECTS),
        prop::option::of(prop::sample::select(SESSIONS)),
        0..KINDS.len(),
        0usize..4,
        0..TASKS.len(),
        prop::option::of(prop::sample::select(ACQS)),
        prop::option::of(prop::sample::select(RUNS)),
        prop::bool::weighted(0.85),
    )
        .prop_map(
            |(level, sub, ses, kind, ext, task, acq, run, name_has_sub)| Choice {
                level,
                sub,
                ses,
                kind,
                ext,
                task,
                acq,
                run,
                name_has_sub,
            },
        )
}

fn spec_of(c: &Choice) -> Spec {
    let (datatype, suffix, exts, has_task) = KINDS[c.kind];
    let mut ext = exts[c.ext % exts.len()].to_string();
    let mut entities: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: &str| entities.push((k.to_string(), v.to_string()));
    // Levels: 0 root, 1 subject folder, 2 session folder, 3..5 datatype folder.
    let (dir, folder_ses, in_datatype) = match c.level {
        0 => (String::new(), None, false),
        1 => (format!("sub-{}", c.sub), None, false),
        2 => {
            let ses = c.ses.unwrap_or("1");
            (format!("sub-{}/ses-{ses}", c.sub), Some(ses), false)
        }
        _ => match c.ses {
            Some(ses) => (
                format!("sub-{}/ses-{ses}/{datatype}", c.sub),
                Some(ses),
                true,
            ),
            None => (format!("sub-{}/{datatype}", c.sub), None, true),
        },
    };
    let in_subject = c.level > 0;
    // Names below a subject carry its subject and session (a few rely on
    // the folders instead); root names never do.
    if in_subject && (c.name_has_sub || !in_datatype) {
        push("sub", c.sub);
        if let Some(ses) = folder_ses {
            push("ses", ses);
        }
    }
    if has_task {
        push("task", TASKS[c.task]);
    }
    if let Some(acq) = c.acq {
        push("acq", acq);
    }
    if let Some(run) = c.run {
        push("run", run);
    }
    // Directory units exist only in datatype folders.
    let is_dir = ext.ends_with('/') && in_datatype;
    if ext.ends_with('/') && !is_dir {
        ext = ".json".into();
    }
    let extension = ext.trim_end_matches('/').to_string();
    let mut name: String = entities.iter().map(|(k, v)| format!("{k}-{v}_")).collect();
    name.push_str(suffix);
    name.push_str(&extension);
    Spec {
        dir,
        name,
        folder_sub: in_subject.then(|| c.sub.to_string()),
        folder_ses: folder_ses.map(str::to_string),
        datatype: in_datatype.then(|| datatype.to_string()),
        entities,
        suffix: Some(suffix.to_string()),
        extension,
        is_dir,
    }
}

/// Files without entities: root files, the subjects' tables, a note.
fn plain_files(subjects: &[&str], sessions: &[&str], extras: &[bool]) -> Vec<Spec> {
    let plain = |dir: String, name: &str, sub: Option<&str>, ses: Option<&str>, datatype| {
        let (stem, extension) = match name.find('.') {
            Some(i) => (&name[..i], &name[i..]),
            None => (name, ""),
        };
        let entities: Vec<(String, String)> = stem
            .split('_')
            .filter_map(|p| p.split_once('-'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let suffix = stem.rsplit('_').next().filter(|s| !s.contains('-'));
        Spec {
            dir,
            name: name.to_string(),
            folder_sub: sub.map(str::to_string),
            folder_ses: ses.map(str::to_string),
            datatype,
            entities,
            // `dataset_description` is not BIDS-shaped: no suffix.
            suffix: (name != "dataset_description.json").then(|| suffix.unwrap_or("").to_string()),
            extension: extension.to_string(),
            is_dir: false,
        }
    };
    let mut files = vec![
        plain(String::new(), "dataset_description.json", None, None, None),
        plain(String::new(), "participants.tsv", None, None, None),
    ];
    let flag = |i: usize| extras.get(i).copied().unwrap_or(false);
    if flag(0) {
        files.push(plain(String::new(), "README", None, None, None));
    }
    // Root metadata without entities: inheritable, not selectable.
    if flag(1) {
        files.push(plain(String::new(), "bold.json", None, None, None));
    }
    if flag(2) {
        files.push(plain(String::new(), "dwi.bval", None, None, None));
    }
    for (i, sub) in subjects.iter().enumerate() {
        if flag(3 + i % 3) {
            files.push(plain(
                format!("sub-{sub}"),
                &format!("sub-{sub}_sessions.tsv"),
                Some(sub),
                None,
                None,
            ));
        }
        if flag(4 + i % 3) {
            files.push(plain(
                format!("sub-{sub}"),
                &format!("sub-{sub}_scans.tsv"),
                Some(sub),
                None,
                None,
            ));
        }
        for ses in sessions {
            if flag(5 + (i + ses.len()) % 3) {
                files.push(plain(
                    format!("sub-{sub}/ses-{ses}"),
                    &format!("sub-{sub}_ses-{ses}_scans.tsv"),
                    Some(sub),
                    Some(ses),
                    None,
                ));
            }
        }
        // A file below a subject with no entity in its name: selectable
        // through its folders.
        if flag(8 + i % 2) {
            files.push(plain(
                format!("sub-{sub}/anat"),
                "notes.txt",
                Some(sub),
                None,
                Some("anat".to_string()),
            ));
        }
    }
    files
}

/// A dataset: unique unit paths. Most datasets use only a few kinds and
/// subjects, so that files compete as metadata of one another (several
/// `.bval` at one level, sidecars at every level).
fn dataset() -> impl Strategy<Value = Vec<Spec>> {
    (
        prop::collection::vec(choice(), 1..50),
        prop::collection::vec(any::<bool>(), 10),
        prop::collection::vec(0..KINDS.len(), 1..4),
        prop::collection::vec(prop::sample::select(SUBJECTS), 1..3),
    )
        .prop_map(|(mut choices, extras, kinds, subjects)| {
            for c in &mut choices {
                c.kind = kinds[c.kind % kinds.len()];
                let at = SUBJECTS.iter().position(|s| *s == c.sub).unwrap_or(0);
                c.sub = subjects[at % subjects.len()];
            }
            let mut by_path: BTreeMap<String, Spec> = BTreeMap::new();
            for c in &choices {
                let spec = spec_of(c);
                by_path.entry(spec.path()).or_insert(spec);
            }
            let subjects: BTreeSet<&str> = choices.iter().map(|c| c.sub).collect();
            let sessions: BTreeSet<&str> = choices.iter().filter_map(|c| c.ses).collect();
            let subjects: Vec<&str> = subjects.into_iter().collect();
            let sessions: Vec<&str> = sessions.into_iter().collect();
            for spec in plain_files(&subjects, &sessions, &extras) {
                by_path.entry(spec.path()).or_insert(spec);
            }
            // A name with entities must not also be a folder on the way
            // (`sub-01` as a file and a folder); generated names never are.
            by_path.into_values().collect()
        })
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Entity(&'static str),
    Datatype,
    Suffix,
    Extension,
}

/// Filter values to try, including values no file has and other spellings.
fn filter() -> impl Strategy<Value = (Key, Vec<&'static str>, bool)> {
    let values = |key: Key, pool: &'static [&'static str]| {
        (
            Just(key),
            prop::collection::vec(prop::sample::select(pool), 1..3),
            any::<bool>(),
        )
    };
    prop_oneof![
        values(Key::Entity("sub"), &["01", "1", "sub-02", "ctrl", "03"]),
        values(Key::Entity("ses"), &["1", "01", "ses-pre", "2"]),
        values(
            Key::Entity("task"),
            &["rest", "restEyes", "task-nback", "res"]
        ),
        values(Key::Entity("acq"), &["full", "acq-half", "x"]),
        values(Key::Entity("run"), &["1", "01", "001", "2", "run-10", "0"]),
        values(Key::Datatype, &["anat", "func", "dwi", "meg", "fmap"]),
        values(
            Key::Suffix,
            &[
                "T1w",
                "bold",
                "events",
                "dwi",
                "meg",
                "channels",
                "sbref",
                "scans",
                "sessions",
                "notes",
                "participants",
            ]
        ),
        values(
            Key::Extension,
            &[
                ".nii.gz", "nii.gz", ".nii", ".json", ".tsv", ".bval", ".ds/", ".ds", "json/",
                ".gz"
            ]
        ),
    ]
}

/// A wanted value in the model's terms.
#[derive(Debug, Clone)]
struct Wanted {
    key: Key,
    value: String,
    dir_only: bool,
}

fn model_wanted(key: &Key, typed: &str) -> Wanted {
    match key {
        Key::Entity(e) => Wanted {
            key: key.clone(),
            value: typed
                .strip_prefix(&format!("{e}-"))
                .unwrap_or(typed)
                .to_string(),
            dir_only: false,
        },
        Key::Extension => {
            let bare = typed.trim_end_matches('/');
            Wanted {
                key: key.clone(),
                value: if bare.starts_with('.') {
                    bare.to_string()
                } else {
                    format!(".{bare}")
                },
                dir_only: typed.ends_with('/'),
            }
        }
        _ => Wanted {
            key: key.clone(),
            value: typed.to_string(),
            dir_only: false,
        },
    }
}

/// The file has this value for the key (directory-ness aside).
fn has_value(spec: &Spec, key: &Key, value: &str) -> bool {
    match key {
        Key::Entity(e) => spec.entity(e).is_some_and(|v| same_value(e, v, value)),
        Key::Datatype => spec.datatype.as_deref() == Some(value),
        Key::Suffix => spec.suffix.as_deref() == Some(value),
        Key::Extension => !spec.extension.is_empty() && spec.extension == value,
    }
}

fn matches(spec: &Spec, wanted: &Wanted) -> bool {
    has_value(spec, &wanted.key, &wanted.value) && (!wanted.dir_only || spec.is_dir)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    NoSuchValue,
    EmptyCombination,
    Selection {
        /// Paths that must be there, with their role.
        certain: BTreeMap<String, Role>,
        /// Groups of equally near metadata files (BIDS leaves the choice
        /// open): at least one of each group comes; the others may come
        /// as inherited.
        ties: Vec<BTreeSet<String>>,
    },
}

fn model(files: &[Spec], filters: &[(Key, Vec<&str>)], root_files: bool, inherit: bool) -> Outcome {
    let wanted: Vec<Wanted> = filters
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |v| model_wanted(key, v)))
        .collect();
    let selectable: Vec<&Spec> = files.iter().filter(|f| f.selectable()).collect();
    // Every value must exist on its own.
    for w in &wanted {
        if !selectable.iter().any(|f| has_value(f, &w.key, &w.value)) {
            return Outcome::NoSuchValue;
        }
    }
    let keys: BTreeSet<&Key> = wanted.iter().map(|w| &w.key).collect();
    let chosen: Vec<&Spec> = selectable
        .iter()
        .copied()
        .filter(|f| {
            keys.iter().all(|key| {
                wanted
                    .iter()
                    .filter(|w| &w.key == *key)
                    .any(|w| matches(f, w))
            })
        })
        .collect();
    if chosen.is_empty() && !keys.is_empty() {
        return Outcome::EmptyCombination;
    }
    let mut certain: BTreeMap<String, Role> =
        chosen.iter().map(|f| (f.path(), Role::Selected)).collect();
    let mut ties = Vec::new();
    if inherit {
        for data in &chosen {
            inherited(files, data, &mut certain, &mut ties);
        }
    }
    if root_files && !certain.is_empty() {
        for f in files {
            let is_root_file = f.dir.is_empty()
                && !f.is_dir
                && DEFAULT_ROOT_FILES
                    .iter()
                    .any(|p| match p.strip_suffix('*') {
                        Some(prefix) => f.name.starts_with(prefix),
                        None => f.name == *p,
                    });
            if is_root_file {
                certain.entry(f.path()).or_insert(Role::RootFile);
            }
        }
    }
    Outcome::Selection { certain, ties }
}

/// `dir` itself and every folder above it, the root (`""`) first.
fn folders_up_to(dir: &str) -> Vec<String> {
    let mut folders = vec![String::new()];
    let mut at = String::new();
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !at.is_empty() {
            at.push('/');
        }
        at.push_str(part);
        folders.push(at.clone());
    }
    folders
}

/// Every entity of `meta` is in `data` with the same value.
fn applies_to(meta: &Spec, data: &Spec) -> bool {
    meta.all_entities()
        .iter()
        .all(|(k, v)| data.entity(k).is_some_and(|d| same_value(k, d, v)))
}

fn inherited(
    files: &[Spec],
    data: &Spec,
    certain: &mut BTreeMap<String, Role>,
    ties: &mut Vec<BTreeSet<String>>,
) {
    let folders = folders_up_to(&data.dir);
    let depth_of = |dir: &str| folders.iter().position(|f| f == dir);
    let is_meta = |f: &Spec| !f.is_dir && METADATA_EXTENSIONS.contains(&f.extension.as_str());
    let candidates: Vec<(&Spec, usize)> = files
        .iter()
        .filter(|f| f.path() != data.path() && is_meta(f) && applies_to(f, data))
        .filter_map(|f| depth_of(&f.dir).map(|d| (f, d)))
        .collect();
    let mut add = |path: String| {
        certain.entry(path).or_insert(Role::Inherited);
    };
    if data.suffix.is_some() {
        let same_suffix: Vec<&(&Spec, usize)> = candidates
            .iter()
            .filter(|(f, _)| f.suffix == data.suffix)
            .collect();
        for (f, _) in &same_suffix {
            if f.extension == ".json" {
                add(f.path());
            }
        }
        for ext in [".tsv", ".bval", ".bvec"] {
            if data.extension == ext {
                continue;
            }
            let of_ext: Vec<(usize, usize, String)> = same_suffix
                .iter()
                .filter(|(f, _)| f.extension == ext)
                .map(|(f, d)| (*d, f.all_entities().len(), f.path()))
                .collect();
            let Some(best) = of_ext.iter().map(|(d, n, _)| (*d, *n)).max() else {
                continue;
            };
            let nearest: BTreeSet<String> = of_ext
                .into_iter()
                .filter(|(d, n, _)| (*d, *n) == best)
                .map(|(_, _, p)| p)
                .collect();
            if nearest.len() == 1 {
                add(nearest.into_iter().next().unwrap());
            } else {
                ties.push(nearest);
            }
        }
    }
    for (f, depth) in &candidates {
        let table = matches!(f.suffix.as_deref(), Some("sessions" | "scans"));
        if table && *depth > 0 {
            add(f.path());
        }
    }
}

/// The real selection on the same dataset, as an [`Outcome`] to compare.
fn real(
    files: &[Spec],
    filters: &[(Key, Vec<&str>, bool)],
    root_files: bool,
    inherit: bool,
) -> Result<BTreeMap<String, Role>, BidsError> {
    let paths: Vec<String> = files.iter().flat_map(Spec::member_paths).collect();
    let layout = Layout::build(&paths, &[Scope::Raw]).unwrap();
    let mut set = FilterSet::new();
    for (key, values, long_form) in filters {
        match key {
            Key::Entity(e) if *long_form => {
                let long = match *e {
                    "sub" => "subject",
                    "ses" => "session",
                    "acq" => "acquisition",
                    other => other,
                };
                set.add_assignment(&format!("{long}={}", values.join(",")))
                    .unwrap();
            }
            _ => {
                let real_key = match key {
                    Key::Entity(e) => FilterKey::Entity(e.to_string()),
                    Key::Datatype => FilterKey::Datatype,
                    Key::Suffix => FilterKey::Suffix,
                    Key::Extension => FilterKey::Extension,
                };
                set.add(real_key, values).unwrap();
            }
        }
    }
    let options = SelectOptions {
        filters: set,
        root_files: if root_files {
            DEFAULT_ROOT_FILES.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        },
        inherit,
        with_associated: false,
    };
    let selected = select(&layout, &options)?;
    Ok(selected
        .iter()
        .map(|s| (layout.units[s.unit].path.clone(), s.role))
        .collect())
}

/// Compares the real answer with the model's; `Err` says how they differ.
fn agree(
    files: &[Spec],
    filters: &[(Key, Vec<&'static str>, bool)],
    root_files: bool,
    inherit: bool,
) -> Result<(), String> {
    let plain: Vec<(Key, Vec<&str>)> = filters
        .iter()
        .map(|(k, v, _)| (k.clone(), v.clone()))
        .collect();
    let expected = model(files, &plain, root_files, inherit);
    let actual = real(files, filters, root_files, inherit);
    match (&expected, &actual) {
        (Outcome::NoSuchValue, Err(BidsError::NoSuchValue { .. }))
        | (Outcome::EmptyCombination, Err(BidsError::EmptyCombination { .. })) => Ok(()),
        (Outcome::Selection { certain, ties }, Ok(got)) => {
            for (path, role) in certain {
                if got.get(path) != Some(role) {
                    return Err(format!(
                        "{path}: model says {role:?}, real says {:?}",
                        got.get(path)
                    ));
                }
            }
            let open: BTreeSet<&String> = ties.iter().flatten().collect();
            for (path, role) in got {
                if certain.contains_key(path) {
                    continue;
                }
                if *role != Role::Inherited || !open.contains(path) {
                    return Err(format!("{path} ({role:?}) is not in the model's selection"));
                }
            }
            for group in ties {
                if !group.iter().any(|p| got.contains_key(p)) {
                    return Err(format!("none of the equally near {group:?} came"));
                }
            }
            Ok(())
        }
        _ => Err(format!("model: {expected:?}\nreal: {actual:?}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn selection_agrees_with_the_reference_model(
        files in dataset(),
        filters in prop::collection::vec(filter(), 0..4),
        root_files in any::<bool>(),
        inherit in any::<bool>(),
    ) {
        let verdict = agree(&files, &filters, root_files, inherit);
        prop_assert!(
            verdict.is_ok(),
            "{}\nfilters: {:?}\nfiles:\n{}",
            verdict.unwrap_err(),
            filters,
            files.iter().map(Spec::path).collect::<Vec<_>>().join("\n")
        );
    }
}
