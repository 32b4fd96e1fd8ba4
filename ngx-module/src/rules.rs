//! SecLang rules in nginx: the `moat_rules_file` and `moat_rules_remove_by_id` directives, the
//! per-cycle registry that owns loaded rule sets and removal lists, and the merge of both
//! through `http`, `server` and `location`.
//!
//! [`LocConf`](crate::config::LocConf) is plain pool memory that is never dropped, so it keeps
//! only indices ([`RulesConf`]); the owned data lives in one [`Registry`] per `http` block, freed
//! by a configuration pool cleanup when the cycle ends (reload or exit).

use std::collections::HashMap;
use std::ffi::{c_char, c_void, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::ptr::addr_of;
use std::time::Instant;

use moat::rules::{LocationRules, RuleSet};
use moat::seclang::ast::IdRange;
use moat::seclang::error::SecLangError;
use ngx::ffi::{
    ngx_command_t, ngx_conf_full_name, ngx_conf_t, ngx_cycle_t, ngx_http_conf_ctx_t,
    ngx_http_module, ngx_int_t, ngx_str_t, NGX_LOG_NOTICE, NGX_OK,
};

use crate::config::{main_conf_of, run_directive, LocConf, MainConf};
use crate::ctx_index;
use crate::guard::{no_unwind, write_log};

/// How many rule file errors one `nginx -t` message shows.
const ERRORS_SHOWN: usize = 5;

/// The rules of one configuration level, as indices into the [`Registry`].
#[derive(Clone, Copy, Default)]
pub struct RulesConf {
    /// The rule files named at this level (`moat_rules_file`), in order.
    files: Option<u32>,
    /// The rule set in force: this level's own, else the inherited one.
    set: Option<u32>,
    /// Ids removed at this level only (`moat_rules_remove_by_id`).
    own_removed: Option<u32>,
    /// Ids removed here: the inherited removals plus this level's own.
    removed: Option<u32>,
}

/// Owned rules data of one configuration cycle; plain indices in [`RulesConf`] point into it.
#[derive(Default)]
pub struct Registry {
    /// Loaded rule sets, each loaded once.
    sets: Vec<RuleSet>,
    /// Canonical list of rule files → index into `sets`.
    cache: HashMap<Vec<PathBuf>, u32>,
    /// Rule file lists as written at one level (resolved against the configuration prefix).
    files: Vec<Vec<PathBuf>>,
    /// Removed rule id lists.
    removals: Vec<Vec<IdRange>>,
    /// A rule set without rules, for levels that remove ids (of built-in detector rules) but
    /// load no rule files.
    empty: Option<RuleSet>,
    /// Load reports, logged once the cycle's own error log is open.
    notes: Vec<String>,
}

impl Registry {
    /// The rules a location runs and the ids it removes, if it loads rules or removes ids.
    pub fn location_rules(&self, conf: &RulesConf) -> Option<LocationRules<'_>> {
        let removed = conf
            .removed
            .and_then(|i| self.removals.get(i as usize))
            .map_or(&[][..], Vec::as_slice);
        let set = match conf.set {
            Some(set) => self.sets.get(set as usize)?,
            None if !removed.is_empty() => self.empty.as_ref()?,
            None => return None,
        };
        Some(LocationRules { set, removed })
    }

    /// The index of the rule set loaded from `paths`, loading it on first use.
    fn load(&mut self, paths: &[PathBuf]) -> Result<u32, String> {
        let canonical = paths
            .iter()
            .map(|p| {
                p.canonicalize()
                    .map_err(|e| format!("cannot open rules file \"{}\": {e}", p.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(&index) = self.cache.get(&canonical) {
            return Ok(index);
        }
        let start = Instant::now();
        let set = RuleSet::load(&canonical).map_err(|e| describe_errors(&e))?;
        self.notes.push(format!(
            "moat: loaded {} rules from {} in {} ms",
            set.rules.len(),
            join_paths(&canonical),
            start.elapsed().as_millis()
        ));
        let index = push(&mut self.sets, set)?;
        self.cache.insert(canonical, index);
        Ok(index)
    }

    /// The removal list of a level: the inherited ids plus its own.
    fn merge_removals(
        &mut self,
        inherited: Option<u32>,
        own: Option<u32>,
    ) -> Result<Option<u32>, String> {
        let (Some(inherited), Some(own)) = (inherited, own) else {
            return Ok(own.or(inherited));
        };
        let mut list = self.removals[inherited as usize].clone();
        list.extend_from_slice(&self.removals[own as usize]);
        push(&mut self.removals, list).map(Some)
    }
}

/// Adds `items` to the level's list at index `level` (a new list when the level has none yet) and
/// returns the list's index.
fn extend_or_push<T>(
    lists: &mut Vec<Vec<T>>,
    level: Option<u32>,
    items: Vec<T>,
) -> Result<u32, String> {
    if let Some(index) = level {
        if let Some(list) = lists.get_mut(index as usize) {
            list.extend(items);
            return Ok(index);
        }
    }
    push(lists, items)
}

/// Appends `value` and returns its index.
fn push<T>(list: &mut Vec<T>, value: T) -> Result<u32, String> {
    let index = u32::try_from(list.len()).map_err(|_| "too many rule lists".to_string())?;
    list.push(value);
    Ok(index)
}

/// The paths separated by `, `.
fn join_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

/// The first errors of a failed load, each as `file:line: reason`.
fn describe_errors(errors: &[SecLangError]) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(ERRORS_SHOWN)
        .map(ToString::to_string)
        .collect();
    let mut text = shown.join("; ");
    if errors.len() > ERRORS_SHOWN {
        text.push_str(&format!(
            " (and {} more errors)",
            errors.len() - ERRORS_SHOWN
        ));
    }
    text
}

/// Completes a level's rules from its parent's (already merged) rules.
pub fn merge(
    registry: &mut Registry,
    parent: &RulesConf,
    child: &mut RulesConf,
) -> Result<(), String> {
    child.set = child.set.or(parent.set);
    child.removed = registry.merge_removals(parent.removed, child.own_removed)?;
    Ok(())
}

/// The handler of `moat_rules_file` and `moat_rules_remove_by_id`.
pub unsafe extern "C" fn set_rules_directive(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let work = || {
        // SAFETY: nginx passes its own command entry and this module's location configuration
        // (conf offset NGX_HTTP_LOC_CONF_OFFSET) while parsing inside `http`.
        unsafe { apply_rules_directive(cf, &*cmd, &mut *conf.cast::<LocConf>()) }
    };
    // SAFETY: cf is nginx's live configuration context.
    unsafe { run_directive(cf, work) }
}

unsafe fn apply_rules_directive(
    cf: *mut ngx_conf_t,
    cmd: &ngx_command_t,
    conf: &mut LocConf,
) -> Result<(), String> {
    // SAFETY: directives of this module are only accepted inside `http`.
    let main = unsafe { main_conf_of(cf) }.ok_or("no http configuration")?;
    // SAFETY: the registry lives as long as the configuration pool; configuration parsing is
    // single-threaded and nothing else borrows it now.
    let registry = unsafe { main.registry.as_mut() }.ok_or("no rules registry")?;
    // SAFETY: during a directive handler cf->args is an array of ngx_str_t whose first element
    // is the directive name.
    let args = unsafe { &(*(*cf).args).as_slice::<ngx_str_t>()[1..] };
    if cmd.name.as_bytes() == b"moat_rules_file" {
        // SAFETY: cf is the live configuration context.
        let paths = unsafe { full_paths(cf, args) }?;
        let files = extend_or_push(&mut registry.files, conf.rules.files, paths)?;
        conf.rules.files = Some(files);
        conf.rules.set = Some(registry.load(&registry.files[files as usize].clone())?);
    } else {
        let ids = parse_ids(args)?;
        registry.empty.get_or_insert_with(RuleSet::empty);
        let own = extend_or_push(&mut registry.removals, conf.rules.own_removed, ids)?;
        conf.rules.own_removed = Some(own);
        conf.rules.removed = Some(own);
    }
    main.used = true;
    Ok(())
}

/// The rule ids and ranges of `moat_rules_remove_by_id`.
fn parse_ids(args: &[ngx_str_t]) -> Result<Vec<IdRange>, String> {
    let words: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    IdRange::parse_list(&words.join(" "))
}

/// The arguments as paths, relative ones resolved like nginx's `include`.
///
/// # Safety
/// `cf` must be the live configuration context.
pub(crate) unsafe fn full_paths(
    cf: *mut ngx_conf_t,
    args: &[ngx_str_t],
) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::with_capacity(args.len());
    for arg in args {
        let mut name = *arg;
        // SAFETY: cf->cycle is the cycle being configured; nginx allocates the full name from
        // the cycle pool and updates `name` in place.
        let rc = unsafe { ngx_conf_full_name((*cf).cycle, &mut name, 1) };
        if rc != NGX_OK as ngx_int_t {
            return Err(format!(
                "cannot resolve rules file \"{}\"",
                String::from_utf8_lossy(arg.as_bytes())
            ));
        }
        paths.push(PathBuf::from(OsStr::from_bytes(name.as_bytes())));
    }
    Ok(paths)
}

/// `init_module` hook: logs the rule set load reports of the new cycle to its error log (while
/// directives are parsed, only the previous cycle's log is available).
pub unsafe extern "C" fn init_module(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx passes the cycle being initialised.
    let log = unsafe { (*cycle).log };
    no_unwind(log, "init_module", NGX_OK as ngx_int_t, || {
        // SAFETY: as above.
        if let Some(registry) = unsafe { registry_of(cycle) } {
            for note in registry.notes.drain(..) {
                write_log(log, NGX_LOG_NOTICE, &note);
            }
        }
        NGX_OK as ngx_int_t
    })
}

/// The registry of the cycle's `http` block, if there is one.
unsafe fn registry_of<'a>(cycle: *mut ngx_cycle_t) -> Option<&'a mut Registry> {
    // SAFETY: cycle->conf_ctx has an entry per core module; ngx_http_module's entry is null
    // without an `http` block, else an ngx_http_conf_ctx_t whose main_conf array has an entry
    // for every HTTP module, ours created by create_main_conf. init_module runs in the master,
    // single-threaded, before any request.
    unsafe {
        let index = (*addr_of!(ngx_http_module)).index;
        let ctx = (*(*cycle).conf_ctx.add(index)).cast::<ngx_http_conf_ctx_t>();
        if ctx.is_null() {
            return None;
        }
        let main = (*(*ctx).main_conf.add(ctx_index())).cast::<MainConf>();
        main.as_ref()?.registry.as_mut()
    }
}
