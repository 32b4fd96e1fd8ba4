//! The disk spool: encoded batches that could not be sent, replayed oldest first.
//!
//! Each batch is one file `<unix-ns>-<pid>-<seq>.batch` (written under a temporary name and
//! renamed, so a reader never sees half a file) with a one-line header `MOAT1 <format> <rows>`.
//! Several processes (nginx workers, old and new after a reload) share a directory: a replayer
//! claims a file with `flock`, and a file found unlinked after its lock was taken is skipped,
//! so each batch is sent by one process only. The directory's total size is capped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::events::encode::Format;

const SUFFIX: &str = ".batch";

/// A spool directory with a size cap.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seq: u64,
}

/// A batch read back from the spool and locked for this process until dropped.
#[derive(Debug)]
pub struct Claimed {
    _lock: File,
    path: PathBuf,
    /// The rows' format.
    pub format: Format,
    /// Number of rows.
    pub rows: u64,
    /// The encoded rows.
    pub body: Vec<u8>,
}

impl Claimed {
    /// Removes the batch from the spool (it was delivered).
    pub fn remove(self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }

    /// Moves an unreadable or rejected batch aside (`.rejected`), out of the replay order.
    pub fn reject(self) -> io::Result<()> {
        fs::rename(&self.path, self.path.with_extension("rejected"))
    }
}

/// Result of [`Spool::write`].
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The batch is on disk.
    Stored,
    /// The spool is at its size cap; the batch was not written.
    Full,
}

impl Spool {
    /// Opens (creating it if needed) a spool directory capped at `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            seq: 0,
        })
    }

    /// The spooled batch files, oldest first.
    fn batches(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_str().is_some_and(|s| s.ends_with(SUFFIX)))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Total bytes of spooled batches.
    pub fn size(&self) -> u64 {
        self.batches()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// True when batches wait for replay.
    pub fn has_batches(&self) -> bool {
        self.batches().is_ok_and(|b| !b.is_empty())
    }

    /// Stores a batch, unless that would take the spool over its cap.
    pub fn write(&mut self, format: Format, rows: u64, body: &[u8]) -> io::Result<Written> {
        let header = format!("MOAT1 {} {rows}\n", format.name());
        let len = (header.len() + body.len()) as u64;
        if self.size() + len > self.max_bytes {
            return Ok(Written::Full);
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.seq += 1;
        let name = format!("{nanos:020}-{:010}-{:010}", std::process::id(), self.seq);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(header.as_bytes())?;
        f.write_all(body)?;
        f.sync_data()?;
        fs::rename(&tmp, self.dir.join(format!("{name}{SUFFIX}")))?;
        Ok(Written::Stored)
    }

    /// Claims the oldest batch no other process holds. A file that cannot be parsed is moved
    /// aside and the next one is tried.
    pub fn claim_oldest(&self) -> io::Result<Option<Claimed>> {
        for path in self.batches()? {
            let Ok(mut file) = OpenOptions::new().read(true).open(&path) else {
                continue;
            };
            // SAFETY: flock on a descriptor this function owns; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                continue;
            }
            if file.metadata()?.nlink() == 0 {
                continue;
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            match parse(&bytes) {
                Some((format, rows, start)) => {
                    bytes.drain(..start);
                    return Ok(Some(Claimed {
                        _lock: file,
                        path,
                        format,
                        rows,
                        body: bytes,
                    }));
                }
                None => {
                    let _ = fs::rename(&path, path.with_extension("rejected"));
                }
            }
        }
        Ok(None)
    }
}

use std::os::unix::fs::MetadataExt as _;

fn parse(bytes: &[u8]) -> Option<(Format, u64, usize)> {
    let end = memchr::memchr(b'\n', bytes)?;
    let header = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut words = header.split(' ');
    if words.next()? != "MOAT1" {
        return None;
    }
    let format = Format::parse(words.next()?).ok()?;
    let rows = words.next()?.parse().ok()?;
    Some((format, rows, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("moat-spool-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_come_back_in_order_and_once() {
        let dir = temp("order");
        let mut spool = Spool::open(&dir, 1 << 20).unwrap();
        for i in 0..3u8 {
            assert_eq!(
                spool
                    .write(Format::RowBinary, u64::from(i) + 1, &[i; 10])
                    .unwrap(),
                Written::Stored
            );
        }
        let first = spool.claim_oldest().unwrap().unwrap();
        assert_eq!((first.rows, first.body.clone()), (1, vec![0; 10]));
        let other = Spool::open(&dir, 1 << 20).unwrap();
        let second = other.claim_oldest().unwrap().unwrap();
        assert_eq!(second.rows, 2, "a claimed batch is skipped by others");
        first.remove().unwrap();
        drop(second);
        let again = spool.claim_oldest().unwrap().unwrap();
        assert_eq!(again.rows, 2);
        again.remove().unwrap();
        let last = spool.claim_oldest().unwrap().unwrap();
        assert_eq!((last.format, last.rows), (Format::RowBinary, 3));
        last.remove().unwrap();
        assert!(spool.claim_oldest().unwrap().is_none());
        assert!(!spool.has_batches());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cap_refuses_new_batches() {
        let dir = temp("cap");
        let mut spool = Spool::open(&dir, 100).unwrap();
        assert_eq!(
            spool.write(Format::JsonEachRow, 1, &[b'x'; 60]).unwrap(),
            Written::Stored
        );
        assert_eq!(
            spool.write(Format::JsonEachRow, 1, &[b'x'; 60]).unwrap(),
            Written::Full
        );
        assert!(spool.size() <= 100);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_files_are_moved_aside() {
        let dir = temp("garbage");
        let mut spool = Spool::open(&dir, 1 << 20).unwrap();
        fs::write(dir.join("00000000000000000001-1-1.batch"), b"junk").unwrap();
        spool.write(Format::RowBinary, 7, b"ok").unwrap();
        let c = spool.claim_oldest().unwrap().unwrap();
        assert_eq!(c.rows, 7);
        assert!(dir.join("00000000000000000001-1-1.rejected").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
