//! `provider=github`: keys, export trees and URLs as assets of one GitHub
//! release.
//!
//! - Key mode: each key is an asset named after the key ([`naming`]
//!   encodes anything GitHub would rewrite, reversibly). Empty keys have no
//!   asset (GitHub refuses 0-byte assets): their content is known from the
//!   key, so presence is recorded in git-annex's per-key state
//!   (SETSTATE `empty`) and a retrieval writes an empty file.
//! - Export mode (`exporttree=yes`): each file is an asset whose name
//!   encodes its whole path (assets are flat), renamed with PATCH.
//! - URL mode: `https://github.com/OWNER/REPO/releases/download/TAG/NAME`
//!   is claimed and fetched through the API (with the token, so draft and
//!   private releases work); a release page `.../releases/tag/TAG` expands
//!   to every asset of the release.
//! - Import (`importtree=yes`): the release's assets as a tree, keyed by
//!   GitHub's `digest` ([`import`]).
//!
//! Assets must be smaller than 2 GiB: initremote sets `chunk=1GiB` unless
//! the user chose a chunk size, and a larger unchunked key fails before
//! anything is sent.

mod api;
mod export;
mod import;
pub mod naming;
mod urls;

use crate::providers::token::{TokenService, TokenSource};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::OnceCell;
use url::Url;

pub use api::{Asset, Release, Repo, Token};

use self::api::{Api, Uploaded};
use self::urls::{download_url, parse_url, ReleaseUrl};
use super::service_api::{
    http_setting, required_setting, setting as config, ApiAccess, ApiAddress, ServiceInfo,
    ServiceKind, ServiceRemote,
};
use super::{parse_bool, Annex, ConfigSpec, Provider, ProviderError, Result};
use crate::key::Key;
use crate::transfer::Expected;

/// The environment variable that holds the token.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
/// git-annex's credential slot for the token.
const CREDS: &str = "github";
/// The public API.
pub const DEFAULT_API: &str = "https://api.github.com";
/// GitHub refuses assets of 2 GiB and more.
pub const MAX_ASSET: u64 = 2 << 30;
/// The chunk size initremote chooses when the user chose none.
pub const DEFAULT_CHUNK: &str = "1GiB";
/// What SETSTATE records for a stored empty key.
const EMPTY_STATE: &str = "empty";

const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "repo",
        description: "(provider=github) the repository, OWNER/NAME",
    },
    ConfigSpec {
        name: "tag",
        description: "(provider=github) the tag of the release whose assets hold the content",
    },
    ConfigSpec {
        name: "api",
        description: "(provider=github) API address (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3)",
    },
    ConfigSpec {
        name: "createrelease",
        description: "(provider=github) yes = create the release at initremote when the tag has none",
    },
    ConfigSpec {
        name: "web",
        description: "(provider=github) address of release pages for URL claims (default https://github.com for the public API, else the API address)",
    },
];

pub type GithubKind = ServiceKind<GithubRemote>;

/// Where the token comes from: the environment wins over what git-annex stored.
const TOKEN: TokenSource = TokenSource::new(TokenService::Github, TOKEN_ENV, CREDS, api::SCHEME);
const INFO: ServiceInfo = ServiceInfo::new("github", CONFIGS, TOKEN, ADDRESS);
const ADDRESS: ApiAddress = ApiAddress::or_public("api", DEFAULT_API);

/// With `createrelease=no`, that the remote's releases have room for an
/// asset: a full release is a clear error at initremote, not at the first
/// copy past the limit.
async fn check_room(s: &GithubRemote) -> Result<()> {
    let limit = assets_per_release();
    let mut n = 1;
    let mut tag = s.tag.clone();
    while let Some(release) = s.api.find_release(&s.repo, &tag).await? {
        let mut count = 0usize;
        s.api
            .assets_each(&s.repo, release.id, &mut |_| {
                count += 1;
                Ok(())
            })
            .await?;
        if count < limit {
            return Ok(());
        }
        n += 1;
        if n > MAX_RELEASES {
            break;
        }
        tag = overflow_tag(&s.tag, n);
    }
    Err(ProviderError::Config(format!(
        "release {} of {} holds {limit} assets, as many as GitHub allows in a release, and with \
         createrelease=no annexa may make no other: add createrelease=yes (annexa then keeps \
         further assets in releases {}, {}, ...), or create release {tag} on GitHub",
        if n == 2 {
            s.tag.clone()
        } else {
            overflow_tag(&s.tag, n - 1)
        },
        s.repo,
        overflow_tag(&s.tag, 2),
        overflow_tag(&s.tag, 3),
    )))
}

