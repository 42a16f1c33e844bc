//! ZIP content kept whole: Dataverse unpacks every ZIP upload into its
//! members (IngestServiceBean, one level deep), so content that is itself a
//! ZIP (a `.zip`, `.docx`, `.jar`...) is sent inside an outer ZIP of one
//! stored (uncompressed) entry, which Dataverse unpacks back to the
//! original bytes under the entry's name.

use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// How every ZIP file starts (a local file header).
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// The largest content a ZIP without ZIP64 records can hold.
const MAX: u64 = 0xFFFF_FFFE;

/// Whether Dataverse would unpack `src`: it starts like a ZIP, or its
/// name says it is one.
pub fn needs_wrapping(src: &Path, label: &str) -> io::Result<bool> {
    if label.to_ascii_lowercase().ends_with(".zip") {
        return Ok(true);
    }
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(src)?;
    let mut got = 0;
    while got < head.len() {
        let n = file.read(&mut head[got..])?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(head == ZIP_MAGIC)
}

/// Writes into `out` a ZIP holding `src` as one stored entry `name`.
/// `Ok(false)` if `src` is too large for a plain ZIP (4 GiB).
pub fn wrap(src: &Path, name: &str, out: &mut std::fs::File) -> io::Result<bool> {
    let size = std::fs::metadata(src)?.len();
    if size > MAX {
        return Ok(false);
    }
    let mut crc = Crc32::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut file = std::fs::File::open(src)?;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
    }
    let crc = crc.finish();
    let size32 = size as u32;
    let name = name.as_bytes();
    let name_len = u16::try_from(name.len()).map_err(io::Error::other)?;
    // General purpose flag 11: the name is UTF-8. Date 1980-01-01.
    let (flags, date): (u16, u16) = (0x0800, 0x0021);
    let mut w = io::BufWriter::new(out);
    let local = {
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&10u16.to_le_bytes());
        h.extend_from_slice(&flags.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&date.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&size32.to_le_bytes());
        h.extend_from_slice(&size32.to_le_bytes());
        h.extend_from_slice(&name_len.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name);
        h
    };
    w.write_all(&local)?;
    file.seek(io::SeekFrom::Start(0))?;
    let copied = io::copy(&mut file.take(size), &mut w)?;
    if copied != size {
        return Err(io::Error::other("the file changed while it was read"));
    }
    let central_offset = local.len() as u64 + size;
    let mut c = Vec::with_capacity(46 + name.len());
    c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    c.extend_from_slice(&20u16.to_le_bytes()); // made by
    c.extend_from_slice(&10u16.to_le_bytes()); // needed
    c.extend_from_slice(&flags.to_le_bytes());
    c.extend_from_slice(&0u16.to_le_bytes());
    c.extend_from_slice(&0u16.to_le_bytes());
    c.extend_from_slice(&date.to_le_bytes());
    c.extend_from_slice(&crc.to_le_bytes());
    c.extend_from_slice(&size32.to_le_bytes());
    c.extend_from_slice(&size32.to_le_bytes());
    c.extend_from_slice(&name_len.to_le_bytes());
    c.extend_from_slice(&[0u8; 8]); // extra, comment, disk, internal attributes
    c.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    c.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
    c.extend_from_slice(name);
    let central_offset = u32::try_from(central_offset).map_err(io::Error::other)?;
    let mut end = Vec::with_capacity(22);
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&[0u8; 4]); // disk numbers
    end.extend_from_slice(&1u16.to_le_bytes());
    end.extend_from_slice(&1u16.to_le_bytes());
    end.extend_from_slice(&(c.len() as u32).to_le_bytes());
    end.extend_from_slice(&central_offset.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    w.write_all(&c)?;
    w.write_all(&end)?;
    w.flush()?;
    Ok(true)
}

/// CRC-32 (IEEE), as ZIP records it.
#[derive(Default)]
struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    fn update(&mut self, data: &[u8]) {
        let mut c = !self.0;
        for &b in data {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = !c;
    }

    fn finish(&self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_ieee() {
        let mut c = Crc32::default();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }

    #[test]
    fn wrapped_content_is_one_stored_entry() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        let mut data = ZIP_MAGIC.to_vec();
        data.extend((0..5000u32).map(|i| (i * 7) as u8));
        std::fs::write(&src, &data).unwrap();
        assert!(needs_wrapping(&src, "x.bin").unwrap());
        assert!(needs_wrapping(&dir.path().join("in"), "y.ZIP").unwrap());
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"PK").unwrap();
        assert!(!needs_wrapping(&plain, "p.txt").unwrap());
        let out = dir.path().join("out.zip");
        let mut f = std::fs::File::create(&out).unwrap();
        assert!(wrap(&src, "näme.bin", &mut f).unwrap());
        drop(f);
        let zip = std::fs::read(&out).unwrap();
        assert_eq!(&zip[..4], &ZIP_MAGIC);
        let name = "näme.bin".as_bytes();
        let start = 30 + name.len();
        assert_eq!(&zip[30..start], name);
        assert_eq!(&zip[start..start + data.len()], &data[..]);
        assert_eq!(zip.len(), start + data.len() + 46 + name.len() + 22);
    }
}
