//! PID files, written off the spawn path.
//!
//! A spawn must leave a record that lets the next daemon re-adopt the process should
//! this one be killed the next instant. The instance's PID file is that record, but
//! creating a file costs an inode allocation, and ext4 without a journal (this kind of
//! machine) skips every inode deleted in the last one to six minutes while looking for
//! a free one: the cost grows with whatever the machine deleted lately, and was half a
//! millisecond a file, most of the time spent spawning a thousand processes, in a
//! benchmark run that followed other runs.
//!
//! So a spawn appends its record to one journal (`<pid_dir>/.pidfiles.journal`, one
//! `write` for a whole batch, to a file that exists), and a writer thread brings the
//! PID files up to date in order, writes and removals alike. The journal is emptied
//! whenever the writer has caught up with it. A supervisor that starts first replays
//! what is left in it (the files a killed predecessor did not get to), before anything
//! is adopted: a record in the journal is never older than the file it names.
//!
//! A record is `<pid> <start time> <path length> <path>\n`; the length makes any path
//! safe, and a torn last record (a power cut mid-write) is ignored.

use super::{remove_pid_file, write_pid_file, PidRecord};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;

/// The journal's name in the PID directory.
pub(crate) const JOURNAL: &str = ".pidfiles.journal";

/// The PID files of one supervisor; see the module docs.
#[derive(Debug)]
pub(crate) struct PidFiles {
    journal: Arc<Mutex<Journal>>,
    tx: Option<mpsc::Sender<Op>>,
    writer: Option<thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Journal {
    /// `None` when it could not be opened (warned once); the files are still written.
    file: Option<File>,
    /// Records appended since it was last emptied…
    appended: u64,
    /// …and how many of them the writer has written.
    written: u64,
}

#[derive(Debug)]
enum Op {
    Write(PathBuf, PidRecord),
    Remove(PathBuf),
}

impl PidFiles {
    /// Replays the journal in `pid_dir` (writing the PID files it names), empties it and
    /// starts the writer.
    pub(crate) fn open(pid_dir: &Path) -> Self {
        let path = pid_dir.join(JOURNAL);
        for (pid_file, record) in read_journal(&path) {
            if let Err(e) = write_pid_file(&pid_file, record) {
                tracing::warn!("writing PID file {} from the journal: {e}", pid_file.display());
            }
        }
        let file = open_journal(&path)
            .inspect_err(|e| {
                tracing::warn!(
                    "cannot open {}: {e}; a daemon killed right after a spawn may not re-adopt it",
                    path.display()
                );
            })
            .ok();
        let journal = Arc::new(Mutex::new(Journal { file, appended: 0, written: 0 }));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&journal);
        let writer = thread::Builder::new()
            .name("provisr-pidfiles".into())
            .stack_size(256 * 1024)
            .spawn(move || run(&rx, &shared))
            .inspect_err(|e| tracing::warn!("no PID file writer thread ({e}): writing PID files on the spot"))
            .ok();
        let tx = writer.is_some().then_some(tx);
        Self { journal, tx, writer }
    }

    /// Records the processes just spawned: in the journal now, in their PID files soon.
    pub(crate) fn write(&self, records: Vec<(PathBuf, PidRecord)>) {
        if records.is_empty() {
            return;
        }
        let Some(tx) = &self.tx else {
            for (path, record) in records {
                apply(Op::Write(path, record));
            }
            return;
        };
        let mut text = Vec::with_capacity(records.len() * 64);
        for (path, record) in &records {
            encode(&mut text, path, *record);
        }
        {
            let mut journal = lock(&self.journal);
            if let Some(file) = &mut journal.file {
                if let Err(e) = file.write_all(&text) {
                    tracing::warn!("appending to the PID file journal: {e}");
                }
            }
            journal.appended += records.len() as u64;
        }
        // Sent after the count went up: the writer empties the journal only once it has
        // written as many records as were appended.
        for (path, record) in records {
            send(tx, Op::Write(path, record));
        }
    }

    /// Removes a PID file, after any write to it still on the way.
    pub(crate) fn remove(&self, path: PathBuf) {
        match &self.tx {
            Some(tx) => send(tx, Op::Remove(path)),
            None => {
                apply(Op::Remove(path));
            }
        }
    }
}

impl Drop for PidFiles {
    /// Waits until every PID file is written (or removed).
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the PID file writer panicked");
            }
        }
    }
}

fn send(tx: &mpsc::Sender<Op>, op: Op) {
    // The writer only ends once the sender is dropped; if it died, do the work here.
    if let Err(mpsc::SendError(op)) = tx.send(op) {
        apply(op);
    }
}

/// Housekeeping that yields to the supervised programs: a stop of a thousand is a
/// thousand exits to run and a thousand unlinks to do, and the exits come first. The
/// writer is a `SCHED_IDLE` thread: it runs when a CPU has nothing else to run, and at a
/// weight of 3 against a normal thread's 1024 when it has (a nice value of 10 still took
/// a tenth of a CPU from the exits). It is never starved outright, and the journal keeps a
/// lagging file safe. Where the policy cannot be set, a nice value of 10 does.
#[allow(unsafe_code)]
fn yield_to_the_programs() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that outlives the call; pid 0 is the
    // calling thread, whose policy is all this changes.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return;
    }
    // On Linux the nice value belongs to the thread: `None` is this one.
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!("PID file writer keeps its priority: {e}");
    }
}

