//! `moat`: the command-line tool.
//!
//! `moat check [--config FILE] [--rules FILE] [--json] REQUEST.http` judges a raw HTTP request
//! file with the same engine and settings syntax as the nginx module (`--rules` loads a SecLang
//! file as `moat_rules_file` does, e.g. OWASP CRS; the config's `moat_rules_remove_by_id` removes
//! rules of both the file and the built-in detectors), and prints the verdict. Exit status: 0 when
//! the request passes, 2 when it would be blocked, 1 on a usage or configuration error.
//!
//! `moat ftw --rules CRS_DIR --tests DIR [--overrides FILE] [--include REGEX] [--exclude REGEX]
//! [--show-failures]` runs a go-ftw regression suite (e.g. OWASP CRS's) in-process: one line per
//! test (`PASS id`, `FAIL id: why`, `SKIP id: why`; only failures with `--show-failures`), then
//! `N passed, M failed, K skipped`. Exit status: 0 when nothing failed, 2 when a test failed or a
//! test file could not be loaded, 1 on a usage error.
//!
//! `moat schema URL [database=moat] [table=events] [user=NAME] [password_file=PATH]` creates
//! Moat's ClickHouse tables and views (the options are those of `moat_log_clickhouse`);
//! `moat schema --print [database=…] [table=…]` prints the SQL instead.
//!
//! `moat ingest ACCESS.LOG… URL [options]` loads nginx access logs (the `combined` format or a
//! JSON `log_format`; `-` reads standard input) into the events table, with a progress bar on
//! standard error and a summary per file.

use std::process::ExitCode;

use std::path::{Path, PathBuf};

use moat::forward::config::LogConfig;
use moat::forward::schema;
use moat::ftw::{self, Filter, Outcome, Overrides, RulesJudge};
use moat::http_file::HttpFile;
use moat::ingest;
use moat::seclang::ast::IdRange;
use moat::settings::{directives, ConfigError, SettingsPatch};
use moat::{Action, Engine};

/// Lets a closed standard output (`moat check req.http | head -1`, `| grep -q`) end the
/// process as it ends `cat` or `grep`, instead of a panic in `println!` with a backtrace.
fn exit_quietly_on_closed_pipe() {
    // SAFETY: restores the default disposition of SIGPIPE before any thread starts; no signal
    // handler is installed and no Rust state depends on SIGPIPE being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

const USAGE: &str = "usage: moat check [--config FILE] [--rules FILE] [--json] REQUEST.http
       moat ftw --rules DIR --tests DIR [--overrides FILE] [--include REGEX] [--exclude REGEX] [--show-failures]
       moat schema URL [database=NAME] [table=NAME] [user=NAME] [password_file=PATH]
       moat schema --print [database=NAME] [table=NAME]
       moat ingest ACCESS.LOG... URL [database=NAME] [table=NAME] [user=NAME] [password_file=PATH]
       moat version";

fn main() -> ExitCode {
    exit_quietly_on_closed_pipe();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => match check(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("moat: {e}");
                ExitCode::from(1)
            }
        },
        Some("ftw") => match ftw_cmd(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("moat: {e}");
                ExitCode::from(1)
            }
        },
        Some("schema") => match schema_cmd(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("moat: {e}");
                ExitCode::from(1)
            }
        },
        Some("ingest") => match ingest_cmd(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("moat: {e}");
                ExitCode::from(1)
            }
        },
        Some("version" | "--version") => {
            println!("moat {}", moat::VERSION);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(1)
        }
    }
}

