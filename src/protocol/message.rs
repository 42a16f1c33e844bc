//! Typed messages and their one-line text form.

use std::fmt;

/// Why a line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("empty protocol line")]
    Empty,
    #[error("{command} needs {expected} parameter(s): {line:?}")]
    MissingParameter {
        command: &'static str,
        expected: usize,
        line: String,
    },
    #[error("{command} takes no parameters: {line:?}")]
    UnexpectedParameter { command: &'static str, line: String },
    #[error("transfer direction must be STORE or RETRIEVE, got {0:?}")]
    BadDirection(String),
    #[error("not a valid job number in {0:?}")]
    BadJob(String),
    #[error("unexpected message where an answer to {expected} was due: {line:?}")]
    UnexpectedAnswer {
        expected: &'static str,
        line: String,
    },
    #[error("protocol line contains a control character: {0:?}")]
    ControlCharacter(String),
}

/// Direction of a TRANSFER or TRANSFEREXPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Store,
    Retrieve,
}

impl Direction {
    fn parse(word: &str) -> Result<Self, ParseError> {
        match word {
            "STORE" => Ok(Self::Store),
            "RETRIEVE" => Ok(Self::Retrieve),
            other => Err(ParseError::BadDirection(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Store => "STORE",
            Self::Retrieve => "RETRIEVE",
        }
    }
}

/// Protocol extensions, as named in `EXTENSIONS` lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Extension {
    Info,
    Async,
    GetGitRemoteName,
    UnavailableResponse,
    TransferRetrieveUrl,
    CheckpresentUrl,
    /// IMPORTKEY: keys of imported files named without downloading them.
    ImportKey,
    Other(String),
}

impl Extension {
    pub fn parse(word: &str) -> Self {
        match word {
            "INFO" => Self::Info,
            "ASYNC" => Self::Async,
            "GETGITREMOTENAME" => Self::GetGitRemoteName,
            "UNAVAILABLERESPONSE" => Self::UnavailableResponse,
            "TRANSFER-RETRIEVE-URL" => Self::TransferRetrieveUrl,
            "CHECKPRESENT-URL" => Self::CheckpresentUrl,
            "IMPORTKEY" => Self::ImportKey,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Info => "INFO",
            Self::Async => "ASYNC",
            Self::GetGitRemoteName => "GETGITREMOTENAME",
            Self::UnavailableResponse => "UNAVAILABLERESPONSE",
            Self::TransferRetrieveUrl => "TRANSFER-RETRIEVE-URL",
            Self::CheckpresentUrl => "CHECKPRESENT-URL",
            Self::ImportKey => "IMPORTKEY",
            Self::Other(name) => name,
        }
    }
}

/// A request git-annex sends to the special remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Extensions(Vec<Extension>),
    InitRemote,
    Prepare,
    ListConfigs,
    GetCost,
    GetAvailability,
    GetInfo,
    ExportSupported,
    ClaimUrl(String),
    CheckUrl(String),
    Transfer {
        direction: Direction,
        key: String,
        file: String,
    },
    CheckPresent(String),
    Remove(String),
    WhereIs(String),
    /// Names the export location the next export request is about.
    Export(String),
    TransferExport {
        direction: Direction,
        key: String,
        file: String,
    },
    CheckPresentExport(String),
    RemoveExport(String),
    RemoveExportDirectory(String),
    RenameExport {
        key: String,
        new_name: String,
    },
    ImportSupported,
    ListImportableContents,
    /// Names the file the next import request is about.
    Import(String),
    /// Download the named file into this temporary file.
    RetrieveImport(String),
    CheckPresentImport(String),
    /// The key of the named file, from its size and content identifier.
    ImportKey {
        size: Option<u64>,
        content_id: String,
    },
    /// git-annex gave up on us; we should exit.
    Error(String),
    /// A request this version does not know: answered `UNSUPPORTED-REQUEST`.
    Unknown(String),
}

/// Splits `line` into the command word and the rest (which may be empty).
fn split_command(line: &str) -> (&str, Option<&str>) {
    match line.split_once(' ') {
        Some((word, rest)) => (word, Some(rest)),
        None => (line, None),
    }
}