fn run(rx: &mpsc::Receiver<Op>, journal: &Mutex<Journal>) {
    yield_to_the_programs();
    while let Ok(op) = rx.recv() {
        let mut written = apply(op);
        while let Ok(op) = rx.try_recv() {
            written += apply(op);
        }
        let mut journal = lock(journal);
        journal.written += written;
        if journal.written == journal.appended && journal.appended > 0 {
            if let Some(file) = &journal.file {
                if let Err(e) = file.set_len(0) {
                    tracing::warn!("emptying the PID file journal: {e}");
                }
            }
            journal.appended = 0;
            journal.written = 0;
        }
    }
}

/// Carries out one operation; 1 for a write (a journal record done), 0 for a removal.
fn apply(op: Op) -> u64 {
    match op {
        Op::Write(path, record) => {
            if let Err(e) = write_pid_file(&path, record) {
                tracing::warn!(pid = record.pid, "writing PID file {}: {e}", path.display());
            }
            1
        }
        Op::Remove(path) => {
            remove_pid_file(&path);
            0
        }
    }
}

fn lock(journal: &Mutex<Journal>) -> MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Opens the journal for appending, emptied (it has just been replayed).
fn open_journal(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new().recursive(true).create(dir)?;
    }
    OpenOptions::new().append(true).create(true).mode(0o644).open(path).and_then(|file| {
        file.set_len(0)?;
        Ok(file)
    })
}

fn encode(out: &mut Vec<u8>, path: &Path, record: PidRecord) {
    let bytes = path.as_os_str().as_bytes();
    out.extend_from_slice(format!("{} {} {} ", record.pid, record.start_time, bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
    out.push(b'\n');
}

/// The records of a journal, oldest first; none when there is no journal.
fn read_journal(path: &Path) -> Vec<(PathBuf, PidRecord)> {
    match fs::read(path) {
        Ok(bytes) => decode(&bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!("reading {}: {e}", path.display());
            Vec::new()
        }
    }
}

fn decode(mut bytes: &[u8]) -> Vec<(PathBuf, PidRecord)> {
    fn field<T: std::str::FromStr>(bytes: &mut &[u8]) -> Option<T> {
        let end = bytes.iter().position(|b| *b == b' ')?;
        let value = std::str::from_utf8(&bytes[..end]).ok()?.parse().ok()?;
        *bytes = &bytes[end + 1..];
        Some(value)
    }
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let mut rest = bytes;
        let Some(record) = (|| {
            let pid = field(&mut rest)?;
            let start_time = field(&mut rest)?;
            let len: usize = field(&mut rest)?;
            let (path, tail) = (rest.get(..len)?, rest.get(len..)?);
            let tail = tail.strip_prefix(b"\n")?;
            rest = tail;
            Some((PathBuf::from(std::ffi::OsString::from_vec(path.to_vec())), PidRecord { pid, start_time }))
        })() else {
            tracing::warn!("ignoring a torn record at the end of the PID file journal");
            break;
        };
        records.push(record);
        bytes = rest;
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: u32, start_time: u64) -> PidRecord {
        PidRecord { pid, start_time }
    }

    #[test]
    fn records_round_trip_whatever_the_path() {
        let mut text = Vec::new();
        encode(&mut text, Path::new("/run/p/web-1.pid"), rec(12, 34));
        encode(&mut text, Path::new("/odd dir/new\nline 5 6.pid"), rec(7, 8));
        assert_eq!(
            decode(&text),
            [
                (PathBuf::from("/run/p/web-1.pid"), rec(12, 34)),
                (PathBuf::from("/odd dir/new\nline 5 6.pid"), rec(7, 8)),
            ]
        );
        // A torn last record is dropped, the ones before it kept.
        let torn = &text[..text.len() - 3];
        assert_eq!(decode(torn), [(PathBuf::from("/run/p/web-1.pid"), rec(12, 34))]);
        assert_eq!(decode(b"garbage"), []);
    }

    #[test]
    fn files_follow_the_operations_in_order_and_the_journal_empties() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.pid"), dir.path().join("b.pid"));
        {
            let files = PidFiles::open(dir.path());
            files.write(vec![(a.clone(), rec(1, 10)), (b.clone(), rec(2, 20))]);
            files.write(vec![(a.clone(), rec(3, 30))]);
            files.remove(b.clone());
        } // dropped: waits for the writer
        assert_eq!(fs::read_to_string(&a).expect("a"), "3\n30\n");
        assert!(!b.exists(), "written, then removed");
        assert_eq!(fs::read(dir.path().join(JOURNAL)).expect("journal"), b"", "caught up, so emptied");
    }

    #[test]
    fn a_journal_left_by_a_killed_daemon_is_replayed_before_anything_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.pid"), dir.path().join("sub/b.pid"));
        fs::write(&a, "1\n10\n").expect("an older PID file");
        let mut text = Vec::new();
        encode(&mut text, &a, rec(3, 30));
        encode(&mut text, &b, rec(4, 40));
        encode(&mut text, &a, rec(5, 50));
        fs::write(dir.path().join(JOURNAL), &text).expect("journal");
        let files = PidFiles::open(dir.path());
        // Replayed by `open` itself, before it returns: the last record of a path wins.
        assert_eq!(fs::read_to_string(&a).expect("a"), "5\n50\n");
        assert_eq!(fs::read_to_string(&b).expect("b"), "4\n40\n");
        assert_eq!(fs::read(dir.path().join(JOURNAL)).expect("journal"), b"");
        drop(files);
    }

    #[test]
    fn without_a_usable_journal_the_files_are_still_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocked = dir.path().join("file");
        fs::write(&blocked, "").expect("a file where the PID directory would be");
        let target = dir.path().join("elsewhere/x.pid");
        {
            let files = PidFiles::open(&blocked);
            files.write(vec![(target.clone(), rec(9, 90))]);
        }
        assert_eq!(fs::read_to_string(&target).expect("x"), "9\n90\n");
    }
}
