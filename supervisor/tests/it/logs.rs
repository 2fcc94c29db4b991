//! Output capture with real processes: files and ring complete and in order, the last
//! bytes of a writer that exits at once, rotation, and following.

use crate::helpers::*;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use supervisor::logs::{LogFiles, LogRegistry, Rotation};
use supervisor::{EventKind, LogConfig, Stream};

/// Waits for the exit of `name`: once it is reported, its output must be complete.
async fn exited(sup: &mut TestSupervisor, name: &str) {
    sup.wait_for_event(|e| e.name == name && matches!(e.kind, EventKind::Exited { .. })).await;
}

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().map(String::from).collect()
}

#[tokio::test]
async fn interleaved_streams_reach_files_and_ring_complete_and_in_order() {
    let mut sup = spawn_supervisor();
    let script = "i=0; while [ $i -lt 2000 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done";
    sup.register(sh("chatty", script)).await;
    exited(&mut sup, "chatty").await;

    let want = |tag: &str| (0..2000).map(|i| format!("{tag} {i}")).collect::<Vec<_>>();
    assert_eq!(lines_of(&sup.log_file("chatty", "stdout")), want("out"));
    assert_eq!(lines_of(&sup.log_file("chatty", "stderr")), want("err"));

    let all = sup.handle.logs("chatty", None, Some(0), 10_000).await.expect("logs");
    assert_eq!(all.lines.len(), 4000);
    let texts = |s: Stream| all.lines.iter().filter(|l| l.stream == s).map(|l| l.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(Stream::Stdout), want("out"));
    assert_eq!(texts(Stream::Stderr), want("err"));
    assert!(all.lines.windows(2).all(|w| w[0].offset < w[1].offset), "offsets increase");
    let total: u64 = all.lines.iter().map(|l| l.text.len() as u64 + 1).sum();
    assert_eq!(all.next_offset, total);

    let tail = sup.handle.logs("chatty", Some(Stream::Stderr), None, 3).await.expect("tail");
    let tail: Vec<_> = tail.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(tail, ["err 1997", "err 1998", "err 1999"]);
    let page = sup.handle.logs("chatty", None, Some(all.lines[10].offset), 2).await.expect("page");
    assert_eq!(page.lines, all.lines[10..12]);
    assert_eq!(page.next_offset, all.lines[12].offset);

    assert!(matches!(sup.handle.logs("nobody", None, None, 10).await, Err(supervisor::Error::NotFound(_))));
    sup.shutdown().await;
}

#[tokio::test]
async fn a_flood_is_complete_when_the_writer_exits_right_after_its_last_write() {
    let mut sup = spawn_supervisor();
    // About 39 MB in big writes, then exit at once.
    sup.register(sh("flood", "seq 1 5000000")).await;
    exited(&mut sup, "flood").await;

    let text = fs::read_to_string(sup.log_file("flood", "stdout")).expect("log");
    let mut n = 0u64;
    for line in text.lines() {
        n += 1;
        assert_eq!(line.parse::<u64>().ok(), Some(n), "line {n} out of order or damaged");
    }
    assert_eq!(n, 5_000_000, "every line is in the file when the exit is reported");

    // The ring holds the most recent part, ending with the last line.
    let tail = sup.handle.logs("flood", None, None, 2).await.expect("logs");
    let tail: Vec<_> = tail.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(tail, ["4999999", "5000000"]);
    let oldest = sup.handle.logs("flood", None, Some(0), 1).await.expect("logs");
    assert!(oldest.lines[0].offset > 0, "the ring is capped: the start has been dropped");
    assert_eq!(oldest.first_offset, oldest.lines[0].offset);
    sup.shutdown().await;
}

#[tokio::test]
async fn a_restarted_process_keeps_appending_and_offsets_keep_growing() {
    let mut sup = spawn_supervisor();
    let mut spec = sh("again", "echo run");
    spec.log = Some(Box::new(supervisor::LogSpec {
        stdout: Some(sup.dir.path().join("custom/again.out")),
        ..Default::default()
    }));
    sup.register(spec).await;
    exited(&mut sup, "again").await;
    sup.handle.start(supervisor::Selector::Name("again".into())).await.expect("start");
    exited(&mut sup, "again").await;
    assert_eq!(lines_of(&sup.dir.path().join("custom/again.out")), ["run", "run"]);
    assert!(!sup.log_file("again", "stdout").exists(), "the explicit path replaces the default");
    let logs = sup.handle.logs("again", None, Some(0), 10).await.expect("logs");
    let offsets: Vec<_> = logs.lines.iter().map(|l| l.offset).collect();
    assert_eq!(offsets, [0, 4]);
    sup.shutdown().await;
}

