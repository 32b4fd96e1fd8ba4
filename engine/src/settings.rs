//! Per-location settings: mode, threshold, body limits, time budget, built-in detectors.
//!
//! The directive syntax (`moat on;`, `moat_threshold 5;` …) is parsed here once and shared by the
//! nginx module, the Lua binding and the CLI, so every adapter accepts and rejects the same values
//! with the same messages.

use std::fmt;
use std::time::Duration;

/// What the engine does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Inspect and block requests at or above the threshold.
    #[default]
    On,
    /// Inspect and log, never block.
    Detect,
    /// Do not inspect.
    Off,
}

impl Mode {
    /// Parses `on`, `detect` or `off`.
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "on" => Ok(Mode::On),
            "detect" => Ok(Mode::Detect),
            "off" => Ok(Mode::Off),
            _ => Err(format!(
                "invalid mode \"{s}\": expected \"on\", \"detect\" or \"off\""
            )),
        }
    }

    /// The directive spelling of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::On => "on",
            Mode::Detect => "detect",
            Mode::Off => "off",
        }
    }
}

/// What to do with a body larger than the inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyLimitAction {
    /// Inspect the first `body_limit` bytes and flag the request.
    #[default]
    Inspect,
    /// Reject the request with 413.
    Reject,
}

impl BodyLimitAction {
    /// Parses `reject` or `inspect`.
    pub fn parse(s: &str) -> Result<BodyLimitAction, String> {
        match s {
            "reject" => Ok(BodyLimitAction::Reject),
            "inspect" => Ok(BodyLimitAction::Inspect),
            _ => Err(format!(
                "invalid body limit action \"{s}\": expected \"reject\" or \"inspect\""
            )),
        }
    }
}

/// Fully resolved settings for one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Block, detect only, or off.
    pub mode: Mode,
    /// Anomaly score at which a request is blocked.
    pub anomaly_threshold: u32,
    /// HTTP status sent for a blocked request.
    pub block_status: u16,
    /// Largest number of body bytes inspected.
    pub body_limit: u64,
    /// What happens to a body larger than `body_limit`.
    pub body_limit_action: BodyLimitAction,
    /// Inspection stops and the request passes once this much time is spent, plus
    /// [`crate::engine::BODY_TIME_PER_BYTE`] for each inspected body byte.
    pub time_budget: Duration,
    /// Whether the built-in detectors judge the request next to the rules (off: a rule set
    /// such as OWASP CRS decides alone, as under ModSecurity).
    pub detectors: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::On,
            anomaly_threshold: 5,
            block_status: 403,
            body_limit: 8 * 1024 * 1024,
            body_limit_action: BodyLimitAction::Inspect,
            time_budget: Duration::from_millis(5),
            detectors: true,
        }
    }
}

/// Settings as written at one configuration level; unset fields inherit from the level above.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    /// `moat on|detect|off;`
    pub mode: Option<Mode>,
    /// `moat_threshold N;`
    pub anomaly_threshold: Option<u32>,
    /// `moat_block_status CODE;`
    pub block_status: Option<u16>,
    /// `moat_body_limit SIZE;`
    pub body_limit: Option<u64>,
    /// `moat_body_limit_action reject|inspect;`
    pub body_limit_action: Option<BodyLimitAction>,
    /// `moat_time_budget TIME;`
    pub time_budget: Option<Duration>,
    /// `moat_detectors on|off;`
    pub detectors: Option<bool>,
}

/// The directives that set [`Settings`] fields, as `(name, argument description)`.
pub const DIRECTIVES: &[(&str, &str)] = &[
    ("moat", "on|detect|off"),
    ("moat_threshold", "anomaly score that blocks, 1..=10000"),
    ("moat_block_status", "HTTP status for a block, 400..=599"),
    ("moat_body_limit", "size, e.g. 512k or 8m"),
    ("moat_body_limit_action", "reject|inspect"),
    ("moat_time_budget", "time, e.g. 5ms or 1s"),
    ("moat_detectors", "on|off"),
];

