//! From SOURCE and filters to the list of selected files: open the cached
//! clone(s), list trees, build the BIDS layout, select.

use super::cache::{Access, Cache, CachedDataset};
use super::git::{git, run};
use super::report::Reporter;
use super::tree::{list, submodule_urls, Content, Gitlink};
use super::{DatasetError, Source};
use crate::bids::{select, FilterSet, Layout, Role, Scope, SelectOptions};

/// Subdatasets inside subdatasets are followed this deep at most.
const MAX_NESTING: usize = 4;

/// What the user asked to select.
#[derive(Debug, Clone)]
pub struct SelectionRequest {
    pub filters: FilterSet,
    pub scopes: Vec<Scope>,
    pub root_files: Vec<String>,
    pub inherit: bool,
    pub with_associated: bool,
}

#[derive(Debug, Clone)]
pub struct DatasetFile {
    /// Path relative to the top dataset.
    pub path: String,
    pub content: Content,
    /// Index into [`Resolved::datasets`].
    pub dataset: usize,
}

#[derive(Debug)]
pub struct Resolved {
    /// The top dataset first, then opened subdatasets.
    pub datasets: Vec<CachedDataset>,
    /// Where each dataset sits below the top (`""` for the top).
    pub prefixes: Vec<String>,
    pub files: Vec<DatasetFile>,
    /// Indices into `files`, sorted by path, with why each is selected.
    pub selection: Vec<(usize, Role)>,
    /// Selected paths that are never written (see [`super::paths`]), by
    /// path, with why: left out of `selection` and named in the report.
    pub refused: Vec<(String, super::paths::PathProblem)>,
    /// Where each key's content comes from, when known without asking the
    /// dataset's git-annex branch (a service listing): for manifests.
    pub urls: std::collections::HashMap<String, String>,
}

pub struct Resolver<'a> {
    pub cache: &'a Cache,
    pub treeish: &'a str,
    pub update: bool,
    pub access: Access,
}

impl Resolver<'_> {
    pub fn resolve(
        &self,
        source: &Source,
        request: &SelectionRequest,
    ) -> Result<Resolved, DatasetError> {
        let access = if self.update {
            Access::Exclusive
        } else {
            self.access
        };
        let top = self.cache.open(source, access)?;
        if self.update {
            if top.source.is_service() {
                super::import::import_into_cache(
                    top.source.as_str(),
                    &top.repo,
                    self.cache.reporter(),
                    self.cache.endpoint(),
                    Some(&self.cache.listing_file(&top.source)),
                )?;
            } else {
                update_clone(&top)?;
            }
            super::cache::mark_refreshed(&top.repo)?;
        } else if let (true, Some(endpoint)) = (top.source.is_service(), self.cache.endpoint()) {
            if top.source.as_str().starts_with("s3://") {
                super::import::follow_endpoint(
                    &top.repo,
                    "s3",
                    endpoint,
                    &**self.cache.reporter(),
                )?;
            }
        }
        let mut resolved = Resolved {
            datasets: Vec::new(),
            prefixes: Vec::new(),
            files: Vec::new(),
            selection: Vec::new(),
            refused: Vec::new(),
            urls: std::collections::HashMap::new(),
        };
        self.add_dataset(
            top,
            self.treeish,
            "",
            &request.scopes,
            access,
            &mut resolved,
            0,
        )?;

        let (selection, refused) = select_files(&resolved.files, request)?;
        resolved.selection = selection;
        resolved.refused = refused;
        Ok(resolved)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_dataset(
        &self,
        dataset: CachedDataset,
        treeish: &str,
        prefix: &str,
        scopes: &[Scope],
        access: Access,
        resolved: &mut Resolved,
        depth: usize,
    ) -> Result<(), DatasetError> {
        let listing = list(&dataset.repo, treeish)?;
        let index = resolved.datasets.len();
        resolved
            .files
            .extend(listing.files.into_iter().map(|f| DatasetFile {
                path: format!("{prefix}{}", f.path),
                content: f.content,
                dataset: index,
            }));
        let wanted: Vec<Gitlink> = listing
            .gitlinks
            .into_iter()
            .filter(|g| {
                scopes
                    .iter()
                    .any(|s| s.may_contain(&format!("{prefix}{}", g.path)))
            })
            .collect();
        let urls = if wanted.is_empty() {
            Vec::new()
        } else {
            submodule_urls(&dataset.repo, treeish)?
        };
        let parent_source = dataset.source.clone();
        resolved.datasets.push(dataset);
        resolved.prefixes.push(prefix.to_string());
        if depth >= MAX_NESTING {
            return Ok(());
        }
        for link in wanted {
            let mount = format!("{prefix}{}", link.path);
            let context = |e: DatasetError| DatasetError::Subdataset {
                mount: mount.clone(),
                source: Box::new(e),
            };
            let Some((_, url)) = urls.iter().find(|(p, _)| *p == link.path) else {
                return Err(DatasetError::SubdatasetWithoutUrl { mount });
            };
            let sub_source = parent_source.join(url).map_err(context)?;
            // A subdataset pointing back at a dataset already open here (a
            // loop A -> B -> A, or itself) would wait on its own cache lock
            // forever.
            if let Some(open) = resolved
                .datasets
                .iter()
                .position(|d| d.source == sub_source)
            {
                let at = match resolved.prefixes[open].trim_end_matches('/') {
                    "" => "the top dataset".to_string(),
                    p => format!("subdataset {p}"),
                };
                return Err(DatasetError::SubdatasetLoop {
                    mount,
                    url: url.clone(),
                    already: at,
                });
            }
            let sub = self.cache.open(&sub_source, access).map_err(context)?;
            let commit = recorded_commit(&sub, &link.commit, &**self.cache.reporter());
            self.add_dataset(
                sub,
                &commit,
                &format!("{mount}/"),
                scopes,
                access,
                resolved,
                depth + 1,
            )?;
        }
        Ok(())
    }
}

