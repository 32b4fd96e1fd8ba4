//! Assembles the body bytes to inspect from the request's body parts, reading at most the
//! inspection limit. A single in-memory part within the limit is borrowed, not copied.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::request::{BodyPart, Request};

/// The body as inspected.
#[derive(Debug)]
pub struct LoadedBody<'a> {
    /// The first `limit` bytes of the body (all of it when it fits).
    pub bytes: Cow<'a, [u8]>,
    /// The full body length.
    pub total_len: u64,
}

impl LoadedBody<'_> {
    /// True when the body was longer than what was loaded.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.total_len
    }
}

/// Loads up to `limit` bytes of the request body.
pub fn load<'a>(req: &Request<'a>, limit: u64) -> io::Result<LoadedBody<'a>> {
    let total_len = req.body_len();
    if let [BodyPart::Memory(b)] = req.body[..] {
        let n = (b.len() as u64).min(limit) as usize;
        return Ok(LoadedBody {
            bytes: Cow::Borrowed(&b[..n]),
            total_len,
        });
    }
    let want = total_len.min(limit) as usize;
    let mut out = Vec::with_capacity(want);
    for part in &req.body {
        let room = want - out.len();
        if room == 0 {
            break;
        }
        match *part {
            BodyPart::Memory(b) => out.extend_from_slice(&b[..b.len().min(room)]),
            BodyPart::Fd { fd, offset, len } => {
                let file = File::from(fd.try_clone_to_owned()?);
                read_range(&file, offset, len.min(room as u64) as usize, &mut out)?;
            }
            BodyPart::Path { path, offset, len } => {
                let file = File::open(path)?;
                read_range(&file, offset, len.min(room as u64) as usize, &mut out)?;
            }
        }
    }
    Ok(LoadedBody {
        bytes: Cow::Owned(out),
        total_len,
    })
}

fn read_range(file: &File, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.resize(start + len, 0);
    let mut done = 0;
    while done < len {
        let n = file.read_at(&mut out[start + done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    out.truncate(start + done);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn joins_memory_and_file_parts_up_to_the_limit() {
        let dir = std::env::temp_dir().join(format!("moat-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("body");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"XXhello file").unwrap();
        let f = File::open(&path).unwrap();
        let req = Request {
            body: vec![
                BodyPart::Memory(b"mem-"),
                BodyPart::Fd {
                    fd: f.as_fd(),
                    offset: 2,
                    len: 10,
                },
                BodyPart::Path {
                    path: &path,
                    offset: 0,
                    len: u64::MAX,
                },
            ],
            ..Default::default()
        };
        let all = load(&req, 1 << 20).unwrap();
        assert_eq!(&*all.bytes, b"mem-hello fileXXhello file");
        assert!(!all.truncated());
        let part = load(&req, 6).unwrap();
        assert_eq!(&*part.bytes, b"mem-he");
        assert!(part.truncated());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn borrows_a_single_memory_part() {
        let req = Request {
            body: vec![BodyPart::Memory(b"a=1")],
            ..Default::default()
        };
        assert!(matches!(load(&req, 100).unwrap().bytes, Cow::Borrowed(_)));
    }
}