pub struct GithubRemote {
    api: Api,
    repo: Repo,
    tag: String,
    web: Url,
    /// `createrelease=yes`: annexa may create releases, overflow ones too.
    create: bool,
    /// Found once per process, on first use.
    release_id: OnceCell<u64>,
    /// The releases' assets as last listed, kept up to date by this
    /// process's own writes; see [`Listing`].
    listing: tokio::sync::Mutex<Option<Arc<Listing>>>,
    /// Overflow releases found or made so far (they are never taken away
    /// by annexa, so a new listing only looks past them).
    overflow: tokio::sync::Mutex<Vec<Release>>,
    /// Releases GitHub said are full (422 `file_count`) in this process.
    full: std::sync::Mutex<HashSet<u64>>,
}

impl ServiceRemote for GithubRemote {
    const INFO: &'static ServiceInfo = &INFO;

    async fn open(annex: &dyn Annex, api: ApiAccess) -> Result<Self> {
        let repo_text = required_setting(annex, "repo", "OWNER/NAME").await?;
        let repo = Repo::parse(&repo_text).ok_or_else(|| {
            ProviderError::Config(format!(
                "repo={repo_text} is not a repository such as octocat/hello-world"
            ))
        })?;
        let tag = required_setting(annex, "tag", "TAG (the release to keep assets in)").await?;
        if tag.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ProviderError::Config(format!(
                "tag={tag:?} cannot be a git tag"
            )));
        }
        let web = match config(annex, "web").await? {
            Some(w) => http_setting("web", &w, "https://github.com")?,
            None if api.url.host_str() == Some("api.github.com") => {
                Url::parse("https://github.com").expect("valid")
            }
            None => api.url.clone(),
        };
        let create = parse_bool(
            "createrelease",
            config(annex, "createrelease").await?.as_deref(),
            false,
        )?;
        Ok(Self {
            api: Api::new(api.client, api.url, api.token),
            repo,
            tag,
            web,
            create,
            release_id: OnceCell::new(),
            listing: tokio::sync::Mutex::new(None),
            overflow: tokio::sync::Mutex::new(Vec::new()),
            full: std::sync::Mutex::new(HashSet::new()),
        })
    }

    async fn set_up(&self, annex: &dyn Annex) -> Result<String> {
        let (api, repo, tag) = (&self.api, &self.repo, &self.tag);
        let release = match api.find_release(repo, tag).await? {
            Some(r) => r,
            None if self.create => {
                if !api.has_token() {
                    return Err(TOKEN.needed_for(&format!("creating release {tag} in {repo}")));
                }
                annex.info(&format!("creating release {tag} in {repo}"));
                api.create_release(repo, tag).await?
            }
            None => {
                // Tell a missing repository from a missing release.
                api.check_repo(repo).await?;
                return Err(ProviderError::Config(format!(
                    "{repo} has no release {tag}{}; create it on GitHub, or add createrelease=yes",
                    if api.has_token() {
                        String::new()
                    } else {
                        format!(" (drafts are visible only with a token in {TOKEN_ENV})")
                    }
                )));
            }
        };
        annex.debug(&format!(
            "release {tag} of {repo} has id {}{}",
            release.id,
            if release.draft { " (draft)" } else { "" }
        ));
        if !self.create && api.has_token() {
            check_room(self).await?;
        }
        if config(annex, "chunk").await?.is_none() {
            annex.set_config("chunk", DEFAULT_CHUNK).await?;
            annex.info(&format!(
                "GitHub release assets must be smaller than 2 GiB: set chunk={DEFAULT_CHUNK} (choose another with chunk=)"
            ));
        }
        Ok("read a public release".into())
    }
}

/// Where an asset is: the index of its release in the remote's set
/// (`tag` first, then its overflow releases), and the asset.
#[derive(Clone)]
struct Located {
    release: usize,
    asset: Asset,
}

