//! Owner-only permissions in the data dir: directories 0700, files 0600, whatever the process
//! umask. The data dir holds the admin token, peer secrets, the users' token hashes and every
//! customer record, so nobody but the node's own user may read it.
//!
//! New directories and the files the node writes itself (`LOCK`, `admin-token`) are created with
//! those modes; sled creates its own files with the umask's modes, so they are tightened after
//! sled opens, and an existing data dir that is too open (made by an older version) is fixed at
//! open, with a log line. Files sled creates later (snapshots) sit inside the 0700 directory.
//! On other platforms than Unix these are no-ops.

use crate::error::NodeError;
use std::path::Path;

/// Mode of the data dir and every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with [`DIR_MODE`]; an existing `dir` is tightened to it.
/// Returns whether an existing directory was more open than that.
pub fn create_private_dir(dir: &Path) -> Result<bool, NodeError> {
    let err = |e| NodeError::io(format!("creating data dir {}", dir.display()), e);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(err)?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(err)?;
    tighten(dir, DIR_MODE)
}

/// Sets `path` to `mode` if its permissions allow more than `mode` does. Returns whether it
/// changed anything.
pub fn tighten(path: &Path, mode: u32) -> Result<bool, NodeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(path)
            .map_err(|e| NodeError::io(format!("reading {}", path.display()), e))?;
        if meta.file_type().is_symlink() {
            return Ok(false);
        }
        let current = meta.permissions().mode() & 0o777;
        if current & !mode == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| NodeError::io(format!("setting permissions of {}", path.display()), e))?;
        Ok(true)
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(false)
    }
}

/// Tightens every directory under `root` (itself included) to [`DIR_MODE`] and every file to
/// [`FILE_MODE`]. Returns how many it changed. Symbolic links are left alone.
pub fn tighten_tree(root: &Path) -> Result<usize, NodeError> {
    let mut changed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        changed += usize::from(tighten(&dir, DIR_MODE)?);
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| NodeError::io(format!("reading {}", dir.display()), e))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| NodeError::io(format!("reading {}", dir.display()), e))?;
            let kind = entry
                .file_type()
                .map_err(|e| NodeError::io(format!("reading {}", dir.display()), e))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                changed += usize::from(tighten(&entry.path(), FILE_MODE)?);
            }
        }
    }
    Ok(changed)
}

/// Creates (or truncates) `path` with [`FILE_MODE`] and writes `contents` and a newline, synced.
/// An existing file is tightened too (a mode given at open applies only to new files).
pub fn write_private_file(path: &Path, contents: &str) -> Result<(), NodeError> {
    use std::io::Write;
    let err = |e| NodeError::io(format!("writing {}", path.display()), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    let mut f = opts.open(path).map_err(err)?;
    tighten(path, FILE_MODE)?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(err)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn dirs_and_files_become_owner_only() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().join("a/b");
        assert!(!create_private_dir(&dir).expect("create"));
        assert_eq!(mode(&dir), 0o700);
        // An existing open dir with open files inside is fixed.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir(dir.join("sub")).expect("sub");
        std::fs::write(dir.join("sub/f"), b"x").expect("f");
        std::fs::set_permissions(dir.join("sub/f"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(create_private_dir(&dir).expect("again"));
        assert!(tighten_tree(&dir).expect("tree") >= 1);
        assert_eq!(mode(&dir.join("sub")), 0o700);
        assert_eq!(mode(&dir.join("sub/f")), 0o600);
        assert_eq!(tighten_tree(&dir).expect("tree"), 0, "nothing left to fix");
        // A stricter mode is left alone.
        std::fs::set_permissions(dir.join("sub/f"), std::fs::Permissions::from_mode(0o400))
            .expect("chmod");
        assert!(!tighten(&dir.join("sub/f"), FILE_MODE).expect("tighten"));
        assert_eq!(mode(&dir.join("sub/f")), 0o400);
        // A private file is 0600 even where it existed with more.
        let f = dir.join("secret");
        std::fs::write(&f, b"old").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private_file(&f, "new").expect("private");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "new\n");
    }
}
