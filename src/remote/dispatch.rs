//! Maps each request onto the provider and turns the outcome into a reply.
//!
//! This is the one place where provider answers and error kinds become
//! protocol replies: an absent key ([`ProviderError::NotFound`]) is
//! CHECKPRESENT-FAILURE and a successful REMOVE, anything else that failed
//! is "cannot tell" or a failure with the whole cause chain as its text.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::job::JobAnnex;
use crate::key::Key;
use crate::protocol::{Availability, CheckUrl, Direction, Extension, Reply, Request, UrlEntry};
use crate::providers::import::{content_key, ContentId, KeySource, ListedFile};
use crate::providers::{
    self, check_export_path, error_chain_text, Annex, AnnexError, ExportPath, ExportedFile,
    ImportSink, ImportTree, ImportableFile, Provider, ProviderError, ProviderKind, UrlCheck,
};

/// State shared by every job of a session.
pub struct Shared {
    pub extensions: Vec<Extension>,
    provider: OnceCell<Arc<dyn Provider>>,
}

impl Shared {
    pub fn new(extensions: Vec<Extension>) -> Self {
        Self {
            extensions,
            provider: OnceCell::new(),
        }
    }

    fn has(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }
}

/// Per-job state between requests.
#[derive(Default)]
pub struct JobState {
    /// The export path named by the last EXPORT request.
    export_name: Option<String>,
    /// The imported file named by the last IMPORT request.
    import_name: Option<String>,
}

impl JobState {
    /// The path the last EXPORT named, used up by the request it is for
    /// and checked here, once, for every provider.
    fn take_export_path(&mut self) -> providers::Result<ExportPath> {
        named_path(self.export_name.take(), "EXPORT")
    }

    /// The path the last IMPORT named, as [`JobState::take_export_path`].
    fn take_import_path(&mut self) -> providers::Result<ExportPath> {
        named_path(self.import_name.take(), "IMPORT")
    }
}

fn named_path(name: Option<String>, request: &str) -> providers::Result<ExportPath> {
    match name {
        Some(name) => ExportPath::new(name),
        None => Err(ProviderError::Annex(AnnexError::Protocol(format!(
            "no {request} name was given"
        )))),
    }
}

/// What the session should do after a request.
pub enum Next {
    Reply(Reply),
    /// EXPORT has no reply of its own.
    Silent,
    /// git-annex sent ERROR: end the session.
    Stop,
    /// A request that breaks the protocol: send ERROR and end the session.
    Fatal(String),
}

/// The text git-annex shows for a failure: every cause, once.
fn failure_text(error: &ProviderError) -> String {
    error_chain_text(error)
}

/// INITREMOTE's failure text. The same request also enables a remote that
/// exists already (`enableremote`, and `git annex init` autoenabling the
/// remotes a clone inherits): missing credentials there are no mistake in a
/// set-up but a remote this repository cannot use yet, so the text names
/// the remote and how to enable it, in words that fit a clone.
async fn initremote_failure(error: &ProviderError, annex: &JobAnnex) -> String {
    if let ProviderError::MissingCredentials(what) = error {
        if remote_exists(annex).await {
            if let Ok(Some(name)) = annex.get_config("name").await {
                return format!(
                    "remote {name} was not enabled (missing credentials): {what}, and run \
                     `git annex enableremote {name}`"
                );
            }
        }
    }
    failure_text(error)
}