/// The assets of the remote's releases, listed once and kept up to date by
/// this process's own uploads and deletions, so that N keys cost N uploads
/// or downloads and not N listings of ever longer releases.
///
/// Other processes may change the releases meanwhile, so the cache is only
/// a hint, never an answer: an asset it knows is confirmed by its id
/// (`GET .../assets/{id}`, one small request) before a presence or a
/// store relies on it; a download of an asset that is gone (404) lists
/// again; and "absent" is answered only from a listing begun after the
/// question was asked.
#[derive(Clone)]
struct Listing {
    listed_at: Instant,
    /// `tag`'s release, then its overflow releases in order.
    releases: Vec<Release>,
    by_name: HashMap<String, Located>,
    /// Assets per release, as far as this process knows.
    counts: Vec<usize>,
}

/// The tag of the `n`th release of a remote whose first is `tag` (`n` from
/// 2): each release holds at most [`assets_per_release`] assets, so a
/// remote spans as many as it needs, named so that every clone finds them.
pub fn overflow_tag(tag: &str, n: usize) -> String {
    format!("{tag}-annexa-{n}")
}

/// GitHub's most assets per release (1,000 since 2025: 422 `file_count`,
/// community discussion 165616); `ANNEXA_GITHUB_ASSETS_PER_RELEASE` sets
/// another (a GitHub Enterprise server with its own limit; tests).
pub fn assets_per_release() -> usize {
    std::env::var("ANNEXA_GITHUB_ASSETS_PER_RELEASE")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(1000)
}

/// Most releases one remote spans: a million assets.
const MAX_RELEASES: usize = 1000;

impl GithubRemote {
    /// A listing begun at or after `after` (any cached one when `None`).
    async fn listing(&self, after: Option<Instant>) -> Result<Arc<Listing>> {
        let mut cache = self.listing.lock().await;
        if let Some(l) = cache.as_ref() {
            if after.map_or(true, |t| l.listed_at >= t) {
                return Ok(l.clone());
            }
        }
        let started = Instant::now();
        let releases = self.releases().await?;
        let mut by_name = HashMap::new();
        let mut counts = vec![0; releases.len()];
        for (i, release) in releases.iter().enumerate() {
            // The paged /assets endpoint: the release object's embedded list
            // is not documented to be complete for large releases.
            self.api
                .assets_each(&self.repo, release.id, &mut |asset| {
                    counts[i] += 1;
                    by_name
                        .entry(asset.name.clone())
                        .or_insert(Located { release: i, asset });
                    Ok(())
                })
                .await?;
        }
        let fresh = Arc::new(Listing {
            listed_at: started,
            releases,
            by_name,
            counts,
        });
        *cache = Some(fresh.clone());
        Ok(fresh)
    }

    /// The remote's releases as they are now: `tag`'s, then each overflow
    /// release (`TAG-annexa-2`, ...) until one is missing.
    async fn releases(&self) -> Result<Vec<Release>> {
        let mut releases = vec![self.release().await?];
        let mut overflow = self.overflow.lock().await;
        loop {
            let n = overflow.len() + 2;
            if n > MAX_RELEASES {
                break;
            }
            let tag = overflow_tag(&self.tag, n);
            match self.api.find_published(&self.repo, &tag).await? {
                Some(r) => overflow.push(r),
                None => break,
            }
        }
        releases.extend(overflow.iter().cloned());
        Ok(releases)
    }

    /// Records what this process did to an asset name (in release
    /// `release`).
    async fn note(&self, name: &str, asset: Option<(usize, Asset)>) {
        let mut cache = self.listing.lock().await;
        if let Some(l) = cache.as_mut() {
            let l = Arc::make_mut(l);
            match asset {
                Some((release, asset)) => {
                    if let Some(old) = l
                        .by_name
                        .insert(name.to_string(), Located { release, asset })
                    {
                        if let Some(c) = l.counts.get_mut(old.release) {
                            *c = c.saturating_sub(1);
                        }
                    }
                    if let Some(c) = l.counts.get_mut(release) {
                        *c += 1;
                    }
                }
                None => {
                    if let Some(old) = l.by_name.remove(name) {
                        if let Some(c) = l.counts.get_mut(old.release) {
                            *c = c.saturating_sub(1);
                        }
                    }
                }
            }
        }
    }

