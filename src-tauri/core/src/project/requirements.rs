//! The requirements file seen from the project: the files its `-r` and `-c`
//! lines include (resolved like pip, relative to the file that names them,
//! and only inside the project), and package indexes over plain `http://`,
//! refused before anything starts (pip and uv would refuse them on the
//! machine, after it was paid for).

use std::path::{Path, PathBuf};

use super::error::ProjectError;
use super::select::relative;

/// How deep `-r` inside `-r` may go.
const MAX_DEPTH: usize = 8;

/// Options whose value is a file to include.
const INCLUDES: [&str; 4] = ["-r", "--requirement", "-c", "--constraint"];
/// Options whose value is a package index or a page of links.
const INDEXES: [&str; 6] = [
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--index",
];

/// One file a requirements file includes, with its path in the project.
#[derive(Debug, Clone, PartialEq)]
pub struct Included {
    pub rel: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// `option value`, `option=value` or (short options) `-rvalue` → value.
fn option_value<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    for name in names {
        if let Some(rest) = line.strip_prefix(name) {
            let value = if let Some(v) = rest.strip_prefix('=') {
                v
            } else if rest.starts_with(char::is_whitespace) {
                rest.trim_start()
            } else if name.len() == 2 && !rest.is_empty() {
                rest
            } else {
                continue;
            };
            let value = value.split_whitespace().next().unwrap_or("");
            return (!value.is_empty()).then_some(value);
        }
    }
    None
}

/// The lines pip reads: continuations joined, comments dropped.
fn lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut first = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            first = i + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(raw);
        let code = match pending.find(" #") {
            Some(at) => &pending[..at],
            None if pending.trim_start().starts_with('#') => "",
            None => &pending,
        };
        let code = code.trim().to_string();
        if !code.is_empty() {
            out.push((first, code));
        }
        pending.clear();
    }
    out
}

/// An address without what could be a secret in it (`user:token@`).
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host_part, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match host_part.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{path}"),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// Refuses an index over plain http:// in one file's text.
pub fn check_indexes(name: &str, text: &str) -> Result<(), ProjectError> {
    for (line, code) in lines(text) {
        if let Some(url) = option_value(&code, &INDEXES) {
            if url
                .get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
            {
                return Err(ProjectError::InsecureIndex {
                    file: name.to_string(),
                    line,
                    url: without_credentials(url),
                });
            }
        }
    }
    Ok(())
}

/// The files `requirements` includes, directly or not, each once, in the
/// order pip reads them; each must be inside the project at `root`
/// (canonical). Every file read is checked for plain-http indexes.
pub fn includes(root: &Path, requirements: &Path) -> Result<Vec<Included>, ProjectError> {
    if is_lock(requirements) {
        return lock_project(root, requirements).map(|p| vec![p]);
    }
    let mut out: Vec<Included> = Vec::new();
    let main = std::fs::read(requirements).map_err(|source| ProjectError::Unreadable {
        path: requirements.to_path_buf(),
        source,
    })?;
    let name = requirements
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let start = std::fs::canonicalize(requirements).unwrap_or_else(|_| requirements.into());
    walk(root, &start, (&start, &name, &main), 0, &mut out)?;
    Ok(out)
}

/// `file`: (its path, its name in messages, its bytes); `start`: the
/// requirements file itself (never an include of its own).
fn walk(
    root: &Path,
    start: &Path,
    (file, name, bytes): (&Path, &str, &[u8]),
    depth: usize,
    out: &mut Vec<Included>,
) -> Result<(), ProjectError> {
    let text = String::from_utf8_lossy(bytes);
    check_indexes(name, &text)?;
    let base = file.parent().unwrap_or(root);
    for (line, code) in lines(&text) {
        let Some(target) = option_value(&code, &INCLUDES) else {
            continue;
        };
        if target.contains("://") {
            continue; // pip fetches an include given as an address itself
        }
        let bad = |why| ProjectError::BadInclude {
            file: name.to_string(),
            line,
            target: target.to_string(),
            why,
        };
        if depth >= MAX_DEPTH {
            return Err(bad("included too deeply (a file including itself?)"));
        }
        let path = base.join(target);
        let canonical = match std::fs::canonicalize(&path) {
            Ok(c) => c,
            Err(_) => return Err(bad("not found")),
        };
        let Some(rel) = relative(root, &canonical) else {
            return Err(bad("outside the project folder"));
        };
        if out.iter().any(|i| i.path == canonical) || canonical == start {
            continue;
        }
        let bytes = std::fs::read(&canonical).map_err(|source| ProjectError::Unreadable {
            path: path.clone(),
            source,
        })?;
        out.push(Included {
            rel: rel.clone(),
            path: canonical.clone(),
            bytes: bytes.clone(),
        });
        walk(root, start, (&canonical, &rel, &bytes), depth + 1, out)?;
    }
    Ok(())
}