/// Splits `rest` into exactly `n` parameters, the last one taking the rest of
/// the line (spaces included).
fn params<'a>(
    command: &'static str,
    rest: Option<&'a str>,
    n: usize,
    line: &str,
) -> Result<Vec<&'a str>, ParseError> {
    let missing = || ParseError::MissingParameter {
        command,
        expected: n,
        line: shown_line(line),
    };
    let rest = rest.ok_or_else(missing)?;
    let parts: Vec<&str> = rest.splitn(n, ' ').collect();
    if parts.len() != n {
        return Err(missing());
    }
    Ok(parts)
}

fn no_params(command: &'static str, rest: Option<&str>, line: &str) -> Result<(), ParseError> {
    match rest {
        // git-annex never sends a space after these, but tolerate a stray one.
        None | Some("") => Ok(()),
        Some(_) => Err(ParseError::UnexpectedParameter {
            command,
            line: shown_line(line),
        }),
    }
}

fn check_line(line: &str) -> Result<(), ParseError> {
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    if line.chars().any(|c| c == '\n' || c == '\r' || c == '\0') {
        return Err(ParseError::ControlCharacter(shown_line(line)));
    }
    Ok(())
}

impl Request {
    /// Parses one unframed line from git-annex.
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        check_line(line)?;
        let (word, rest) = split_command(line);
        let one = |command: &'static str| -> Result<String, ParseError> {
            Ok(params(command, rest, 1, line)?[0].to_string())
        };
        Ok(match word {
            "EXTENSIONS" => Request::Extensions(
                rest.unwrap_or("")
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(Extension::parse)
                    .collect(),
            ),
            "INITREMOTE" => {
                no_params("INITREMOTE", rest, line)?;
                Request::InitRemote
            }
            "PREPARE" => {
                no_params("PREPARE", rest, line)?;
                Request::Prepare
            }
            "LISTCONFIGS" => {
                no_params("LISTCONFIGS", rest, line)?;
                Request::ListConfigs
            }
            "GETCOST" => {
                no_params("GETCOST", rest, line)?;
                Request::GetCost
            }
            "GETAVAILABILITY" => {
                no_params("GETAVAILABILITY", rest, line)?;
                Request::GetAvailability
            }
            "GETINFO" => {
                no_params("GETINFO", rest, line)?;
                Request::GetInfo
            }
            "EXPORTSUPPORTED" => {
                no_params("EXPORTSUPPORTED", rest, line)?;
                Request::ExportSupported
            }
            "IMPORTSUPPORTED" => {
                no_params("IMPORTSUPPORTED", rest, line)?;
                Request::ImportSupported
            }
            "LISTIMPORTABLECONTENTS" => {
                no_params("LISTIMPORTABLECONTENTS", rest, line)?;
                Request::ListImportableContents
            }
            "IMPORT" => Request::Import(one("IMPORT")?),
            "RETRIEVEIMPORT" => Request::RetrieveImport(one("RETRIEVEIMPORT")?),
            "CHECKPRESENTIMPORT" => Request::CheckPresentImport(one("CHECKPRESENTIMPORT")?),
            "IMPORTKEY" => {
                let p = params("IMPORTKEY", rest, 2, line)?;
                Request::ImportKey {
                    size: crate::transfer::parse_size(p[0]),
                    content_id: p[1].to_string(),
                }
            }
            "CLAIMURL" => Request::ClaimUrl(one("CLAIMURL")?),
            "CHECKURL" => Request::CheckUrl(one("CHECKURL")?),
            "TRANSFER" | "TRANSFEREXPORT" => {
                let command = if word == "TRANSFER" {
                    "TRANSFER"
                } else {
                    "TRANSFEREXPORT"
                };
                let p = params(command, rest, 3, line)?;
                let direction = Direction::parse(p[0])?;
                let (key, file) = (p[1].to_string(), p[2].to_string());
                if key.is_empty() {
                    return Err(ParseError::MissingParameter {
                        command,
                        expected: 3,
                        line: shown_line(line),
                    });
                }
                if command == "TRANSFER" {
                    Request::Transfer {
                        direction,
                        key,
                        file,
                    }
                } else {
                    Request::TransferExport {
                        direction,
                        key,
                        file,
                    }
                }
            }
            "CHECKPRESENT" => Request::CheckPresent(one("CHECKPRESENT")?),
            "REMOVE" => Request::Remove(one("REMOVE")?),
            "WHEREIS" => Request::WhereIs(one("WHEREIS")?),
            "EXPORT" => Request::Export(one("EXPORT")?),
            "CHECKPRESENTEXPORT" => Request::CheckPresentExport(one("CHECKPRESENTEXPORT")?),
            "REMOVEEXPORT" => Request::RemoveExport(one("REMOVEEXPORT")?),
            "REMOVEEXPORTDIRECTORY" => {
                Request::RemoveExportDirectory(one("REMOVEEXPORTDIRECTORY")?)
            }
            "RENAMEEXPORT" => {
                let p = params("RENAMEEXPORT", rest, 2, line)?;
                Request::RenameExport {
                    key: p[0].to_string(),
                    new_name: p[1].to_string(),
                }
            }
            "ERROR" => Request::Error(rest.unwrap_or("").to_string()),
            _ => Request::Unknown(line.to_string()),
        })
    }
}

