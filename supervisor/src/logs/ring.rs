//! The recent output of one instance: a ring of chunks of whole lines, capped in bytes.
//!
//! Output is stored as it was read (one chunk per read of a pipe, lines not split), so a
//! flood costs one copy per read and no work per line; lines are split only when someone
//! asks for them. Each byte has an *offset*: its position in the instance's output, both
//! streams together, in the order they were captured. A line's offset is the offset of its
//! first byte, so offsets grow within each stream and across them, and a reader resumes
//! with `since = next_offset`.

use super::{LogChunk, LogLine, Stream};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::path::PathBuf;
use tokio::sync::watch;

/// What a chunk costs beyond its bytes (the struct and the allocation), counted against
/// the cap so that many tiny chunks cannot grow memory past it either.
const CHUNK_OVERHEAD: usize = 64;

struct Chunk {
    /// Offset of `data[0]`.
    offset: u64,
    at: DateTime<Utc>,
    stream: Stream,
    /// Whole lines; the last one may lack its `\n` (flushed at EOF, or an overlong line).
    data: Vec<u8>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    fn cost(&self) -> usize {
        self.data.capacity() + CHUNK_OVERHEAD
    }

    /// The lines with their offsets, in order.
    fn lines(&self) -> Vec<(u64, &[u8])> {
        let data = self.data.strip_suffix(b"\n").unwrap_or(&self.data);
        let mut offset = self.offset;
        data.split(|b| *b == b'\n')
            .map(|line| {
                let this = offset;
                offset += line.len() as u64 + 1;
                (this, line)
            })
            .collect()
    }
}

/// The ring of one instance. Allocates nothing until output arrives.
pub(crate) struct Ring {
    chunks: VecDeque<Chunk>,
    /// Sum of [`Chunk::cost`].
    bytes: usize,
    cap: usize,
    /// Offset after the last byte captured (including bytes dropped for the cap).
    end: u64,
    /// An evicted chunk's buffer, reused for the next one.
    spare: Vec<u8>,
    /// Told the new `end` after every push, for followers; created by the first follower.
    notify: Option<watch::Sender<u64>>,
    /// The log files' earlier content was considered (see `LogRegistry::seed`).
    pub(crate) seeded: bool,
    /// Log files to seed from before the first push (see `LogRegistry::seed_before_first_output`).
    pub(crate) seed_from: Option<[Option<PathBuf>; 2]>,
}