/// What the environment cache's key is computed from: the requirements
/// file, then each included file after a line naming it. Without includes
/// it is the file itself (so existing cache keys stay).
pub fn for_cache_key(requirements: &[u8], included: &[Included]) -> Vec<u8> {
    let mut out = requirements.to_vec();
    for inc in included {
        out.extend_from_slice(format!("\n--easytdv-included {}\n", inc.rel).as_bytes());
        out.extend_from_slice(&inc.bytes);
    }
    out
}

/// The default requirements file of a project: `requirements.txt` at its
/// root, else its `uv.lock` when `pyproject.toml` is beside it.
pub fn default_requirements(root: &Path) -> Option<PathBuf> {
    let p = root.join("requirements.txt");
    if p.is_file() {
        return Some(p);
    }
    let lock = root.join(UV_LOCK);
    (lock.is_file() && root.join(PYPROJECT).is_file()).then_some(lock)
}

/// A uv project's lock: installed on the machine with `uv sync --frozen`.
pub const UV_LOCK: &str = "uv.lock";
const PYPROJECT: &str = "pyproject.toml";

/// The requirements are a uv lock (by its name, as uv finds it).
pub fn is_lock(requirements: &Path) -> bool {
    requirements.file_name().is_some_and(|n| n == UV_LOCK)
}

/// The packages a uv.lock pins, `name==version` (the project itself, a
/// `virtual` or `editable` source, is not one).
pub fn lock_packages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, bool)> = None;
    let mut flush = |c: Option<(String, String, bool)>| {
        if let Some((name, version, own)) = c {
            if !name.is_empty() && !own {
                out.push(if version.is_empty() {
                    name
                } else {
                    format!("{name}=={version}")
                });
            }
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            if line == "[[package]]" {
                flush(current.replace((String::new(), String::new(), false)));
            } else if !line.starts_with("[package.") {
                flush(current.take());
            }
            continue;
        }
        let Some((name, version, own)) = current.as_mut() else {
            continue;
        };
        let value = |l: &str| l.split('"').nth(1).unwrap_or("").to_string();
        if let Some(rest) = line.strip_prefix("name = ") {
            if name.is_empty() {
                *name = value(rest);
            }
        } else if let Some(rest) = line.strip_prefix("version = ") {
            if version.is_empty() {
                *version = value(rest);
            }
        } else if line.starts_with("source = { virtual") || line.starts_with("source = { editable")
        {
            *own = true;
        }
    }
    flush(current);
    out
}