/// Which of `files` the request selects (sorted by path, with why), and the
/// selected paths that are never written, with why.
pub(super) type Selection = (Vec<(usize, Role)>, Vec<(String, super::paths::PathProblem)>);

pub(super) fn select_files(
    files: &[DatasetFile],
    request: &SelectionRequest,
) -> Result<Selection, DatasetError> {
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let layout = Layout::build(&paths, &request.scopes)?;
    let options = SelectOptions {
        filters: request.filters.clone(),
        root_files: request.root_files.clone(),
        inherit: request.inherit,
        with_associated: request.with_associated,
    };
    let mut selection: Vec<(usize, Role)> = select(&layout, &options)?
        .into_iter()
        .flat_map(|s| {
            layout.units[s.unit]
                .members
                .iter()
                .map(move |&m| (m, s.role))
                .collect::<Vec<_>>()
        })
        .collect();
    selection.sort_by(|a, b| files[a.0].path.cmp(&files[b.0].path));
    // Everything inside a directory unit is selected with it (a planted
    // `x.ome.zarr/.git/config` too): each path passes git's rules or is
    // left out by name.
    let mut refused = Vec::new();
    selection.retain(|&(i, _)| {
        let kind = match files[i].content {
            Content::Symlink { .. } => super::paths::EntryKind::Symlink,
            _ => super::paths::EntryKind::File,
        };
        match super::paths::check(&files[i].path, kind) {
            Ok(()) => true,
            Err(problem) => {
                refused.push((files[i].path.clone(), problem));
                false
            }
        }
    });
    Ok((selection, refused))
}

/// Whether the request selects the data file at `path` on its own name
/// alone (raw scope only): what a listing can start fetching before it
/// ends. Sidecars and root files need the whole listing.
pub(super) fn selects_on_its_own(path: &str, request: &SelectionRequest) -> bool {
    if request.scopes != [Scope::Raw] {
        return false;
    }
    Layout::build(&[path], &request.scopes).is_ok_and(|layout| {
        layout
            .units
            .iter()
            .any(|u| u.selectable() && request.filters.matches(u))
    })
}

/// The commit the superdataset records, fetched if the cached clone lacks
/// it; the clone's HEAD when the origin does not have it either.
fn recorded_commit(dataset: &CachedDataset, commit: &str, sink: &dyn Reporter) -> String {
    let has = |c: &str| {
        run(git(&dataset.repo).args(["cat-file", "-e", &format!("{c}^{{commit}}")])).is_ok()
    };
    if has(commit) {
        return commit.to_string();
    }
    let _ = run(git(&dataset.repo).args(["fetch", "--quiet", "origin"]));
    if has(commit) {
        return commit.to_string();
    }
    sink.warning(&format!(
        "{} lacks the recorded commit {commit}; using its HEAD",
        dataset.source.as_str()
    ));
    "HEAD".to_string()
}

/// `--update`: fetch from the origin and move the clone's branch to it.
fn update_clone(dataset: &CachedDataset) -> Result<(), DatasetError> {
    run(git(&dataset.repo).args(["fetch", "--quiet", "origin"]))?;
    let branch = run(git(&dataset.repo).args(["symbolic-ref", "--short", "HEAD"]))?;
    let branch = String::from_utf8_lossy(&branch).trim().to_string();
    run(git(&dataset.repo).args([
        "update-ref",
        &format!("refs/heads/{branch}"),
        &format!("refs/remotes/origin/{branch}"),
    ]))?;
    Ok(())
}