impl SettingsPatch {
    /// Applies one directive with its arguments; the error says what is wrong with the value.
    pub fn apply(&mut self, name: &str, args: &[&str]) -> Result<(), String> {
        let value = match args {
            [v] => *v,
            _ => {
                return Err(format!(
                    "\"{name}\" takes exactly one argument, {} given",
                    args.len()
                ))
            }
        };
        match name {
            "moat" => set_once(&mut self.mode, name, Mode::parse(value)?),
            "moat_threshold" => set_once(
                &mut self.anomaly_threshold,
                name,
                parse_in_range(value, 1, 10_000, "anomaly threshold")?,
            ),
            "moat_block_status" => set_once(
                &mut self.block_status,
                name,
                parse_in_range(value, 400, 599, "block status")? as u16,
            ),
            "moat_body_limit" => set_once(&mut self.body_limit, name, parse_size(value)?),
            "moat_body_limit_action" => set_once(
                &mut self.body_limit_action,
                name,
                BodyLimitAction::parse(value)?,
            ),
            "moat_time_budget" => set_once(&mut self.time_budget, name, parse_duration(value)?),
            "moat_detectors" => set_once(&mut self.detectors, name, parse_switch(value)?),
            _ => Err(format!("unknown directive \"{name}\"")),
        }
    }

    /// Fills every unset field from `parent` (nginx's merge of a location into its server).
    pub fn inherit(&mut self, parent: &SettingsPatch) {
        self.mode = self.mode.or(parent.mode);
        self.anomaly_threshold = self.anomaly_threshold.or(parent.anomaly_threshold);
        self.block_status = self.block_status.or(parent.block_status);
        self.body_limit = self.body_limit.or(parent.body_limit);
        self.body_limit_action = self.body_limit_action.or(parent.body_limit_action);
        self.time_budget = self.time_budget.or(parent.time_budget);
        self.detectors = self.detectors.or(parent.detectors);
    }

    /// The settings with defaults for whatever no level set.
    pub fn resolve(&self) -> Settings {
        let d = Settings::default();
        Settings {
            mode: self.mode.unwrap_or(d.mode),
            anomaly_threshold: self.anomaly_threshold.unwrap_or(d.anomaly_threshold),
            block_status: self.block_status.unwrap_or(d.block_status),
            body_limit: self.body_limit.unwrap_or(d.body_limit),
            body_limit_action: self.body_limit_action.unwrap_or(d.body_limit_action),
            time_budget: self.time_budget.unwrap_or(d.time_budget),
            detectors: self.detectors.unwrap_or(d.detectors),
        }
    }
}

/// A configuration error with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number in the configuration text.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Parses a configuration file in nginx directive syntax (`moat on;` one per line, `#` comments),
/// as used by `moat check --config`. Directives that nginx itself owns are not accepted here.
pub fn parse_config(text: &str) -> Result<SettingsPatch, ConfigError> {
    let mut patch = SettingsPatch::default();
    for d in directives(text) {
        let d = d?;
        patch
            .apply(d.name, &d.args)
            .map_err(|reason| d.error(reason))?;
    }
    Ok(patch)
}

/// One directive of a configuration text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive<'t> {
    /// 1-based line number.
    pub line: usize,
    /// The directive's name.
    pub name: &'t str,
    /// Its arguments.
    pub args: Vec<&'t str>,
}

impl Directive<'_> {
    /// An error about this directive.
    pub fn error(&self, reason: String) -> ConfigError {
        ConfigError {
            line: self.line,
            reason,
        }
    }
}

/// The directives of a configuration text in nginx syntax (one per line, `;`-terminated, `#`
/// comments), or the error of a line that is not terminated.
pub fn directives(text: &str) -> impl Iterator<Item = Result<Directive<'_>, ConfigError>> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            return None;
        }
        let Some(stmt) = line.strip_suffix(';') else {
            return Some(Err(ConfigError {
                line: i + 1,
                reason: "directive is not terminated by \";\"".into(),
            }));
        };
        let mut words = stmt.split_whitespace();
        let name = words.next().unwrap_or("");
        Some(Ok(Directive {
            line: i + 1,
            name,
            args: words.collect(),
        }))
    })
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("\"{name}\" directive is duplicate"));
    }
    *slot = Some(value);
    Ok(())
}

/// Parses `on` or `off`.
fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!(
            "invalid switch \"{value}\": expected \"on\" or \"off\""
        )),
    }
}

