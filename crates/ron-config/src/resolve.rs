//! Which directories to watch for a configuration path: the directory
//! holding every symlink on the way to the file (a Kubernetes `..data`
//! swap or a `current -> releases/N` switch happens there), and the
//! directory really holding the file (an edit in place happens there).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed at most, as Linux's own limit (`ELOOP`): a loop ends
/// the walk instead of spinning.
const MAX_HOPS: usize = 40;

/// The directories to watch, each with its identity (device and inode on
/// Unix), so a directory replaced under the same name counts as a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct WatchSet(BTreeMap<PathBuf, Option<(u64, u64)>>);

impl WatchSet {
    /// The directories, canonical (no symlinks in them).
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.0.keys().map(PathBuf::as_path)
    }
}

/// One step of a path being resolved.
enum Part {
    /// A Windows drive or share: starts over there.
    Prefix(OsString),
    /// The root: starts over at the top.
    Root(OsString),
    Parent,
    Name(OsString),
}

fn parts(path: &Path) -> Vec<Part> {
    path.components()
        .filter_map(|c| match c {
            Component::Prefix(p) => Some(Part::Prefix(p.as_os_str().to_owned())),
            Component::RootDir => Some(Part::Root(c.as_os_str().to_owned())),
            Component::CurDir => None,
            Component::ParentDir => Some(Part::Parent),
            Component::Normal(name) => Some(Part::Name(name.to_owned())),
        })
        .collect()
}

/// Resolves `file` one component at a time, as the kernel does, and
/// collects the directory of every symlink met on the way (where a swap
/// of it shows up) and the directory the chain ends in (where the file
/// itself changes). A component that does not exist (a deleted directory,
/// a file not there yet) ends the walk: its nearest existing ancestor is
/// watched, and its reappearance shows up there.
pub(crate) fn watch_set(file: &Path) -> WatchSet {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let mut dirs = Vec::new();
    // Still to resolve, the next part last.
    let mut stack: Vec<Part> = parts(&absolute).into_iter().rev().collect();
    let mut resolved = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = stack.pop() {
        match part {
            Part::Prefix(prefix) => resolved = PathBuf::from(prefix),
            // Pushing the root replaces what was resolved (and keeps a
            // Windows drive): an absolute symlink target starts over.
            Part::Root(root) => resolved.push(root),
            // `resolved` has no symlinks left, so `..` is its real parent.
            Part::Parent => {
                resolved.pop();
            }
            Part::Name(name) => {
                let next = resolved.join(&name);
                match std::fs::symlink_metadata(&next) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        dirs.push(resolved.clone());
                        hops += 1;
                        match std::fs::read_link(&next) {
                            // Relative targets resolve from the link's
                            // directory, which `resolved` still is.
                            Ok(target) if hops <= MAX_HOPS => {
                                stack.extend(parts(&target).into_iter().rev());
                            }
                            _ => return identify(dirs),
                        }
                    }
                    Ok(_) => resolved = next,
                    Err(_) => {
                        dirs.push(resolved);
                        return identify(dirs);
                    }
                }
            }
        }
    }
    if let Some(parent) = resolved.parent() {
        dirs.push(parent.to_owned());
    }
    identify(dirs)
}

fn identify(dirs: Vec<PathBuf>) -> WatchSet {
    WatchSet(
        dirs.into_iter()
            .map(|dir| {
                let id = std::fs::metadata(&dir).ok().and_then(|m| identity(&m));
                (dir, id)
            })
            .collect(),
    )
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn dirs(set: &WatchSet) -> Vec<PathBuf> {
        set.dirs().map(Path::to_owned).collect()
    }

    #[test]
    fn a_plain_file_is_watched_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.toml"), "").unwrap();
        assert_eq!(dirs(&watch_set(&root.join("a.toml"))), vec![root.clone()]);
        // Missing: still its directory; a missing directory: the nearest
        // existing ancestor.
        assert_eq!(dirs(&watch_set(&root.join("b.toml"))), vec![root.clone()]);
        assert_eq!(dirs(&watch_set(&root.join("x/y/c.toml"))), vec![root]);
    }

    #[test]
    fn every_symlinks_directory_and_the_real_one_are_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        // A ConfigMap: NAME -> ..data/NAME, ..data -> ..ts/.
        std::fs::create_dir(root.join("..ts")).unwrap();
        std::fs::write(root.join("..ts/ron.toml"), "").unwrap();
        symlink("..ts", root.join("..data")).unwrap();
        symlink("..data/ron.toml", root.join("ron.toml")).unwrap();
        assert_eq!(
            dirs(&watch_set(&root.join("ron.toml"))),
            [root.clone(), root.join("..ts")]
        );
        // A release switch, through an absolute link, a `..` and a `.`.
        std::fs::create_dir_all(root.join("app/releases/1")).unwrap();
        std::fs::write(root.join("app/releases/1/ron.toml"), "").unwrap();
        symlink(root.join("app/releases/1"), root.join("app/current")).unwrap();
        assert_eq!(
            dirs(&watch_set(&root.join("..ts/../app/./current/ron.toml"))),
            [root.join("app"), root.join("app/releases/1")]
        );
    }

    #[test]
    fn a_symlink_loop_ends() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        assert_eq!(dirs(&watch_set(&root.join("a"))), vec![root]);
    }

    #[test]
    fn a_replaced_directory_is_a_different_set() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let before = watch_set(&sub.join("a.toml"));
        std::fs::rename(&sub, dir.path().join("old")).unwrap();
        std::fs::create_dir(&sub).unwrap();
        assert_ne!(watch_set(&sub.join("a.toml")), before);
    }
}
