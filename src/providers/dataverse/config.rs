//! The remote's parameters (`url=`, `doi=`, `rootpath=`, ...), read and checked.

use std::time::Duration;

use super::naming;
use crate::providers::service_api::{
    required_setting, seconds_setting, setting as config, ApiAddress,
};
use crate::providers::{parse_bool, Annex, ConfigSpec, ProviderError, Result};

pub(super) const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "url",
        description: "(provider=dataverse) address of the Dataverse installation, e.g. https://dataverse.harvard.edu",
    },
    ConfigSpec {
        name: "doi",
        description: "(provider=dataverse) persistent id of the dataset, e.g. doi:10.7910/DVN/ABCDEF (hdl: also works)",
    },
    ConfigSpec {
        name: "rootpath",
        description: "(provider=dataverse) folder inside the dataset for annexa's files (default: the top)",
    },
    ConfigSpec {
        name: "skipchecksum",
        description: "(provider=dataverse) yes = do not verify downloads against Dataverse's recorded checksum (git-annex still checks the key)",
    },
    ConfigSpec {
        name: "lockwait",
        description: "(provider=dataverse) seconds to wait for a dataset lock (ingest, publication) to clear before failing (default 60)",
    },
];

pub(super) struct Settings {
    pub pid: String,
    pub root: String,
    pub skip_checksum: bool,
    pub lock_wait: Duration,
}

/// The `url=` of the installation.
pub(super) const ADDRESS: ApiAddress = ApiAddress::required("url", "https://dataverse.harvard.edu");

pub(super) async fn settings(annex: &dyn Annex) -> Result<Settings> {
    let doi = required_setting(
        annex,
        "doi",
        "doi:10.xxxx/YYYY (the dataset's persistent id)",
    )
    .await?;
    let pid = normalize_pid(&doi)?;
    let root = naming::encode_folder(&config(annex, "rootpath").await?.unwrap_or_default());
    let skip_checksum = parse_bool(
        "skipchecksum",
        config(annex, "skipchecksum").await?.as_deref(),
        false,
    )?;
    let lock_wait = seconds_setting(annex, "lockwait", Duration::from_secs(60)).await?;
    Ok(Settings {
        pid,
        root,
        skip_checksum,
        lock_wait,
    })
}

/// Accepts `doi:10.x/y`, `hdl:...`, `10.x/y`, or a `https://doi.org/` link.
pub(super) fn normalize_pid(text: &str) -> Result<String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let pid =
        if lower.starts_with("doi:") || lower.starts_with("hdl:") || lower.starts_with("perma:") {
            format!(
                "{}{}",
                &lower[..lower.find(':').unwrap_or(0) + 1],
                &t[t.find(':').unwrap_or(0) + 1..]
            )
        } else if let Some(rest) = ["https://doi.org/", "http://doi.org/", "https://dx.doi.org/"]
            .iter()
            .find_map(|p| lower.starts_with(p).then(|| &t[p.len()..]))
        {
            format!("doi:{rest}")
        } else if t.starts_with("10.") {
            format!("doi:{t}")
        } else {
            return Err(ProviderError::Config(format!(
                "doi={t} is not a dataset persistent id such as doi:10.7910/DVN/ABCDEF"
            )));
        };
    if pid.contains(char::is_whitespace) || !pid.contains('/') {
        return Err(ProviderError::Config(format!(
            "doi={t} is not a dataset persistent id such as doi:10.7910/DVN/ABCDEF"
        )));
    }
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids() {
        assert_eq!(
            normalize_pid("doi:10.5072/FK2/ABC").unwrap(),
            "doi:10.5072/FK2/ABC"
        );
        assert_eq!(
            normalize_pid("DOI:10.5072/FK2/ABC").unwrap(),
            "doi:10.5072/FK2/ABC"
        );
        assert_eq!(
            normalize_pid("10.5072/FK2/ABC").unwrap(),
            "doi:10.5072/FK2/ABC"
        );
        assert_eq!(
            normalize_pid("https://doi.org/10.5072/FK2/ABC").unwrap(),
            "doi:10.5072/FK2/ABC"
        );
        assert_eq!(
            normalize_pid("hdl:1902.1/12345").unwrap(),
            "hdl:1902.1/12345"
        );
        assert!(normalize_pid("ABCDEF").is_err());
        assert!(normalize_pid("doi:nothing").is_err());
    }
}