fn parse_in_range(value: &str, min: u32, max: u32, what: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid {what} \"{value}\": expected a number from {min} to {max}"
        )),
    }
}

/// Parses an nginx-style size: bytes, or a number with `k`/`K` or `m`/`M`.
pub fn parse_size(value: &str) -> Result<u64, String> {
    let bad = || format!("invalid size \"{value}\": expected e.g. 65536, 512k or 8m");
    let (digits, mult) = match value.as_bytes().last() {
        Some(b'k' | b'K') => (&value[..value.len() - 1], 1024),
        Some(b'm' | b'M') => (&value[..value.len() - 1], 1024 * 1024),
        Some(b'g' | b'G') => (&value[..value.len() - 1], 1024 * 1024 * 1024),
        _ => (value, 1),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(mult).filter(|&n| n > 0).ok_or_else(bad)
}

/// Parses an nginx-style time: `ms`, `s`, or a bare number of milliseconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("invalid time \"{value}\": expected e.g. 5ms or 1s, at most 10s");
    let d = if let Some(ms) = value.strip_suffix("ms") {
        Duration::from_millis(ms.parse().map_err(|_| bad())?)
    } else if let Some(us) = value.strip_suffix("us") {
        Duration::from_micros(us.parse().map_err(|_| bad())?)
    } else if let Some(s) = value.strip_suffix('s') {
        Duration::from_secs(s.parse().map_err(|_| bad())?)
    } else {
        Duration::from_millis(value.parse().map_err(|_| bad())?)
    };
    if d.is_zero() || d > Duration::from_secs(10) {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_inherits_unset_fields_from_server() {
        let mut server = SettingsPatch::default();
        server.apply("moat", &["detect"]).unwrap();
        server.apply("moat_threshold", &["10"]).unwrap();
        let mut loc = SettingsPatch::default();
        loc.apply("moat", &["on"]).unwrap();
        loc.inherit(&server);
        let s = loc.resolve();
        assert_eq!(s.mode, Mode::On);
        assert_eq!(s.anomaly_threshold, 10);
        assert_eq!(s.block_status, 403);
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let mut p = SettingsPatch::default();
        let e = p.apply("moat", &["block"]).unwrap_err();
        assert!(e.contains("\"on\", \"detect\" or \"off\""), "{e}");
        assert!(p.apply("moat_threshold", &["0"]).is_err());
        assert!(p.apply("moat_block_status", &["200"]).is_err());
        assert!(p.apply("moat_body_limit", &["lots"]).is_err());
        assert!(p.apply("moat_time_budget", &["0"]).is_err());
        assert!(p.apply("moat_time_budget", &["5", "6"]).is_err());
        let e = p.apply("moat_detectors", &["no"]).unwrap_err();
        assert!(e.contains("\"on\" or \"off\""), "{e}");
    }

    /// Built-in detectors are on unless a level turns them off; a location inherits the
    /// server's choice and may make its own.
    #[test]
    fn detectors_are_on_by_default_and_inherited() {
        assert!(SettingsPatch::default().resolve().detectors);
        let mut server = SettingsPatch::default();
        server.apply("moat_detectors", &["off"]).unwrap();
        let mut quiet = SettingsPatch::default();
        quiet.inherit(&server);
        assert!(!quiet.resolve().detectors);
        let mut own = SettingsPatch::default();
        own.apply("moat_detectors", &["on"]).unwrap();
        own.inherit(&server);
        assert!(own.resolve().detectors);
    }

    #[test]
    fn sizes_and_times_use_nginx_units() {
        assert_eq!(parse_size("512k").unwrap(), 512 * 1024);
        assert_eq!(parse_size("8m").unwrap(), 8 * 1024 * 1024);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_duration("5ms").unwrap(), Duration::from_millis(5));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
    }

    #[test]
    fn config_file_errors_carry_the_line() {
        let e = parse_config("# comment\nmoat on;\nmoat_threshold x;\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse_config("moat on\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_config("moat on;\nmoat off;\n").unwrap_err();
        assert!(e.reason.contains("duplicate"));
        let p = parse_config("moat detect; # log only\nmoat_body_limit 1m;\n").unwrap();
        assert_eq!(p.resolve().mode, Mode::Detect);
        assert_eq!(p.resolve().body_limit, 1024 * 1024);
    }
}
