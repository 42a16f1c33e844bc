//! Maps each request onto the provider and turns the outcome into a reply.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::job::JobAnnex;
use crate::protocol::{Availability, CheckUrl, Direction, Extension, Reply, Request};
use crate::providers::{self, Annex, Provider, ProviderError, ProviderKind};

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

fn failure_text(error: &ProviderError) -> String {
    error.to_string()
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
        R::ExportSupported => Reply::ExportSupportedSuccess,
        R::InitRemote => match kind_from_config(annex).await {
            Err(message) => Reply::InitRemoteFailure(message),
            Ok(kind) => match kind.initremote(annex).await {
                Ok(()) => Reply::InitRemoteSuccess,
                Err(e) => Reply::InitRemoteFailure(failure_text(&e)),
            },
        },
        R::Prepare => prepare(shared, annex).await,
        R::Error(message) => {
            tracing::warn!("git-annex reported an error: {message}");
            return Next::Stop;
        }
        R::Unknown(line) => {
            tracing::debug!("unsupported request: {line}");
            Reply::UnsupportedRequest
        }
        R::Export(name) => {
            state.export_name = Some(name);
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
    const WHY: &str = "the remote is not prepared (PREPARE failed or was not sent)";
    match request {
        Request::Transfer { direction, key, .. }
        | Request::TransferExport { direction, key, .. } => {
            Reply::TransferFailure(direction, key, WHY.into())
        }
        Request::CheckPresent(key) | Request::CheckPresentExport(key) => {
            Reply::CheckPresentUnknown(key, WHY.into())
        }
        Request::Remove(key) | Request::RemoveExport(key) => Reply::RemoveFailure(key, WHY.into()),
        Request::RenameExport { key, .. } => Reply::RenameExportFailure(key),
        Request::RemoveExportDirectory(_) => Reply::RemoveExportDirectoryFailure,
        Request::CheckUrl(_) => Reply::CheckUrl(CheckUrl::Failure(WHY.into())),
        Request::ClaimUrl(_) => Reply::ClaimUrlFailure,
        Request::WhereIs(_) => Reply::WhereIsFailure,
        _ => Reply::UnsupportedRequest,
    }
}

async fn serve(
    request: Request,
    provider: &dyn Provider,
    shared: &Shared,
    state: &mut JobState,
    annex: &JobAnnex,
) -> Reply {
    use Request as R;
    match request {
        R::GetCost => Reply::Cost(provider.cost()),
        R::GetAvailability => match provider.availability() {
            Availability::Unavailable if !shared.has(&Extension::UnavailableResponse) => {
                Reply::Availability(Availability::Global)
            }
            a => Reply::Availability(a),
        },
        R::GetInfo => Reply::Info(provider.info()),
        R::ClaimUrl(url) => {
            if provider.claims_url(&url) {
                Reply::ClaimUrlSuccess
            } else {
                Reply::ClaimUrlFailure
            }
        }
        R::CheckUrl(url) => match provider.check_url(&url, annex).await {
            Ok(answer) => Reply::CheckUrl(answer),
            Err(e) => Reply::CheckUrl(CheckUrl::Failure(failure_text(&e))),
        },
        R::Transfer {
            direction,
            key,
            file,
        } => {
            annex.reset_progress();
            if direction == Direction::Retrieve && shared.has(&Extension::TransferRetrieveUrl) {
                if let Some(url) = provider.public_url(&key, annex).await {
                    return Reply::TransferRetrieveUrl(key, url);
                }
            }
            let path = Path::new(&file);
            let result = match direction {
                Direction::Store => provider.store(&key, path, annex).await,
                Direction::Retrieve => provider.retrieve(&key, path, annex).await,
            };
            transfer_reply(direction, key, result)
        }
        R::CheckPresent(key) => {
            // A newer git-annex can check a public URL itself.
            if shared.has(&Extension::CheckpresentUrl) {
                if let Some(url) = provider.presence_url(&key, annex).await {
                    return Reply::CheckPresentUrl(key, url);
                }
            }
            match provider.check_present(&key, annex).await {
                Ok(true) => Reply::CheckPresentSuccess(key),
                Ok(false) => Reply::CheckPresentFailure(key),
                Err(e) => Reply::CheckPresentUnknown(key, failure_text(&e)),
            }
        }
        R::Remove(key) => match provider.remove(&key, annex).await {
            Ok(()) => Reply::RemoveSuccess(key),
            Err(e) => Reply::RemoveFailure(key, failure_text(&e)),
        },
        R::WhereIs(key) => match provider.whereis(&key, annex).await {
            Some(location) => Reply::WhereIsSuccess(location),
            None => Reply::WhereIsFailure,
        },
        R::TransferExport {
            direction,
            key,
            file,
        } => {
            annex.reset_progress();
            let Some(name) = state.export_name.take() else {
                return Reply::TransferFailure(direction, key, "no EXPORT name was given".into());
            };
            let path = Path::new(&file);
            let result = match direction {
                Direction::Store => provider.store_export(&name, &key, path, annex).await,
                Direction::Retrieve => provider.retrieve_export(&name, &key, path, annex).await,
            };
            transfer_reply(direction, key, result)
        }
        R::CheckPresentExport(key) => {
            let Some(name) = state.export_name.take() else {
                return Reply::CheckPresentUnknown(key, "no EXPORT name was given".into());
            };
            match provider.check_present_export(&name, &key, annex).await {
                Ok(true) => Reply::CheckPresentSuccess(key),
                Ok(false) => Reply::CheckPresentFailure(key),
                Err(e) => Reply::CheckPresentUnknown(key, failure_text(&e)),
            }
        }
        R::RemoveExport(key) => {
            let Some(name) = state.export_name.take() else {
                return Reply::RemoveFailure(key, "no EXPORT name was given".into());
            };
            match provider.remove_export(&name, &key, annex).await {
                Ok(()) => Reply::RemoveSuccess(key),
                Err(e) => Reply::RemoveFailure(key, failure_text(&e)),
            }
        }
        R::RemoveExportDirectory(dir) => {
            match provider.remove_export_directory(&dir, annex).await {
                Ok(()) => Reply::RemoveExportDirectorySuccess,
                Err(e) => {
                    tracing::debug!("REMOVEEXPORTDIRECTORY {dir}: {e}");
                    Reply::RemoveExportDirectoryFailure
                }
            }
        }
        R::RenameExport { key, new_name } => {
            let Some(name) = state.export_name.take() else {
                return Reply::RenameExportFailure(key);
            };
            match provider.rename_export(&name, &key, &new_name, annex).await {
                Ok(()) => Reply::RenameExportSuccess(key),
                Err(e) => {
                    annex.debug(&format!("rename {name} -> {new_name} failed: {e}"));
                    Reply::RenameExportFailure(key)
                }
            }
        }
        // Handled before a provider is needed.
        R::Extensions(_)
        | R::ListConfigs
        | R::ExportSupported
        | R::InitRemote
        | R::Prepare
        | R::Error(_)
        | R::Unknown(_)
        | R::Export(_) => Reply::UnsupportedRequest,
    }
}

fn transfer_reply(direction: Direction, key: String, result: Result<(), ProviderError>) -> Reply {
    match result {
        Ok(()) => Reply::TransferSuccess(direction, key),
        Err(e) => Reply::TransferFailure(direction, key, failure_text(&e)),
    }
}
