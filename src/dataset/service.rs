//! Service sources (`s3://`, Dataverse DOIs and URLs, Figshare articles,
//! GitHub releases): how each is named on the command line, and the
//! annexa special remote parameters that reach it.

use super::DatasetError;
use crate::providers::zenodo;

/// Harvard Dataverse: the installation a bare `doi:` means.
pub const DEFAULT_DATAVERSE: &str = "https://dataverse.harvard.edu";

/// A service a tree can be imported from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceSource {
    S3 {
        bucket: String,
        /// Empty, or ending in `/`.
        prefix: String,
        endpoint: Option<String>,
    },
    Dataverse {
        server: String,
        pid: String,
    },
    Figshare {
        article: String,
        api: Option<String>,
    },
    Github {
        repo: String,
        tag: String,
        api: Option<String>,
    },
    /// A Zenodo (InvenioRDM) record, version or concept.
    Zenodo {
        record: String,
        api: Option<String>,
    },
}

/// Where a source's service lives when its name does not say.
#[derive(Debug, Clone, Default)]
pub struct ServiceHints {
    /// `--endpoint` (S3); else `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// `--dataverse` for a bare `doi:`/`hdl:`; else Harvard Dataverse.
    pub dataverse: Option<String>,
    /// A bare number is a Figshare article (only `annexa import` allows
    /// it: for `ls`/`get` it could be a folder).
    pub bare_figshare_id: bool,
    /// `--api`: the API address of a Figshare or GitHub source, instead of
    /// the one its name implies (a test server, a Figshare installation
    /// named only by an article id, GitHub Enterprise behind a proxy).
    pub api: Option<String>,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ServiceSource {
    /// The service `text` names, `None` when it names none (a git URL or
    /// a folder), an error when it is a service URL that cannot be used.
    pub fn parse(text: &str, hints: &ServiceHints) -> Result<Option<Self>, DatasetError> {
        let mut source = Self::parse_name(text, hints)?;
        // `--endpoint` names where any service is read (one option for every
        // command): an S3 endpoint for `s3://`, the installation of a
        // `doi:`/`hdl:` Dataverse source, the API of the others. The
        // service-specific `--dataverse`/`--api` of `import` win.
        let endpoint = match &source {
            Some(Self::S3 { .. }) | None => None,
            Some(_) => hints.endpoint.as_deref(),
        };
        let bare_pid = text.trim().starts_with("doi:") || text.trim().starts_with("hdl:");
        if let (Some(Self::Dataverse { .. }), Some(server), None, None, true) =
            (&source, endpoint, &hints.dataverse, &hints.api, bare_pid)
        {
            let hints = ServiceHints {
                dataverse: Some(server.to_string()),
                ..hints.clone()
            };
            source = Self::parse_name(text, &hints)?;
        }
        let endpoint = endpoint.filter(|_| !matches!(source, Some(Self::Dataverse { .. })));
        let Some(api) = hints.api.as_deref().or(endpoint) else {
            return Ok(source);
        };
        let api = api.trim().trim_end_matches('/');
        let usable = url::Url::parse(api)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !usable {
            return Err(DatasetError::ApiNotHttp(api.to_string()));
        }
        match source {
            Some(Self::Figshare { article, .. }) => Ok(Some(Self::Figshare {
                article,
                api: (api != super::super::providers::figshare::DEFAULT_API)
                    .then(|| api.to_string()),
            })),
            Some(Self::Github { repo, tag, .. }) => Ok(Some(Self::Github {
                repo,
                tag,
                api: (api != super::super::providers::github::DEFAULT_API).then(|| api.to_string()),
            })),
            Some(Self::Zenodo { record, .. }) => Ok(Some(Self::Zenodo {
                record,
                api: (api != zenodo::DEFAULT_API).then(|| api.to_string()),
            })),
            Some(Self::S3 { .. }) => Err(DatasetError::ApiNotForService {
                text: text.trim().to_string(),
                instead: "an S3 endpoint is given with --endpoint",
            }),
            Some(Self::Dataverse { .. }) => Err(DatasetError::ApiNotForService {
                text: text.trim().to_string(),
                instead: "a Dataverse installation is given with --dataverse or a dataset URL",
            }),
            None => Ok(None),
        }
    }

    fn parse_name(text: &str, hints: &ServiceHints) -> Result<Option<Self>, DatasetError> {
        let text = text.trim();
        let bad = |why: &'static str| DatasetError::BadServiceSource {
            text: text.to_string(),
            why,
        };
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name (s3://BUCKET/PREFIX)"));
            }
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            };
            let endpoint = hints
                .endpoint
                .clone()
                .or_else(|| env_nonempty("AWS_ENDPOINT_URL_S3"))
                .or_else(|| env_nonempty("AWS_ENDPOINT_URL"));
            return Ok(Some(Self::S3 {
                bucket: bucket.to_string(),
                prefix,
                endpoint,
            }));
        }
        // Zenodo's DOIs name its records: the user chose Zenodo (or the
        // InvenioRDM of --api) by naming one; doi.org is never asked.
        if let Some(record) = zenodo::urls::record_of_doi(text)
            .or_else(|| text.strip_prefix("zenodo:").map(str::to_string))
        {
            if !zenodo::urls::is_record_id(&record) {
                return Err(bad("a Zenodo record id is a number"));
            }
            return Ok(Some(Self::Zenodo { record, api: None }));
        }
        if text.starts_with("doi:") || text.starts_with("hdl:") {
            let server = hints
                .dataverse
                .clone()
                .unwrap_or_else(|| DEFAULT_DATAVERSE.to_string());
            return Ok(Some(Self::Dataverse {
                server: server.trim_end_matches('/').to_string(),
                pid: text.to_string(),
            }));
        }
        if let Some(id) = text.strip_prefix("figshare:") {
            return figshare_id(id)
                .map(|article| Some(Self::Figshare { article, api: None }))
                .ok_or_else(|| bad("a Figshare article id is a number"));
        }
        if hints.bare_figshare_id && figshare_id(text).is_some() {
            return Ok(Some(Self::Figshare {
                article: text.to_string(),
                api: None,
            }));
        }
        let Ok(url) = url::Url::parse(text) else {
            return Ok(None);
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Ok(None);
        }
        let origin = url.origin().ascii_serialization();
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        // Dataverse: .../dataset.xhtml?persistentId=doi:... (also citation, api)
        if let Some((_, pid)) = url.query_pairs().find(|(k, _)| k == "persistentId") {
            return Ok(Some(Self::Dataverse {
                server: origin,
                pid: pid.into_owned(),
            }));
        }
        let host = url.host_str().unwrap_or_default();
        // Zenodo: zenodo.org/records/ID (or /record/ID), any InvenioRDM's
        // /api/records/ID.
        let zenodo_site = matches!(host, "zenodo.org" | "www.zenodo.org" | "sandbox.zenodo.org");
        let record_at = match segments.as_slice() {
            ["records" | "record", id, ..] if zenodo_site => Some((*id, None)),
            [before @ .., "api", "records", id] => Some((*id, Some(before.len()))),
            _ => None,
        };
        if let Some((id, api_at)) = record_at {
            if !zenodo::urls::is_record_id(id) {
                return Err(bad("no record id after records/"));
            }
            let base = match api_at {
                Some(n) => format!("{origin}/{}", segments[..=n].join("/")),
                None => format!("{origin}/api"),
            };
            return Ok(Some(Self::Zenodo {
                record: id.to_string(),
                api: (base != zenodo::DEFAULT_API).then_some(base),
            }));
        }
        // GitHub (or Enterprise, or a fake): OWNER/NAME/releases/tag/TAG
        if let [owner, name, "releases", "tag", tag @ ..] = segments.as_slice() {
            if tag.is_empty() {
                return Err(bad("no tag after releases/tag/"));
            }
            let tag = percent_encoding::percent_decode_str(&tag.join("/"))
                .decode_utf8_lossy()
                .into_owned();
            let api = (host != "github.com").then(|| format!("{origin}/api/v3"));
            return Ok(Some(Self::Github {
                repo: format!("{owner}/{name}"),
                tag,
                api,
            }));
        }
        // Figshare API: .../v2/articles/ID
        if let Some(at) = segments.iter().position(|s| *s == "articles") {
            let is_api = at > 0 && segments[at - 1] == "v2";
            if is_api {
                let id = segments
                    .get(at + 1)
                    .and_then(|s| figshare_id(s))
                    .ok_or_else(|| bad("no article id after articles/"))?;
                let base = format!("{origin}/{}", segments[..at].join("/"));
                let api = (base != super::super::providers::figshare::DEFAULT_API).then_some(base);
                return Ok(Some(Self::Figshare { article: id, api }));
            }
            if host == "figshare.com" || host.ends_with(".figshare.com") {
                // articles/TYPE/TITLE/ID[/VERSION]: the id is the first
                // number after the title.
                let id = segments[at + 1..]
                    .iter()
                    .skip(2)
                    .find_map(|s| figshare_id(s))
                    .or_else(|| segments[at + 1..].iter().find_map(|s| figshare_id(s)))
                    .ok_or_else(|| bad("no article id in this Figshare URL"))?;
                return Ok(Some(Self::Figshare {
                    article: id,
                    api: None,
                }));
            }
        }
        Ok(None)
    }

    /// The service whose token requests to this source would carry, and
    /// the API address they go to; `None` for S3 (signed with AWS keys).
    pub fn token_destination(&self) -> Option<(crate::providers::token::TokenService, url::Url)> {
        use crate::providers::token::TokenService;
        let (service, text) = match self {
            Self::S3 { .. } => return None,
            Self::Dataverse { server, .. } => (TokenService::Dataverse, server.as_str()),
            Self::Figshare { api, .. } => (
                TokenService::Figshare,
                api.as_deref()
                    .unwrap_or(crate::providers::figshare::DEFAULT_API),
            ),
            Self::Github { api, .. } => (
                TokenService::Github,
                api.as_deref()
                    .unwrap_or(crate::providers::github::DEFAULT_API),
            ),
            Self::Zenodo { api, .. } => (
                TokenService::Zenodo,
                api.as_deref().unwrap_or(zenodo::DEFAULT_API),
            ),
        };
        url::Url::parse(text).ok().map(|u| (service, u))
    }

    /// The `provider=` of the annexa special remote.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::S3 { .. } => "s3",
            Self::Dataverse { .. } => "dataverse",
            Self::Figshare { .. } => "figshare",
            Self::Github { .. } => "github",
            Self::Zenodo { .. } => "zenodo",
        }
    }

    /// The special remote's parameters (besides type, externaltype,
    /// encryption and autoenable), as `name=value` pairs.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out = vec![("provider".to_string(), self.provider().to_string())];
        let mut push = |k: &str, v: &str| out.push((k.to_string(), v.to_string()));
        match self {
            Self::S3 {
                bucket,
                prefix,
                endpoint,
            } => {
                push("bucket", bucket);
                if !prefix.is_empty() {
                    push("prefix", prefix);
                }
                if let Some(endpoint) = endpoint {
                    push("endpoint", endpoint);
                }
                // An import only reads: never create a bucket, and read
                // anonymously when no credentials are set.
                push("createbucket", "no");
                if env_nonempty("AWS_ACCESS_KEY_ID").is_none() {
                    push("public", "yes");
                }
            }
            Self::Dataverse { server, pid } => {
                push("url", server);
                push("doi", pid);
            }
            Self::Figshare { article, api } => {
                push("article", article);
                if let Some(api) = api {
                    push("api", api);
                }
            }
            Self::Github { repo, tag, api } => {
                push("repo", repo);
                push("tag", tag);
                if let Some(api) = api {
                    push("api", api);
                }
            }
            Self::Zenodo { record, api } => {
                push("record", record);
                if let Some(api) = api {
                    push("api", api);
                }
            }
        }
        out
    }
}