    /// The asset named `name` as it is now, complete or not, and its
    /// release: a cached one is confirmed by its id, else a fresh listing
    /// answers.
    async fn locate(&self, name: &str) -> Result<Option<Located>> {
        let asked = Instant::now();
        let cached = self.listing(None).await?.by_name.get(name).cloned();
        if let Some(l) = cached {
            match self.api.asset(&self.repo, l.asset.id).await? {
                Some(now) if now.name == name => {
                    self.note(name, Some((l.release, now.clone()))).await;
                    return Ok(Some(Located { asset: now, ..l }));
                }
                _ => self.note(name, None).await,
            }
        }
        Ok(self.listing(Some(asked)).await?.by_name.get(name).cloned())
    }

    /// The asset named `name` as it is now, complete or not.
    async fn lookup_any(&self, name: &str) -> Result<Option<Asset>> {
        Ok(self.locate(name).await?.map(|l| l.asset))
    }

    /// The complete asset named `name`, as it is now.
    async fn lookup(&self, name: &str) -> Result<Option<Asset>> {
        Ok(self.lookup_any(name).await?.filter(Asset::uploaded))
    }

    /// The first release not known to be full: where new assets go.
    async fn fill_index(&self) -> Result<usize> {
        let listing = self.listing(None).await?;
        let limit = assets_per_release();
        let full = self.full.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(listing
            .releases
            .iter()
            .enumerate()
            .position(|(i, r)| listing.counts[i] < limit && !full.contains(&r.id))
            .unwrap_or(listing.releases.len()))
    }

    /// Release `index` of the set, and its index; past the last, the next
    /// overflow release, made when `createrelease=yes` (else a clear error).
    async fn release_at(&self, index: usize, why: &str) -> Result<(usize, Release)> {
        let listing = self.listing(None).await?;
        if let Some(r) = listing.releases.get(index) {
            return Ok((index, r.clone()));
        }
        let n = listing.releases.len() + 1;
        if n > MAX_RELEASES {
            return Err(ProviderError::Config(format!(
                "{} spans {MAX_RELEASES} releases already; annexa makes no more",
                self.repo
            )));
        }
        let tag = overflow_tag(&self.tag, n);
        if !self.create {
            return Err(ProviderError::Config(format!(
                "{why}; annexa stores further assets in release {tag} but may not create \
                 releases here: create release {tag} in {} on GitHub, or allow it with \
                 `git annex enableremote REMOTE createrelease=yes`",
                self.repo
            )));
        }
        let release = match self.api.create_release(&self.repo, &tag).await {
            Ok(r) => r,
            // Made meanwhile by another process or job.
            Err(ProviderError::AlreadyExists { .. }) => self
                .api
                .find_published(&self.repo, &tag)
                .await?
                .ok_or_else(|| {
                    ProviderError::conflict(format!("release {tag} of {} is not there", self.repo))
                })?,
            Err(e) => return Err(e),
        };
        let mut overflow = self.overflow.lock().await;
        if overflow.len() + 2 == n {
            overflow.push(release.clone());
        }
        drop(overflow);
        let mut cache = self.listing.lock().await;
        if let Some(l) = cache.as_mut() {
            let l = Arc::make_mut(l);
            if l.releases.len() + 1 == n {
                l.releases.push(release.clone());
                l.counts.push(0);
            }
        }
        Ok((n - 1, release))
    }

    /// The id of the release of the tag, found on first use.
    async fn release_id(&self) -> Result<u64> {
        self.release_id
            .get_or_try_init(|| async {
                match self.api.find_release(&self.repo, &self.tag).await? {
                    Some(r) => Ok(r.id),
                    None => Err(ProviderError::Config(format!(
                        "{} has no release {} (or it is a draft and no token is set)",
                        self.repo, self.tag
                    ))),
                }
            })
            .await
            .copied()
    }

    /// The release of the tag as it is now.
    async fn release(&self) -> Result<Release> {
        let id = self.release_id().await?;
        match self.api.release(&self.repo, id).await {
            // The release itself gone is not "this key is absent".
            Err(ProviderError::NotFound { source, .. }) => Err(ProviderError::Config(format!(
                "release {} of {} is gone{}",
                self.tag,
                self.repo,
                source.map(|s| format!(" ({s})")).unwrap_or_default()
            ))),
            other => other,
        }
    }

