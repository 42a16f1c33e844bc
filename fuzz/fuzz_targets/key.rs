//! git-annex keys (`annexa::key::Key`) from arbitrary text:
//! - parsing never panics, nor does anything asked of a parsed key;
//! - a parsed key prints back to exactly the text it came from;
//! - a chunk's size never exceeds the chunk size or the whole size;
//! - a checksum is only offered for a hex name of a hashing backend.

#![no_main]

use annexa::key::{content_size, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Key::is_path_safe(&text);
    let Ok(key) = Key::parse(&text) else {
        assert_eq!(content_size(&text), None);
        return;
    };
    assert_eq!(key.to_string(), text, "printing a key changed it");
    assert_eq!(Key::parse(&key.to_string()).as_ref(), Ok(&key));
    assert!(!key.backend().is_empty());
    let size = key.content_size();
    assert_eq!(content_size(&text), size);
    if key.is_chunk() {
        if let (Some(part), Some(chunk)) = (size, key.chunk_size()) {
            assert!(
                part <= chunk,
                "{text}: chunk of {part} > chunk size {chunk}"
            );
        }
        if let (Some(part), Some(whole)) = (size, key.size()) {
            assert!(part <= whole, "{text}: chunk of {part} > whole {whole}");
        }
    } else {
        assert_eq!(size, key.size());
    }
    if let Some(ext) = key.extension() {
        assert!(
            ext.starts_with('.') && key.name().ends_with(ext),
            "{text}: {ext}"
        );
    }
    if let Some(expected) = key.checksum() {
        assert!(!expected.hex.is_empty());
        assert!(
            expected.hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{text}"
        );
        // Expected keeps the hex in lower case; keys may carry either.
        let hex_in_name = key.name().get(..expected.hex.len()).unwrap_or("");
        assert!(hex_in_name.eq_ignore_ascii_case(&expected.hex), "{text}");
    }
    let _ = (key.mtime(), key.chunk_number());
});
