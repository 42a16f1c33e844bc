//! Unit and property tests of the wire format: every request form, every
//! reply's exact text, queries, answers and the `J n` framing.

use super::*;
use crate::protocol::Framed;
use proptest::prelude::*;

const KEY: &str = "SHA256E-s1048576--0123abcd.this-is-a-test-key";

fn parse(line: &str) -> Request {
    match Request::parse(line) {
        Ok(r) => r,
        Err(e) => panic!("{line:?} did not parse: {e}"),
    }
}

fn parse_err(line: &str) -> ParseError {
    match Request::parse(line) {
        Ok(r) => panic!("{line:?} parsed as {r:?}, expected an error"),
        Err(e) => e,
    }
}

fn one(reply: Reply) -> String {
    let lines = reply.lines();
    assert_eq!(lines.len(), 1, "{reply:?} gave {lines:?}");
    lines.into_iter().next().unwrap()
}

// ---------------------------------------------------------------- requests

#[test]
fn transfer_keeps_spaces_in_file_name() {
    let r = Request::parse("TRANSFER RETRIEVE SHA256E-s1--ab.txt /tmp/a b  c").unwrap();
    assert_eq!(
        r,
        Request::Transfer {
            direction: Direction::Retrieve,
            key: "SHA256E-s1--ab.txt".into(),
            file: "/tmp/a b  c".into()
        }
    );
}

#[test]
fn transfer_both_directions() {
    assert_eq!(
        parse(&format!("TRANSFER STORE {KEY} .git/annex/tmp/file")),
        Request::Transfer {
            direction: Direction::Store,
            key: KEY.into(),
            file: ".git/annex/tmp/file".into(),
        }
    );
    assert_eq!(
        parse(&format!(
            "TRANSFER RETRIEVE {KEY} dir with space/ leading and trailing "
        )),
        Request::Transfer {
            direction: Direction::Retrieve,
            key: KEY.into(),
            file: "dir with space/ leading and trailing ".into(),
        }
    );
}

#[test]
fn transfer_file_may_hold_tabs_and_unicode() {
    assert_eq!(
        parse("TRANSFER STORE K a\tb ünï cødé 📁"),
        Request::Transfer {
            direction: Direction::Store,
            key: "K".into(),
            file: "a\tb ünï cødé 📁".into(),
        }
    );
}

#[test]
fn transferexport_both_directions() {
    assert_eq!(
        parse(&format!("TRANSFEREXPORT STORE {KEY} /tmp/x y")),
        Request::TransferExport {
            direction: Direction::Store,
            key: KEY.into(),
            file: "/tmp/x y".into(),
        }
    );
    assert_eq!(
        parse(&format!("TRANSFEREXPORT RETRIEVE {KEY} /tmp/x")),
        Request::TransferExport {
            direction: Direction::Retrieve,
            key: KEY.into(),
            file: "/tmp/x".into(),
        }
    );
}

#[test]
fn requests_without_parameters() {
    let cases = [
        ("INITREMOTE", Request::InitRemote),
        ("PREPARE", Request::Prepare),
        ("LISTCONFIGS", Request::ListConfigs),
        ("GETCOST", Request::GetCost),
        ("GETAVAILABILITY", Request::GetAvailability),
        ("GETINFO", Request::GetInfo),
        ("EXPORTSUPPORTED", Request::ExportSupported),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(line), expected, "{line}");
        // A stray trailing space is tolerated.
        assert_eq!(parse(&format!("{line} ")), expected, "{line} + space");
        // A real parameter is not.
        match parse_err(&format!("{line} extra")) {
            ParseError::UnexpectedParameter { command, .. } => assert_eq!(command, line),
            other => panic!("{line} extra: {other:?}"),
        }
    }
}

#[test]
fn requests_with_one_parameter() {
    let name = "sub dir/file name with  spaces.txt";
    let cases = [
        (
            "CLAIMURL s3://bucket/a b".to_string(),
            Request::ClaimUrl("s3://bucket/a b".into()),
        ),
        (
            "CHECKURL https://example.org/x?y=1".to_string(),
            Request::CheckUrl("https://example.org/x?y=1".into()),
        ),
        (
            format!("CHECKPRESENT {KEY}"),
            Request::CheckPresent(KEY.into()),
        ),
        (format!("REMOVE {KEY}"), Request::Remove(KEY.into())),
        (format!("WHEREIS {KEY}"), Request::WhereIs(KEY.into())),
        (format!("EXPORT {name}"), Request::Export(name.into())),
        (
            format!("CHECKPRESENTEXPORT {KEY}"),
            Request::CheckPresentExport(KEY.into()),
        ),
        (
            format!("REMOVEEXPORT {KEY}"),
            Request::RemoveExport(KEY.into()),
        ),
        (
            "REMOVEEXPORTDIRECTORY some dir/with space".to_string(),
            Request::RemoveExportDirectory("some dir/with space".into()),
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(&line), expected, "{line}");
    }
}

