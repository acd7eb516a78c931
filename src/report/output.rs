//! Writing report files so that a bad path or a failed run never costs the user a file: every
//! output path is checked before the run (`check`: its directory exists and is writable, it is
//! not a directory, no two outputs share a path), and each report is written to a temporary
//! file beside its path and renamed over it only when every report has been written
//! (`Staged`). Until then the files the paths name are untouched. Every staged report is masked
//! (`redact`) on its way out: bytes given to `Staged::write` in memory, a file a library wrote
//! by path (`write_with`) read back once before it is renamed.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// One output a command will write: the flag that named it and its path.
#[derive(Clone, Debug)]
pub struct OutputPath {
    pub flag: &'static str,
    pub path: PathBuf,
}

impl OutputPath {
    pub fn new(flag: &'static str, path: impl Into<PathBuf>) -> Self {
        OutputPath { flag, path: path.into() }
    }

    fn named(&self) -> String {
        format!("{} {}", self.flag, self.path.display())
    }
}

/// The directory a path's file goes in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The temporary file beside `path` that its report is written to first.
pub fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir_of(path).join(format!(".{name}.blast-{}.tmp", std::process::id()))
}

/// Checks every output before the run: the directory exists and can be written, the path is not
/// a directory, and no two outputs are the same file. Creates and removes a temporary file in
/// each directory; the paths themselves are not touched.
pub fn check(outputs: &[OutputPath]) -> Result<(), String> {
    let mut seen: HashMap<PathBuf, &OutputPath> = HashMap::new();
    for out in outputs {
        let path = &out.path;
        let name = path.file_name().ok_or_else(|| format!("{}: not a file name", out.named()))?;
        let dir = dir_of(path);
        if !dir.is_dir() {
            return Err(format!("{}: directory {} does not exist", out.named(), dir.display()));
        }
        if path.is_dir() {
            return Err(format!("{}: is a directory", out.named()));
        }
        let probe = temporary(path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(|e| format!("{}: cannot write in {}: {e}", out.named(), dir.display()))?;
        let _ = std::fs::remove_file(&probe);
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()).join(name);
        if let Some(first) = seen.insert(key, out) {
            return Err(format!(
                "{} and {} are the same file: give each report its own path",
                first.named(),
                out.named()
            ));
        }
    }
    Ok(())
}

/// Reports written to temporary files, renamed over their paths by `commit`; dropped without a
/// commit (an error on the way), the temporary files are removed and the paths untouched.
#[derive(Default)]
pub struct Staged {
    files: Vec<StagedFile>,
}

/// One staged report.
struct StagedFile {
    temporary: PathBuf,
    path: PathBuf,
    /// Written by a library through its path (`write_with`): masked by reading it back at commit.
    by_path: bool,
}

impl Staged {
    /// Writes `bytes` for `path`, every secret in them masked (`redact::text`) before they reach
    /// the disk; bytes that are not UTF-8 are written as they are.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = self.stage(path, false);
        match std::str::from_utf8(bytes) {
            Ok(text) => std::fs::write(tmp, crate::redact::text(text).as_bytes()),
            Err(_) => std::fs::write(tmp, bytes),
        }
    }

    /// Lets `write` write `path`'s report to the temporary path it is given (for a library that
    /// writes by path); the file is masked by reading it back at `commit`.
    pub fn write_with(&mut self, path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
        let tmp = self.stage(path, true);
        write(&tmp)
    }

    /// Registers `path`'s temporary file (removed on drop from now on) and returns it.
    fn stage(&mut self, path: &Path, by_path: bool) -> PathBuf {
        let temporary = temporary(path);
        self.files.push(StagedFile { temporary: temporary.clone(), path: path.to_path_buf(), by_path });
        temporary
    }

    /// Masks the files written by path (`redact::file`), then renames each report over its path.
    pub fn commit(mut self) -> io::Result<()> {
        for f in self.files.iter().filter(|f| f.by_path) {
            crate::redact::file(&f.temporary)?;
        }
        for StagedFile { temporary: tmp, path, .. } in std::mem::take(&mut self.files) {
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(&f.temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_twice_and_missing_directories_are_refused() {
        let dir = std::env::temp_dir().join(format!("blast-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let a = OutputPath::new("--json", dir.join("x"));
        let b = OutputPath::new("--html", dir.join("x"));
        assert!(check(&[a.clone(), b]).unwrap_err().contains("same file"));
        let c = OutputPath::new("--html", dir.join("missing/x.html"));
        assert!(check(&[a.clone(), c]).unwrap_err().contains("does not exist"));
        assert!(check(&[OutputPath::new("--json", &dir)]).unwrap_err().contains("is a directory"));
        assert!(check(&[a]).is_ok());
        assert!(!dir.join("x").exists(), "checking creates no file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_uncommitted_stage_leaves_the_old_file() {
        let dir = std::env::temp_dir().join(format!("blast-stage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("r.json");
        std::fs::write(&path, "old").expect("write");
        {
            let mut s = Staged::default();
            s.write(&path, b"new").expect("stage");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        }
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1, "no temporary file left");
        let mut s = Staged::default();
        s.write(&path, b"new").expect("stage");
        s.commit().expect("commit");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn staged_bytes_are_masked_before_they_reach_the_disk_and_files_by_path_at_commit() {
        let dir = std::env::temp_dir().join(format!("blast-stage-mask-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        crate::redact::secret("staged-secret-4f1c9a");
        let json = dir.join("r.json");
        let hdr = dir.join("r.hdr");
        let mut s = Staged::default();
        s.write(&json, b"{\"token\": \"staged-secret-4f1c9a\"}").expect("stage");
        let on_disk = std::fs::read_to_string(temporary(&json)).expect("read the temporary file");
        assert_eq!(on_disk, "{\"token\": \"[redacted]\"}", "masked in memory, before commit");
        s.write_with(&hdr, |tmp| std::fs::write(tmp, "#tag staged-secret-4f1c9a\n")).expect("stage by path");
        s.commit().expect("commit");
        assert_eq!(std::fs::read_to_string(&json).expect("read"), "{\"token\": \"[redacted]\"}");
        assert_eq!(
            std::fs::read_to_string(&hdr).expect("read"),
            "#tag [redacted]\n",
            "a file written by path is masked at commit"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
