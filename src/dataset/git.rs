//! Running `git` and `git annex`, reading blobs in bulk, and the small
//! helpers `git fast-import` streams need.

use super::DatasetError;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// `git -C repo ...`, never prompting for credentials (a hung prompt in a
/// batch tool is worse than a clear failure).
pub fn git(repo: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(repo).env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// Runs a command to completion, returning stdout; stderr becomes the error.
pub fn run(cmd: &mut Command) -> Result<Vec<u8>, DatasetError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    if !output.status.success() {
        return Err(DatasetError::Command {
            command: describe(cmd),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output.stdout)
}

pub fn spawn_error(cmd: &Command, e: std::io::Error) -> DatasetError {
    DatasetError::Spawn {
        program: cmd.get_program().to_string_lossy().into_owned(),
        source: e,
    }
}

/// A short printable form of a command, without the `-C repo` noise.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    let mut skip = false;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if skip {
            skip = false;
            continue;
        }
        if arg == "-C" {
            skip = true;
            continue;
        }
        words.push(arg.into_owned());
    }
    words.join(" ")
}

/// Reads many blobs through one `git cat-file --batch`, calling `each` with
/// the id and content of every blob in request order; a missing one is an
/// error.
pub fn cat_blobs(
    repo: &Path,
    oids: &[String],
    mut each: impl FnMut(&str, &[u8]) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    cat_objects(repo, oids, |oid, content| match content {
        Some(bytes) => each(oid, bytes),
        None => Err(DatasetError::Parse(format!("cat-file: {oid} missing"))),
    })
}

/// Reads many objects (ids or `REV:PATH` names) through one
/// `git cat-file --batch`, calling `each` with the name and content of
/// every one in request order; `None` for one that does not exist.
pub fn cat_objects(
    repo: &Path,
    oids: &[String],
    mut each: impl FnMut(&str, Option<&[u8]>) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    if oids.is_empty() {
        return Ok(());
    }
    let mut cmd = git(repo);
    cmd.args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(&cmd, e))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let request: String = oids.iter().map(|o| format!("{o}\n")).collect();
    // Write from a thread: git answers while we are still asking.
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut header = String::new();
    let mut content = Vec::new();
    let mut result = Ok(());
    for oid in oids {
        header.clear();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            result = Err(DatasetError::Parse(format!(
                "cat-file ended early at {oid}"
            )));
            break;
        }
        let fields: Vec<&str> = header.split_whitespace().collect();
        let size: usize = match fields.as_slice() {
            [_, _, size] => match size.parse() {
                Ok(size) => size,
                Err(_) => {
                    result = Err(DatasetError::Parse(header.clone()));
                    break;
                }
            },
            [_, "missing"] => {
                if let Err(e) = each(oid, None) {
                    result = Err(e);
                    break;
                }
                continue;
            }
            _ => {
                result = Err(DatasetError::Parse(format!("cat-file: {}", header.trim())));
                break;
            }
        };
        content.resize(size + 1, 0); // content plus the newline git adds
        if let Err(e) = reader.read_exact(&mut content) {
            result = Err(DatasetError::Parse(format!("cat-file: {e}")));
            break;
        }
        if let Err(e) = each(oid, Some(&content[..size])) {
            result = Err(e);
            break;
        }
    }
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
    result
}

/// Reads small blobs into memory (symlink targets, pointer files).
pub fn read_small_blobs(
    repo: &Path,
    oids: &[String],
) -> Result<HashMap<String, Vec<u8>>, DatasetError> {
    let mut map = HashMap::with_capacity(oids.len());
    cat_blobs(repo, oids, |oid, bytes| {
        map.insert(oid.to_string(), bytes.to_vec());
        Ok(())
    })?;
    Ok(map)
}

/// Runs `cmd` with `input` on stdin; stderr becomes the error.
pub fn feed(cmd: &mut Command, input: &[u8]) -> Result<Vec<u8>, DatasetError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(cmd, e))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // Written from a thread: the command answers while it still reads.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| spawn_error(cmd, e))?;
    let written = writer.join();
    if !output.status.success() {
        return Err(DatasetError::Command {
            command: describe(cmd),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    if let Ok(Err(e)) = written {
        return Err(DatasetError::io(describe(cmd), e));
    }
    Ok(output.stdout)
}

/// The object `name` names in `repo`; `None` when it names none.
pub fn rev_parse(repo: &Path, name: &str) -> Option<String> {
    run(git(repo).args(["rev-parse", "--verify", "--quiet", name]))
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `Name <email> time zone` for fast-import, as git would commit.
pub fn committer_ident(dir: &Path) -> String {
    run(git(dir).args(["var", "GIT_COMMITTER_IDENT"]))
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .unwrap_or_else(|_| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("annexa <annexa@localhost> {now} +0000")
        })
}

/// A path as fast-import reads it: C-style quoted.
pub fn quote_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_fast_import() {
        assert_eq!(quote_path("a b/c"), "\"a b/c\"");
        assert_eq!(quote_path("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(quote_path("t\tü"), "\"t\\011ü\"");
    }
}