/// Whether the git-annex branch (or its journal, not yet committed) lists
/// this remote's UUID in remote.log, i.e. the remote is being enabled
/// rather than created: git-annex writes a new remote's entry only after
/// INITREMOTE succeeded. Anything unclear answers false, the text of a
/// new remote.
async fn remote_exists(annex: &JobAnnex) -> bool {
    let (Ok(uuid), Ok(git_dir)) = (annex.get_uuid().await, annex.get_git_dir().await) else {
        return false;
    };
    if uuid.is_empty() {
        return false;
    }
    let lists = |log: &[u8]| {
        String::from_utf8_lossy(log)
            .lines()
            .any(|line| line.split_whitespace().next() == Some(uuid.as_str()))
    };
    if let Ok(journal) = tokio::fs::read(git_dir.join("annex/journal/remote.log")).await {
        if lists(&journal) {
            return true;
        }
    }
    let show = tokio::process::Command::new("git")
        .arg("--git-dir")
        .arg(&git_dir)
        .args(["cat-file", "blob", "refs/heads/git-annex:remote.log"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    // A local read; bounded all the same.
    match tokio::time::timeout(std::time::Duration::from_secs(20), show).await {
        Ok(Ok(out)) if out.status.success() => lists(&out.stdout),
        _ => false,
    }
}

/// CHECKPRESENT(EXPORT): only a known absence is FAILURE.
fn check_present_reply(key: String, result: Result<bool, ProviderError>) -> Reply {
    match result {
        Ok(true) => Reply::CheckPresentSuccess(key),
        Ok(false) | Err(ProviderError::NotFound { .. }) => Reply::CheckPresentFailure(key),
        Err(e) => Reply::CheckPresentUnknown(key, failure_text(&e)),
    }
}

/// REMOVE(EXPORT): removing what is not there succeeds.
fn remove_reply(key: String, result: Result<(), ProviderError>) -> Reply {
    match result {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Reply::RemoveSuccess(key),
        Err(e) => Reply::RemoveFailure(key, failure_text(&e)),
    }
}

fn availability(a: providers::Availability) -> Availability {
    match a {
        providers::Availability::Global => Availability::Global,
        providers::Availability::Local => Availability::Local,
        providers::Availability::Unavailable => Availability::Unavailable,
    }
}

fn check_url_reply(result: Result<UrlCheck, ProviderError>) -> Reply {
    Reply::CheckUrl(match result {
        Ok(UrlCheck::Contents { size, filename }) => CheckUrl::Contents { size, filename },
        Ok(UrlCheck::Multi(entries)) => CheckUrl::Multi(
            entries
                .into_iter()
                .map(|e| UrlEntry {
                    url: e.url,
                    size: e.size,
                    filename: e.filename,
                })
                .collect(),
        ),
        Err(e) => CheckUrl::Failure(failure_text(&e)),
    })
}

/// EXPORTSUPPORTED, which may come before PREPARE: from the capabilities
/// of the configured provider's kind.
async fn export_supported(shared: &Shared, annex: &dyn Annex) -> Reply {
    if let Some(provider) = shared.provider.get() {
        if provider.export().is_some() {
            return Reply::ExportSupportedSuccess;
        }
    }
    match kind_from_config(annex).await {
        Ok(kind) if kind.capabilities().export => Reply::ExportSupportedSuccess,
        Ok(_) => Reply::ExportSupportedFailure,
        Err(why) => {
            tracing::debug!("EXPORTSUPPORTED: {why}");
            Reply::ExportSupportedFailure
        }
    }
}

/// IMPORTSUPPORTED, which may come before PREPARE, like EXPORTSUPPORTED.
async fn import_supported(shared: &Shared, annex: &dyn Annex) -> Reply {
    if let Some(provider) = shared.provider.get() {
        if provider.import().is_some() {
            return Reply::ImportSupportedSuccess;
        }
    }
    match kind_from_config(annex).await {
        Ok(kind) if kind.capabilities().import => Reply::ImportSupportedSuccess,
        Ok(_) => Reply::ImportSupportedFailure,
        Err(why) => {
            tracing::debug!("IMPORTSUPPORTED: {why}");
            Reply::ImportSupportedFailure
        }
    }
}

/// Sends each listed file to git-annex as it arrives.
struct ListingToAnnex<'a> {
    annex: &'a JobAnnex,
}

impl ImportSink for ListingToAnnex<'_> {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        if let Err(why) = check_export_path(&file.path) {
            self.skipped(&file.path, &error_chain_text(&why));
            return Ok(());
        }
        // A `.git` folder in a tree would be git's own metadata in every
        // checkout (as `annexa import` also refuses).
        if file
            .path
            .split('/')
            .any(|segment| segment.eq_ignore_ascii_case(".git"))
        {
            self.skipped(&file.path, "a .git folder cannot be part of a tree");
            return Ok(());
        }
        let reply = Reply::ImportableContent {
            size: file.size,
            name: file.path,
            content_id: file.id.text(),
        };
        for line in reply.lines() {
            self.annex.output().send(self.annex.job(), &line);
        }
        Ok(())
    }

    fn skipped(&mut self, name: &str, why: &str) {
        self.annex.info(&format!(
            "not imported: {name:?} cannot be a file in a tree ({why})"
        ));
    }
}

