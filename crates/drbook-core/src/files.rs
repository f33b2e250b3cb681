//! Reading files that come from the user (runbooks, incident logs): only regular files, up to a
//! size, never blocking. A FIFO, a device such as `/dev/zero` or a socket named like a runbook or
//! a log must get a clear error, not a hang or a read until memory runs out.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use thiserror::Error;

/// Why a file was not read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{0}: only regular files are read")]
    NotRegular(&'static str),
    #[error("too large ({len} bytes; at most {max} bytes are read)")]
    TooLarge { len: u64, max: u64 },
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
}

/// What a file that is not a regular file is, for the error.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Reads `path` whole: only a regular file, at most `max` bytes. The type is looked at before
/// the file is opened, since opening a FIFO blocks until someone writes to it; the open is
/// non-blocking (no effect on a regular file) and the type looked at again on the open file,
/// in case the path was swapped in between; the read itself is capped, in case the file grows.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            Err(ReadError::NotRegular(file_kind(meta)))
        } else if meta.len() > max {
            Err(ReadError::TooLarge {
                len: meta.len(),
                max,
            })
        } else {
            Ok(())
        }
    };
    check(&std::fs::metadata(path)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    check(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge {
            len: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_devices_folders_and_large_files_are_refused_unread() {
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("x.jsonl");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        // A FIFO with no writer would block an ordinary open forever.
        let e = read_regular(&fifo, 1 << 20).expect_err("a FIFO");
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 1 << 20).expect_err("a device");
        assert!(e.to_string().contains("device"), "{e}");
        let e = read_regular(dir.path(), 1 << 20).expect_err("a folder");
        assert!(e.to_string().contains("folder"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).expect("write");
        assert!(matches!(
            read_regular(&big, 1024),
            Err(ReadError::TooLarge { len: 2048, .. })
        ));
        assert_eq!(read_regular(&big, 4096).expect("read").len(), 2048);
    }
}
