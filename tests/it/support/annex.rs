//! A git-annex in memory, for driving any provider directly (the
//! conformance suite, provider tests), and keys made as git-annex makes them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use annexa::providers::{Annex, AnnexError, Credentials};

/// An in-memory git-annex for driving a provider directly.
#[derive(Default)]
pub struct MemAnnex {
    pub config: Mutex<HashMap<String, String>>,
    pub creds: Mutex<HashMap<String, Credentials>>,
    pub state: Mutex<HashMap<String, String>>,
    pub urls: Mutex<HashMap<String, Vec<String>>>,
    pub progress: Mutex<Vec<u64>>,
    pub messages: Mutex<Vec<String>>,
}

impl MemAnnex {
    pub fn with(config: &[(&str, &str)]) -> MemAnnex {
        let a = MemAnnex::default();
        for (k, v) in config {
            a.config
                .lock()
                .unwrap()
                .insert(k.to_string(), v.to_string());
        }
        a
    }
}

#[async_trait]
impl Annex for MemAnnex {
    async fn get_config(&self, name: &str) -> Result<Option<String>, AnnexError> {
        Ok(self.config.lock().unwrap().get(name).cloned())
    }
    async fn set_config(&self, name: &str, value: &str) -> Result<(), AnnexError> {
        self.config
            .lock()
            .unwrap()
            .insert(name.into(), value.into());
        Ok(())
    }
    async fn get_creds(&self, setting: &str) -> Result<Option<Credentials>, AnnexError> {
        Ok(self.creds.lock().unwrap().get(setting).cloned())
    }
    async fn set_creds(&self, setting: &str, creds: &Credentials) -> Result<(), AnnexError> {
        self.creds
            .lock()
            .unwrap()
            .insert(setting.into(), creds.clone());
        Ok(())
    }
    async fn get_state(&self, key: &str) -> Result<Option<String>, AnnexError> {
        Ok(self
            .state
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .filter(|s| !s.is_empty()))
    }
    async fn set_state(&self, key: &str, value: &str) -> Result<(), AnnexError> {
        self.state.lock().unwrap().insert(key.into(), value.into());
        Ok(())
    }
    async fn get_uuid(&self) -> Result<String, AnnexError> {
        Ok("00000000-0000-0000-0000-000000000001".into())
    }
    async fn get_git_dir(&self) -> Result<PathBuf, AnnexError> {
        Ok(PathBuf::from(".git"))
    }
    async fn get_urls(&self, key: &str, prefix: &str) -> Result<Vec<String>, AnnexError> {
        Ok(self
            .urls
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u.starts_with(prefix))
            .collect())
    }
    async fn set_url_present(&self, key: &str, url: &str) -> Result<(), AnnexError> {
        self.urls
            .lock()
            .unwrap()
            .entry(key.into())
            .or_default()
            .push(url.into());
        Ok(())
    }
    fn progress(&self, bytes: u64) {
        self.progress.lock().unwrap().push(bytes);
    }
    fn debug(&self, message: &str) {
        self.messages.lock().unwrap().push(message.into());
    }
    fn info(&self, message: &str) {
        self.messages.lock().unwrap().push(message.into());
    }
}

/// A SHA256E key for `data` with extension `ext`, as git-annex makes it.
pub fn sha256e_key(data: &[u8], ext: &str) -> String {
    use sha2::Digest;
    format!(
        "SHA256E-s{}--{}{}",
        data.len(),
        hex::encode(sha2::Sha256::digest(data)),
        ext
    )
}

/// The parsed key of `text`, as the runtime hands keys to providers.
/// The checked path of an exported file, for calls on `ExportTree`.
pub fn export_path(name: &str) -> annexa::providers::ExportPath {
    annexa::providers::ExportPath::new(name).expect("a test's export path")
}

/// The file at `path` with `key`'s content, as the runtime hands it over.
pub fn exported<'a>(
    path: &'a annexa::providers::ExportPath,
    key: &'a annexa::key::Key,
    annex: &'a dyn annexa::providers::Annex,
) -> annexa::providers::ExportedFile<'a> {
    annexa::providers::ExportedFile { path, key, annex }
}

/// The file at `path` of an import source, listed with `size`.
pub fn listed_file<'a>(
    path: &'a annexa::providers::ExportPath,
    size: Option<u64>,
    annex: &'a dyn annexa::providers::Annex,
) -> annexa::providers::import::ListedFile<'a> {
    annexa::providers::import::ListedFile { path, size, annex }
}

pub fn annex_key(text: &str) -> annexa::key::Key {
    annexa::key::Key::parse(text).expect("a git-annex key")
}
