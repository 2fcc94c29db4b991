//! The spawner: a thread with a descriptor table of its own that makes the system calls
//! of spawning ([`super::launch`]).
//!
//! A child starts with a copy of its parent's descriptor table and closes, at `exec`,
//! every descriptor marked close-on-exec, one by one. The daemon holds three descriptors
//! per supervised process (a pidfd and the read ends of two output pipes), so spawning
//! the thousandth process copies and closes three thousand: measured, that was the
//! largest cost a spawn added to what the OS needs, and it grows with every process.
//!
//! So the spawner thread leaves the process's shared table (`unshare(CLONE_FILES)`)
//! and closes its copy of everything but a socket: its children start with a handful
//! of descriptors, however many the daemon holds. It creates each child's pipes in its
//! own table and hands the read ends over to the daemon's table through the socket
//! (`SCM_RIGHTS`, received close-on-exec), then closes its copies. The children are
//! still the daemon's own (a thread's children belong to its process): reaping and
//! pidfds are unchanged.
//!
//! Nothing on the spawner thread may touch a descriptor of the shared table, so it
//! does not log (its default subscriber is a no-op, whatever the code it runs); errors
//! travel back as values. If the thread cannot be set up (no
//! `unshare`, say, under a seccomp filter), the caller spawns on its own thread.

use super::unix::{launch, Child, Launch, Started};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;

/// Processes per message: two descriptors each, within the kernel's 253 per message.
const CHUNK: usize = 126;

/// One chunk of results, in order: its descriptors follow on the socket.
type Chunk = Vec<Result<Launched, String>>;

/// [`Started`] less its pipes, which travel through the socket.
#[derive(Debug)]
struct Launched {
    child: Child,
    pid: u32,
    start_time: Option<u64>,
}

/// Prepared spawns, in order; one that failed to prepare keeps its error.
type Prepared = Vec<Result<Launch, String>>;

struct Request {
    launches: Prepared,
    reply: mpsc::Sender<Chunk>,
}

/// The handle of the spawner thread, used from the daemon's side (the shared table).
#[derive(Debug)]
pub(crate) struct Spawner {
    tx: mpsc::Sender<Request>,
    /// The daemon's end of the socket.
    socket: OwnedFd,
}

impl Spawner {
    /// Starts the spawner thread; `None` (with the reason) if it cannot be set up.
    pub(crate) fn start() -> Result<Self, String> {
        use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
        let (ours, theirs) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
            .map_err(|e| format!("socketpair: {e}"))?;
        let (tx, rx) = mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        thread::Builder::new()
            .name("provisr-spawner".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                // No log event may reach a writer from this thread: the subscriber's file
                // descriptor is not in its table (or is another file there).
                let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
                let socket = theirs;
                let setup = private_table(&socket);
                let ok = setup.is_ok();
                let _ = ready_tx.send(setup);
                if ok {
                    serve(&rx, &socket);
                }
            })
            .map_err(|e| format!("cannot start the spawner thread: {e}"))?;
        ready_rx.recv().map_err(|_| "the spawner thread ended during set-up".to_string())??;
        Ok(Self { tx, socket: ours })
    }

    /// Spawns `launches` in order on the spawner thread (one that failed to prepare keeps
    /// its error); gives them back if the thread is gone (the caller then spawns them).
    pub(crate) fn launch_all(&self, launches: Prepared) -> Result<Vec<Result<Started, String>>, Prepared> {
        let total = launches.len();
        let (reply, chunks) = mpsc::channel();
        if let Err(mpsc::SendError(request)) = self.tx.send(Request { launches, reply }) {
            return Err(request.launches);
        }
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let Ok(chunk) = chunks.recv() else {
                // The thread died mid-request: what it spawned is lost to us; report it.
                out.resize_with(total, || Err("the spawner thread ended".to_string()));
                break;
            };
            let wanted = 2 * chunk.iter().filter(|r| r.is_ok()).count();
            let mut fds = match receive(&self.socket, wanted) {
                Ok(fds) => fds.into_iter(),
                Err(e) => {
                    // Without its pipes a process cannot be watched as ours: stop it.
                    for result in chunk {
                        out.push(result.and_then(|launched| {
                            let _ = super::signal_group(launched.pid, nix::sys::signal::Signal::SIGKILL);
                            let _ = launched.child.wait();
                            Err(format!("cannot take over the output pipes: {e}"))
                        }));
                    }
                    continue;
                }
            };
            for result in chunk {
                out.push(result.map(|l| {
                    let (out_r, err_r) = (fds.next().expect("counted"), fds.next().expect("counted"));
                    Started { child: l.child, pid: l.pid, start_time: l.start_time, out_r, err_r }
                }));
            }
        }
        Ok(out)
    }
}