/// IMPORTKEY: the key from the published checksum in the content id, or
/// from the content itself when the service publishes none.
async fn import_key(
    import: &dyn ImportTree,
    name: &ExportPath,
    size: Option<u64>,
    content_id: &str,
    annex: &JobAnnex,
) -> Reply {
    let Some(id) = ContentId::parse(content_id) else {
        return Reply::ImportKeyFailure(format!(
            "{name}: {content_id:?} is not a content identifier this remote listed; import again"
        ));
    };
    let Some(size) = size else {
        return Reply::ImportKeyFailure(format!("{name}: no size was given"));
    };
    let scratch = match annex.get_git_dir().await {
        Ok(dir) => dir
            .join("annex")
            .join("tmp")
            .join(format!("annexa-import-{}", std::process::id())),
        Err(e) => return Reply::ImportKeyFailure(e.to_string()),
    };
    if let Some(parent) = scratch.parent() {
        let _ = tokio::fs::create_dir_all(parent).await;
    }
    // One scratch file per job.
    let scratch = scratch.with_extension(format!("{}", annex.job().unwrap_or(0)));
    match content_key(import, name, size, &id, &scratch, annex).await {
        Ok((key, KeySource::Published)) => Reply::ImportKeySuccess(key),
        Ok((key, KeySource::Hashed)) => {
            annex.info(&format!("{name}: hashed its content: {key}"));
            Reply::ImportKeySuccess(key)
        }
        Err(e) => Reply::ImportKeyFailure(format!("{name}: {}", failure_text(&e))),
    }
}

async fn kind_from_config(annex: &dyn Annex) -> Result<Box<dyn ProviderKind>, String> {
    let names: Vec<&str> = providers::registry().iter().map(|k| k.name()).collect();
    let choice = annex
        .get_config("provider")
        .await
        .map_err(|e| e.to_string())?;
    let Some(name) = choice else {
        return Err(format!(
            "provider=NAME is required (one of: {})",
            names.join(", ")
        ));
    };
    providers::find_kind(&name)
        .ok_or_else(|| format!("unknown provider={name} (known: {})", names.join(", ")))
}

