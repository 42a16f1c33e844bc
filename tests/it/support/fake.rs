//! The one harness for the fake services of `tests/fakes/`: each is a
//! Python script started with `--port 0 --data-dir DIR ARGS...` that prints
//! `READY PORT [PORT...]` once it listens; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct FakeProcess {
    child: Child,
    /// The ports its `READY` line named, in order.
    pub ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl FakeProcess {
    pub fn start(script: &str, args: &[&str]) -> FakeProcess {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fakes")
            .join(script);
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(path)
            .args(["--port", "0"])
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 runs tests/fakes/{script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.first(), Some(&"READY"), "{script} said {line:?}");
        FakeProcess {
            child,
            ports: words[1..].iter().map(|w| w.parse().unwrap()).collect(),
            _dir: dir,
        }
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