#[tokio::test]
async fn followers_get_the_recent_lines_then_new_ones() {
    let mut sup = spawn_supervisor();
    let fifo = sup.dir.path().join("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    let script = format!("echo one; echo two; read x < {0}; echo three; read x < {0}; echo four >&2", fifo.display());
    sup.register(sh("talk", &script)).await;
    let registry = sup.handle.log_registry().clone();
    eventually("the first lines are captured", || registry.read("talk", None, None, 10).lines.len() == 2).await;

    let mut follow = sup.handle.follow_logs("talk", None, None, 1).await.expect("follow");
    let first = within("recent lines", follow.next()).await.expect("open");
    assert_eq!(first.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["two"]);
    let release = |fifo: PathBuf| std::thread::spawn(move || fs::write(fifo, "go\n").expect("release"));
    release(fifo.clone());
    let next = within("a new line", follow.next()).await.expect("open");
    assert_eq!(next.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["three"]);
    release(fifo);
    let next = within("a new line", follow.next()).await.expect("open");
    assert_eq!(next.lines.iter().map(|l| (l.stream, l.text.as_str())).collect::<Vec<_>>(), [(Stream::Stderr, "four")]);
    exited(&mut sup, "talk").await;
    sup.handle.unregister(supervisor::Selector::Name("talk".into())).await.expect("unregister").wait().await;
    assert!(within("the end of the stream", follow.next()).await.is_none(), "unregistering ends followers");
    sup.shutdown().await;
}

/// Writes `data` through a pipe captured by `registry` as `name` and waits for the drain.
async fn capture(registry: &LogRegistry, name: &str, files: &LogFiles, data: &[u8]) {
    let ([out_r, err_r], [out_w, err_w]) = LogRegistry::pipes().expect("pipes");
    let drain = registry.capture(name, Some(out_r), Some(err_r), files).expect("capture");
    drop(err_w);
    let data = data.to_vec();
    let writer = std::thread::spawn(move || {
        let mut w = fs::File::from(out_w);
        w.write_all(&data).expect("write");
    });
    assert!(drain.wait(TIMEOUT).await, "drained");
    writer.join().expect("writer");
}

fn numbered(from: u32, to: u32) -> Vec<u8> {
    (from..to).flat_map(|i| format!("line {i:06}\n").into_bytes()).collect()
}

fn read_log(path: &Path) -> String {
    let bytes = fs::read(path).expect("read");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut out).expect("a valid gzip file");
        out
    } else {
        String::from_utf8(bytes).expect("utf-8")
    }
}

fn backups(dir: &Path, file: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{file}."))))
        .collect();
    // By time stamp, whether compressed or not.
    found.sort_by_key(|p| p.to_string_lossy().trim_end_matches(".gz").to_string());
    found
}

#[tokio::test]
async fn rotation_by_size_keeps_whole_lines_and_compresses_the_backups() {
    let dir = tempfile::tempdir().expect("dir");
    let registry = LogRegistry::new(LogConfig::default());
    let path = dir.path().join("rot.stdout.log");
    let files = LogFiles {
        stdout: Some(path.clone()),
        stderr: None,
        rotation: Rotation { max_bytes: 10_000, max_backups: 3, compress: true, ..Rotation::default() },
    };
    // 12 bytes a line, 5000 lines: 60 kB, six files' worth.
    capture(&registry, "rot", &files, &numbered(0, 5000)).await;

    let settled = || {
        let b = backups(dir.path(), "rot.stdout.log");
        b.len() == 3 && b.iter().all(|p| p.extension().is_some_and(|e| e == "gz"))
    };
    eventually("three compressed backups remain", settled).await;
    let mut text = String::new();
    for b in backups(dir.path(), "rot.stdout.log") {
        let part = read_log(&b);
        assert!(part.len() <= 10_000 && part.ends_with('\n'), "{}: {} bytes", b.display(), part.len());
        text.push_str(&part);
    }
    let current = read_log(&path);
    assert!(current.len() <= 10_000);
    text.push_str(&current);
    // The newest lines, complete and in order, across the backups and the current file.
    let got: Vec<&str> = text.lines().collect();
    let first: u32 = got[0].trim_start_matches("line ").parse().expect("number");
    let want: Vec<String> = (first..5000).map(|i| format!("line {i:06}")).collect();
    assert_eq!(got, want);
    assert!(first > 0, "older backups were removed");
}