/// Every parameter of every provider, for LISTCONFIGS (which comes before
/// we know which provider this remote uses).
fn all_configs() -> Vec<(String, String)> {
    let mut configs: Vec<(String, String)> = vec![(
        "provider".into(),
        format!(
            "storage service: {}",
            providers::registry()
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )];
    for kind in providers::registry() {
        for spec in kind.configs() {
            match configs.iter_mut().find(|(name, _)| name == spec.name) {
                Some((_, description)) => {
                    description.push_str("; ");
                    description.push_str(spec.description);
                }
                None => configs.push((spec.name.to_string(), spec.description.to_string())),
            }
        }
    }
    configs
}

pub async fn handle(
    request: Request,
    shared: &Shared,
    state: &mut JobState,
    annex: &JobAnnex,
) -> Next {
    use Request as R;
    let reply = match request {
        R::Extensions(_) => {
            // Replying ERROR and carrying on would leave git-annex, which
            // stops talking after an ERROR, and us disagreeing.
            return Next::Fatal("EXTENSIONS may only be sent once, as the first message".into());
        }
        R::ListConfigs => Reply::Configs(all_configs()),
        R::ExportSupported => export_supported(shared, annex).await,
        R::ImportSupported => import_supported(shared, annex).await,
        R::InitRemote => match kind_from_config(annex).await {
            Err(message) => Reply::InitRemoteFailure(message),
            Ok(kind) => match kind.initremote(annex).await {
                Ok(()) => Reply::InitRemoteSuccess,
                Err(e) => Reply::InitRemoteFailure(initremote_failure(&e, annex).await),
            },
        },
        R::Prepare => prepare(shared, annex).await,
        R::Error(message) => {
            tracing::warn!("git-annex reported an error: {message}");
            return Next::Stop;
        }
        R::Unknown(line) => {
            tracing::debug!(
                "unsupported request: {}",
                crate::protocol::shown_line(&line)
            );
            Reply::UnsupportedRequest
        }
        R::Export(name) => {
            state.export_name = Some(name);
            return Next::Silent;
        }
        R::Import(name) => {
            state.import_name = Some(name);
            return Next::Silent;
        }
        other => match shared.provider.get() {
            Some(provider) => serve(other, provider.as_ref(), shared, state, annex).await,
            None => not_prepared(other),
        },
    };
    Next::Reply(reply)
}

async fn prepare(shared: &Shared, annex: &JobAnnex) -> Reply {
    if shared.provider.get().is_some() {
        return Reply::PrepareSuccess;
    }
    let kind = match kind_from_config(annex).await {
        Ok(kind) => kind,
        Err(message) => return Reply::PrepareFailure(message),
    };
    match kind.prepare(annex).await {
        Ok(provider) => {
            let _ = shared.provider.set(provider);
            Reply::PrepareSuccess
        }
        Err(e) => Reply::PrepareFailure(failure_text(&e)),
    }
}

/// Replies to a request that needs a provider when PREPARE has not
/// succeeded: each with its own failure, never a fake success.
fn not_prepared(request: Request) -> Reply {
    failure_reply(
        request,
        "the remote is not prepared (PREPARE failed or was not sent)",
    )
}

/// The failure reply of each request, saying `why`: for a request that
/// cannot be served (not prepared, or an internal error while serving it),
/// so that git-annex is never left waiting and never told of a success.
pub fn failure_reply(request: Request, why: &str) -> Reply {
    match request {
        Request::Prepare => Reply::PrepareFailure(why.into()),
        Request::InitRemote => Reply::InitRemoteFailure(why.into()),
        Request::ExportSupported => Reply::ExportSupportedFailure,
        Request::Transfer { direction, key, .. }
        | Request::TransferExport { direction, key, .. } => {
            Reply::TransferFailure(direction, key, why.into())
        }
        Request::CheckPresent(key) | Request::CheckPresentExport(key) => {
            Reply::CheckPresentUnknown(key, why.into())
        }
        Request::Remove(key) | Request::RemoveExport(key) => Reply::RemoveFailure(key, why.into()),
        Request::RenameExport { key, .. } => Reply::RenameExportFailure(key),
        Request::RemoveExportDirectory(_) => Reply::RemoveExportDirectoryFailure,
        Request::CheckUrl(_) => Reply::CheckUrl(CheckUrl::Failure(why.into())),
        Request::ClaimUrl(_) => Reply::ClaimUrlFailure,
        Request::WhereIs(_) => Reply::WhereIsFailure,
        Request::ImportSupported => Reply::ImportSupportedFailure,
        Request::ListImportableContents => Reply::ListImportableContentsFailure(why.into()),
        Request::RetrieveImport(_) => Reply::RetrieveImportFailure(why.into()),
        Request::CheckPresentImport(key) => Reply::CheckPresentUnknown(key, why.into()),
        Request::ImportKey { .. } => Reply::ImportKeyFailure(why.into()),
        _ => Reply::UnsupportedRequest,
    }
}

/// The key a request names, as git-annex wrote it.
fn request_key(request: &Request) -> Option<&str> {
    use Request as R;
    match request {
        R::Transfer { key, .. }
        | R::TransferExport { key, .. }
        | R::CheckPresent(key)
        | R::CheckPresentExport(key)
        | R::CheckPresentImport(key)
        | R::Remove(key)
        | R::RemoveExport(key)
        | R::RenameExport { key, .. }
        | R::WhereIs(key) => Some(key),
        _ => None,
    }
}

async fn serve(
    request: Request,
    provider: &dyn Provider,
    shared: &Shared,
    state: &mut JobState,
    annex: &JobAnnex,
) -> Reply {
    // Every key is parsed here, once: providers get a [`Key`], never text.
    if let Some(text) = request_key(&request) {
        return match Key::parse(text) {
            Ok(parsed) => serve_key(request, &parsed, provider, shared, state, annex).await,
            Err(e) => {
                let why = format!("{text} is not a git-annex key: {e}");
                // A name given for this request is used up with it.
                state.export_name = None;
                state.import_name = None;
                failure_reply(request, &why)
            }
        };
    }
    use Request as R;
    match request {
        R::GetCost => Reply::Cost(provider.cost()),
        R::GetAvailability => match availability(provider.availability()) {
            Availability::Unavailable if !shared.has(&Extension::UnavailableResponse) => {
                Reply::Availability(Availability::Global)
            }
            a => Reply::Availability(a),
        },
        R::GetInfo => Reply::Info(provider.info()),
        R::ClaimUrl(url) => match provider.urls() {
            Some(urls) if urls.claims_url(&url) => Reply::ClaimUrlSuccess,
            _ => Reply::ClaimUrlFailure,
        },
        R::CheckUrl(url) => match provider.urls() {
            Some(urls) => check_url_reply(urls.check_url(&url, annex).await),
            None => check_url_reply(Err(ProviderError::Unsupported("URLs"))),
        },
        R::RemoveExportDirectory(dir) => {
            let result = match (
                ExportPath::new(dir.trim_end_matches('/')),
                provider.export(),
            ) {
                (Err(e), _) => Err(e),
                (Ok(dir), Some(export)) => export.remove_export_directory(&dir, annex).await,
                (Ok(_), None) => Err(ProviderError::Unsupported("export")),
            };
            match result {
                Ok(()) | Err(ProviderError::NotFound { .. }) => Reply::RemoveExportDirectorySuccess,
                Err(e) => {
                    tracing::debug!("REMOVEEXPORTDIRECTORY {dir}: {}", failure_text(&e));
                    Reply::RemoveExportDirectoryFailure
                }
            }
        }
        R::ListImportableContents => {
            let Some(import) = provider.import() else {
                return Reply::ListImportableContentsFailure(no_import());
            };
            let mut sink = ListingToAnnex { annex };
            match import.list_importable(&mut sink, annex).await {
                Ok(()) => Reply::ListImportableContentsSuccess,
                Err(e) => Reply::ListImportableContentsFailure(failure_text(&e)),
            }
        }
        R::RetrieveImport(file) => {
            annex.reset_progress();
            let path = match state.take_import_path() {
                Ok(path) => path,
                Err(e) => return Reply::RetrieveImportFailure(failure_text(&e)),
            };
            let Some(import) = provider.import() else {
                return Reply::RetrieveImportFailure(no_import());
            };
            match retrieve_import_whole(import, &path, Path::new(&file), annex).await {
                Ok(()) => Reply::RetrieveImportSuccess,
                Err(e) => Reply::RetrieveImportFailure(failure_text(&e)),
            }
        }
        R::ImportKey { size, content_id } => {
            let path = match state.take_import_path() {
                Ok(path) => path,
                Err(e) => return Reply::ImportKeyFailure(failure_text(&e)),
            };
            let Some(import) = provider.import() else {
                return Reply::ImportKeyFailure(no_import());
            };
            import_key(import, &path, size, &content_id, annex).await
        }
        // Handled before a provider is needed.
        R::Extensions(_)
        | R::ListConfigs
        | R::ExportSupported
        | R::ImportSupported
        | R::Import(_)
        | R::InitRemote
        | R::Prepare
        | R::Error(_)
        | R::Unknown(_)
        | R::Export(_) => Reply::UnsupportedRequest,
        // Served by serve_key above.
        key_request @ (R::Transfer { .. }
        | R::TransferExport { .. }
        | R::CheckPresent(_)
        | R::CheckPresentExport(_)
        | R::CheckPresentImport(_)
        | R::Remove(_)
        | R::RemoveExport(_)
        | R::RenameExport { .. }
        | R::WhereIs(_)) => failure_reply(key_request, "a request about a key"),
    }
}

/// RETRIEVEIMPORT into `dest`, which appears only once complete.
///
/// git-annex (seen with 10.20261026) hashes an imported file while it
/// grows and can finish before it has read the end of a file larger than
/// 64 KiB, failing a correct download as "Verification of content failed".
/// So the content is written beside `dest` and renamed onto it; a prefix
/// already in `dest` from an interrupted attempt is moved there first and
/// resumed from, and moved back if this attempt fails.
async fn retrieve_import_whole(
    import: &dyn ImportTree,
    name: &ExportPath,
    dest: &Path,
    annex: &JobAnnex,
) -> providers::Result<()> {
    let mut side = dest.as_os_str().to_owned();
    side.push(".annexa-partial");
    let side = std::path::PathBuf::from(side);
    if tokio::fs::symlink_metadata(dest).await.is_ok() {
        tokio::fs::rename(dest, &side).await?;
    }
    let file = ListedFile {
        path: name,
        size: None,
        annex,
    };
    match import.retrieve_import(file, &side).await {
        Ok(()) => Ok(tokio::fs::rename(&side, dest).await?),
        Err(e) => {
            if tokio::fs::symlink_metadata(&side).await.is_ok() {
                let _ = tokio::fs::rename(&side, dest).await;
            }
            Err(e)
        }
    }
}

fn no_import() -> String {
    "this remote's provider cannot be imported from".into()
}

/// A request that names a key, `parsed`.
async fn serve_key(
    request: Request,
    parsed: &Key,
    provider: &dyn Provider,
    shared: &Shared,
    state: &mut JobState,
    annex: &JobAnnex,
) -> Reply {
    use Request as R;
    match request {
        R::Transfer {
            direction,
            key,
            file,
        } => {
            annex.reset_progress();
            if direction == Direction::Retrieve && shared.has(&Extension::TransferRetrieveUrl) {
                if let Some(url) = provider.public_url(parsed, annex).await {
                    return Reply::TransferRetrieveUrl(key, url);
                }
            }
            let path = Path::new(&file);
            let result = match direction {
                Direction::Store => provider.store(parsed, path, annex).await,
                Direction::Retrieve => provider.retrieve(parsed, path, annex).await,
            };
            transfer_reply(direction, key, result)
        }
        R::CheckPresent(key) => {
            // A newer git-annex can check a public URL itself.
            if shared.has(&Extension::CheckpresentUrl) {
                if let Some(url) = provider.presence_url(parsed, annex).await {
                    return Reply::CheckPresentUrl(key, url);
                }
            }
            let result = provider.check_present(parsed, annex).await;
            check_present_reply(key, result)
        }
        R::Remove(key) => {
            let result = provider.remove(parsed, annex).await;
            remove_reply(key, result)
        }
        R::WhereIs(_) => {
            // A tree remote keeps files under their paths, which WHEREIS
            // does not name: a key-named location there answers 404, so
            // none is shown (git-annex shows the export's paths itself).
            for tree in ["exporttree", "importtree"] {
                if annex.get_config(tree).await.ok().flatten().as_deref() == Some("yes") {
                    return Reply::WhereIsFailure;
                }
            }
            match provider.whereis(parsed, annex).await {
                Some(location) => Reply::WhereIsSuccess(location),
                None => Reply::WhereIsFailure,
            }
        }
        R::TransferExport {
            direction,
            key,
            file,
        } => {
            annex.reset_progress();
            let path = match state.take_export_path() {
                Ok(path) => path,
                Err(e) => return transfer_reply(direction, key, Err(e)),
            };
            let Some(export) = provider.export() else {
                return transfer_reply(direction, key, Err(ProviderError::Unsupported("export")));
            };
            let exported = exported(&path, parsed, annex);
            let local = Path::new(&file);
            let result = match direction {
                Direction::Store => export.store_export(exported, local).await,
                Direction::Retrieve => export.retrieve_export(exported, local).await,
            };
            transfer_reply(direction, key, result)
        }
        R::CheckPresentExport(key) => {
            let result = match (state.take_export_path(), provider.export()) {
                (Err(e), _) => Err(e),
                (Ok(path), Some(export)) => {
                    export
                        .check_present_export(exported(&path, parsed, annex))
                        .await
                }
                (Ok(_), None) => Err(ProviderError::Unsupported("export")),
            };
            check_present_reply(key, result)
        }
        R::RemoveExport(key) => {
            let result = match (state.take_export_path(), provider.export()) {
                (Err(e), _) => Err(e),
                (Ok(path), Some(export)) => {
                    export.remove_export(exported(&path, parsed, annex)).await
                }
                (Ok(_), None) => Err(ProviderError::Unsupported("export")),
            };
            remove_reply(key, result)
        }
        R::RenameExport { key, new_name } => {
            let name = state.export_name.clone().unwrap_or_default();
            let result = match (state.take_export_path(), ExportPath::new(new_name.as_str())) {
                (Err(e), _) | (_, Err(e)) => Err(e),
                (Ok(from), Ok(to)) => match provider.export() {
                    Some(export) => {
                        export
                            .rename_export(exported(&from, parsed, annex), &to)
                            .await
                    }
                    None => Err(ProviderError::Unsupported("export")),
                },
            };
            match result {
                Ok(()) => Reply::RenameExportSuccess(key),
                Err(e) => {
                    annex.debug(&format!(
                        "rename {name} -> {new_name} failed: {}",
                        failure_text(&e)
                    ));
                    Reply::RenameExportFailure(key)
                }
            }
        }
        R::CheckPresentImport(key) => {
            let result = match (state.take_import_path(), provider.import()) {
                (Err(e), _) => Err(e),
                (Ok(path), Some(import)) => {
                    import
                        .check_present_import(exported(&path, parsed, annex))
                        .await
                }
                (Ok(_), None) => Err(ProviderError::Unsupported("import")),
            };
            check_present_reply(key, result)
        }
        other => failure_reply(other, "not a request about a key"),
    }
}

/// The file of the tree at `path` with the content of `key`.
fn exported<'a>(path: &'a ExportPath, key: &'a Key, annex: &'a JobAnnex) -> ExportedFile<'a> {
    ExportedFile { path, key, annex }
}