impl Request {
    /// The line git-annex sends for this request (what [`Request::parse`]
    /// reads back). Used by test peers and the fuzz target.
    pub fn line(&self) -> String {
        use Request as R;
        let line = match self {
            R::Extensions(exts) => {
                let names: Vec<&str> = exts.iter().map(Extension::as_str).collect();
                format!("EXTENSIONS {}", names.join(" "))
            }
            R::InitRemote => "INITREMOTE".into(),
            R::Prepare => "PREPARE".into(),
            R::ListConfigs => "LISTCONFIGS".into(),
            R::GetCost => "GETCOST".into(),
            R::GetAvailability => "GETAVAILABILITY".into(),
            R::GetInfo => "GETINFO".into(),
            R::ExportSupported => "EXPORTSUPPORTED".into(),
            R::ClaimUrl(url) => format!("CLAIMURL {url}"),
            R::CheckUrl(url) => format!("CHECKURL {url}"),
            R::Transfer {
                direction,
                key,
                file,
            } => format!("TRANSFER {} {key} {file}", direction.as_str()),
            R::CheckPresent(key) => format!("CHECKPRESENT {key}"),
            R::Remove(key) => format!("REMOVE {key}"),
            R::WhereIs(key) => format!("WHEREIS {key}"),
            R::Export(name) => format!("EXPORT {name}"),
            R::TransferExport {
                direction,
                key,
                file,
            } => format!("TRANSFEREXPORT {} {key} {file}", direction.as_str()),
            R::CheckPresentExport(key) => format!("CHECKPRESENTEXPORT {key}"),
            R::RemoveExport(key) => format!("REMOVEEXPORT {key}"),
            R::RemoveExportDirectory(dir) => format!("REMOVEEXPORTDIRECTORY {dir}"),
            R::RenameExport { key, new_name } => format!("RENAMEEXPORT {key} {new_name}"),
            R::ImportSupported => "IMPORTSUPPORTED".into(),
            R::ListImportableContents => "LISTIMPORTABLECONTENTS".into(),
            R::Import(name) => format!("IMPORT {name}"),
            R::RetrieveImport(file) => format!("RETRIEVEIMPORT {file}"),
            R::CheckPresentImport(key) => format!("CHECKPRESENTIMPORT {key}"),
            R::ImportKey { size, content_id } => {
                format!("IMPORTKEY {} {content_id}", size_field(*size))
            }
            R::Error(message) => format!("ERROR {message}"),
            R::Unknown(line) => line.clone(),
        };
        single_line(line)
    }
}

/// GETAVAILABILITY answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Global,
    Local,
    /// Only with the UNAVAILABLERESPONSE extension.
    Unavailable,
}

/// One file found behind a URL, for `CHECKURL-MULTI`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntry {
    pub url: String,
    pub size: Option<u64>,
    pub filename: String,
}

/// The answer to CHECKURL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckUrl {
    Contents {
        size: Option<u64>,
        filename: Option<String>,
    },
    Multi(Vec<UrlEntry>),
    Failure(String),
}

