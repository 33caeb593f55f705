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

/// The default requirements file of a project: `requirements.txt` at its root.
pub fn default_requirements(root: &Path) -> Option<PathBuf> {
    let p = root.join("requirements.txt");
    p.is_file().then_some(p)
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
}
