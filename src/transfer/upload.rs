//! Upload bodies streamed from files, with progress.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;

use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Receives the absolute byte count of the current transfer.
pub type ProgressFn = dyn Fn(u64) + Send + Sync;

const READ_CHUNK: usize = 256 * 1024;

/// A request body that streams `len` bytes of `path` starting at `start`.
/// `progress` receives `base + bytes sent so far`, so parts of a multipart
/// upload can report progress of the whole file.
pub async fn file_body(
    path: &Path,
    start: u64,
    len: u64,
    base: u64,
    progress: Arc<ProgressFn>,
) -> std::io::Result<reqwest::Body> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    let mut sent = base;
    let stream = ReaderStream::with_capacity(file.take(len), READ_CHUNK).inspect_ok(move |chunk| {
        sent += chunk.len() as u64;
        progress(sent);
    });
    Ok(reqwest::Body::wrap_stream(stream))
}