/// A lock is installed from the project's root, with the pyproject.toml
/// beside it: that file is part of what the environment is made of (its
/// bytes go into the cache key with the lock's).
fn lock_project(root: &Path, lock: &Path) -> Result<Included, ProjectError> {
    let missing = || ProjectError::LockWithoutProject {
        lock: lock.to_path_buf(),
        root: root.to_path_buf(),
    };
    let at_root = std::fs::canonicalize(lock)
        .ok()
        .and_then(|c| c.parent().map(Path::to_path_buf))
        .is_some_and(|dir| dir == root);
    let path = root.join(PYPROJECT);
    if !at_root || !path.is_file() {
        return Err(missing());
    }
    let bytes = std::fs::read(&path).map_err(|source| ProjectError::Unreadable {
        path: path.clone(),
        source,
    })?;
    Ok(Included {
        rel: PYPROJECT.into(),
        path,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_options_over_http_are_refused_with_no_token_shown() {
        for ok in [
            "numpy==2.1.0\n--index-url https://pypi.org/simple\n",
            "-i https://example.com/simple numpy\n",
            "# --index-url http://old.example\nnumpy\n",
            "requests # see http://docs.example\n",
            "-r other.txt\n",
        ] {
            check_indexes("requirements.txt", ok).unwrap();
        }
        for (bad, line) in [
            ("numpy\n--index-url http://pypi.example/simple\n", 2),
            ("--extra-index-url=http://x.example/simple\n", 1),
            ("-ihttp://x.example/simple\n", 1),
            ("-f HTTP://x.example/links\n", 1),
            ("numpy\n--index-url \\\n  http://x.example/simple\n", 2),
        ] {
            match check_indexes("requirements.txt", bad) {
                Err(ProjectError::InsecureIndex { line: l, .. }) => assert_eq!(l, line, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let err = check_indexes(
            "r.txt",
            "--index-url http://me:s3cr3t-token@pypi.example/simple\n",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("http://***@pypi.example/simple"));
    }

    #[test]
    fn includes_resolve_inside_the_project_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("reqs")).unwrap();
        std::fs::write(
            root.join("requirements.txt"),
            "-r reqs/base.txt\n-c constraints.txt\nsix\n",
        )
        .unwrap();
        std::fs::write(
            root.join("reqs/base.txt"),
            "numpy\n-r ../requirements.txt\n",
        )
        .unwrap();
        std::fs::write(root.join("constraints.txt"), "numpy<3\n").unwrap();
        let found = includes(&root, &root.join("requirements.txt")).unwrap();
        let rels: Vec<&str> = found.iter().map(|i| i.rel.as_str()).collect();
        assert_eq!(rels, ["reqs/base.txt", "constraints.txt"]);
        let key_text = for_cache_key(b"-r reqs/base.txt\n", &found);
        assert!(String::from_utf8_lossy(&key_text).contains("numpy<3"));
        assert_eq!(for_cache_key(b"six\n", &[]), b"six\n");

        std::fs::write(root.join("requirements.txt"), "-r ../outside.txt\n").unwrap();
        std::fs::write(root.parent().unwrap().join("outside.txt"), "x\n").ok();
        match includes(&root, &root.join("requirements.txt")) {
            Err(ProjectError::BadInclude { why, line: 1, .. }) => {
                assert!(
                    why.contains("outside") || why.contains("not found"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(root.join("requirements.txt"), "--requirement=missing.txt\n").unwrap();
        match includes(&root, &root.join("requirements.txt")) {
            Err(ProjectError::BadInclude { why, .. }) => assert_eq!(why, "not found"),
            other => panic!("{other:?}"),
        }
        #[cfg(unix)]
        {
            // A link inside the project that points out is still outside.
            let out = tempfile::tempdir().unwrap();
            std::fs::write(out.path().join("secret.txt"), "x\n").unwrap();
            std::os::unix::fs::symlink(out.path().join("secret.txt"), root.join("link.txt"))
                .unwrap();
            std::fs::write(root.join("requirements.txt"), "-r link.txt\n").unwrap();
            match includes(&root, &root.join("requirements.txt")) {
                Err(ProjectError::BadInclude { why, .. }) => {
                    assert_eq!(why, "outside the project folder")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_uv_lock_beside_pyproject_is_the_default_and_its_pyproject_goes_into_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let lock = root.join("uv.lock");
        std::fs::write(&lock, "version = 1\n").unwrap();
        // A lock with no pyproject.toml: not a uv project.
        assert_eq!(default_requirements(&root), None);
        assert_eq!(
            crate::explain::Explain::code(&includes(&root, &lock).unwrap_err()),
            "uv_lock_without_pyproject"
        );
        std::fs::write(root.join("pyproject.toml"), "[project]\nname = \"a\"\n").unwrap();
        assert_eq!(default_requirements(&root), Some(lock.clone()));
        let found = includes(&root, &lock).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rel, "pyproject.toml");
        // The key's text changes with the pyproject (its dependency groups, sources).
        let before = for_cache_key(b"version = 1\n", &found);
        std::fs::write(root.join("pyproject.toml"), "[project]\nname = \"b\"\n").unwrap();
        let after = for_cache_key(b"version = 1\n", &includes(&root, &lock).unwrap());
        assert_ne!(before, after);
        // requirements.txt, when there is one, comes first.
        std::fs::write(root.join("requirements.txt"), "six\n").unwrap();
        assert_eq!(
            default_requirements(&root),
            Some(root.join("requirements.txt"))
        );
        // A lock elsewhere than the project's root is not installed from it.
        std::fs::create_dir(root.join("sub")).unwrap();
        let inner = root.join("sub/uv.lock");
        std::fs::write(&inner, "version = 1\n").unwrap();
        std::fs::write(root.join("sub/pyproject.toml"), "").unwrap();
        assert!(includes(&root, &inner).is_err());
    }
}