    /// Stores `src` as the asset `name`; an asset of that name with the
    /// same content (in any of the releases) is success, an incomplete or
    /// different one is replaced. A full release sends the asset to the
    /// next one; a name GitHub says is taken but lists nowhere (a failed
    /// upload it never finished) is stored in the next release too.
    async fn put(&self, name: &str, key: &Key, src: &Path, annex: &dyn Annex) -> Result<Asset> {
        if !naming::survives(name) {
            return Err(ProviderError::InvalidName(format!(
                "{name:?} would be renamed by GitHub"
            )));
        }
        let size = tokio::fs::metadata(src).await?.len();
        if size >= MAX_ASSET {
            return Err(ProviderError::Config(format!(
                "{key} is {size} bytes; GitHub release assets must be smaller than 2 GiB: \
                 use a chunked remote (git annex enableremote NAME chunk=1GiB)"
            )));
        }
        let progress = |b| annex.progress(b);
        // What this process knows is there is confirmed; what it does not
        // know is uploaded right away (a taken name answers 422).
        let mut existing = if self.listing(None).await?.by_name.contains_key(name) {
            self.locate(name).await?
        } else {
            None
        };
        let mut target = self.fill_index().await?;
        let mut conflicts = 0;
        let mut blocked: Vec<String> = Vec::new();
        for _ in 0..MAX_RELEASES {
            if let Some(found) = existing.take() {
                if found.asset.uploaded() && same_content(&found.asset, key, src, size).await? {
                    return Ok(found.asset);
                }
                annex.debug(&format!(
                    "replacing asset {name} (incomplete or other content)"
                ));
                self.api.delete_asset(&self.repo, found.asset.id).await?;
                self.note(name, None).await;
            }
            let why = match blocked.last() {
                Some(tag) => format!("asset name {name} is blocked in release {tag}"),
                None => format!("release {} of {} is full", self.tag, self.repo),
            };
            let (at, release) =
                self.release_at(target, &why)
                    .await
                    .map_err(|e| match (&e, blocked.last()) {
                        (ProviderError::Config(m), Some(_)) => ProviderError::Config(format!(
                            "{m}. GitHub answers that the name is taken but lists no such asset \
                         (an upload it never finished, cli/cli#4863); such names usually clear \
                         within hours"
                        )),
                        _ => e,
                    })?;
            target = at;
            match self.api.upload(&release, name, src, &progress).await? {
                Uploaded::Created(asset) => {
                    if asset.name != name {
                        // GitHub rewrote it: never keep a name we cannot find.
                        self.api.delete_asset(&self.repo, asset.id).await?;
                        return Err(ProviderError::InvalidName(format!(
                            "GitHub renamed asset {name:?} to {:?}",
                            asset.name
                        )));
                    }
                    if asset.size != size || !digest_agrees(&asset, key) {
                        self.api.delete_asset(&self.repo, asset.id).await?;
                        return Err(ProviderError::integrity(format!(
                            "GitHub stored other bytes for {name} than were sent; try again"
                        )));
                    }
                    self.note(name, Some((target, asset.clone()))).await;
                    return Ok(asset);
                }
                Uploaded::ReleaseFull => {
                    annex.debug(&format!(
                        "release {} is full; going on in the next",
                        release.tag_name
                    ));
                    self.full
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(release.id);
                    target = (target + 1).max(self.fill_index().await?);
                }
                Uploaded::SizeRefused(message) => {
                    return Err(ProviderError::Config(format!(
                        "GitHub refused the size of {name} ({size} bytes): {message}; \
                         release assets must be smaller than 2 GiB: use a chunked remote \
                         (git annex enableremote NAME chunk=1GiB)"
                    )))
                }
                // Taken (stored before, a retried upload that had arrived,
                // a concurrent one): look at what is there.
                Uploaded::NameTaken => {
                    existing = self.locate(name).await?;
                    match &existing {
                        Some(_) => {
                            conflicts += 1;
                            if conflicts >= 3 {
                                return Err(ProviderError::conflict(format!(
                                    "asset {name} kept changing while it was being stored; \
                                     try again"
                                )));
                            }
                        }
                        None => {
                            annex.debug(&format!(
                                "asset name {name} is taken in release {} but not listed; \
                                 storing it in the next release",
                                release.tag_name
                            ));
                            blocked.push(release.tag_name.clone());
                            target += 1;
                        }
                    }
                }
            }
        }
        Err(ProviderError::conflict(format!(
            "asset {name} could not be stored in any release; try again"
        )))
    }

