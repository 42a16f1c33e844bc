//! The provider's git-annex when annexa runs it itself (an import, a
//! listed `get`) rather than git-annex running annexa: no protocol, the
//! initremote parameters as config, state kept for this run only.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::dataset::report::SharedReporter;
use crate::providers::{Annex, AnnexError, Credentials};

/// The provider's git-annex, outside the protocol: the initremote
/// parameters as config, credentials from the environment (providers
/// read it first), state kept in memory for this run.
pub(in crate::dataset) struct StandaloneAnnex {
    config: Mutex<HashMap<String, String>>,
    state: Mutex<HashMap<String, String>>,
    git_dir: PathBuf,
    reporter: SharedReporter,
}

impl StandaloneAnnex {
    pub(in crate::dataset) fn new(
        params: &[(String, String)],
        git_dir: PathBuf,
        reporter: SharedReporter,
    ) -> Self {
        Self {
            config: Mutex::new(params.iter().cloned().collect()),
            state: Mutex::new(HashMap::new()),
            git_dir,
            reporter,
        }
    }
}

#[async_trait]
impl Annex for StandaloneAnnex {
    async fn get_config(&self, name: &str) -> Result<Option<String>, AnnexError> {
        Ok(self.config.lock().expect("config lock").get(name).cloned())
    }
    async fn set_config(&self, name: &str, value: &str) -> Result<(), AnnexError> {
        self.config
            .lock()
            .expect("config lock")
            .insert(name.into(), value.into());
        Ok(())
    }
    async fn get_creds(&self, _setting: &str) -> Result<Option<Credentials>, AnnexError> {
        Ok(None)
    }
    async fn set_creds(&self, _setting: &str, _creds: &Credentials) -> Result<(), AnnexError> {
        Ok(())
    }
    async fn get_state(&self, key: &str) -> Result<Option<String>, AnnexError> {
        Ok(self.state.lock().expect("state lock").get(key).cloned())
    }
    async fn set_state(&self, key: &str, value: &str) -> Result<(), AnnexError> {
        self.state
            .lock()
            .expect("state lock")
            .insert(key.into(), value.into());
        Ok(())
    }
    async fn get_uuid(&self) -> Result<String, AnnexError> {
        Ok("00000000-0000-0000-0000-00000000a1e0".into())
    }
    async fn get_git_dir(&self) -> Result<PathBuf, AnnexError> {
        Ok(self.git_dir.clone())
    }
    async fn get_urls(&self, _key: &str, _prefix: &str) -> Result<Vec<String>, AnnexError> {
        Ok(Vec::new())
    }
    async fn set_url_present(&self, _key: &str, _url: &str) -> Result<(), AnnexError> {
        Ok(())
    }
    fn progress(&self, _bytes: u64) {}
    fn debug(&self, message: &str) {
        tracing::debug!("{message}");
    }
    fn info(&self, message: &str) {
        self.reporter.notice(message);
    }
}
