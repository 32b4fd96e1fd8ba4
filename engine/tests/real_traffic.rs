//! The built-in detectors on request targets taken from real traffic: every exploit in
//! `data/exploit_targets.txt` is blocked, and no ordinary request in `data/benign_targets.txt`
//! is. Each line is sent as a GET with a browser's headers; lines starting with `#` are notes.

use moat::{Action, Engine, Header, Request, Settings};

/// The non-empty, non-comment lines of a data file.
fn targets(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The action and matched rule ids for a GET of `target`.
fn judge(engine: &Engine, target: &str) -> (Action, String) {
    let req = Request {
        method: b"GET",
        uri: target.as_bytes(),
        version: b"HTTP/1.1",
        headers: vec![
            Header {
                name: b"Host",
                value: b"shop.example.com",
            },
            Header {
                name: b"User-Agent",
                value: b"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            },
            Header {
                name: b"Accept",
                value: b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            },
        ],
        ..Default::default()
    };
    let verdict = engine.check(&req, None);
    (verdict.action, verdict.rule_ids())
}

#[test]
fn exploits_seen_in_the_wild_are_blocked() {
    let engine = Engine::new(Settings::default());
    let list = targets("exploit_targets.txt");
    assert!(list.len() > 200, "the list is read");
    let missed: Vec<&String> = list
        .iter()
        .filter(|t| judge(&engine, t).0 != Action::Block)
        .collect();
    assert!(missed.is_empty(), "not blocked: {missed:#?}");
}

#[test]
fn ordinary_requests_that_look_like_attacks_pass() {
    let engine = Engine::new(Settings::default());
    let list = targets("benign_targets.txt");
    assert!(list.len() > 50, "the list is read");
    let blocked: Vec<(String, String)> = list
        .iter()
        .filter_map(|t| {
            let (action, ids) = judge(&engine, t);
            (action == Action::Block).then(|| (t.clone(), ids))
        })
        .collect();
    assert!(blocked.is_empty(), "blocked: {blocked:#?}");
}
