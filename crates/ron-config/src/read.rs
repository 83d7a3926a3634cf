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
/// The path is checked before it is opened, so a FIFO (whose `open` would
/// wait for a writer), a device or a directory is refused without being
/// opened; the opened handle is checked again (`fstat`), so a file swapped
/// in between is judged by what was actually opened. At most
/// `MAX_FILE_BYTES + 1` bytes are read, so a file that grows while it is
/// read is refused too, never read without bound.
pub(crate) fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    check(path, &std::fs::metadata(path).map_err(io)?)?;
    let file = File::open(path).map_err(io)?;
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