impl Ring {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            chunks: VecDeque::new(),
            bytes: 0,
            cap: cap.max(1),
            end: 0,
            spare: Vec::new(),
            notify: None,
            seeded: false,
            seed_from: None,
        }
    }

    /// The most bytes it keeps.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Offset after the last captured byte.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// A receiver told the end offset after every push.
    pub(crate) fn watch(&mut self) -> watch::Receiver<u64> {
        let end = self.end;
        self.notify.get_or_insert_with(|| watch::channel(end).0).subscribe()
    }

    /// Ends the followers' streams.
    pub(crate) fn close(&mut self) {
        self.notify = None;
    }

    /// Appends whole lines: `head` (a line start held back from an earlier read) followed by
    /// `body`. When they are longer than the cap, only the last lines that fit are kept; the
    /// skipped bytes still count in the offsets.
    pub(crate) fn push(&mut self, stream: Stream, at: DateTime<Utc>, head: &[u8], body: &[u8]) {
        let total = head.len() + body.len();
        if total == 0 {
            return;
        }
        // Keep from the first line start at or after `total - cap` (in `head` + `body`).
        let from = total.saturating_sub(self.cap);
        let start = if from == 0 {
            0
        } else {
            let newline = if from - 1 < head.len() {
                memchr::memchr(b'\n', &head[from - 1..])
                    .map(|i| from - 1 + i)
                    .or_else(|| memchr::memchr(b'\n', body).map(|i| head.len() + i))
            } else {
                memchr::memchr(b'\n', &body[from - 1 - head.len()..]).map(|i| from - 1 + i)
            };
            match newline {
                Some(i) if i + 1 < total => i + 1,
                _ => from,
            }
        };
        // Reuse the last evicted buffer when it fits without wasting much: the cap counts
        // capacity, so an oversized buffer would push out more than it holds.
        let kept = total - start;
        let mut data = if self.spare.capacity() >= kept && self.spare.capacity() <= kept.saturating_mul(2) {
            let mut spare = std::mem::take(&mut self.spare);
            spare.clear();
            spare
        } else {
            Vec::with_capacity(kept)
        };
        if start < head.len() {
            data.extend_from_slice(&head[start..]);
            data.extend_from_slice(body);
        } else {
            data.extend_from_slice(&body[start - head.len()..]);
        }
        let skipped = start;
        let chunk = Chunk { offset: self.end + skipped as u64, at, stream, data };
        self.end += total as u64;
        let cost = chunk.cost();
        while self.bytes + cost > self.cap {
            let Some(old) = self.chunks.pop_front() else { break };
            self.bytes -= old.cost();
            if old.data.capacity() <= self.cap {
                self.spare = old.data;
            }
        }
        self.bytes += cost;
        self.chunks.push_back(chunk);
        if let Some(tx) = &self.notify {
            tx.send_replace(self.end);
        }
    }

    /// Up to `limit` lines of `stream` (both when `None`): those at or after `since`, oldest
    /// first, or without `since` the last `limit` lines.
    pub(crate) fn read(&self, stream: Option<Stream>, since: Option<u64>, limit: usize) -> LogChunk {
        let first_offset = self.chunks.front().map_or(self.end, |c| c.offset);
        let wanted = |c: &Chunk| stream.is_none_or(|s| s == c.stream);
        let line = |c: &Chunk, offset: u64, text: &[u8]| LogLine {
            offset,
            stream: c.stream,
            text: String::from_utf8_lossy(text.strip_suffix(b"\r").unwrap_or(text)).into_owned(),
            at: c.at,
        };
        let mut lines = Vec::new();
        let mut next_offset = self.end;
        match since {
            None => {
                'outer: for c in self.chunks.iter().rev().filter(|c| wanted(c)) {
                    for (offset, text) in c.lines().into_iter().rev() {
                        if lines.len() == limit {
                            break 'outer;
                        }
                        lines.push(line(c, offset, text));
                    }
                }
                lines.reverse();
            }
            Some(since) => {
                'outer: for c in self.chunks.iter().filter(|c| c.end() > since && wanted(c)) {
                    for (offset, text) in c.lines().into_iter().filter(|(o, _)| *o >= since) {
                        if lines.len() == limit {
                            next_offset = offset;
                            break 'outer;
                        }
                        lines.push(line(c, offset, text));
                    }
                }
            }
        }
        LogChunk { lines, next_offset, first_offset }
    }
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("end", &self.end()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(chunk: &LogChunk) -> Vec<(u64, &str)> {
        chunk.lines.iter().map(|l| (l.offset, l.text.as_str())).collect()
    }

    #[test]
    fn lines_get_byte_offsets_across_streams() {
        let mut r = Ring::new(1024);
        let at = Utc::now();
        r.push(Stream::Stdout, at, b"", b"a\nbb\n");
        r.push(Stream::Stderr, at, b"c", b"cc\n");
        r.push(Stream::Stdout, at, b"", b"last");
        let all = r.read(None, None, 100);
        assert_eq!(texts(&all), [(0, "a"), (2, "bb"), (5, "ccc"), (9, "last")]);
        assert_eq!(all.next_offset, 13);
        assert_eq!(texts(&r.read(Some(Stream::Stderr), None, 100)), [(5, "ccc")]);
        assert_eq!(texts(&r.read(None, None, 2)), [(5, "ccc"), (9, "last")]);
        // Resuming: since the first line's offset, two at a time.
        let page = r.read(None, Some(0), 2);
        assert_eq!(texts(&page), [(0, "a"), (2, "bb")]);
        assert_eq!(page.next_offset, 5);
        let page = r.read(None, Some(page.next_offset), 2);
        assert_eq!(texts(&page), [(5, "ccc"), (9, "last")]);
        assert_eq!(page.next_offset, 13);
        assert!(r.read(None, Some(13), 2).lines.is_empty());
        assert_eq!(texts(&r.read(Some(Stream::Stdout), Some(3), 10)), [(9, "last")]);
    }

    #[test]
    fn the_cap_drops_the_oldest_chunks() {
        let mut r = Ring::new(4 * (CHUNK_OVERHEAD + 16));
        let at = Utc::now();
        for i in 0..100u32 {
            r.push(Stream::Stdout, at, b"", format!("line {i:09}\n").as_bytes());
        }
        let got = r.read(None, None, 1000);
        assert!(got.lines.len() < 5 && !got.lines.is_empty(), "{}", got.lines.len());
        assert_eq!(got.lines.last().map(|l| l.text.as_str()), Some("line 000000099"));
        assert_eq!(got.next_offset, 100 * 15);
        assert_eq!(got.first_offset, got.lines[0].offset);
        assert!(r.bytes <= r.cap);
        // Reused buffers do not inflate the cost of small chunks.
        let mut small = Ring::new(4 * (CHUNK_OVERHEAD + 1000));
        small.push(Stream::Stdout, at, b"", &[b'x'; 3999]);
        for _ in 0..10 {
            small.push(Stream::Stdout, at, b"", &[b'y'; 999]);
        }
        assert_eq!(small.chunks.len(), 4, "four 999-byte chunks fit");
        // An old cursor resumes at the oldest line still held.
        assert_eq!(r.read(None, Some(0), 1).lines[0].offset, got.first_offset);
    }

    #[test]
    fn a_read_larger_than_the_cap_keeps_its_last_whole_lines() {
        let mut r = Ring::new(100);
        let body: Vec<u8> = (0..50u32).flat_map(|i| format!("{i:05}\n").into_bytes()).collect();
        r.push(Stream::Stdout, Utc::now(), b"", &body);
        let got = r.read(None, None, 1000);
        assert_eq!(got.lines.last().map(|l| l.text.as_str()), Some("00049"));
        for l in &got.lines {
            assert_eq!(l.text.len(), 5, "whole lines only: {l:?}");
            assert_eq!(l.offset, l.text.parse::<u64>().expect("number") * 6);
        }
        assert_eq!(got.next_offset, 300);
    }
}
