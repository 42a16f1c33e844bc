//! What a provider whose service names files by id (Dataverse, Figshare)
//! remembers of a stored key in git-annex's per-key state (SETSTATE), so
//! that a retrieval needs no listing:
//! `TAG id=<id> size=<bytes> <algorithm>=<hex>`.

use super::{Annex, Result};
use crate::key::Key;
use crate::transfer::{Algorithm, Expected};

/// A stored key's file: its id at the service, and what its content is
/// known to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub id: u64,
    pub size: Option<u64>,
    pub checksum: Option<Expected>,
}

/// A provider's states, by their first word (`dv1`, `fs1`): a state of
/// another provider, or of another format, reads as none.
#[derive(Debug, Clone, Copy)]
pub struct StateFormat(pub &'static str);

impl StateFormat {
    pub fn render(self, state: &FileState) -> String {
        let mut text = format!("{} id={}", self.0, state.id);
        if let Some(size) = state.size {
            text.push_str(&format!(" size={size}"));
        }
        if let Some(c) = &state.checksum {
            // Lower case, as every annexa so far reads it (`md5=`).
            let name = c.algorithm.to_string().to_ascii_lowercase();
            text.push_str(&format!(" {name}={}", c.hex));
        }
        text
    }

    /// What is remembered for `key`, if it is a state of this format.
    pub async fn read(self, annex: &dyn Annex, key: &Key) -> Result<Option<FileState>> {
        Ok(annex
            .get_state(key.as_str())
            .await?
            .and_then(|text| self.parse(&text)))
    }

    /// Remembers `state` for `key`.
    pub async fn write(self, annex: &dyn Annex, key: &Key, state: &FileState) -> Result<()> {
        Ok(annex.set_state(key.as_str(), &self.render(state)).await?)
    }

    /// Forgets what [`Self::read`] found for `key` (`read`): nothing is
    /// written when nothing was remembered.
    pub async fn forget(
        self,
        annex: &dyn Annex,
        key: &Key,
        read: &Option<FileState>,
    ) -> Result<()> {
        if read.is_some() {
            annex.set_state(key.as_str(), "").await?;
        }
        Ok(())
    }

    /// `None` for another format, a word that is no `name=value`, or a
    /// state without an id.
    pub fn parse(self, text: &str) -> Option<FileState> {
        let mut words = text.split_whitespace();
        if words.next()? != self.0 {
            return None;
        }
        let (mut id, mut size, mut checksum) = (None, None, None);
        for word in words {
            let (name, value) = word.split_once('=')?;
            match name {
                "id" => id = value.parse().ok(),
                "size" => size = value.parse().ok(),
                _ if value.is_empty() => {}
                other => {
                    checksum = Algorithm::from_name(other)
                        .map(|a| Expected::new(a, value))
                        .or(checksum)
                }
            }
        }
        Some(FileState {
            id: id?,
            size,
            checksum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: StateFormat = StateFormat("fs1");

    #[test]
    fn states_round_trip_and_read_what_was_written_before() {
        let s = FileState {
            id: 42,
            size: Some(10),
            checksum: Some(Expected::new(Algorithm::Sha256, "AB01")),
        };
        assert_eq!(FORMAT.render(&s), "fs1 id=42 size=10 sha-256=ab01");
        assert_eq!(FORMAT.parse(&FORMAT.render(&s)), Some(s));
        // As Figshare's and Dataverse's providers wrote them.
        let old = FORMAT.parse("fs1 id=1 size=2 md5=AB").unwrap();
        assert_eq!(old.checksum, Some(Expected::new(Algorithm::Md5, "ab")));
        let dv = StateFormat("dv1").parse("dv1 id=7 SHA-256=ab").unwrap();
        assert_eq!((dv.id, dv.size), (7, None));
        assert_eq!(dv.checksum.unwrap().algorithm, Algorithm::Sha256);
        assert_eq!(FORMAT.parse("fs1 id=3 md5=").unwrap().checksum, None);
    }

    #[test]
    fn other_states_read_as_none() {
        assert_eq!(FORMAT.parse(""), None);
        assert_eq!(FORMAT.parse("fs1 size=3"), None);
        assert_eq!(FORMAT.parse("dv1 id=7 size=1 md5=aa"), None);
        assert_eq!(FORMAT.parse("fs1 id=7 junk"), None);
    }
}
