//! The set-up every token service's kind shares (Dataverse, Figshare,
//! GitHub, Zenodo): read the API address the user chose, find the token
//! for it, make the HTTP client ([`ApiAccess`]), and at `initremote` keep
//! the token once the remote's own checks passed. A service's remote says
//! only what is its own ([`ServiceRemote`]: its settings, its checks); its
//! kind ([`ServiceKind`]) follows from that.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use url::Url;

use super::http_setting;
use crate::providers::token::{ApiToken, TokenSource};
use crate::providers::{
    Annex, Capabilities, ConfigSpec, KindInfo, Provider, ProviderError, ProviderKind, Result,
};
use crate::transfer::{Client, RetryPolicy};

/// The setting that names a service's API address.
#[derive(Debug, Clone, Copy)]
pub struct ApiAddress {
    /// `api`, `url`.
    pub setting: &'static str,
    /// The public service's address, used when the setting is unset.
    pub default: Option<&'static str>,
    /// An address to show in messages.
    pub example: &'static str,
}

impl ApiAddress {
    /// `setting=`, which the user must give (a service of many
    /// installations).
    pub const fn required(setting: &'static str, example: &'static str) -> Self {
        Self {
            setting,
            default: None,
            example,
        }
    }

    /// `setting=`, else the public service at `default`.
    pub const fn or_public(setting: &'static str, default: &'static str) -> Self {
        Self {
            setting,
            default: Some(default),
            example: default,
        }
    }

    /// The address from the remote's settings: an http(s) URL without
    /// query, fragment or trailing `/`.
    pub async fn read(&self, annex: &dyn Annex, kind: &str) -> Result<Url> {
        let text = match (super::setting(annex, self.setting).await?, self.default) {
            (Some(text), _) => text,
            (None, Some(default)) => default.to_string(),
            (None, None) => {
                return Err(ProviderError::Config(format!(
                    "{}=ADDRESS is required for provider={kind}, e.g. {}={}",
                    self.setting, self.setting, self.example
                )))
            }
        };
        http_setting(self.setting, text.trim_end_matches('/'), self.example)
    }
}

/// What is known of a token service's kind before PREPARE.
#[derive(Debug)]
pub struct ServiceInfo {
    /// Its name, parameters and capabilities (all of them).
    pub kind: KindInfo,
    /// Where its token comes from and where it is kept.
    pub token: TokenSource,
    /// The setting that names its API, the one host its token goes to.
    pub address: ApiAddress,
}

impl ServiceInfo {
    pub const fn new(
        name: &'static str,
        configs: &'static [ConfigSpec],
        token: TokenSource,
        address: ApiAddress,
    ) -> Self {
        Self {
            kind: KindInfo {
                name,
                configs,
                capabilities: Capabilities::ALL,
            },
            token,
            address,
        }
    }
}

/// A remote on one service's JSON API, reached with an API token: what is
/// its own, from which its kind ([`ServiceKind`]) follows.
pub trait ServiceRemote: Provider + Sized + 'static {
    const INFO: &'static ServiceInfo;

    /// Reads the remote's other settings and builds the remote on `api`.
    fn open(annex: &dyn Annex, api: ApiAccess) -> impl Future<Output = Result<Self>> + Send;
    /// The remote's own checks at `initremote` (the dataset, record or
    /// release exists; the token is accepted). Returns what the remote can
    /// do without a token ("read a public release"), said when it has none.
    fn set_up(&self, annex: &dyn Annex) -> impl Future<Output = Result<String>> + Send;
}

/// The kind of the remotes `R`: everything but `R`'s own part is the
/// same for every token service.
pub struct ServiceKind<R>(PhantomData<fn() -> R>);

impl<R> Default for ServiceKind<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

/// What every API client of a token service is built from: the address
/// the user chose, the HTTP client, and the token found for that address
/// (`None` when unset, or withheld from an address the user did not
/// choose; see [`TokenSource::find`]).
pub struct ApiAccess {
    pub url: Url,
    pub client: Client,
    pub token: Option<ApiToken>,
}

impl ApiAccess {
    /// Reads the API address of a remote of kind `info` and finds the
    /// token for it.
    pub async fn new(annex: &dyn Annex, info: &ServiceInfo) -> Result<Self> {
        let url = info.address.read(annex, info.kind.name).await?;
        let token = info.token.find(annex, &url).await?;
        Ok(Self {
            url,
            client: Client::new(RetryPolicy::default())?,
            token,
        })
    }
}

#[async_trait]
impl<R: ServiceRemote> ProviderKind for ServiceKind<R> {
    fn info(&self) -> &'static KindInfo {
        &R::INFO.kind
    }

    async fn initremote(&self, annex: &dyn Annex) -> Result<()> {
        let api = ApiAccess::new(annex, R::INFO).await?;
        let token = api.token.clone();
        let without = R::open(annex, api).await?.set_up(annex).await?;
        R::INFO
            .token
            .remember(annex, token.as_ref(), &without)
            .await
    }

    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>> {
        let api = ApiAccess::new(annex, R::INFO).await?;
        Ok(Arc::new(R::open(annex, api).await?))
    }
}
