//! Files and folders that hold data (the SQLite database, backups, the development mailbox) are
//! created for their owner only: folders 0700, files 0600 on Unix, whatever the process umask.
//! Existing folders and files keep their modes.

use std::fs::File;
use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents, each new one readable by its owner only (0700 on Unix).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates the new file `path` (an error if it exists), readable and writable by its owner only
/// (0600 on Unix).
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Whether the file or folder at `path` can be read or entered by anyone but its owner (Unix).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}
