//! Feeds arbitrary bytes to every parser of the protocol and prints what
//! parsed, checking on the way:
//! - nothing panics (`Request`, `Answer`, `Framed` parsers);
//! - a parsed request prints back to a line that parses to the same request;
//! - framing round-trips;
//! - every reply or query built from the parsed fields prints as lines
//!   without '\n' or '\r', whatever those fields hold.

#![no_main]

use annexa::protocol::{Answer, CheckUrl, Direction, Framed, Query, Reply, Request};
use libfuzzer_sys::fuzz_target;

fn assert_one_line(line: &str) {
    assert!(!line.contains(['\n', '\r']), "line break in {line:?}");
}

fn print_replies(a: &str, b: &str) {
    let replies = [
        Reply::TransferSuccess(Direction::Store, a.to_string()),
        Reply::TransferFailure(Direction::Retrieve, a.to_string(), b.to_string()),
        Reply::TransferRetrieveUrl(a.to_string(), b.to_string()),
        Reply::CheckPresentFailure(a.to_string()),
        Reply::CheckPresentUnknown(a.to_string(), b.to_string()),
        Reply::RemoveFailure(a.to_string(), b.to_string()),
        Reply::PrepareFailure(b.to_string()),
        Reply::WhereIsSuccess(b.to_string()),
        Reply::CheckUrl(CheckUrl::Contents {
            size: Some(a.len() as u64),
            filename: Some(b.to_string()),
        }),
        Reply::CheckUrl(CheckUrl::Failure(b.to_string())),
        Reply::Info(vec![(a.to_string(), b.to_string())]),
        Reply::Configs(vec![(a.to_string(), b.to_string())]),
        Reply::RenameExportFailure(a.to_string()),
        Reply::Error(b.to_string()),
    ];
    for reply in &replies {
        for line in reply.lines() {
            assert_one_line(&line);
            assert_one_line(&Framed::frame(Some(1), &line));
        }
    }
    let queries = [
        Query::SetConfig(a.to_string(), b.to_string()),
        Query::GetConfig(a.to_string()),
        Query::SetCreds {
            setting: a.to_string(),
            user: a.to_string(),
            password: b.to_string(),
        },
        Query::SetState(a.to_string(), b.to_string()),
        Query::GetUrls(a.to_string(), b.to_string()),
        Query::Debug(b.to_string()),
        Query::Info(b.to_string()),
    ];
    for query in &queries {
        assert_one_line(&query.line());
    }
}

fn check_request(line: &str) {
    let Ok(request) = Request::parse(line) else {
        return;
    };
    let printed = request.line();
    assert_eq!(
        Request::parse(&printed).as_ref(),
        Ok(&request),
        "{line:?} -> {request:?} -> {printed:?}"
    );
    match &request {
        Request::Transfer { key, file, .. } | Request::TransferExport { key, file, .. } => {
            print_replies(key, file)
        }
        Request::RenameExport { key, new_name } => print_replies(key, new_name),
        Request::Export(text) | Request::ClaimUrl(text) | Request::CheckUrl(text) => {
            print_replies(text, text)
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Raw fields straight from the input, line breaks and all.
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle -= 1;
    }
    let (a, b) = text.split_at(middle);
    print_replies(a, b);
    for line in text.split('\n') {
        check_request(line);
        if let Ok(answer) = Answer::parse(line) {
            let _ = format!("{answer:?}");
        }
        if let Ok(framed) = Framed::parse(line) {
            let again = Framed::frame(framed.job, framed.body);
            assert_eq!(Framed::parse(&again), Ok(framed), "{line:?}");
            check_request(framed.body);
            let _ = Answer::parse(framed.body);
        }
    }
});
