//! Which provider a source's import asks, and which of its names can be
//! paths: shared by the import's listing and a listed `get`
//! ([`crate::dataset::listed`]), which lists through the same provider.

use crate::dataset::DatasetError;
use crate::error_chain_text;
use crate::providers::{self, check_export_path};

/// Whether a listed name can be a path of the tree, or why not. Every
/// imported file is a symbolic link into the annex: git's rules for those,
/// checked before anything is written.
pub(in crate::dataset) fn importable_path(path: &str) -> Result<(), String> {
    check_export_path(path).map_err(|why| error_chain_text(&why))?;
    crate::dataset::paths::check(path, crate::dataset::paths::EntryKind::Symlink)
        .map_err(|p| p.to_string())
}

/// The provider the initremote parameters name, and its name, when it can
/// be imported from.
pub(in crate::dataset) fn import_kind(
    params: &[(String, String)],
) -> Result<(Box<dyn providers::ProviderKind>, String), DatasetError> {
    let provider_name = params
        .iter()
        .find(|(k, _)| k == "provider")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kind = providers::find_kind(&provider_name)
        .ok_or_else(|| DatasetError::UnknownProvider(provider_name.clone()))?;
    if !kind.capabilities().import {
        return Err(DatasetError::ProviderCannotImport(provider_name));
    }
    Ok((kind, provider_name))
}
