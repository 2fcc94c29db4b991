//! Log files: appending, rotation by size and age, and the backups' housekeeping.
//!
//! A file is rotated before a write that would take it past `max_size_mb`, and before a write
//! when it is older than `max_age_days` (its birth time, or when it was opened if the file
//! system does not keep one). A rotation renames `<file>` to `<file>.<UTC timestamp>` and starts a new `<file>`; the
//! housekeeping thread then gzips the backup (`compress`) and removes backups beyond
//! `max_backups` or older than `max_age_days`, so the capture thread never waits for it.
//! A rotation cuts at a line end when the chunk being written has one before the limit,
//! so a line is not split between two files.

use super::Rotation;
use chrono::Utc;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The last whole lines of `path` within `max` bytes, and when the file was last written.
pub(crate) fn tail(path: &Path, max: usize) -> io::Result<(Vec<u8>, chrono::DateTime<Utc>)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let start = meta.len().saturating_sub(max as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::with_capacity(usize::try_from(meta.len() - start).unwrap_or(max));
    file.take(max as u64).read_to_end(&mut data)?;
    // Whole lines only: not the one cut by the start, nor an unfinished last one (its end
    // may still be on its way through the capture).
    data.truncate(memchr::memrchr(b'\n', &data).map_or(0, |i| i + 1));
    if start > 0 {
        let first = memchr::memchr(b'\n', &data).map_or(data.len(), |i| i + 1);
        data.drain(..first);
    }
    let at = meta.modified().map(chrono::DateTime::<Utc>::from).unwrap_or_else(|_| Utc::now());
    Ok((data, at))
}

/// Creates the file's directory if missing and checks that the file can be written (it
/// if exists, else the directory): a spawn fails early, with the path in the message, when
/// its log file could not be written. The file itself is created by the first output
/// ([`FileSink`]): a process that writes nothing costs no file, and creating files is the
/// slowest part of spawning many processes (an inode each).
pub(crate) fn check(path: &Path) -> Result<(), String> {
    let fail = |e: io::Error| format!("cannot open log file {}: {e}", path.display());
    match rustix::fs::access(path, rustix::fs::Access::WRITE_OK) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(fail(e.into())),
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(fail)?;
    }
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).map_err(|e| fail(e.into()))
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
    }
    OpenOptions::new().create(true).append(true).mode(0o644).open(path)
}

/// One stream's log file, opened at the first write.
pub(crate) struct FileSink {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    /// When the current file was created.
    born: SystemTime,
    rotation: Rotation,
    /// The last write error was logged; do not repeat it for every chunk.
    failing: bool,
}

impl FileSink {
    pub(crate) fn new(path: PathBuf, rotation: Rotation) -> Self {
        Self { path, file: None, size: 0, born: SystemTime::now(), rotation, failing: false }
    }

    /// Appends `data`, rotating whenever the size limit would be passed. A file ends at a
    /// line end; only a line longer than the limit makes a file larger than it.
    pub(crate) fn write(&mut self, mut data: &[u8]) {
        let max = self.rotation.max_bytes();
        if self.opened().is_ok()
            && too_old(self.size, self.born, SystemTime::now(), self.rotation.max_age())
            && !self.rotate()
        {
            self.append(data);
            return;
        }
        while !data.is_empty() {
            if max == 0 || self.opened().is_err() || self.size + data.len() as u64 <= max {
                self.append(data);
                return;
            }
            let room = usize::try_from(max.saturating_sub(self.size)).unwrap_or(usize::MAX).min(data.len());
            let cut = match memchr::memrchr(b'\n', &data[..room]) {
                Some(i) => i + 1,
                None if self.size > 0 => 0,
                // A line longer than the limit, in a fresh file: the whole line.
                None => memchr::memchr(b'\n', &data[room..]).map_or(data.len(), |j| room + j + 1),
            };
            self.append(&data[..cut]);
            data = &data[cut..];
            if !data.is_empty() && !self.rotate() {
                // Could not rotate: keep writing to the file rather than lose output.
                self.append(data);
                return;
            }
        }
    }

    fn opened(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = open(&self.path)?;
            let meta = file.metadata()?;
            self.size = meta.len();
            self.born =
                if meta.len() == 0 { SystemTime::now() } else { meta.created().unwrap_or_else(|_| SystemTime::now()) };
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened just above"))
    }

