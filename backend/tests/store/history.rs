//! History queries the console pages with: newest first, by exact name or name prefix,
//! older than a row id.

use crate::helpers::{on_both_backends, TestDb};
use backend::store::events::{self, NameFilter};
use chrono::Utc;
use supervisor::{Event, EventKind};

on_both_backends!(history_pages_backwards_by_exact_name_or_prefix);

fn event(seq: u64, name: &str) -> Event {
    Event { seq, at: Utc::now(), name: name.to_string(), kind: EventKind::Killed { pid: seq as u32 }, status: None }
}

async fn history_pages_backwards_by_exact_name_or_prefix(t: TestDb) {
    let names = ["web-1", "web-2", "web-1", "webhook", "api", "web-1", "web-2", "web-1", "webhook", "web-1"];
    let rows = names.iter().enumerate().map(|(i, n)| events::row("run", &event(i as u64 + 1, n))).collect();
    events::insert_many(&t.db, rows).await.expect("insert");

    let seqs = |rows: &[events::HistoryEntry]| rows.iter().map(|r| r.pid.unwrap_or_default()).collect::<Vec<_>>();

    // Exact name, newest first, three at a time.
    let first = events::list_before(&t.db, Some(NameFilter::Exact("web-1")), None, 3).await.expect("page 1");
    assert_eq!(seqs(&first), [10, 8, 6]);
    let before = first.last().map(|r| r.id);
    let second = events::list_before(&t.db, Some(NameFilter::Exact("web-1")), before, 3).await.expect("page 2");
    assert_eq!(seqs(&second), [3, 1]);

    // A prefix: `web-` is both instances of `web`, `web` also matches `webhook`.
    let web = events::list_before(&t.db, Some(NameFilter::Prefix("web-")), None, 100).await.expect("prefix");
    assert_eq!(seqs(&web), [10, 8, 7, 6, 3, 2, 1]);
    let all_web = events::list_before(&t.db, Some(NameFilter::Prefix("web")), None, 100).await.expect("prefix");
    assert_eq!(all_web.len(), 9);

    // No filter: everything, and `list` is the same query.
    let all = events::list_before(&t.db, None, None, 100).await.expect("all");
    assert_eq!(all.len(), names.len());
    assert_eq!(all, events::list(&t.db, None, 100).await.expect("list"));
}
