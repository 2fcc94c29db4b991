//! The capture thread: one epoll set for every pipe of every process.
//!
//! A pipe costs an entry in a map and an epoll registration; nothing is allocated for it
//! until it has output. The thread reads into one buffer it owns (allocated at the first
//! read), writes what it read to the log file in one `write`, and hands the same bytes to
//! the instance's ring. A pipe that fills up is enlarged (64 KiB → 1 MiB) so that a flood is
//! moved in large reads. A writer faster than the disk blocks on its full pipe, so
//! memory stays bounded whatever it writes.
//!
//! When both pipes of a capture reach end of file (every writer has closed them: the
//! process and whatever it started), its [`Drain`](super::Drain) completes.

use super::file::FileSink;
use super::ring::Ring;
use super::Stream;
use chrono::Utc;
use rustix::event::epoll;
use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// The read buffer, and the size a pipe is grown to once it has filled up.
const BUF: usize = 1 << 20;
/// The default pipe capacity: a read this large means the pipe was full.
const PIPE_DEFAULT: usize = 64 << 10;
/// A line held back longer than this (no newline yet) goes to the ring as it is.
const MAX_PENDING: usize = 64 << 10;

/// Shared by the two pipes of one capture: completes the drain when both are done.
pub(crate) struct DrainState {
    open: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl DrainState {
    pub(crate) fn new(open: usize, done: oneshot::Sender<()>) -> Arc<Self> {
        Arc::new(Self { open: AtomicUsize::new(open), done: Mutex::new(Some(done)) })
    }

    fn close_one(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(tx) = self.done.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(());
            }
        }
    }
}

/// One pipe being captured.
pub(crate) struct Pipe {
    pub fd: OwnedFd,
    pub stream: Stream,
    pub ring: Arc<Mutex<Ring>>,
    pub file: Option<FileSink>,
    pub drain: Arc<DrainState>,
    /// The start of a line whose end has not been read yet.
    pub pending: Vec<u8>,
    pub grown: bool,
}

impl Pipe {
    /// The ring first, the file second: a reader seeding an empty ring from the file (see
    /// `LogRegistry::seed`) then never sees the same bytes twice.
    fn consume(&mut self, data: &[u8]) {
        let at = Utc::now();
        match memchr::memrchr(b'\n', data) {
            Some(i) => {
                let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
                super::seed_before_first_push(&mut ring);
                ring.push(self.stream, at, &self.pending, &data[..=i]);
                drop(ring);
                self.pending.clear();
                self.pending.extend_from_slice(&data[i + 1..]);
            }
            None => self.pending.extend_from_slice(data),
        }
        if self.pending.len() > MAX_PENDING {
            self.flush_pending();
        }
        if let Some(file) = &mut self.file {
            file.write(data);
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            super::seed_before_first_push(&mut ring);
            ring.push(self.stream, Utc::now(), &self.pending, b"");
            drop(ring);
            self.pending = Vec::new();
        }
    }

    fn finish(mut self) {
        self.flush_pending();
        self.drain.close_one();
    }
}

/// The handle to the capture thread.
pub(crate) struct Reader {
    epoll: OwnedFd,
    new: mpsc::Sender<(u64, Pipe)>,
    next: AtomicU64,
}

impl Reader {
    /// Starts the thread.
    pub(crate) fn start() -> io::Result<Arc<Self>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let (tx, rx) = mpsc::channel();
        let reader = Arc::new(Self { epoll, new: tx, next: AtomicU64::new(1) });
        let thread = Arc::clone(&reader);
        std::thread::Builder::new().name("provisr-logs".into()).spawn(move || thread.run(&rx))?;
        Ok(reader)
    }

    /// Adds a pipe (its read end, non-blocking) to the set.
    pub(crate) fn add(&self, pipe: Pipe) -> io::Result<()> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP;
        epoll::add(&self.epoll, &pipe.fd, epoll::EventData::new_u64(token), flags)?;
        // An event that comes before the pipe reaches the thread's map is skipped; the set is
        // level-triggered, so it comes again. Closing the pipe's descriptor (the only one the
        // daemon has) takes it out of the set.
        self.new.send((token, pipe)).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn run(&self, new: &mpsc::Receiver<(u64, Pipe)>) {
        let mut pipes: HashMap<u64, Pipe> = HashMap::new();
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        let mut buf: Vec<u8> = Vec::new();
        loop {
            events.clear();
            match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    tracing::error!("log capture stopped: epoll_wait: {e}");
                    return;
                }
            }
            while let Ok((token, pipe)) = new.try_recv() {
                pipes.insert(token, pipe);
            }
            for event in &events {
                let token = event.data.u64();
                let Some(pipe) = pipes.get_mut(&token) else { continue };
                if buf.is_empty() {
                    buf = vec![0; BUF];
                }
                match rustix::io::read(&pipe.fd, &mut buf[..]) {
                    Ok(0) => {
                        if let Some(pipe) = pipes.remove(&token) {
                            pipe.finish();
                        }
                    }
                    Ok(n) => {
                        pipe.consume(&buf[..n]);
                        if n >= PIPE_DEFAULT && !pipe.grown {
                            pipe.grown = true;
                            // Above the per-user limit of pipe memory this fails: keep 64 KiB.
                            let _ = rustix::pipe::fcntl_setpipe_size(&pipe.fd, BUF);
                        }
                    }
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
                    Err(e) => {
                        tracing::warn!("reading a process's {}: {e}", pipe.stream.as_str());
                        if let Some(pipe) = pipes.remove(&token) {
                            pipe.finish();
                        }
                    }
                }
            }
        }
    }
}