    async fn get(
        &self,
        located: &Located,
        key: &Key,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        let asset = &located.asset;
        let checksum = expected_checksum(asset, key)?;
        let progress = |b| annex.progress(b);
        let listing = self.listing(None).await?;
        let release = listing.releases.get(located.release);
        // Without a token, the browser address of a published release costs
        // no API budget (60 requests an hour anonymously).
        if let Some(release) = release.filter(|r| !self.api.has_token() && !r.draft) {
            let url = download_url(&self.web, &self.repo, &release.tag_name, &asset.name);
            let url = Url::parse(&url).map_err(|e| {
                ProviderError::service("unusable download address", Some(Box::new(e)))
            })?;
            return self
                .api
                .download_browser(url, asset.size, dest, checksum, &progress)
                .await;
        }
        self.api
            .download(&self.repo, asset, dest, checksum, &progress)
            .await
    }

    /// Downloads the asset `name` (known from the cache, else a fresh
    /// listing); `Ok(false)` when there is none. An asset the cache knew
    /// that is gone is looked up again once.
    async fn get_named(
        &self,
        name: &str,
        key: &Key,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<bool> {
        let cached = self
            .listing(None)
            .await?
            .by_name
            .get(name)
            .filter(|l| l.asset.uploaded())
            .cloned();
        if let Some(located) = cached {
            match self.get(&located, key, dest, annex).await {
                Err(e) if e.is_not_found() => self.note(name, None).await,
                other => return other.map(|()| true),
            }
        }
        match self.locate(name).await?.filter(|l| l.asset.uploaded()) {
            Some(located) => self.get(&located, key, dest, annex).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether git-annex recorded this empty key as stored.
    async fn empty_stored(&self, key: &Key, annex: &dyn Annex) -> Result<bool> {
        if !may_be_empty(key) {
            return Ok(false);
        }
        Ok(annex.get_state(key.as_str()).await?.as_deref() == Some(EMPTY_STATE))
    }

    /// Assets named by URLs git-annex recorded for the key (URL mode).
    async fn claimed_assets(&self, key: &Key, annex: &dyn Annex) -> Result<Vec<(Repo, Asset)>> {
        let mut found = Vec::new();
        for url in annex.get_urls(key.as_str(), "").await? {
            if let Some(ReleaseUrl::Asset { repo, tag, name }) = parse_url(&self.web, &url) {
                if let Some(release) = self.api.find_release(&repo, &tag).await? {
                    if let Some(a) = release.asset(&name) {
                        found.push((repo, a.clone()));
                    }
                }
            }
        }
        Ok(found)
    }
}

/// Whether a key can be empty (its size is 0 or unknown).
fn may_be_empty(key: &Key) -> bool {
    key.content_size().map_or(true, |s| s == 0)
}

/// The checksum a download must match: the key's own when it has one (not
/// a chunk: a chunk key names the whole file's hash), else GitHub's digest;
/// when both are SHA-256 they must agree before anything is fetched.
fn expected_checksum(asset: &Asset, key: &Key) -> Result<Option<Expected>> {
    let own = Some(key)
        .filter(|k| !k.is_chunk())
        .and_then(|k| k.checksum());
    let theirs = asset.sha256();
    if let (Some(own), Some(theirs)) = (&own, &theirs) {
        if own.algorithm == theirs.algorithm && own.hex != theirs.hex {
            return Err(ProviderError::integrity(format!(
                "asset {} has digest {} but key {key} names {}; not downloading",
                asset.name, theirs.hex, own.hex
            )));
        }
    }
    Ok(own.or(theirs))
}

/// Whether GitHub's digest (if any) agrees with the key's own checksum.
fn digest_agrees(asset: &Asset, key: &Key) -> bool {
    expected_checksum(asset, key).is_ok()
}

/// Whether the asset holds the bytes of `src`: sizes agree and the digest
/// (GitHub's, checked against the file; else the key's) agrees.
async fn same_content(asset: &Asset, key: &Key, src: &Path, size: u64) -> Result<bool> {
    if asset.size != size || !digest_agrees(asset, key) {
        return Ok(false);
    }
    match asset.sha256() {
        Some(d) => Ok(crate::providers::import::hash_file(src, d.algorithm).await? == d.hex),
        // No digest: the name is the key, which pins the content when it
        // carries a checksum or size (that agrees). A key with neither
        // (datalad-annex's refs) may name new content: replace it.
        None => Ok(key.identifies_content()),
    }
}

async fn write_empty(dest: &Path) -> Result<()> {
    tokio::fs::File::create(dest).await?.set_len(0).await?;
    Ok(())
}

#[async_trait]
impl Provider for GithubRemote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        if tokio::fs::metadata(src).await?.len() == 0 {
            // GitHub refuses empty assets; the key says it all.
            annex.set_state(key.as_str(), EMPTY_STATE).await?;
            return Ok(());
        }
        self.put(&naming::encode(key.as_str()), key, src, annex)
            .await?;
        Ok(())
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        if self
            .get_named(&naming::encode(key.as_str()), key, dest, annex)
            .await?
        {
            return Ok(());
        }
        if self.empty_stored(key, annex).await? {
            return write_empty(dest).await;
        }
        if let Some((repo, asset)) = self.claimed_assets(key, annex).await?.into_iter().next() {
            let checksum = expected_checksum(&asset, key)?;
            let progress = |b| annex.progress(b);
            return self
                .api
                .download(&repo, &asset, dest, checksum, &progress)
                .await;
        }
        Err(ProviderError::not_found(format!(
            "{key} is not in release {} of {}",
            self.tag, self.repo
        )))
    }

    async fn check_present(&self, key: &Key, annex: &dyn Annex) -> Result<bool> {
        if self.lookup(&naming::encode(key.as_str())).await?.is_some()
            || self.empty_stored(key, annex).await?
        {
            return Ok(true);
        }
        Ok(!self.claimed_assets(key, annex).await?.is_empty())
    }

    async fn remove(&self, key: &Key, annex: &dyn Annex) -> Result<()> {
        let name = naming::encode(key.as_str());
        if let Some(asset) = self.lookup_any(&name).await? {
            self.api.delete_asset(&self.repo, asset.id).await?;
            self.note(&name, None).await;
        }
        if self.empty_stored(key, annex).await? {
            annex.set_state(key.as_str(), "").await?;
        }
        Ok(())
    }

    async fn whereis(&self, _key: &Key, _annex: &dyn Annex) -> Option<String> {
        let mut url = self.web.clone();
        url.path_segments_mut().ok()?.pop_if_empty().extend([
            self.repo.owner.as_str(),
            self.repo.name.as_str(),
            "releases",
            "tag",
            self.tag.as_str(),
        ]);
        Some(url.to_string())
    }

    fn info(&self) -> Vec<(String, String)> {
        vec![
            ("repository".into(), self.repo.to_string()),
            ("release".into(), self.tag.clone()),
            ("api".into(), self.api.base().to_string()),
        ]
    }

    provides_every_capability!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_prefer_the_key_and_must_agree() {
        let key = "SHA256E-s3--abcd.bin";
        let asset = Asset {
            id: 1,
            name: key.into(),
            size: 3,
            state: None,
            digest: Some("sha256:abcd".into()),
            updated_at: None,
        };
        assert_eq!(
            expected_checksum(&asset, &Key::parse(key).unwrap())
                .unwrap()
                .unwrap()
                .hex,
            "abcd"
        );
        let other = Asset {
            digest: Some("sha256:ffff".into()),
            updated_at: None,
            ..asset.clone()
        };
        assert!(expected_checksum(&other, &Key::parse(key).unwrap()).is_err());
        // A chunk key names the whole file's hash: GitHub's digest is used.
        let chunk = "SHA256E-s10-S3-C1--abcd.bin";
        assert_eq!(
            expected_checksum(&other, &Key::parse(chunk).unwrap())
                .unwrap()
                .unwrap()
                .hex,
            "ffff"
        );
        assert!(may_be_empty(&Key::parse("SHA256E-s0--e3b0.bin").unwrap()));
        assert!(may_be_empty(&Key::parse("GPGHMACSHA256--abc").unwrap()));
        assert!(!may_be_empty(&Key::parse(key).unwrap()));
    }
}