/// What the special remote sends in answer to a request (and the two
/// handshake messages). Some replies span several lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Version(u32),
    Extensions(Vec<Extension>),
    InitRemoteSuccess,
    InitRemoteFailure(String),
    PrepareSuccess,
    PrepareFailure(String),
    TransferSuccess(Direction, String),
    TransferFailure(Direction, String, String),
    /// TRANSFER-RETRIEVE-URL extension: git-annex downloads the URL itself.
    TransferRetrieveUrl(String, String),
    CheckPresentSuccess(String),
    CheckPresentFailure(String),
    CheckPresentUnknown(String, String),
    /// CHECKPRESENT-URL extension: git-annex checks the URL itself.
    CheckPresentUrl(String, String),
    RemoveSuccess(String),
    RemoveFailure(String, String),
    Cost(u32),
    Availability(Availability),
    ClaimUrlSuccess,
    ClaimUrlFailure,
    CheckUrl(CheckUrl),
    WhereIsSuccess(String),
    WhereIsFailure,
    Info(Vec<(String, String)>),
    Configs(Vec<(String, String)>),
    ExportSupportedSuccess,
    ExportSupportedFailure,
    RemoveExportDirectorySuccess,
    RemoveExportDirectoryFailure,
    RenameExportSuccess(String),
    RenameExportFailure(String),
    ImportSupportedSuccess,
    ImportSupportedFailure,
    /// One file of a listing: `IMPORTABLECONTENT` and its
    /// `IMPORTABLECONTENTIDENTIFIER`.
    ImportableContent {
        size: u64,
        name: String,
        content_id: String,
    },
    ListImportableContentsSuccess,
    ListImportableContentsFailure(String),
    RetrieveImportSuccess,
    RetrieveImportFailure(String),
    ImportKeySuccess(String),
    ImportKeyFailure(String),
    UnsupportedRequest,
    Error(String),
}

/// Makes a failure message safe for a single protocol line: control
/// characters become spaces, and an empty message becomes "failed" so the
/// user always sees something.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        out.push(if c.is_control() { ' ' } else { c });
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "failed".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Makes a value safe for a single protocol line without changing it
/// otherwise: unlike [`one_line`] it keeps surrounding spaces and may be
/// empty (an empty SETCONFIG value or INFOVALUE is meaningful).
pub(crate) fn one_line_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A line from git-annex as it may be shown in an error or a log: a
/// `CREDS` answer (framed or not, wherever it arrives) loses everything
/// after its command word, since it carries a password.
pub fn shown_line(line: &str) -> String {
    let body = match line.strip_prefix("J ") {
        Some(rest) => rest.split_once(' ').map_or("", |(_, body)| body),
        None => line,
    };
    let word = body.split([' ', '\t']).next().unwrap_or("");
    if word.starts_with("CREDS") || body.contains(" CREDS ") {
        let shown_prefix = &line[..line.len() - body.len()];
        format!("{shown_prefix}CREDS <redacted>")
    } else {
        line.to_string()
    }
}

/// Replaces line breaks in a whole protocol line, the last guard that keeps
/// every message on one line whatever its fields hold.
fn single_line(line: String) -> String {
    if line.contains(['\n', '\r']) {
        line.replace(['\n', '\r'], " ")
    } else {
        line
    }
}