fn transfer_reply(direction: Direction, key: String, result: Result<(), ProviderError>) -> Reply {
    match result {
        Ok(()) => Reply::TransferSuccess(direction, key),
        Err(e) => Reply::TransferFailure(direction, key, failure_text(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        "SHA256E-s1--ab".into()
    }

    fn transient() -> ProviderError {
        ProviderError::Transient {
            message: "S3 check x".into(),
            source: Some(Box::new(std::io::Error::other("connection reset"))),
        }
    }

    #[test]
    fn only_a_known_absence_is_checkpresent_failure() {
        assert_eq!(
            check_present_reply(key(), Ok(true)),
            Reply::CheckPresentSuccess(key())
        );
        assert_eq!(
            check_present_reply(key(), Ok(false)),
            Reply::CheckPresentFailure(key())
        );
        assert_eq!(
            check_present_reply(key(), Err(ProviderError::not_found("gone"))),
            Reply::CheckPresentFailure(key())
        );
        assert_eq!(
            check_present_reply(key(), Err(transient())),
            Reply::CheckPresentUnknown(key(), "S3 check x: connection reset".into())
        );
        assert!(matches!(
            check_present_reply(
                key(),
                Err(ProviderError::PermissionDenied {
                    message: "no".into(),
                    source: None
                })
            ),
            Reply::CheckPresentUnknown(..)
        ));
    }

    #[test]
    fn removing_what_is_absent_succeeds() {
        assert_eq!(
            remove_reply(key(), Err(ProviderError::not_found("gone"))),
            Reply::RemoveSuccess(key())
        );
        assert_eq!(
            remove_reply(key(), Err(transient())),
            Reply::RemoveFailure(key(), "S3 check x: connection reset".into())
        );
        assert!(matches!(
            remove_reply(key(), Err(ProviderError::conflict("published"))),
            Reply::RemoveFailure(..)
        ));
    }

    #[test]
    fn url_checks_become_replies() {
        assert_eq!(
            check_url_reply(Err(ProviderError::not_found("x is not in bucket b"))),
            Reply::CheckUrl(CheckUrl::Failure("x is not in bucket b".into()))
        );
        assert_eq!(
            check_url_reply(Ok(UrlCheck::Contents {
                size: Some(3),
                filename: None
            })),
            Reply::CheckUrl(CheckUrl::Contents {
                size: Some(3),
                filename: None
            })
        );
    }
}