#[test]
fn one_parameter_requests_need_it() {
    for command in [
        "CLAIMURL",
        "CHECKURL",
        "CHECKPRESENT",
        "REMOVE",
        "WHEREIS",
        "EXPORT",
        "CHECKPRESENTEXPORT",
        "REMOVEEXPORT",
        "REMOVEEXPORTDIRECTORY",
    ] {
        match parse_err(command) {
            ParseError::MissingParameter {
                command: c,
                expected,
                line,
            } => {
                assert_eq!(c, command);
                assert_eq!(expected, 1);
                assert_eq!(line, command);
            }
            other => panic!("{command}: {other:?}"),
        }
    }
}

#[test]
fn renameexport_new_name_takes_the_rest() {
    assert_eq!(
        parse(&format!("RENAMEEXPORT {KEY} new dir/new name.txt")),
        Request::RenameExport {
            key: KEY.into(),
            new_name: "new dir/new name.txt".into(),
        }
    );
    for line in ["RENAMEEXPORT", &format!("RENAMEEXPORT {KEY}")] {
        match parse_err(line) {
            ParseError::MissingParameter {
                command, expected, ..
            } => {
                assert_eq!(command, "RENAMEEXPORT");
                assert_eq!(expected, 2);
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn transfer_with_missing_parameters() {
    for line in [
        "TRANSFER".to_string(),
        "TRANSFER STORE".to_string(),
        format!("TRANSFER STORE {KEY}"),
        "TRANSFER STORE  /tmp/file".to_string(),
        "TRANSFEREXPORT".to_string(),
        format!("TRANSFEREXPORT RETRIEVE {KEY}"),
    ] {
        match parse_err(&line) {
            ParseError::MissingParameter {
                command, expected, ..
            } => {
                assert!(line.starts_with(command), "{line} vs {command}");
                assert_eq!(expected, 3);
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn transfer_with_bad_direction() {
    for (line, word) in [
        ("TRANSFER store K f", "store"),
        ("TRANSFER SEND K f", "SEND"),
        ("TRANSFER UPLOAD K f", "UPLOAD"),
        ("TRANSFEREXPORT RETRIEVEX K f", "RETRIEVEX"),
        ("TRANSFER  K f", ""),
    ] {
        assert_eq!(
            parse_err(line),
            ParseError::BadDirection(word.into()),
            "{line}"
        );
    }
}

#[test]
fn extensions_lists() {
    assert_eq!(
        parse("EXTENSIONS INFO ASYNC GETGITREMOTENAME UNAVAILABLERESPONSE TRANSFER-RETRIEVE-URL CHECKPRESENT-URL DELEGATE"),
        Request::Extensions(vec![
            Extension::Info,
            Extension::Async,
            Extension::GetGitRemoteName,
            Extension::UnavailableResponse,
            Extension::TransferRetrieveUrl,
            Extension::CheckpresentUrl,
            Extension::Other("DELEGATE".into()),
        ])
    );
    assert_eq!(parse("EXTENSIONS"), Request::Extensions(vec![]));
    assert_eq!(parse("EXTENSIONS "), Request::Extensions(vec![]));
    assert_eq!(
        parse("EXTENSIONS  INFO  "),
        Request::Extensions(vec![Extension::Info])
    );
}

#[test]
fn extension_names_round_trip() {
    for name in [
        "INFO",
        "ASYNC",
        "GETGITREMOTENAME",
        "UNAVAILABLERESPONSE",
        "TRANSFER-RETRIEVE-URL",
        "CHECKPRESENT-URL",
        "DELEGATE",
        "SOMETHING-NEW",
    ] {
        assert_eq!(Extension::parse(name).as_str(), name);
    }
    assert_eq!(Extension::parse("info"), Extension::Other("info".into()));
}

#[test]
fn error_request() {
    assert_eq!(
        parse("ERROR something went wrong"),
        Request::Error("something went wrong".into())
    );
    assert_eq!(parse("ERROR"), Request::Error(String::new()));
}

#[test]
fn unknown_requests_are_kept_whole() {
    for line in [
        "GETORDERED",
        "prepare",
        "VALUE x",
        "SOMETHING new with params",
        " PREPARE",
        "PREPARE\tx",
    ] {
        assert_eq!(parse(line), Request::Unknown(line.into()), "{line:?}");
    }
}

#[test]
fn import_requests() {
    assert_eq!(parse("IMPORTSUPPORTED"), Request::ImportSupported);
    assert_eq!(
        parse("LISTIMPORTABLECONTENTS"),
        Request::ListImportableContents
    );
    assert_eq!(
        parse("IMPORT sub dir/a b.nii.gz"),
        Request::Import("sub dir/a b.nii.gz".into())
    );
    assert_eq!(
        parse("RETRIEVEIMPORT .git/annex/tmp/MD5-s5--x"),
        Request::RetrieveImport(".git/annex/tmp/MD5-s5--x".into())
    );
    assert_eq!(
        parse("CHECKPRESENTIMPORT MD5-s5--x"),
        Request::CheckPresentImport("MD5-s5--x".into())
    );
    assert_eq!(
        parse("IMPORTKEY 5 md5:ab:v"),
        Request::ImportKey {
            size: Some(5),
            content_id: "md5:ab:v".into()
        }
    );
    assert!(matches!(
        Request::parse("IMPORTKEY 5"),
        Err(ParseError::MissingParameter { .. })
    ));
    assert_eq!(Extension::parse("IMPORTKEY"), Extension::ImportKey);
}

#[test]
fn import_replies() {
    assert_eq!(
        Reply::ImportableContent {
            size: 3,
            name: "a b/c\nd".into(),
            content_id: "md5:x:v 1".into()
        }
        .lines(),
        vec![
            "IMPORTABLECONTENT 3 a b/c d".to_string(),
            "IMPORTABLECONTENTIDENTIFIER md5:x:v_1".to_string()
        ]
    );
    assert_eq!(
        Reply::ListImportableContentsFailure("a\nb".into()).lines(),
        vec!["LISTIMPORTABLECONTENTS-FAILURE a b".to_string()]
    );
    assert_eq!(
        Reply::ImportKeySuccess("MD5E-s1--ab.x".into()).lines(),
        vec!["IMPORTKEY-SUCCESS MD5E-s1--ab.x".to_string()]
    );
}

#[test]
fn empty_line_is_an_error() {
    assert_eq!(parse_err(""), ParseError::Empty);
    assert_eq!(Answer::parse(""), Err(ParseError::Empty));
}

#[test]
fn line_breaks_and_nul_are_errors() {
    for line in [
        "PREPARE\n",
        "PREPARE\r",
        "TRANSFER STORE K a\nb",
        "TRANSFER STORE K a\rb",
        "TRANSFER STORE K a\0b",
        "\n",
    ] {
        assert_eq!(
            parse_err(line),
            ParseError::ControlCharacter(line.into()),
            "{line:?}"
        );
    }
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let text = parse_err("TRANSFER STORE").to_string();
    assert!(text.contains("TRANSFER"), "{text}");
    assert!(text.contains('3'), "{text}");
    assert!(text.contains("\"TRANSFER STORE\""), "{text}");
    let text = parse_err("TRANSFER SEND K f").to_string();
    assert!(text.contains("STORE or RETRIEVE"), "{text}");
    assert!(text.contains("SEND"), "{text}");
    let text = parse_err("PREPARE now").to_string();
    assert!(text.contains("PREPARE takes no parameters"), "{text}");
    let text = parse_err("").to_string();
    assert!(text.contains("empty"), "{text}");
    // Control characters are shown escaped, so the message stays one line.
    let text = parse_err("EXPORT a\nb").to_string();
    assert!(!text.contains('\n'), "{text:?}");
    assert!(text.contains("\\n"), "{text}");
}

#[test]
fn request_line_matches_git_annex_text() {
    let cases = [
        (
            Request::Transfer {
                direction: Direction::Store,
                key: KEY.into(),
                file: "/tmp/a b".into(),
            },
            format!("TRANSFER STORE {KEY} /tmp/a b"),
        ),
        (
            Request::RenameExport {
                key: "K".into(),
                new_name: "x y".into(),
            },
            "RENAMEEXPORT K x y".into(),
        ),
        (
            Request::Extensions(vec![Extension::Info, Extension::Async]),
            "EXTENSIONS INFO ASYNC".into(),
        ),
        (Request::Prepare, "PREPARE".into()),
        (Request::Unknown("GETORDERED".into()), "GETORDERED".into()),
    ];
    for (request, line) in cases {
        assert_eq!(request.line(), line);
        assert_eq!(parse(&line), request);
    }
}

// ----------------------------------------------------------------- replies

#[test]
fn every_single_line_reply_text() {
    use Direction::{Retrieve, Store};
    let cases: Vec<(Reply, &str)> = vec![
        (Reply::Version(2), "VERSION 2"),
        (Reply::Version(1), "VERSION 1"),
        (
            Reply::Extensions(vec![Extension::Info, Extension::Async]),
            "EXTENSIONS INFO ASYNC",
        ),
        (Reply::Extensions(vec![]), "EXTENSIONS"),
        (Reply::InitRemoteSuccess, "INITREMOTE-SUCCESS"),
        (
            Reply::InitRemoteFailure("bucket=B is required".into()),
            "INITREMOTE-FAILURE bucket=B is required",
        ),
        (Reply::PrepareSuccess, "PREPARE-SUCCESS"),
        (
            Reply::PrepareFailure("no provider".into()),
            "PREPARE-FAILURE no provider",
        ),
        (
            Reply::TransferSuccess(Store, "K1".into()),
            "TRANSFER-SUCCESS STORE K1",
        ),
        (
            Reply::TransferSuccess(Retrieve, "K1".into()),
            "TRANSFER-SUCCESS RETRIEVE K1",
        ),
        (
            Reply::TransferFailure(Store, "K1".into(), "disk full".into()),
            "TRANSFER-FAILURE STORE K1 disk full",
        ),
        (
            Reply::TransferFailure(Retrieve, "K1".into(), "msg".into()),
            "TRANSFER-FAILURE RETRIEVE K1 msg",
        ),
        (
            Reply::TransferRetrieveUrl("K1".into(), "https://h/b/K1".into()),
            "TRANSFER-RETRIEVE-URL K1 https://h/b/K1",
        ),
        (
            Reply::CheckPresentSuccess("K1".into()),
            "CHECKPRESENT-SUCCESS K1",
        ),
        // No message: git-annex rejects one.
        (
            Reply::CheckPresentFailure("K1".into()),
            "CHECKPRESENT-FAILURE K1",
        ),
        (
            Reply::CheckPresentUnknown("K1".into(), "network down".into()),
            "CHECKPRESENT-UNKNOWN K1 network down",
        ),
        (
            Reply::CheckPresentUrl("K1".into(), "https://h/K1".into()),
            "CHECKPRESENT-URL K1 https://h/K1",
        ),
        (Reply::RemoveSuccess("K1".into()), "REMOVE-SUCCESS K1"),
        (
            Reply::RemoveFailure("K1".into(), "denied".into()),
            "REMOVE-FAILURE K1 denied",
        ),
        (Reply::Cost(200), "COST 200"),
        (
            Reply::Availability(Availability::Global),
            "AVAILABILITY GLOBAL",
        ),
        (
            Reply::Availability(Availability::Local),
            "AVAILABILITY LOCAL",
        ),
        (
            Reply::Availability(Availability::Unavailable),
            "AVAILABILITY UNAVAILABLE",
        ),
        (Reply::ClaimUrlSuccess, "CLAIMURL-SUCCESS"),
        (Reply::ClaimUrlFailure, "CLAIMURL-FAILURE"),
        (
            Reply::CheckUrl(CheckUrl::Contents {
                size: Some(1234),
                filename: Some("file name.txt".into()),
            }),
            "CHECKURL-CONTENTS 1234 file name.txt",
        ),
        (
            Reply::CheckUrl(CheckUrl::Contents {
                size: None,
                filename: None,
            }),
            "CHECKURL-CONTENTS UNKNOWN",
        ),
        (
            Reply::CheckUrl(CheckUrl::Multi(vec![
                UrlEntry {
                    url: "s3://b/a".into(),
                    size: Some(1),
                    filename: "a b".into(),
                },
                UrlEntry {
                    url: "s3://b/c d".into(),
                    size: None,
                    filename: "c".into(),
                },
            ])),
            "CHECKURL-MULTI s3://b/a 1 a_b s3://b/c_d UNKNOWN c",
        ),
        (
            Reply::CheckUrl(CheckUrl::Failure("404".into())),
            "CHECKURL-FAILURE 404",
        ),
        (
            Reply::WhereIsSuccess("https://h/b/K1".into()),
            "WHEREIS-SUCCESS https://h/b/K1",
        ),
        (Reply::WhereIsFailure, "WHEREIS-FAILURE"),
        (Reply::ExportSupportedSuccess, "EXPORTSUPPORTED-SUCCESS"),
        (Reply::ExportSupportedFailure, "EXPORTSUPPORTED-FAILURE"),
        (
            Reply::RemoveExportDirectorySuccess,
            "REMOVEEXPORTDIRECTORY-SUCCESS",
        ),
        (
            Reply::RemoveExportDirectoryFailure,
            "REMOVEEXPORTDIRECTORY-FAILURE",
        ),
        (
            Reply::RenameExportSuccess("K1".into()),
            "RENAMEEXPORT-SUCCESS K1",
        ),
        (
            Reply::RenameExportFailure("K1".into()),
            "RENAMEEXPORT-FAILURE K1",
        ),
        (Reply::UnsupportedRequest, "UNSUPPORTED-REQUEST"),
        (Reply::Error("bad line".into()), "ERROR bad line"),
    ];
    for (reply, text) in cases {
        assert_eq!(one(reply.clone()), text, "{reply:?}");
    }
}

#[test]
fn failure_messages_are_one_line_and_never_empty() {
    assert_eq!(
        one(Reply::TransferFailure(
            Direction::Store,
            "K".into(),
            "first\nsecond\r\nthird".into()
        )),
        "TRANSFER-FAILURE STORE K first second  third"
    );
    assert_eq!(
        one(Reply::TransferFailure(
            Direction::Retrieve,
            "K".into(),
            String::new()
        )),
        "TRANSFER-FAILURE RETRIEVE K failed"
    );
    assert_eq!(
        one(Reply::RemoveFailure("K".into(), " \n ".into())),
        "REMOVE-FAILURE K failed"
    );
    assert_eq!(
        one(Reply::PrepareFailure("  padded\t".into())),
        "PREPARE-FAILURE padded"
    );
    assert_eq!(one(Reply::Error("a\nb".into())), "ERROR a b");
}

#[test]
fn keys_and_urls_with_line_breaks_stay_on_one_line() {
    for reply in [
        Reply::TransferSuccess(Direction::Store, "K\nEVIL".into()),
        Reply::CheckPresentSuccess("K\rX".into()),
        Reply::TransferRetrieveUrl("K".into(), "https://h/\nPREPARE-SUCCESS".into()),
        Reply::RenameExportFailure("K\n".into()),
    ] {
        for line in reply.lines() {
            assert!(!line.contains(['\n', '\r']), "{line:?}");
        }
    }
}

#[test]
fn configs_block() {
    assert_eq!(
        Reply::Configs(vec![
            ("bucket".into(), "the bucket name".into()),
            ("odd name".into(), "multi\nline".into()),
        ])
        .lines(),
        vec![
            "CONFIG bucket the bucket name",
            "CONFIG odd_name multi line",
            "CONFIGEND",
        ]
    );
    assert_eq!(Reply::Configs(vec![]).lines(), vec!["CONFIGEND"]);
}

#[test]
fn info_block() {
    assert_eq!(
        Reply::Info(vec![
            ("bucket".into(), "b".into()),
            ("prefix".into(), String::new()),
            ("multi word".into(), "a\nb".into()),
        ])
        .lines(),
        vec![
            "INFOFIELD bucket",
            "INFOVALUE b",
            "INFOFIELD prefix",
            // An empty value stays empty.
            "INFOVALUE ",
            "INFOFIELD multi word",
            "INFOVALUE a b",
            "INFOEND",
        ]
    );
    assert_eq!(Reply::Info(vec![]).lines(), vec!["INFOEND"]);
}

// ----------------------------------------------------------------- queries

#[test]
fn every_query_text() {
    let cases: Vec<(Query, &str, bool)> = vec![
        (Query::Progress(1048576), "PROGRESS 1048576", false),
        (Query::DirHash("K".into()), "DIRHASH K", true),
        (Query::DirHashLower("K".into()), "DIRHASH-LOWER K", true),
        (
            Query::SetConfig("prefix".into(), "a b ".into()),
            "SETCONFIG prefix a b ",
            false,
        ),
        (
            Query::SetConfig("prefix".into(), String::new()),
            "SETCONFIG prefix ",
            false,
        ),
        (Query::GetConfig("bucket".into()), "GETCONFIG bucket", true),
        (
            Query::SetCreds {
                setting: "s3creds".into(),
                user: "AKIA".into(),
                password: " pass word ".into(),
            },
            "SETCREDS s3creds AKIA  pass word ",
            false,
        ),
        (Query::GetCreds("s3creds".into()), "GETCREDS s3creds", true),
        (Query::GetUuid, "GETUUID", true),
        (Query::GetGitDir, "GETGITDIR", true),
        (Query::GetGitRemoteName, "GETGITREMOTENAME", true),
        (
            Query::SetState("K".into(), "state value".into()),
            "SETSTATE K state value",
            false,
        ),
        (
            Query::SetState("K".into(), String::new()),
            "SETSTATE K ",
            false,
        ),
        (Query::GetState("K".into()), "GETSTATE K", true),
        (
            Query::SetUrlPresent("K".into(), "https://h/K".into()),
            "SETURLPRESENT K https://h/K",
            false,
        ),
        (
            Query::SetUrlMissing("K".into(), "https://h/K".into()),
            "SETURLMISSING K https://h/K",
            false,
        ),
        (
            Query::GetUrls("K".into(), "s3:".into()),
            "GETURLS K s3:",
            true,
        ),
        (
            Query::GetUrls("K".into(), String::new()),
            "GETURLS K ",
            true,
        ),
        (Query::Debug("a\nb".into()), "DEBUG a b", false),
        (Query::Debug(String::new()), "DEBUG ", false),
        (Query::Info("copying".into()), "INFO copying", false),
    ];
    for (query, text, answered) in cases {
        assert_eq!(query.line(), text, "{query:?}");
        assert_eq!(query.expects_answer(), answered, "{query:?}");
    }
}

#[test]
fn setcreds_password_is_redacted_in_debug() {
    let q = Query::SetCreds {
        setting: "s3creds".into(),
        user: "AKIAUSER".into(),
        password: "hunter2-secret".into(),
    };
    let shown = format!("{q:?} {q:#?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    // The wire form does carry it: git-annex needs it.
    assert!(q.line().ends_with("hunter2-secret"));
}

// ----------------------------------------------------------------- answers

#[test]
fn value_answers() {
    assert_eq!(
        Answer::parse("VALUE /media/usb drive"),
        Ok(Answer::Value("/media/usb drive".into()))
    );
    assert_eq!(Answer::parse("VALUE "), Ok(Answer::Value(String::new())));
    assert_eq!(Answer::parse("VALUE"), Ok(Answer::Value(String::new())));
    assert_eq!(
        Answer::parse("VALUE  two leading"),
        Ok(Answer::Value(" two leading".into()))
    );
}

#[test]
fn creds_answers() {
    assert_eq!(
        Answer::parse("CREDS user pass word"),
        Ok(Answer::Creds {
            user: "user".into(),
            password: "pass word".into()
        })
    );
    // No creds stored: both empty.
    assert_eq!(
        Answer::parse("CREDS  "),
        Ok(Answer::Creds {
            user: String::new(),
            password: String::new()
        })
    );
    assert_eq!(
        Answer::parse("CREDS"),
        Ok(Answer::Creds {
            user: String::new(),
            password: String::new()
        })
    );
}

#[test]
fn creds_password_is_redacted_in_debug_and_errors() {
    let a = Answer::parse("CREDS AKIAUSER topsecretpw").unwrap();
    let shown = format!("{a:?} {a:#?}");
    assert!(!shown.contains("topsecretpw"), "{shown}");
    assert!(!shown.contains("AKIAUSER"), "{shown}");
    let e = Answer::parse("CREDS AKIAUSER topsecret\0pw").unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("topsecret"), "{shown}");
}

#[test]
fn error_answers() {
    assert_eq!(
        Answer::parse("ERROR git remote name not known"),
        Ok(Answer::Error("git remote name not known".into()))
    );
    assert_eq!(Answer::parse("ERROR"), Ok(Answer::Error(String::new())));
}

#[test]
fn anything_else_is_not_an_answer() {
    for line in [
        "PREPARE",
        "VALUEX",
        "TRANSFER STORE K f",
        "value x",
        " VALUE x",
    ] {
        match Answer::parse(line) {
            Err(ParseError::UnexpectedAnswer { line: l, .. }) => assert_eq!(l, line),
            other => panic!("{line:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Answer::parse("VALUE a\nb"),
        Err(ParseError::ControlCharacter(_))
    ));
}

// ----------------------------------------------------------------- framing

#[test]
fn framed_lines() {
    assert_eq!(
        Framed::parse("J 1 PREPARE"),
        Ok(Framed {
            job: Some(1),
            body: "PREPARE"
        })
    );
    assert_eq!(
        Framed::parse("J 42 TRANSFER STORE K a b"),
        Ok(Framed {
            job: Some(42),
            body: "TRANSFER STORE K a b"
        })
    );
    assert_eq!(
        Framed::parse("J 3 VALUE "),
        Ok(Framed {
            job: Some(3),
            body: "VALUE "
        })
    );
    assert_eq!(
        Framed::parse(&format!("J {} X", u64::MAX)),
        Ok(Framed {
            job: Some(u64::MAX),
            body: "X"
        })
    );
}

#[test]
fn unframed_lines() {
    for line in ["PREPARE", "ERROR x", "J", "JOB 1 PREPARE", "J1 PREPARE", ""] {
        assert_eq!(
            Framed::parse(line),
            Ok(Framed {
                job: None,
                body: line
            }),
            "{line:?}"
        );
    }
}

#[test]
fn bad_job_numbers() {
    for line in [
        "J x PREPARE",
        "J  PREPARE",
        "J 1",
        "J 1 ",
        "J +1 PREPARE",
        "J -1 PREPARE",
        "J 1.5 PREPARE",
        "J 0x1 PREPARE",
        "J 18446744073709551616 PREPARE",
        "J  ",
        "J ",
    ] {
        assert_eq!(
            Framed::parse(line),
            Err(ParseError::BadJob(line.into())),
            "{line:?}"
        );
    }
    let text = Framed::parse("J x PREPARE").unwrap_err().to_string();
    assert!(text.contains("job number"), "{text}");
}

#[test]
fn framing_output() {
    assert_eq!(
        Framed::frame(Some(7), "PREPARE-SUCCESS"),
        "J 7 PREPARE-SUCCESS"
    );
    assert_eq!(Framed::frame(None, "PREPARE-SUCCESS"), "PREPARE-SUCCESS");
}

// -------------------------------------------------------------- properties

/// Keys never contain spaces or line breaks.
fn key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._,+=-]{0,60}"
}

/// Anything git-annex can put on a line as the last parameter: spaces
/// (leading, trailing, repeated), tabs, unicode, but no line breaks or NUL.
fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\n\r\0]{0,40}",
        "[ a-z/.]{0,20}",
        Just(" leading and trailing ".to_string()),
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Store), Just(Direction::Retrieve)]
}

fn extension() -> impl Strategy<Value = Extension> {
    prop_oneof![
        Just(Extension::Info),
        Just(Extension::Async),
        Just(Extension::GetGitRemoteName),
        Just(Extension::UnavailableResponse),
        Just(Extension::TransferRetrieveUrl),
        Just(Extension::CheckpresentUrl),
        "[A-Z][A-Z-]{0,15}".prop_map(|w| Extension::parse(&w)),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        prop::collection::vec(extension(), 0..8).prop_map(Request::Extensions),
        Just(Request::InitRemote),
        Just(Request::Prepare),
        Just(Request::ListConfigs),
        Just(Request::GetCost),
        Just(Request::GetAvailability),
        Just(Request::GetInfo),
        Just(Request::ExportSupported),
        free_text().prop_map(Request::ClaimUrl),
        free_text().prop_map(Request::CheckUrl),
        (direction(), key(), free_text()).prop_map(|(direction, key, file)| Request::Transfer {
            direction,
            key,
            file
        }),
        key().prop_map(Request::CheckPresent),
        key().prop_map(Request::Remove),
        key().prop_map(Request::WhereIs),
        free_text().prop_map(Request::Export),
        (direction(), key(), free_text()).prop_map(|(direction, key, file)| {
            Request::TransferExport {
                direction,
                key,
                file,
            }
        }),
        key().prop_map(Request::CheckPresentExport),
        key().prop_map(Request::RemoveExport),
        free_text().prop_map(Request::RemoveExportDirectory),
        (key(), free_text()).prop_map(|(key, new_name)| Request::RenameExport { key, new_name }),
        Just(Request::ImportSupported),
        Just(Request::ListImportableContents),
        free_text().prop_map(Request::Import),
        free_text().prop_map(Request::RetrieveImport),
        key().prop_map(Request::CheckPresentImport),
        (proptest::option::of(any::<u64>()), "[!-~]{1,30}")
            .prop_map(|(size, content_id)| Request::ImportKey { size, content_id }),
        free_text().prop_map(Request::Error),
        "(GETORDERED|FUTURE-THING)( [a-z ]{0,10})?".prop_map(Request::Unknown),
    ]
}

fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\n\r\0\t a-zA-Z]{0,20}",
        Just(String::new()),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let t = nasty_text;
    prop_oneof![
        any::<u32>().prop_map(Reply::Version),
        prop::collection::vec(extension(), 0..4).prop_map(Reply::Extensions),
        Just(Reply::InitRemoteSuccess),
        t().prop_map(Reply::InitRemoteFailure),
        Just(Reply::PrepareSuccess),
        t().prop_map(Reply::PrepareFailure),
        (direction(), t()).prop_map(|(d, k)| Reply::TransferSuccess(d, k)),
        (direction(), t(), t()).prop_map(|(d, k, m)| Reply::TransferFailure(d, k, m)),
        (t(), t()).prop_map(|(k, u)| Reply::TransferRetrieveUrl(k, u)),
        t().prop_map(Reply::CheckPresentSuccess),
        t().prop_map(Reply::CheckPresentFailure),
        (t(), t()).prop_map(|(k, m)| Reply::CheckPresentUnknown(k, m)),
        (t(), t()).prop_map(|(k, u)| Reply::CheckPresentUrl(k, u)),
        t().prop_map(Reply::RemoveSuccess),
        (any::<u64>(), t(), t()).prop_map(|(size, name, content_id)| Reply::ImportableContent {
            size,
            name,
            content_id
        }),
        t().prop_map(Reply::ListImportableContentsFailure),
        t().prop_map(Reply::RetrieveImportFailure),
        t().prop_map(Reply::ImportKeySuccess),
        t().prop_map(Reply::ImportKeyFailure),
        (t(), t()).prop_map(|(k, m)| Reply::RemoveFailure(k, m)),
        any::<u32>().prop_map(Reply::Cost),
        Just(Reply::ClaimUrlSuccess),
        (any::<Option<u64>>(), prop::option::of(t())).prop_map(|(size, filename)| {
            Reply::CheckUrl(CheckUrl::Contents { size, filename })
        }),
        prop::collection::vec((t(), any::<Option<u64>>(), t()), 0..3).prop_map(|v| {
            Reply::CheckUrl(CheckUrl::Multi(
                v.into_iter()
                    .map(|(url, size, filename)| UrlEntry {
                        url,
                        size,
                        filename,
                    })
                    .collect(),
            ))
        }),
        t().prop_map(|m| Reply::CheckUrl(CheckUrl::Failure(m))),
        t().prop_map(Reply::WhereIsSuccess),
        prop::collection::vec((t(), t()), 0..3).prop_map(Reply::Info),
        prop::collection::vec((t(), t()), 0..3).prop_map(Reply::Configs),
        t().prop_map(Reply::RenameExportSuccess),
        t().prop_map(Reply::RenameExportFailure),
        t().prop_map(Reply::Error),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    let t = nasty_text;
    prop_oneof![
        any::<u64>().prop_map(Query::Progress),
        t().prop_map(Query::DirHash),
        t().prop_map(Query::DirHashLower),
        (t(), t()).prop_map(|(n, v)| Query::SetConfig(n, v)),
        t().prop_map(Query::GetConfig),
        (t(), t(), t()).prop_map(|(setting, user, password)| Query::SetCreds {
            setting,
            user,
            password
        }),
        t().prop_map(Query::GetCreds),
        Just(Query::GetUuid),
        (t(), t()).prop_map(|(k, v)| Query::SetState(k, v)),
        t().prop_map(Query::GetState),
        (t(), t()).prop_map(|(k, u)| Query::SetUrlPresent(k, u)),
        (t(), t()).prop_map(|(k, u)| Query::SetUrlMissing(k, u)),
        (t(), t()).prop_map(|(k, p)| Query::GetUrls(k, p)),
        t().prop_map(Query::Debug),
        t().prop_map(Query::Info),
    ]
}

/// Strings made of protocol words, so the parsers' deeper branches run.
fn protocol_ish() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("J".to_string()),
        Just("1".to_string()),
        Just("TRANSFER".to_string()),
        Just("TRANSFEREXPORT".to_string()),
        Just("STORE".to_string()),
        Just("RETRIEVE".to_string()),
        Just("RENAMEEXPORT".to_string()),
        Just("EXTENSIONS".to_string()),
        Just("PREPARE".to_string()),
        Just("CHECKPRESENT".to_string()),
        Just("VALUE".to_string()),
        Just("CREDS".to_string()),
        Just("ERROR".to_string()),
        Just(String::new()),
        "[^ ]{0,6}",
    ];
    prop::collection::vec(word, 0..7).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(line in prop_oneof![any::<String>(), protocol_ish()]) {
        let _ = Request::parse(&line);
        let _ = Answer::parse(&line);
        if let Ok(framed) = Framed::parse(&line) {
            let _ = Request::parse(framed.body);
            let _ = Answer::parse(framed.body);
        }
    }

    #[test]
    fn parse_errors_are_one_line(line in prop_oneof![any::<String>(), protocol_ish()]) {
        for e in [Request::parse(&line).err(), Answer::parse(&line).err(), Framed::parse(&line).err()]
            .into_iter()
            .flatten()
        {
            let text = e.to_string();
            prop_assert!(!text.contains(['\n', '\r']), "{:?}", text);
        }
    }

    #[test]
    fn parsed_requests_print_back_to_the_same_request(
        line in prop_oneof![any::<String>(), protocol_ish()],
    ) {
        if let Ok(request) = Request::parse(&line) {
            prop_assert_eq!(Request::parse(&request.line()), Ok(request));
        }
    }

    #[test]
    fn requests_round_trip(request in request()) {
        let line = request.line();
        prop_assert!(!line.contains(['\n', '\r']));
        prop_assert_eq!(Request::parse(&line), Ok(request));
    }

    #[test]
    fn transfer_file_names_with_spaces_survive(
        key in key(),
        parts in prop::collection::vec("[^\n\r\0 ]{0,8}", 1..6),
    ) {
        let file = parts.join(" ");
        let line = format!("TRANSFER RETRIEVE {key} {file}");
        prop_assert_eq!(
            Request::parse(&line),
            Ok(Request::Transfer { direction: Direction::Retrieve, key, file })
        );
    }

    #[test]
    fn framing_round_trips(job in any::<u64>(), request in request()) {
        let body = request.line();
        let line = Framed::frame(Some(job), &body);
        let framed = Framed::parse(&line).unwrap();
        prop_assert_eq!(framed, Framed { job: Some(job), body: &body });
        prop_assert_eq!(Request::parse(framed.body), Ok(request));
    }

    #[test]
    fn unframed_round_trips(body in "[^\n\r\0]{1,40}") {
        prop_assume!(!body.starts_with("J "));
        let line = Framed::frame(None, &body);
        prop_assert_eq!(Framed::parse(&line), Ok(Framed { job: None, body: &body }));
    }

    #[test]
    fn value_answers_round_trip(value in "[^\n\r\0]{0,40}") {
        prop_assert_eq!(Answer::parse(&format!("VALUE {value}")), Ok(Answer::Value(value)));
    }

    #[test]
    fn creds_answers_round_trip(user in "[^\n\r\0 ]{0,12}", password in "[^\n\r\0]{0,20}") {
        prop_assert_eq!(
            Answer::parse(&format!("CREDS {user} {password}")),
            Ok(Answer::Creds { user, password })
        );
    }

    #[test]
    fn reply_lines_never_break(reply in reply()) {
        let lines = reply.lines();
        prop_assert!(!lines.is_empty());
        for line in &lines {
            prop_assert!(!line.contains(['\n', '\r']), "{:?}", line);
            prop_assert!(!line.is_empty());
        }
        match &reply {
            Reply::Info(fields) => prop_assert_eq!(lines.len(), fields.len() * 2 + 1),
            Reply::Configs(configs) => prop_assert_eq!(lines.len(), configs.len() + 1),
            Reply::ImportableContent { .. } => prop_assert_eq!(lines.len(), 2),
            _ => prop_assert_eq!(lines.len(), 1),
        }
    }

    #[test]
    fn query_lines_never_break(query in query(), job in any::<Option<u64>>()) {
        let line = Framed::frame(job, &query.line());
        prop_assert!(!line.contains(['\n', '\r']), "{:?}", line);
    }

    #[test]
    fn failure_replies_keep_key_and_direction(
        direction in direction(),
        key in key(),
        message in nasty_text(),
    ) {
        let line = one(Reply::TransferFailure(direction, key.clone(), message));
        let prefix = format!("TRANSFER-FAILURE {} {key} ", direction.as_str());
        prop_assert!(line.starts_with(&prefix), "{:?}", line);
        prop_assert!(line.len() > prefix.len(), "{:?}", line);
    }
}

#[test]
fn creds_lines_never_show_in_parse_errors() {
    let secret = "s3cr3t-password";
    let lines = [
        format!("CREDS user {secret}\0"),
        format!("CREDS user {secret}\rx"),
        format!("J 1 CREDS user {secret}\0"),
    ];
    for line in &lines {
        for message in [
            Request::parse(line).map(|_| ()).unwrap_err().to_string(),
            Answer::parse(line).map(|_| ()).unwrap_err().to_string(),
        ] {
            assert!(message.contains("CREDS <redacted>"), "{message}");
            assert!(!message.contains(secret), "{message}");
        }
    }
    for line in [
        format!("J x CREDS user {secret}"),
        format!("J 99999999999999999999999 CREDS u {secret}"),
    ] {
        let message = Framed::parse(&line).unwrap_err().to_string();
        assert!(message.contains("CREDS <redacted>"), "{message}");
        assert!(!message.contains(secret), "{message}");
    }
    assert_eq!(shown_line("TRANSFER STORE K f"), "TRANSFER STORE K f");
    assert_eq!(shown_line("J 3 CREDS a b"), "J 3 CREDS <redacted>");
}