/// A field that must not contain spaces (sizes, file names in CHECKURL-MULTI).
fn no_spaces(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn size_field(size: Option<u64>) -> String {
    size.map_or_else(|| "UNKNOWN".to_string(), |s| s.to_string())
}

impl Reply {
    /// The protocol lines of this reply, without framing or newlines.
    pub fn lines(&self) -> Vec<String> {
        self.raw_lines().into_iter().map(single_line).collect()
    }

    fn raw_lines(&self) -> Vec<String> {
        use Reply::*;
        let single = |s: String| vec![s];
        match self {
            Version(v) => single(format!("VERSION {v}")),
            Extensions(exts) => {
                let names: Vec<&str> = exts.iter().map(Extension::as_str).collect();
                single(
                    format!("EXTENSIONS {}", names.join(" "))
                        .trim_end()
                        .to_string(),
                )
            }
            InitRemoteSuccess => single("INITREMOTE-SUCCESS".into()),
            InitRemoteFailure(m) => single(format!("INITREMOTE-FAILURE {}", one_line(m))),
            PrepareSuccess => single("PREPARE-SUCCESS".into()),
            PrepareFailure(m) => single(format!("PREPARE-FAILURE {}", one_line(m))),
            TransferSuccess(d, k) => single(format!("TRANSFER-SUCCESS {} {k}", d.as_str())),
            TransferFailure(d, k, m) => single(format!(
                "TRANSFER-FAILURE {} {k} {}",
                d.as_str(),
                one_line(m)
            )),
            TransferRetrieveUrl(k, u) => single(format!("TRANSFER-RETRIEVE-URL {k} {u}")),
            CheckPresentSuccess(k) => single(format!("CHECKPRESENT-SUCCESS {k}")),
            CheckPresentFailure(k) => single(format!("CHECKPRESENT-FAILURE {k}")),
            CheckPresentUnknown(k, m) => {
                single(format!("CHECKPRESENT-UNKNOWN {k} {}", one_line(m)))
            }
            CheckPresentUrl(k, u) => single(format!("CHECKPRESENT-URL {k} {u}")),
            RemoveSuccess(k) => single(format!("REMOVE-SUCCESS {k}")),
            RemoveFailure(k, m) => single(format!("REMOVE-FAILURE {k} {}", one_line(m))),
            Cost(c) => single(format!("COST {c}")),
            Availability(a) => single(
                match a {
                    self::Availability::Global => "AVAILABILITY GLOBAL",
                    self::Availability::Local => "AVAILABILITY LOCAL",
                    self::Availability::Unavailable => "AVAILABILITY UNAVAILABLE",
                }
                .into(),
            ),
            ClaimUrlSuccess => single("CLAIMURL-SUCCESS".into()),
            ClaimUrlFailure => single("CLAIMURL-FAILURE".into()),
            CheckUrl(self::CheckUrl::Contents { size, filename }) => {
                let mut line = format!("CHECKURL-CONTENTS {}", size_field(*size));
                // The file name is the last parameter: spaces are fine there.
                if let Some(name) = filename {
                    line.push(' ');
                    line.push_str(&one_line_value(name));
                }
                single(line)
            }
            CheckUrl(self::CheckUrl::Multi(entries)) => {
                let mut line = "CHECKURL-MULTI".to_string();
                for e in entries {
                    line.push_str(&format!(
                        " {} {} {}",
                        no_spaces(&e.url),
                        size_field(e.size),
                        no_spaces(&e.filename)
                    ));
                }
                single(line)
            }
            CheckUrl(self::CheckUrl::Failure(m)) => {
                single(format!("CHECKURL-FAILURE {}", one_line(m)))
            }
            WhereIsSuccess(text) => {
                single(format!("WHEREIS-SUCCESS {}", one_line_value(text.trim())))
            }
            WhereIsFailure => single("WHEREIS-FAILURE".into()),
            Info(fields) => {
                let mut lines = Vec::with_capacity(fields.len() * 2 + 1);
                for (name, value) in fields {
                    lines.push(format!("INFOFIELD {}", one_line_value(name)));
                    lines.push(format!("INFOVALUE {}", one_line_value(value)));
                }
                lines.push("INFOEND".into());
                lines
            }
            Configs(configs) => {
                let mut lines = Vec::with_capacity(configs.len() + 1);
                for (name, description) in configs {
                    lines.push(format!(
                        "CONFIG {} {}",
                        no_spaces(name),
                        one_line_value(description)
                    ));
                }
                lines.push("CONFIGEND".into());
                lines
            }
            ExportSupportedSuccess => single("EXPORTSUPPORTED-SUCCESS".into()),
            ExportSupportedFailure => single("EXPORTSUPPORTED-FAILURE".into()),
            RemoveExportDirectorySuccess => single("REMOVEEXPORTDIRECTORY-SUCCESS".into()),
            RemoveExportDirectoryFailure => single("REMOVEEXPORTDIRECTORY-FAILURE".into()),
            RenameExportSuccess(k) => single(format!("RENAMEEXPORT-SUCCESS {k}")),
            RenameExportFailure(k) => single(format!("RENAMEEXPORT-FAILURE {k}")),
            ImportSupportedSuccess => single("IMPORTSUPPORTED-SUCCESS".into()),
            ImportSupportedFailure => single("IMPORTSUPPORTED-FAILURE".into()),
            ImportableContent {
                size,
                name,
                content_id,
            } => vec![
                format!("IMPORTABLECONTENT {size} {}", one_line_value(name)),
                format!("IMPORTABLECONTENTIDENTIFIER {}", no_spaces(content_id)),
            ],
            ListImportableContentsSuccess => single("LISTIMPORTABLECONTENTS-SUCCESS".into()),
            ListImportableContentsFailure(m) => {
                single(format!("LISTIMPORTABLECONTENTS-FAILURE {}", one_line(m)))
            }
            RetrieveImportSuccess => single("RETRIEVEIMPORT-SUCCESS".into()),
            RetrieveImportFailure(m) => single(format!("RETRIEVEIMPORT-FAILURE {}", one_line(m))),
            ImportKeySuccess(k) => single(format!("IMPORTKEY-SUCCESS {k}")),
            ImportKeyFailure(m) => single(format!("IMPORTKEY-FAILURE {}", one_line(m))),
            UnsupportedRequest => single("UNSUPPORTED-REQUEST".into()),
            Error(m) => single(format!("ERROR {}", one_line(m))),
        }
    }
}

/// A message the special remote sends to git-annex while handling a request.
#[derive(Clone, PartialEq, Eq)]
pub enum Query {
    Progress(u64),
    DirHash(String),
    DirHashLower(String),
    SetConfig(String, String),
    GetConfig(String),
    SetCreds {
        setting: String,
        user: String,
        password: String,
    },
    GetCreds(String),
    GetUuid,
    GetGitDir,
    GetGitRemoteName,
    SetState(String, String),
    GetState(String),
    SetUrlPresent(String, String),
    SetUrlMissing(String, String),
    GetUrls(String, String),
    Debug(String),
    Info(String),
}

impl fmt::Debug for Query {
    // Credentials must never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::SetCreds { setting, .. } => write!(f, "SetCreds({setting}, <redacted>)"),
            other => f.write_str(&other.line()),
        }
    }
}