fn check(args: &[String]) -> Result<ExitCode, String> {
    let mut config = None;
    let mut rules = None;
    let mut json = false;
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => config = Some(it.next().ok_or("--config needs a file")?.clone()),
            "--rules" => rules = Some(it.next().ok_or("--rules needs a file")?.clone()),
            "--json" => json = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s => file = Some(s.to_string()),
        }
    }
    let file = file.ok_or(format!("no request file given\n{USAGE}"))?;
    let (patch, removed) = match &config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            read_config(&text).map_err(|e| format!("{path}:{}: {}", e.line, e.reason))?
        }
        None => (SettingsPatch::default(), Vec::new()),
    };
    let raw = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let http = HttpFile::parse(&raw).map_err(|e| format!("{file}: {e}"))?;
    let set = match &rules {
        Some(path) => Some(moat::rules::RuleSet::load_main(Path::new(path))?),
        // Removals of built-in detector rules travel with a rule set, as in the module.
        None if !removed.is_empty() => Some(moat::rules::RuleSet::empty()),
        None => None,
    };
    let engine = match set {
        Some(set) => Engine::with_rules(patch.resolve(), Some(std::sync::Arc::new(set))),
        None => Engine::new(patch.resolve()),
    };
    let location = engine.default_rules().map(|r| moat::rules::LocationRules {
        set: r.set,
        removed: &removed,
    });
    let verdict = engine.check_with_rules(&http.request(), None, location);
    if json {
        println!("{}", verdict_json(&verdict));
    } else {
        println!("action: {}", verdict.action.as_str());
        if verdict.action == Action::Block {
            println!("status: {}", verdict.status);
        }
        println!(
            "score: {} (threshold {})",
            verdict.score,
            engine.defaults().anomaly_threshold
        );
        for f in &verdict.findings {
            println!(
                "match: {} [{}] {} — {}: {}",
                f.rule_id,
                f.severity.as_str(),
                f.msg,
                f.variable,
                f.data
            );
        }
        if let Some(cause) = verdict.fail_open {
            println!("fail-open: {}", cause.as_str());
        }
        println!("time: {} µs", verdict.elapsed.as_micros());
    }
    Ok(if verdict.action == Action::Block {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The settings of a `--config` text and the rule ids its `moat_rules_remove_by_id` lines
/// remove (kept by the module with the rules, not in the settings).
fn read_config(text: &str) -> Result<(SettingsPatch, Vec<IdRange>), ConfigError> {
    let mut patch = SettingsPatch::default();
    let mut removed = Vec::new();
    for d in directives(text) {
        let d = d?;
        if d.name == "moat_rules_remove_by_id" {
            removed.extend(IdRange::parse_list(&d.args.join(" ")).map_err(|e| d.error(e))?);
        } else {
            patch.apply(d.name, &d.args).map_err(|e| d.error(e))?;
        }
    }
    Ok((patch, removed))
}

fn ftw_cmd(args: &[String]) -> Result<ExitCode, String> {
    let mut rules = None;
    let mut tests = None;
    let mut overrides_file = None;
    let mut filter = Filter::default();
    let mut show_failures = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--rules" => rules = Some(PathBuf::from(value("--rules")?)),
            "--tests" => tests = Some(PathBuf::from(value("--tests")?)),
            "--overrides" => overrides_file = Some(PathBuf::from(value("--overrides")?)),
            "--include" => filter.include = Some(regex_arg(&value("--include")?)?),
            "--exclude" => filter.exclude = Some(regex_arg(&value("--exclude")?)?),
            "--show-failures" => show_failures = true,
            s => return Err(format!("unknown argument {s}\n{USAGE}")),
        }
    }
    let tests_dir = tests.ok_or(format!("--tests DIR is required\n{USAGE}"))?;
    let rules = rules.ok_or(format!("--rules DIR is required\n{USAGE}"))?;
    if !rules.is_dir() {
        return Err(format!("{}: not a directory", rules.display()));
    }
    let crs_dir = if rules.join("rules").is_dir() {
        rules.clone()
    } else {
        rules.parent().map(PathBuf::from).unwrap_or_default()
    };
    let load_start = std::time::Instant::now();
    let judge = RulesJudge::crs(&crs_dir)?;
    eprintln!(
        "moat ftw: loaded CRS from {} in {:.0} ms",
        crs_dir.display(),
        load_start.elapsed().as_secs_f64() * 1000.0
    );
    let overrides = match &overrides_file {
        Some(path) => Overrides::load(path)?,
        None => Overrides::default(),
    };
    let loaded = ftw::load_dir(&tests_dir).map_err(|e| e.to_string())?;
    for e in &loaded.errors {
        eprintln!("moat ftw: {e}");
    }
    let all = loaded.tests();
    let selected = filter.select(&all);
    let report = ftw::run(&selected, &overrides, &judge);
    for r in &report.results {
        if !show_failures || r.outcome == Outcome::Fail {
            println!("{r}");
        }
    }
    eprintln!(
        "moat ftw: {} files ({} not loaded), {} tests, {} run in {:.2} s",
        loaded.files.len() + loaded.errors.len(),
        loaded.errors.len(),
        all.len(),
        selected.len(),
        report.elapsed.as_secs_f64()
    );
    println!("{}", report.summary());
    Ok(if report.failed > 0 || !loaded.errors.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn schema_cmd(args: &[String]) -> Result<ExitCode, String> {
    let print = args.first().is_some_and(|a| a == "--print");
    let mut words: Vec<&str> = args
        .iter()
        .skip(usize::from(print))
        .map(String::as_str)
        .collect();
    if print {
        words.insert(0, "http://127.0.0.1:8123");
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let config = LogConfig::parse(&words, &cwd).map_err(|e| format!("{e}\n{USAGE}"))?;
    let ch = &config.clickhouse;
    if print {
        for statement in schema::statements(&ch.database, &ch.table) {
            println!("{statement};\n");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let n = schema::apply(ch)?;
    println!(
        "moat: schema applied to {}.{} at {}:{} ({n} statements)",
        ch.database, ch.table, ch.endpoint.host, ch.endpoint.port
    );
    Ok(ExitCode::SUCCESS)
}

fn ingest_cmd(args: &[String]) -> Result<ExitCode, String> {
    let (config, files): (Vec<&str>, Vec<&str>) = args
        .iter()
        .map(String::as_str)
        .partition(|a| a.starts_with("http://") || a.starts_with("https://") || a.contains('='));
    if files.is_empty() || config.is_empty() {
        return Err(format!(
            "name access log files and a ClickHouse URL\n{USAGE}"
        ));
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let config = LogConfig::parse(&config, &cwd).map_err(|e| format!("{e}\n{USAGE}"))?;
    let ch = &config.clickhouse;
    for file in files {
        let start = std::time::Instant::now();
        let (input, total): (Box<dyn std::io::Read>, Option<u64>) = if file == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let f = std::fs::File::open(file).map_err(|e| format!("{file}: {e}"))?;
            let len = f.metadata().map(|m| m.len()).ok();
            (Box::new(f), len)
        };
        let progress = |bytes: u64, s: &ingest::Summary| {
            let bar = match total {
                Some(total) if total > 0 => {
                    let done = (bytes as f64 / total as f64).min(1.0);
                    let filled = (done * 30.0) as usize;
                    format!(
                        "{:3.0}% [{}{}] ",
                        done * 100.0,
                        "#".repeat(filled),
                        ".".repeat(30 - filled)
                    )
                }
                _ => String::new(),
            };
            eprint!(
                "\r{file}: {bar}{} lines, {} events, {:.1} MB",
                s.lines,
                s.inserted,
                bytes as f64 / 1e6
            );
        };
        let summary = ingest::ingest(input, ch, progress).map_err(|e| format!("\n{file}: {e}"))?;
        eprintln!();
        let span = summary.span.map_or(String::new(), |(lo, hi)| {
            format!(
                ", from {} to {} UTC",
                moat::forward::utc_timestamp(lo / 1000),
                moat::forward::utc_timestamp(hi / 1000)
            )
        });
        println!(
            "moat ingest: {file}: {} lines, {} events inserted into {}.{}, {} lines skipped{span}, {:.1} s",
            summary.lines,
            summary.inserted,
            ch.database,
            ch.table,
            summary.skipped,
            start.elapsed().as_secs_f64()
        );
        for (n, line) in &summary.examples {
            println!("  skipped line {n}: {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn regex_arg(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("bad regex {pattern:?}: {e}"))
}

fn verdict_json(v: &moat::Verdict) -> String {
    let esc = |s: &str| {
        let mut o = String::with_capacity(s.len() + 2);
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o
    };
    let matches: Vec<String> = v
        .findings
        .iter()
        .map(|f| {
            format!(
                "{{\"id\":{},\"severity\":\"{}\",\"msg\":\"{}\",\"variable\":\"{}\",\"data\":\"{}\"}}",
                f.rule_id,
                f.severity.as_str(),
                esc(&f.msg),
                esc(&f.variable),
                esc(&f.data)
            )
        })
        .collect();
    format!(
        "{{\"action\":\"{}\",\"status\":{},\"score\":{},\"matches\":[{}],\"fail_open\":{},\"elapsed_us\":{}}}",
        v.action.as_str(),
        v.status,
        v.score,
        matches.join(","),
        v.fail_open.map_or("null".to_string(), |c| format!("\"{}\"", c.as_str())),
        v.elapsed.as_micros()
    )
}
