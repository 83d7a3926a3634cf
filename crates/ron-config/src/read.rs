//! Reading the configuration file: regular files only, bounded in size,
//! never empty.

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

use crate::error::ConfigError;

/// The largest configuration file read, in bytes (1 MiB): a bigger one is
/// refused with [`ConfigError::TooLarge`](crate::ConfigError::TooLarge).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The text of the configuration file at `path`.
///
/// The path is checked before it is opened, so a FIFO, a device or a
/// directory is refused without being opened; the opening never waits
/// (`O_NONBLOCK` on Unix: a FIFO swapped in between does not wait for a
/// writer) and the opened handle is checked again (`fstat`), so a file
/// swapped in between is judged by what was actually opened. At most
/// `MAX_FILE_BYTES + 1` bytes are read, so a file that grows while it is
/// read is refused too, never read without bound.
pub(crate) fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    check(path, &std::fs::metadata(path).map_err(io)?)?;
    let file = open(path).map_err(io)?;
    check(path, &file.metadata().map_err(io)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    // A truncating writer caught mid-save, or a full disk, leaves an empty
    // file; it is never taken for "all defaults" (a comment is enough for
    // that).
    if text.trim().is_empty() {
        return Err(ConfigError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

/// What a file looks like from outside: identity (device and inode on
/// Unix), size and modification time. Cheap to take (one `stat`), it tells
/// the periodic check that the file changed without any event saying so
/// (a watcher that cannot see the change: NFS, FUSE, some overlays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    id: Option<(u64, u64)>,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

/// The [`Stamp`] of what `path` names now (symlinks followed), `None` when
/// it cannot be looked at.
pub(crate) fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let id = {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    };
    #[cfg(not(unix))]
    let id = None;
    Some(Stamp {
        id,
        len: metadata.len(),
        modified: metadata.modified().ok(),
    })
}

/// Opens `path` for reading without ever waiting: on Unix with
/// `O_NONBLOCK`, so a FIFO swapped in after the path was checked opens at
/// once (instead of waiting for a writer, forever, on a blocking-pool
/// thread) and is then refused by the check of the handle. A regular
/// file's reads ignore the flag.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Refuses anything but a regular file of at most [`MAX_FILE_BYTES`].
fn check(path: &Path, metadata: &Metadata) -> Result<(), ConfigError> {
    if !metadata.is_file() {
        return Err(ConfigError::NotAFile {
            path: path.to_owned(),
            kind: kind(&metadata.file_type()),
        });
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    Ok(())
}

fn too_large(path: &Path) -> ConfigError {
    ConfigError::TooLarge {
        path: path.to_owned(),
        limit: MAX_FILE_BYTES,
    }
}

/// What a path that is not a regular file is, for the error message.
fn kind(file_type: &FileType) -> &'static str {
    if file_type.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "fifo";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "device";
        }
        if file_type.is_socket() {
            return "socket";
        }
    }
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO swapped in after the path was checked is opened without
    /// waiting for a writer, then refused by the check of the handle.
    #[cfg(unix)]
    #[test]
    fn opening_a_fifo_does_not_wait_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ron.toml");
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let fifo = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(open(&fifo).and_then(|file| file.metadata()));
        });
        let Ok(opened) = rx.recv_timeout(std::time::Duration::from_secs(10)) else {
            // Unblock the thread stuck in open() before failing.
            let _ = std::fs::OpenOptions::new().write(true).open(&path);
            panic!("open() of a FIFO waited for a writer");
        };
        let error = check(&path, &opened.unwrap()).unwrap_err();
        assert!(
            matches!(error, ConfigError::NotAFile { kind: "fifo", .. }),
            "{error:?}"
        );
    }
}