impl Query {
    /// Whether git-annex answers this message (with VALUE, CREDS or ERROR).
    pub fn expects_answer(&self) -> bool {
        matches!(
            self,
            Query::DirHash(_)
                | Query::DirHashLower(_)
                | Query::GetConfig(_)
                | Query::GetCreds(_)
                | Query::GetUuid
                | Query::GetGitDir
                | Query::GetGitRemoteName
                | Query::GetState(_)
                | Query::GetUrls(..)
        )
    }

    /// The protocol line, without framing or newlines.
    pub fn line(&self) -> String {
        single_line(self.raw_line())
    }

    fn raw_line(&self) -> String {
        use Query::*;
        match self {
            Progress(n) => format!("PROGRESS {n}"),
            DirHash(k) => format!("DIRHASH {k}"),
            DirHashLower(k) => format!("DIRHASH-LOWER {k}"),
            SetConfig(name, value) => {
                format!("SETCONFIG {} {}", no_spaces(name), one_line_value(value))
            }
            GetConfig(name) => format!("GETCONFIG {name}"),
            SetCreds {
                setting,
                user,
                password,
            } => format!(
                "SETCREDS {} {} {}",
                no_spaces(setting),
                no_spaces(user),
                one_line_value(password)
            ),
            GetCreds(setting) => format!("GETCREDS {setting}"),
            GetUuid => "GETUUID".into(),
            GetGitDir => "GETGITDIR".into(),
            GetGitRemoteName => "GETGITREMOTENAME".into(),
            SetState(k, v) => format!("SETSTATE {k} {}", one_line_value(v)),
            GetState(k) => format!("GETSTATE {k}"),
            SetUrlPresent(k, u) => format!("SETURLPRESENT {k} {}", one_line_value(u)),
            SetUrlMissing(k, u) => format!("SETURLMISSING {k} {}", one_line_value(u)),
            GetUrls(k, prefix) => format!("GETURLS {k} {prefix}"),
            Debug(m) => format!("DEBUG {}", one_line_value(m)),
            Info(m) => format!("INFO {}", one_line_value(m)),
        }
    }
}

/// git-annex's answer to a [`Query`].
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    /// `VALUE x`; an empty value arrives as `VALUE ` (trailing space) or `VALUE`.
    Value(String),
    Creds {
        user: String,
        password: String,
    },
    Error(String),
}

impl fmt::Debug for Answer {
    // The password of CREDS must never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Value(v) => write!(f, "Value({v:?})"),
            Answer::Creds { .. } => f.write_str("Creds(<redacted>)"),
            Answer::Error(m) => write!(f, "Error({m:?})"),
        }
    }
}

impl Answer {
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        // The line may hold a password: its errors show it through `shown_line`.
        check_line(line)?;
        let (word, rest) = split_command(line);
        match word {
            "VALUE" => Ok(Answer::Value(rest.unwrap_or("").to_string())),
            "CREDS" => {
                let rest = rest.unwrap_or("");
                let (user, password) = rest.split_once(' ').unwrap_or((rest, ""));
                Ok(Answer::Creds {
                    user: user.to_string(),
                    password: password.to_string(),
                })
            }
            "ERROR" => Ok(Answer::Error(rest.unwrap_or("").to_string())),
            _ => Err(ParseError::UnexpectedAnswer {
                expected: "a query (VALUE, CREDS or ERROR)",
                line: shown_line(line),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
