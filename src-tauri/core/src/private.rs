//! The data folder is its owner's only: the folder and the folders easyTDV
//! makes in it are 0700, its files 0600 (history, prices, account list,
//! logs, the practice cloud's state). What exists already is tightened at
//! each start ([`tighten`]), so a folder made by an older easyTDV (or with a
//! loose umask) is closed too. Only what easyTDV keeps there is touched
//! ([`OURS`]): `$EASYTDV_DATA_DIR` may name a folder that holds other
//! things. Unix only; elsewhere the platform's own per-user folders apply.

use std::fs;
use std::io;
use std::path::Path;

/// The entries of the data folder that are easyTDV's: a name, or a name
/// followed by anything (`history.db-wal`, `history.db.unreadable-…`,
/// `.accounts.json.<id>.tmp`). Folders among them are tightened whole.
pub const OURS: &[&str] = &[
    "history.db",
    "prices.db",
    "accounts.json",
    ".accounts.json.",
    "logs",
    "runs",
    "practice-cloud",
    "hash-cache.json",
    "uploads",
];

/// Creates `dir` (and missing parents) and makes it 0700. The parents keep
/// the modes the umask gives them: only `dir` is easyTDV's.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Creates an empty file with mode 0600 unless something is there already
/// (SQLite then gives the database's journals the same mode).
pub fn create_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Options that create a file 0600 (appending or truncating is the caller's).
pub fn file_options() -> fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Makes the data folder 0700 and takes the group's and others' permission
/// bits off everything of [`OURS`] in it (the owner's bits stay: an
/// executable stays executable). Symbolic links are neither followed nor
/// changed; a Python environment (a folder with `pyvenv.cfg`) is software,
/// not data, and is left as installed (the 0700 folders above it close it).
/// Returns how many entries were changed.
pub fn tighten(data_dir: &Path) -> io::Result<usize> {
    let mut changed = usize::from(strip(data_dir, true)?);
    for entry in fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if OURS.iter().any(|o| name.starts_with(o)) {
            changed += tighten_tree(&entry.path())?;
        }
    }
    Ok(changed)
}

fn tighten_tree(path: &Path) -> io::Result<usize> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        // Gone meanwhile (a journal SQLite removed): nothing to close.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(0);
    }
    if !meta.is_dir() {
        return Ok(usize::from(strip(path, false)?));
    }
    let mut changed = usize::from(strip(path, true)?);
    if path.join("pyvenv.cfg").exists() {
        return Ok(changed);
    }
    for entry in fs::read_dir(path)? {
        changed += tighten_tree(&entry?.path())?;
    }
    Ok(changed)
}

/// Folders become 0700 (whatever they were); files keep only their owner's
/// bits. True when the mode changed.
#[cfg(unix)]
fn strip(path: &Path, dir: bool) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::symlink_metadata(path)?.permissions().mode() & 0o7777;
    let wanted = if dir { 0o700 } else { mode & 0o700 };
    if mode == wanted {
        return Ok(false);
    }
    set_mode(path, wanted)?;
    Ok(true)
}

#[cfg(not(unix))]
fn strip(_path: &Path, _dir: bool) -> io::Result<bool> {
    Ok(false)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    pub fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn write(p: &Path, mode: u32) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn tightens_ours_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir_all(data.join("practice-cloud/venv/bin")).unwrap();
        for d in [&data, &data.join("practice-cloud")] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        write(&data.join("history.db-wal"), 0o644);
        write(&data.join("logs/easytdv.log.2026-01-01"), 0o664);
        write(&data.join("practice-cloud/helper.sh"), 0o755);
        write(&data.join("practice-cloud/venv/pyvenv.cfg"), 0o644);
        write(&data.join("practice-cloud/venv/bin/python"), 0o755);
        // Not easyTDV's: a user's file in a folder they chose as the data folder.
        write(&data.join("notes.txt"), 0o644);
        // A link out of the data folder is not followed.
        write(&root.path().join("elsewhere.txt"), 0o644);
        std::os::unix::fs::symlink(
            root.path().join("elsewhere.txt"),
            data.join("logs/link.log"),
        )
        .unwrap();

        assert!(tighten(&data).unwrap() >= 5);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("history.db-wal")), 0o600);
        assert_eq!(mode(&data.join("logs")), 0o700);
        assert_eq!(mode(&data.join("logs/easytdv.log.2026-01-01")), 0o600);
        assert_eq!(mode(&data.join("practice-cloud")), 0o700);
        assert_eq!(mode(&data.join("practice-cloud/helper.sh")), 0o700);
        assert_eq!(mode(&data.join("practice-cloud/venv")), 0o700);
        assert_eq!(mode(&data.join("practice-cloud/venv/bin/python")), 0o755);
        assert_eq!(mode(&data.join("notes.txt")), 0o644);
        assert_eq!(mode(&root.path().join("elsewhere.txt")), 0o644);
        // Once tight, nothing more to do.
        assert_eq!(tighten(&data).unwrap(), 0);
    }

    #[test]
    fn new_folders_and_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("f.db");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        fs::write(&f, b"kept").unwrap();
        create_file(&f).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"kept");
        let g = dir.join("g.log");
        file_options().create(true).append(true).open(&g).unwrap();
        assert_eq!(mode(&g), 0o600);
    }
}