fn figshare_id(text: &str) -> Option<String> {
    (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with an S3 endpoint (`--endpoint` names the API of other
    /// services: see `endpoint_tests`).
    fn parse(text: &str) -> Option<ServiceSource> {
        let hints = ServiceHints {
            endpoint: text
                .starts_with("s3://")
                .then(|| "http://127.0.0.1:9".into()),
            dataverse: None,
            bare_figshare_id: true,
            api: None,
        };
        ServiceSource::parse(text, &hints).unwrap()
    }

    #[test]
    fn api_names_the_figshare_or_github_service() {
        let hints = |api: &str| ServiceHints {
            bare_figshare_id: true,
            api: Some(api.into()),
            ..ServiceHints::default()
        };
        let at = |text: &str, api: &str| ServiceSource::parse(text, &hints(api));
        assert_eq!(
            at("77", "http://127.0.0.1:8/v2/").unwrap(),
            Some(ServiceSource::Figshare {
                article: "77".into(),
                api: Some("http://127.0.0.1:8/v2".into())
            })
        );
        assert_eq!(
            at("77", crate::providers::figshare::DEFAULT_API).unwrap(),
            Some(ServiceSource::Figshare {
                article: "77".into(),
                api: None
            })
        );
        assert_eq!(
            at(
                "http://127.0.0.1:8/o/r/releases/tag/v1",
                "http://127.0.0.1:8"
            )
            .unwrap(),
            Some(ServiceSource::Github {
                repo: "o/r".into(),
                tag: "v1".into(),
                api: Some("http://127.0.0.1:8".into())
            })
        );
        assert!(at("s3://b/p", "http://127.0.0.1:8").is_err());
        assert!(at("doi:10.1/X", "http://127.0.0.1:8").is_err());
        assert!(at("77", "not a url").is_err());
    }

    #[test]
    fn each_form_names_its_service() {
        assert_eq!(
            parse("s3://openneuro.org/ds004712"),
            Some(ServiceSource::S3 {
                bucket: "openneuro.org".into(),
                prefix: "ds004712/".into(),
                endpoint: Some("http://127.0.0.1:9".into()),
            })
        );
        assert!(
            matches!(parse("s3://b"), Some(ServiceSource::S3 { prefix, .. }) if prefix.is_empty())
        );
        assert_eq!(
            parse("doi:10.7910/DVN/ABC"),
            Some(ServiceSource::Dataverse {
                server: DEFAULT_DATAVERSE.into(),
                pid: "doi:10.7910/DVN/ABC".into()
            })
        );
        assert_eq!(
            parse("https://demo.dataverse.org/dataset.xhtml?persistentId=doi:10.5072/FK2/X"),
            Some(ServiceSource::Dataverse {
                server: "https://demo.dataverse.org".into(),
                pid: "doi:10.5072/FK2/X".into()
            })
        );
        assert_eq!(
            parse("https://figshare.com/articles/dataset/Some_title_2020/12345678/2"),
            Some(ServiceSource::Figshare {
                article: "12345678".into(),
                api: None
            })
        );
        assert_eq!(
            parse("http://127.0.0.1:8/v2/articles/77"),
            Some(ServiceSource::Figshare {
                article: "77".into(),
                api: Some("http://127.0.0.1:8/v2".into())
            })
        );
        assert_eq!(
            parse("12345"),
            Some(ServiceSource::Figshare {
                article: "12345".into(),
                api: None
            })
        );
        assert_eq!(
            parse("https://github.com/o/r/releases/tag/v1.0"),
            Some(ServiceSource::Github {
                repo: "o/r".into(),
                tag: "v1.0".into(),
                api: None
            })
        );
        let zenodo = |record: &str, api: Option<&str>| {
            Some(ServiceSource::Zenodo {
                record: record.into(),
                api: api.map(Into::into),
            })
        };
        assert_eq!(parse("doi:10.5281/zenodo.1234"), zenodo("1234", None));
        assert_eq!(
            parse("https://doi.org/10.5281/zenodo.1234"),
            zenodo("1234", None)
        );
        assert_eq!(parse("zenodo:77"), zenodo("77", None));
        assert_eq!(
            parse("https://zenodo.org/records/1234"),
            zenodo("1234", None)
        );
        assert_eq!(
            parse("https://zenodo.org/record/1234"),
            zenodo("1234", None)
        );
        assert_eq!(
            parse("https://sandbox.zenodo.org/records/5"),
            zenodo("5", Some("https://sandbox.zenodo.org/api"))
        );
        assert_eq!(
            parse("http://127.0.0.1:8/api/records/9"),
            zenodo("9", Some("http://127.0.0.1:8/api"))
        );
        // Another host's /records/ is not Zenodo's.
        assert_eq!(parse("https://example.org/records/1234"), None);
        assert_eq!(parse("https://github.com/o/r.git"), None);
        assert_eq!(parse("///openneuro/ds000001"), None);
        assert_eq!(parse("git@github.com:o/r"), None);
    }

    #[test]
    fn parameters_for_initremote() {
        let s3 = parse("s3://b/p").unwrap();
        let params = s3.params();
        assert!(params.contains(&("provider".into(), "s3".into())));
        assert!(params.contains(&("prefix".into(), "p/".into())));
        assert!(params.contains(&("createbucket".into(), "no".into())));
        let dv = parse("doi:10.1/X").unwrap().params();
        assert!(dv.contains(&("doi".into(), "doi:10.1/X".into())));
        assert!(!dv.iter().any(|(k, _)| k == "version"));
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    /// One `--endpoint` for every service: the Dataverse installation of a
    /// bare DOI, the API of Figshare, GitHub and Zenodo sources, the S3
    /// endpoint of `s3://`; `import`'s own `--dataverse`/`--api` win.
    #[test]
    fn endpoint_names_where_any_service_is_read() {
        let with = |endpoint: &str| ServiceHints {
            endpoint: Some(endpoint.into()),
            ..ServiceHints::default()
        };
        let parse =
            |text: &str, hints: &ServiceHints| ServiceSource::parse(text, hints).unwrap().unwrap();
        let here = with("http://127.0.0.1:8/");
        assert_eq!(
            parse("doi:10.5072/FK2/X", &here),
            ServiceSource::Dataverse {
                server: "http://127.0.0.1:8".into(),
                pid: "doi:10.5072/FK2/X".into()
            }
        );
        assert_eq!(
            parse("figshare:77", &here),
            ServiceSource::Figshare {
                article: "77".into(),
                api: Some("http://127.0.0.1:8".into())
            }
        );
        assert_eq!(
            parse("zenodo:123", &here),
            ServiceSource::Zenodo {
                record: "123".into(),
                api: Some("http://127.0.0.1:8".into())
            }
        );
        assert_eq!(
            parse("s3://bucket/ds", &here),
            ServiceSource::S3 {
                bucket: "bucket".into(),
                prefix: "ds/".into(),
                endpoint: Some("http://127.0.0.1:8/".into())
            }
        );
        // A dataset URL names its own installation.
        let url = "https://demo.dataverse.org/dataset.xhtml?persistentId=doi:10.5072/FK2/X";
        assert!(matches!(
            parse(url, &here),
            ServiceSource::Dataverse { server, .. } if server == "https://demo.dataverse.org"
        ));
        let chosen = ServiceHints {
            dataverse: Some("http://127.0.0.1:9".into()),
            ..here.clone()
        };
        assert!(matches!(
            parse("doi:10.5072/FK2/X", &chosen),
            ServiceSource::Dataverse { server, .. } if server == "http://127.0.0.1:9"
        ));
    }
}