    fn append(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let result = self.opened().and_then(|f| f.write_all(data));
        match result {
            Ok(()) => {
                self.size += data.len() as u64;
                self.failing = false;
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!("writing log file {}: {e}", self.path.display());
                }
                self.failing = true;
                // Reopen next time (the file may have been removed or the disk freed).
                self.file = None;
            }
        }
    }

    /// Renames the file to a timestamped backup and hands the backup to housekeeping.
    /// False when the rename failed.
    fn rotate(&mut self) -> bool {
        self.file = None;
        self.size = 0;
        // Names are pure timestamps, so they sort in time order; a name already taken (two
        // rotations in one millisecond) moves on by a millisecond.
        let mut at = Utc::now();
        let mut backup = backup_path(&self.path, &at.format("%Y%m%dT%H%M%S%.3fZ").to_string());
        while backup.exists() || gz(&backup).exists() {
            at += chrono::Duration::milliseconds(1);
            backup = backup_path(&self.path, &at.format("%Y%m%dT%H%M%S%.3fZ").to_string());
        }
        if let Err(e) = fs::rename(&self.path, &backup) {
            tracing::warn!("rotating log file {}: {e}", self.path.display());
            return false;
        }
        housekeeping(Job { path: self.path.clone(), backup, rotation: self.rotation });
        true
    }
}

/// A non-empty file born longer than `max_age` before `now` is due for rotation.
fn too_old(size: u64, born: SystemTime, now: SystemTime, max_age: Option<Duration>) -> bool {
    size > 0 && max_age.is_some_and(|age| now.duration_since(born).is_ok_and(|d| d > age))
}

fn backup_path(path: &Path, stamp: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{stamp}"));
    path.with_file_name(name)
}

fn gz(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".gz");
    PathBuf::from(name)
}

/// What to do after a rotation.
struct Job {
    path: PathBuf,
    backup: PathBuf,
    rotation: Rotation,
}

/// Queues a job for the housekeeping thread (started at the first rotation).
fn housekeeping(job: Job) {
    static QUEUE: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("provisr-logrotate".into()).spawn(move || {
            for job in rx {
                run(&job);
            }
        });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!("cannot start the log housekeeping thread: {e}");
                None
            }
        }
    });
    match queue {
        Some(tx) => {
            if let Err(mpsc::SendError(job)) = tx.send(job) {
                run(&job);
            }
        }
        None => run(&job),
    }
}

fn run(job: &Job) {
    if job.rotation.compress {
        if let Err(e) = compress(&job.backup) {
            tracing::warn!("compressing {}: {e}", job.backup.display());
        }
    }
    prune(&job.path, job.rotation.max_backups, job.rotation.max_age());
}

/// Gzips `path` into `path.gz` (through a temporary name, so a reader never sees half a
/// file) and removes `path`.
pub(crate) fn compress(path: &Path) -> io::Result<()> {
    let target = gz(path);
    let mut tmp = target.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut input = File::open(path)?;
        let out = OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(io::BufWriter::new(out), flate2::Compression::default());
        io::copy(&mut input, &mut enc)?;
        enc.finish()?.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        fs::rename(&tmp, &target)?;
        fs::remove_file(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The backups of `path` (`<name>.<stamp>` and `<name>.<stamp>.gz`), oldest first.
pub(crate) fn backups(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.strip_prefix(&prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()) && !rest.ends_with(".tmp"))
        })
        .map(|e| e.path())
        .collect();
    // The stamps sort in time order (with or without `.gz`).
    found.sort_by_key(|p| p.file_name().map(|n| n.to_string_lossy().trim_end_matches(".gz").to_string()));
    found
}

/// Removes backups older than `max_age` (by modification time) and all but the newest
/// `max_backups` (0: no limit for either).
fn prune(path: &Path, max_backups: u32, max_age: Option<Duration>) {
    let mut list = backups(path);
    if let Some(age) = max_age {
        let now = SystemTime::now();
        list.retain(|p| {
            let old =
                fs::metadata(p).and_then(|m| m.modified()).is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
            if old {
                remove(p);
            }
            !old
        });
    }
    let keep = max_backups as usize;
    if keep > 0 && list.len() > keep {
        for p in &list[..list.len() - keep] {
            remove(p);
        }
    }
}

fn remove(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!("removing old log file {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_rotation_decisions() {
        let day = Duration::from_secs(86_400);
        let born = SystemTime::UNIX_EPOCH + 100 * day;
        let table = [
            // (size, age of the file, max_age, rotate?)
            (10, 2 * day, Some(day), true),
            (10, day / 2, Some(day), false),
            (0, 2 * day, Some(day), false),
            (10, 400 * day, None, false),
        ];
        for (size, age, max_age, want) in table {
            assert_eq!(too_old(size, born, born + age, max_age), want, "{size} {age:?} {max_age:?}");
        }
        assert!(!too_old(10, born + day, born, Some(Duration::ZERO)), "a clock that went back rotates nothing");
    }

    #[test]
    fn a_file_older_than_max_age_is_rotated_before_the_next_write() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("w.stdout.log");
        let rotation = Rotation { max_age_days: 1, ..Rotation::default() };
        let mut sink = FileSink::new(path.clone(), rotation);
        sink.write(b"old\n");
        sink.born -= Duration::from_secs(2 * 86_400);
        sink.write(b"new\n");
        assert_eq!(fs::read_to_string(&path).expect("current"), "new\n");
        let list = backups(&path);
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(fs::read_to_string(&list[0]).expect("backup"), "old\n");
    }
}