/// Leaves the shared descriptor table and closes everything in the private copy but the
/// standard streams and `socket`.
#[allow(unsafe_code)]
fn private_table(socket: &OwnedFd) -> Result<(), String> {
    // SAFETY: from here on this thread has its own table. The thread owns no descriptor
    // but `socket` (kept open below); it never uses a descriptor of the shared table (no
    // logging, no file or socket of the daemon's), and the descriptors it creates never
    // leave it but through `SCM_RIGHTS`, which installs copies in the receiver's table.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FILES) }
        .map_err(|e| format!("unshare(CLONE_FILES): {e}"))?;
    let keep = u32::try_from(socket.as_raw_fd()).map_err(|_| "bad socket descriptor".to_string())?;
    for (first, last) in [(3, keep.saturating_sub(1)), (keep + 1, u32::MAX)] {
        if first > last {
            continue;
        }
        // SAFETY: closes only entries of this thread's private table (see above), none of
        // which is owned by a Rust object of this thread.
        if unsafe { libc::close_range(first, last, 0) } != 0 {
            return Err(format!("close_range: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn serve(rx: &mpsc::Receiver<Request>, socket: &OwnedFd) {
    while let Ok(Request { launches, reply }) = rx.recv() {
        let mut launches = launches.into_iter().peekable();
        while launches.peek().is_some() {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut fds = Vec::with_capacity(2 * CHUNK);
            for l in launches.by_ref().take(CHUNK) {
                chunk.push(l.and_then(launch).map(|s| {
                    fds.push(s.out_r);
                    fds.push(s.err_r);
                    Launched { child: s.child, pid: s.pid, start_time: s.start_time }
                }));
            }
            // Results first, so that the receiver knows how many descriptors to expect.
            if reply.send(chunk).is_err() {
                return;
            }
            if !fds.is_empty() && send(socket, &fds).is_err() {
                // The receiver sees the error on its side (it reads nothing) only if the
                // socket is gone; a failed send with the socket alive cannot be told
                // apart, so end here: the daemon falls back to spawning itself.
                return;
            }
            // Our copies of the read ends close here; the daemon's stay open.
        }
    }
}

fn send(socket: &OwnedFd, fds: &[OwnedFd]) -> rustix::io::Result<()> {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let borrowed: Vec<_> = fds.iter().map(AsFd::as_fd).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2 * CHUNK))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
        return Err(rustix::io::Errno::NOBUFS);
    }
    let count = u32::try_from(fds.len()).unwrap_or(u32::MAX).to_ne_bytes();
    sendmsg(socket, &[IoSlice::new(&count)], &mut control, SendFlags::NOSIGNAL).map(|_| ())
}

/// Receives one message of exactly `wanted` descriptors (close-on-exec).
fn receive(socket: &OwnedFd, wanted: usize) -> Result<Vec<OwnedFd>, String> {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2 * CHUNK))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut count = [0u8; 4];
    let got = recvmsg(socket, &mut [IoSliceMut::new(&mut count)], &mut control, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    let mut fds = Vec::with_capacity(wanted);
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if got.bytes != 4 || u32::from_ne_bytes(count) as usize != wanted || fds.len() != wanted {
        return Err(format!("expected {wanted} descriptors, received {} (message of {} bytes)", fds.len(), got.bytes));
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogFiles;
    use crate::spec::ProcessSpec;
    use std::io::{BufRead, BufReader};

    /// The descriptor tables of this process's spawner threads, by size.
    fn spawner_tables() -> Vec<usize> {
        let tasks = std::fs::read_dir("/proc/self/task").expect("tasks").flatten();
        tasks
            .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "provisr-spawner"))
            .map(|t| std::fs::read_dir(t.path().join("fd")).map_or(0, |d| d.count()))
            .collect()
    }

    #[test]
    fn the_spawner_has_a_small_table_and_hands_the_pipes_over() {
        // Many descriptors in the shared table, as a daemon with many processes has.
        let held: Vec<std::fs::File> = (0..300).map(|_| std::fs::File::open("/dev/null").expect("open")).collect();
        let spawner = Spawner::start().expect("spawner");
        let tables = spawner_tables();
        assert!(!tables.is_empty() && tables.iter().all(|n| *n < 100), "spawner tables: {tables:?}");

        let spec = ProcessSpec::new("t", "echo out; echo err >&2; exec sleep 30");
        let files = LogFiles::default();
        let launches = (0..3).map(|_| super::super::unix::prepare(&spec, None, &files)).collect();
        let started = spawner.launch_all(launches).expect("the spawner runs");
        assert_eq!(started.len(), 3);
        for s in started {
            let s = s.expect("spawned");
            // The read ends are in this thread's table: the first line of each stream.
            let line = |fd: OwnedFd| {
                // Non-blocking for the daemon's reader; here the test waits for the line.
                rustix::io::ioctl_fionbio(&fd, false).expect("blocking");
                let mut text = String::new();
                BufReader::new(std::fs::File::from(fd)).read_line(&mut text).expect("read");
                text
            };
            assert_eq!((line(s.out_r), line(s.err_r)), ("out\n".to_string(), "err\n".to_string()));
            super::super::signal_group(s.pid, nix::sys::signal::Signal::SIGKILL).expect("kill");
            assert_eq!(s.child.wait().expect("reaped here: the child is the process's own").signal, Some(9));
        }
        drop(held);
    }
}