#[tokio::test]
async fn rotation_removes_backups_older_than_max_age() {
    let dir = tempfile::tempdir().expect("dir");
    let registry = LogRegistry::new(LogConfig::default());
    let path = dir.path().join("aged.stdout.log");
    let old = dir.path().join("aged.stdout.log.20200101T000000.000Z.gz");
    let recent = dir.path().join("aged.stdout.log.20200102T000000.000Z");
    let unrelated = dir.path().join("other.stdout.log.20200101T000000.000Z");
    for p in [&old, &recent, &unrelated] {
        fs::write(p, "x\n").expect("write");
    }
    let ten_days_ago = std::time::SystemTime::now() - Duration::from_secs(10 * 86_400);
    for p in [&old, &unrelated] {
        fs::File::options().write(true).open(p).expect("open").set_modified(ten_days_ago).expect("mtime");
    }
    let files = LogFiles {
        stdout: Some(path.clone()),
        stderr: None,
        rotation: Rotation { max_bytes: 1000, max_age_days: 7, ..Rotation::default() },
    };
    capture(&registry, "aged", &files, &numbered(0, 200)).await;
    eventually("the old backup is removed", || !old.exists()).await;
    assert!(recent.exists(), "a recent backup stays");
    assert!(unrelated.exists(), "another log's backups are not touched");
    // Nothing compressed: compress is off.
    assert!(backups(dir.path(), "aged.stdout.log").iter().all(|p| p.extension().is_none_or(|e| e != "gz")));
}

#[tokio::test]
async fn memory_stays_bounded_for_a_fast_writer() {
    let registry = LogRegistry::with_ring_bytes(LogConfig::default(), 64 << 10);
    let files = LogFiles::default();
    capture(&registry, "big", &files, &numbered(0, 200_000)).await;
    let chunk = registry.read("big", None, Some(0), 100_000);
    let held: usize = chunk.lines.iter().map(|l| l.text.len() + 1).sum();
    assert!(held <= 64 << 10, "the ring holds at most its cap: {held}");
    assert_eq!(chunk.lines.last().map(|l| l.text.as_str()), Some("line 199999"));
    assert_eq!(chunk.next_offset, 200_000 * 12);
}

#[tokio::test]
async fn any_child_can_be_captured_like_a_job_slot() {
    let dir = tempfile::tempdir().expect("dir");
    let registry = LogRegistry::new(LogConfig { dir: Some(dir.path().to_path_buf()), ..LogConfig::default() });
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "echo job out; echo job err >&2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let spec = supervisor::ProcessSpec::new("job-1", "unused");
    let files = LogFiles::resolve(&spec, "job-1", registry.config());
    let drain = registry.capture_child("job-1", &mut child, &files).expect("capture");
    assert!(child.wait().await.expect("wait").success());
    assert!(drain.wait(TIMEOUT).await, "drained");
    assert_eq!(lines_of(&dir.path().join("job-1.stdout.log")), ["job out"]);
    assert_eq!(lines_of(&dir.path().join("job-1.stderr.log")), ["job err"]);
    let texts: Vec<_> = registry.read("job-1", None, None, 10).lines.into_iter().map(|l| l.text).collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.contains(&"job out".to_string()) && texts.contains(&"job err".to_string()));
}

#[tokio::test]
async fn after_a_daemon_restart_the_tail_comes_from_the_files() {
    let mut first = spawn_supervisor();
    let dir = first.dir.clone();
    first.register(sh("said", "echo before; echo oops >&2")).await;
    exited(&mut first, "said").await;
    first.shutdown().await;

    let second = spawn_supervisor_in(dir);
    let opts = supervisor::RegisterOptions { start: false, ..supervisor::RegisterOptions::api() };
    second.handle.register(sh("said", "echo after"), opts).await.expect("register");
    let logs = second.handle.logs("said", None, None, 10).await.expect("logs");
    let got: Vec<_> = logs.lines.iter().map(|l| (l.stream, l.text.as_str())).collect();
    assert_eq!(got, [(Stream::Stdout, "before"), (Stream::Stderr, "oops")]);
    // New output follows the seeded lines.
    second.handle.start(supervisor::Selector::Name("said".into())).await.expect("start");
    let mut second = second;
    exited(&mut second, "said").await;
    let logs = second.handle.logs("said", Some(Stream::Stdout), None, 10).await.expect("logs");
    let got: Vec<_> = logs.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(got, ["before", "after"]);
    second.shutdown().await;
}
