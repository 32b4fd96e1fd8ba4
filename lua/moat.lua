-- Moat for OpenResty / lua-nginx-module: a LuaJIT FFI binding over libmoat.so.
--
--   init_by_lua_block   { require("moat").init{ lib = "/usr/lib/moat/libmoat.so", mode = "on" } }
--   access_by_lua_block { require("moat").protect() }
--
-- init{...} creates the engine (once, in the master: workers share it after fork). protect()
-- reads every header and the whole body, judges the request and exits with the block status
-- when the verdict is "block". check() returns the verdict as a table and leaves the decision
-- to the caller. Both accept a table of per-location settings overriding init's, e.g.
-- protect{ mode = "detect" }.
--
-- Events to ClickHouse take the options of nginx's moat_log_clickhouse as one string:
--   init{ lib = ..., clickhouse = "http://127.0.0.1:8123 database=moat spool=/var/spool/moat" }
--   init_worker_by_lua_block { require("moat").init_worker() }   -- starts this worker's forwarder
--   log_by_lua_block         { require("moat").log() }           -- queues the event with its status
--   exit_worker_by_lua_block { require("moat").exit_worker() }   -- flushes or spools on exit
--
-- Prometheus metrics: init (in init_by_lua, i.e. in the master) puts the engine's counters in
-- memory shared with the workers it forks, so one scrape answers for every worker:
--   location = /metrics { allow 127.0.0.1; deny all; content_by_lua_block {
--       local body, content_type = require("moat").metrics()
--       ngx.header.content_type = content_type
--       ngx.print(body) } }

local ffi = require("ffi")
local clear_table = require("table.clear")

local ngx = ngx
local tonumber, tostring, type, pairs, ipairs, error = tonumber, tostring, type, pairs, ipairs, error
local ffi_new, ffi_string, ffi_gc = ffi.new, ffi.string, ffi.gc

-- The declarations of include/moat.h without preprocessor lines and comments; a test keeps
-- this block identical to the generated header.
-- BEGIN moat.h
ffi.cdef[[
typedef struct MoatEngine MoatEngine;
typedef struct MoatEvent MoatEvent;
typedef struct MoatEvents MoatEvents;
typedef struct MoatGeoPolicy MoatGeoPolicy;
typedef struct MoatVerdict MoatVerdict;
typedef struct {
  uint8_t mode;
  uint8_t body_limit_action;
  uint16_t block_status;
  uint32_t anomaly_threshold;
  uint64_t body_limit;
  uint64_t time_budget_us;
  uint8_t detectors;
} MoatSettings;
typedef struct {
  const uint8_t *ptr;
  size_t len;
} MoatBytes;
typedef struct {
  MoatBytes name;
  MoatBytes value;
} MoatHeader;
typedef struct {
  MoatBytes data;
  MoatBytes path;
  int32_t fd;
  uint64_t offset;
  uint64_t len;
} MoatBodyPart;
typedef struct {
  MoatBytes method;
  MoatBytes uri;
  MoatBytes version;
  MoatBytes client_addr;
  MoatBytes request_id;
  const MoatHeader *headers;
  size_t headers_len;
  const MoatBodyPart *body;
  size_t body_len;
} MoatRequest;
typedef struct {
  uint32_t rule_id;
  uint32_t score;
  MoatBytes msg;
  MoatBytes variable;
  MoatBytes data;
} MoatMatch;
typedef struct {
  uint64_t requests;
  uint64_t allowed;
  uint64_t logged;
  uint64_t blocked;
  uint64_t fail_open_panic;
  uint64_t fail_open_time_budget;
  uint64_t fail_open_body_read;
  uint64_t body_bytes;
} MoatStats;
typedef struct {
  MoatBytes client_ip;
  MoatBytes country_code;
  MoatBytes country_name;
  MoatBytes continent_code;
  MoatBytes region;
  MoatBytes city;
  MoatBytes postal_code;
  MoatBytes asn_org;
  double latitude;
  double longitude;
  bool has_location;
  uint32_t asn;
} MoatGeo;
typedef struct {
  uint64_t sent;
  uint64_t retried;
  uint64_t spooled;
  uint64_t replayed;
  uint64_t dropped;
  uint64_t queued;
} MoatForwarderStats;
const char *moat_version(void);
void moat_settings_default(MoatSettings *out);
int32_t moat_settings_set(MoatSettings *settings,
                          const char *name,
                          const char *value,
                          char *err,
                          size_t err_len);
MoatEngine *moat_engine_new(const MoatSettings *defaults);
MoatEngine *moat_engine_new_with_rules(const MoatSettings *defaults,
                                       const char *rules_path,
                                       char *err,
                                       size_t err_len);
void moat_engine_free(MoatEngine *engine);
MoatVerdict *moat_check(const MoatEngine *engine,
                        const MoatSettings *settings,
                        const MoatRequest *req);
uint8_t moat_verdict_action(const MoatVerdict *v);
uint16_t moat_verdict_status(const MoatVerdict *v);
uint32_t moat_verdict_score(const MoatVerdict *v);
uint8_t moat_verdict_fail_open(const MoatVerdict *v);
uint64_t moat_verdict_elapsed_us(const MoatVerdict *v);
size_t moat_verdict_match_count(const MoatVerdict *v);
bool moat_verdict_match(const MoatVerdict *v, size_t i, MoatMatch *out);
MoatBytes moat_verdict_rule_ids(const MoatVerdict *v);
MoatBytes moat_verdict_log_line(const MoatVerdict *v);
void moat_verdict_free(MoatVerdict *v);
void moat_engine_stats(const MoatEngine *engine, MoatStats *out);
int32_t moat_engine_open_geoip(MoatEngine *engine,
                               const char *location_db,
                               const char *asn_db,
                               char *err,
                               size_t err_len);
MoatGeoPolicy *moat_geo_policy_new(void);
int32_t moat_geo_policy_set(MoatGeoPolicy *policy,
                            const char *name,
                            const char *value,
                            char *err,
                            size_t err_len);
void moat_geo_policy_free(MoatGeoPolicy *policy);
MoatVerdict *moat_check_located(const MoatEngine *engine,
                                const MoatSettings *settings,
                                const MoatGeoPolicy *policy,
                                const MoatRequest *req);
bool moat_verdict_geo(const MoatVerdict *v, MoatGeo *out);
MoatEvents *moat_events_new(const char *config, char *err, size_t err_len);
int32_t moat_events_start(MoatEvents *events, char *err, size_t err_len);
void moat_events_stop(const MoatEvents *events);
MoatEvent *moat_event_new(const MoatEvents *events, const MoatRequest *req, const MoatVerdict *v);
void moat_event_submit(const MoatEvents *events,
                       MoatEvent *event,
                       uint16_t status,
                       uint64_t bytes_in);
void moat_event_free(MoatEvent *event);
void moat_events_stats(const MoatEvents *events, MoatForwarderStats *out);
int32_t moat_engine_share_metrics(MoatEngine *engine, char *err, size_t err_len);
void moat_events_set_metrics(MoatEvents *events, const MoatEngine *engine);
size_t moat_engine_metrics(const MoatEngine *engine, uint8_t *buf, size_t buf_len);
]]
-- END moat.h

local _M = { _VERSION = "0.1.0" }

local ACTIONS = { [0] = "allow", [1] = "log", [2] = "block" }
local FAIL_OPEN = { [1] = "panic", [2] = "time budget", [3] = "body read error" }

-- Setting names accepted by init/check/protect, mapped to the nginx directive they mirror.
local DIRECTIVE = {
    mode = "moat",
    threshold = "moat_threshold",
    block_status = "moat_block_status",
    body_limit = "moat_body_limit",
    body_limit_action = "moat_body_limit_action",
    time_budget = "moat_time_budget",
    detectors = "moat_detectors",
}

-- Geo options (init's apply to every check; a check's replace init's one by one), mapped to
-- the nginx directive they mirror. Values: a string ("10.0.0.0/8 ::1") or a list of strings.
local GEO_DIRECTIVE = {
    trusted_proxies = "moat_trusted_proxies",
    client_ip_header = "moat_client_ip_header",
    geo_deny = "moat_geo_deny",
    geo_allow = "moat_geo_allow",
}
local INIT_ONLY = { lib = true, rules = true, geoip = true, geoip_asn = true, clickhouse = true }

local lib, engine, defaults, init_geo_opts, init_policy, events
local settings_cache = setmetatable({}, { __mode = "k" })
local policy_cache = setmetatable({}, { __mode = "k" })
local geo_buf = ffi_new("MoatGeo[1]")
local err_buf = ffi_new("char[256]")
local match_buf = ffi_new("MoatMatch[1]")
-- Lua strings whose bytes are lent to moat_check; held here until the call returns. Only one
-- request at a time has strings here: check() pins them after its last yield.
local pinned = {}

-- Returns a MoatSettings built from `base` with the fields in `opts` applied, or raises an
-- error naming the bad option and why it is bad.
-- Returns a MoatGeoPolicy from init's geo options overridden by `opts`' (nil when neither
-- sets any), or raises an error naming the bad option.
local function build_policy(base, opts, level)
    local merged, any = {}, false
    for name in pairs(GEO_DIRECTIVE) do
        local v = opts[name]
        if v == nil and type(base) == "table" then
            v = base[name]
        end
        merged[name], any = v, any or v ~= nil
    end
    if not any then
        return nil
    end
    local p = ffi_gc(lib.moat_geo_policy_new(), lib.moat_geo_policy_free)
    for name, value in pairs(merged) do
        if type(value) == "table" then
            value = table.concat(value, " ")
        end
        if lib.moat_geo_policy_set(p, GEO_DIRECTIVE[name], tostring(value), err_buf, 256) ~= 0 then
            error("moat: " .. name .. ": " .. ffi_string(err_buf), level + 1)
        end
    end
    return p
end

local function build_settings(base, opts)
    local s = ffi_new("MoatSettings[1]")
    s[0] = base
    for name, value in pairs(opts) do
        local directive = DIRECTIVE[name]
        if type(value) == "boolean" then
            value = value and "on" or "off"
        end
        if directive then
            if lib.moat_settings_set(s, directive, tostring(value), err_buf, 256) ~= 0 then
                error("moat: " .. name .. ": " .. ffi_string(err_buf), 3)
            end
        elseif not INIT_ONLY[name] and not GEO_DIRECTIVE[name] then
            error("moat: unknown option \"" .. tostring(name) .. "\"", 3)
        end
    end
    return s
end

--- Loads libmoat and creates the engine. Call once, from init_by_lua* (or init_worker_by_lua*).
-- opts.lib: path of libmoat.so (default: "moat", found by the dynamic loader);
-- opts.rules: a SecLang rules file (e.g. OWASP CRS's main.conf with its Includes);
-- opts.geoip, opts.geoip_asn: MaxMind databases (City or Country; ASN), opened once;
-- opts.trusted_proxies, client_ip_header, geo_deny, geo_allow: the geo policy of every check;
-- opts.mode, threshold, block_status, body_limit, body_limit_action, time_budget, detectors:
-- defaults for every check, with the same values as the nginx directives ("detect", 5, 403, "8m",
-- "reject", "5ms", "off" or false).
function _M.init(opts)
    opts = opts or {}
    lib = ffi.load(opts.lib or "moat")
    local base = ffi_new("MoatSettings")
    lib.moat_settings_default(base)
    defaults = build_settings(base, opts)
    local err = ffi_new("char[8192]")
    local e = lib.moat_engine_new_with_rules(defaults, opts.rules, err, 8192)
    if e == nil then
        error("moat: " .. (opts.rules and ("rules " .. opts.rules .. ": ") or "")
            .. ffi_string(err), 2)
    end
    if opts.geoip or opts.geoip_asn then
        if lib.moat_engine_open_geoip(e, opts.geoip, opts.geoip_asn, err, 8192) ~= 0 then
            lib.moat_engine_free(e)
            error("moat: " .. ffi_string(err), 2)
        end
    end
    if lib.moat_engine_share_metrics(e, err, 8192) ~= 0 then
        lib.moat_engine_free(e)
        error("moat: metrics: " .. ffi_string(err), 2)
    end
    engine = ffi_gc(e, lib.moat_engine_free)
    init_geo_opts = {}
    for name in pairs(GEO_DIRECTIVE) do
        init_geo_opts[name] = opts[name]
    end
    init_policy = build_policy(init_geo_opts, {}, 2)
    if opts.clickhouse then
        -- Parsed here, in the master: password and key files are read with its rights.
        events = lib.moat_events_new(tostring(opts.clickhouse), err, 8192)
        if events == nil then
            error("moat: clickhouse: " .. ffi_string(err), 2)
        end
        lib.moat_events_set_metrics(events, engine)
    end
    return true
end

local function policy_for(opts)
    if not opts then
        return init_policy
    end
    local p = policy_cache[opts]
    if p == nil then
        p = build_policy(init_geo_opts, opts, 3) or false
        policy_cache[opts] = p
    end
    return p or nil
end

-- Starts this worker's ClickHouse forwarder (init_worker_by_lua*); no-op without `clickhouse`.
function _M.init_worker()
    if events ~= nil and lib.moat_events_start(events, err_buf, 256) ~= 0 then
        ngx.log(ngx.ERR, "moat: cannot start the ClickHouse forwarder: ", ffi_string(err_buf))
    end
end

-- Queues the request's event with its final status (log_by_lua*); never waits.
function _M.log()
    local ev = ngx.ctx.moat_event
    if ev then
        ngx.ctx.moat_event = nil
        ffi_gc(ev, nil)
        lib.moat_event_submit(events, ev, ngx.status or 0, tonumber(ngx.var.request_length) or 0)
    end
end

-- Sends or spools the queued events (exit_worker_by_lua*), so a reload loses nothing.
function _M.exit_worker()
    if events ~= nil then
        lib.moat_events_stop(events)
    end
end

local function settings_for(opts)
    if not opts then
        return nil
    end
    local s = settings_cache[opts]
    if not s then
        s = build_settings(defaults[0], opts)
        settings_cache[opts] = s
    end
    return s
end

-- Collects every request header (no 100-header cap), repeats kept as separate entries.
local function collect_headers(keep)
    local headers, err = ngx.req.get_headers(0, true)
    if err then
        ngx.log(ngx.ERR, "moat: reading headers: ", err)
    end
    local list, n = {}, 0
    for name, value in pairs(headers) do
        if type(value) == "table" then
            for _, v in ipairs(value) do
                n = n + 1
                list[n] = { name, v }
            end
        else
            n = n + 1
            list[n] = { name, value }
        end
    end
    local arr = ffi_new("MoatHeader[?]", n)
    for i = 1, n do
        local name, value = list[i][1], list[i][2]
        keep[#keep + 1] = name
        keep[#keep + 1] = value
        arr[i - 1].name.ptr = name
        arr[i - 1].name.len = #name
        arr[i - 1].value.ptr = value
        arr[i - 1].value.len = #value
    end
    return arr, n
end

-- The body read by ngx.req.read_body(): in memory, or the file nginx spooled it to.
local function collect_body(keep)
    local data = ngx.req.get_body_data()
    if data then
        keep[#keep + 1] = data
        local part = ffi_new("MoatBodyPart[1]")
        part[0].data.ptr, part[0].data.len, part[0].fd = data, #data, -1
        return part, 1
    end
    local file = ngx.req.get_body_file()
    if file then
        keep[#keep + 1] = file
        local part = ffi_new("MoatBodyPart[1]")
        part[0].path.ptr, part[0].path.len, part[0].fd = file, #file, -1
        part[0].offset, part[0].len = 0, ffi.cast("uint64_t", -1)
        return part, 1
    end
    return nil, 0
end

local function verdict_table(v)
    local result = {
        action = ACTIONS[lib.moat_verdict_action(v)],
        status = tonumber(lib.moat_verdict_status(v)),
        score = tonumber(lib.moat_verdict_score(v)),
        fail_open = FAIL_OPEN[lib.moat_verdict_fail_open(v)],
        elapsed_us = tonumber(lib.moat_verdict_elapsed_us(v)),
        matches = {},
    }
    local ids = lib.moat_verdict_rule_ids(v)
    result.rule_ids = ffi_string(ids.ptr, ids.len)
    local line = lib.moat_verdict_log_line(v)
    result.log_line = line.len > 0 and ffi_string(line.ptr, line.len) or nil
    if lib.moat_verdict_geo(v, geo_buf) then
        local g = geo_buf[0]
        local function text(b)
            if b.len == 0 then
                return nil
            end
            return ffi_string(b.ptr, b.len)
        end
        result.geo = {
            client_ip = text(g.client_ip),
            country_code = text(g.country_code),
            country_name = text(g.country_name),
            continent_code = text(g.continent_code),
            region = text(g.region),
            city = text(g.city),
            postal_code = text(g.postal_code),
            latitude = g.has_location and tonumber(g.latitude) or nil,
            longitude = g.has_location and tonumber(g.longitude) or nil,
            asn = g.asn ~= 0 and tonumber(g.asn) or nil,
            asn_org = text(g.asn_org),
        }
    end
    for i = 0, tonumber(lib.moat_verdict_match_count(v)) - 1 do
        if lib.moat_verdict_match(v, i, match_buf) then
            local m = match_buf[0]
            result.matches[i + 1] = {
                id = tonumber(m.rule_id),
                score = tonumber(m.score),
                msg = ffi_string(m.msg.ptr, m.msg.len),
                variable = ffi_string(m.variable.ptr, m.variable.len),
                data = ffi_string(m.data.ptr, m.data.len),
            }
        end
    end
    return result
end

--- Judges the current request and returns the verdict as a table:
-- { action = "allow"|"log"|"block", status, score, rule_ids = "100100,…", matches = { {id, score,
-- msg, variable, data}, … }, fail_open = nil|"panic"|"time budget"|"body read error",
-- elapsed_us, log_line, geo = { client_ip, country_code, country_name, continent_code, region,
-- city, postal_code, latitude, longitude, asn, asn_org } }. `geo` is there when a GeoIP
-- database or trusted proxies are configured; its unknown fields are nil. Nothing is logged
-- and nothing is blocked: the caller decides.
function _M.check(opts)
    if not engine then
        error("moat: call require(\"moat\").init{...} in init_by_lua first", 2)
    end
    local settings = settings_for(opts)
    local policy = policy_for(opts)
    -- Reading the body may yield to other requests, which pin and release their own strings in
    -- `pinned`: nothing of this request is pinned until the engine call, which does not yield.
    ngx.req.read_body()
    local keep = pinned
    local headers, nheaders = collect_headers(keep)
    local body, nbody = collect_body(keep)
    local method = ngx.req.get_method()
    local uri = ngx.var.request_uri or ""
    local version = "HTTP/" .. string.format("%.1f", ngx.req.http_version() or 1.1)
    local addr = ngx.var.remote_addr or ""
    local id = ngx.var.request_id or ""
    local req = ffi_new("MoatRequest")
    req.method.ptr, req.method.len = method, #method
    req.uri.ptr, req.uri.len = uri, #uri
    req.version.ptr, req.version.len = version, #version
    req.client_addr.ptr, req.client_addr.len = addr, #addr
    req.request_id.ptr, req.request_id.len = id, #id
    req.headers, req.headers_len = headers, nheaders
    req.body, req.body_len = body, nbody
    keep[#keep + 1], keep[#keep + 2], keep[#keep + 3] = method, uri, version
    keep[#keep + 1], keep[#keep + 2], keep[#keep + 3], keep[#keep + 4] = addr, id, headers, body or false
    local v = lib.moat_check_located(engine, settings, policy, req)
    if events ~= nil then
        local ev = lib.moat_event_new(events, req, v)
        if ev ~= nil then
            ngx.ctx.moat_event = ffi_gc(ev, lib.moat_event_free)
        end
    end
    local result = verdict_table(v)
    lib.moat_verdict_free(v)
    clear_table(pinned)
    return result
end

-- Per variable name: false once writing it failed. A variable exists only when the configuration
-- declares it (set $moat_action "";), for the worker's lifetime; a failed write raises a Lua
-- error, whose unwinding costs microseconds, so it is tried once.
local writable = {}

local function write_var(name, value)
    ngx.var[name] = value
end

local function set_var(name, value)
    if writable[name] == false then
        return
    end
    writable[name] = pcall(write_var, name, value)
end

--- Judges the current request, logs in ModSecurity's style, exposes the verdict in ngx.ctx.moat
-- (and $moat_action / $moat_score / $moat_rule_ids, and with geo $moat_client_ip,
-- $moat_geo_country / _city / _lat / _lon / _asn, where declared with `set`), and ends the
-- request with the block status when the verdict is "block".
function _M.protect(opts)
    local verdict = _M.check(opts)
    ngx.ctx.moat = verdict
    set_var("moat_action", verdict.action)
    set_var("moat_score", tostring(verdict.score))
    set_var("moat_rule_ids", verdict.rule_ids)
    local geo = verdict.geo
    if geo then
        set_var("moat_client_ip", geo.client_ip or "")
        set_var("moat_geo_country", geo.country_code or "")
        set_var("moat_geo_city", geo.city or "")
        set_var("moat_geo_lat", geo.latitude and tostring(geo.latitude) or "")
        set_var("moat_geo_lon", geo.longitude and tostring(geo.longitude) or "")
        set_var("moat_geo_asn", geo.asn and tostring(geo.asn) or "")
    end
    if verdict.log_line then
        local level = (verdict.action == "block" or verdict.fail_open) and ngx.ERR or ngx.WARN
        ngx.log(level, verdict.log_line)
    end
    if verdict.action == "block" then
        return ngx.exit(verdict.status)
    end
    return verdict
end

--- The engine's counters in this worker: requests, allowed, logged, blocked, fail_open_panic,
-- fail_open_time_budget, fail_open_body_read, body_bytes.
local function clickhouse_stats()
    local c = ffi_new("MoatForwarderStats")
    lib.moat_events_stats(events, c)
    return {
        sent = tonumber(c.sent), retried = tonumber(c.retried), spooled = tonumber(c.spooled),
        replayed = tonumber(c.replayed), dropped = tonumber(c.dropped), queued = tonumber(c.queued),
    }
end

function _M.stats()
    local s = ffi_new("MoatStats")
    lib.moat_engine_stats(engine, s)
    return {
        requests = tonumber(s.requests), allowed = tonumber(s.allowed),
        logged = tonumber(s.logged), blocked = tonumber(s.blocked),
        fail_open_panic = tonumber(s.fail_open_panic),
        fail_open_time_budget = tonumber(s.fail_open_time_budget),
        fail_open_body_read = tonumber(s.fail_open_body_read),
        body_bytes = tonumber(s.body_bytes),
        clickhouse = events ~= nil and clickhouse_stats() or nil,
    }
end

local METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
local metrics_buf, metrics_buf_len = nil, 0

--- Prometheus metrics of every worker (when init ran in init_by_lua) in the text exposition
-- format, and its content type: body, content_type.
function _M.metrics()
    if not engine then
        error("moat: call require(\"moat\").init{...} in init_by_lua first", 2)
    end
    local len = tonumber(lib.moat_engine_metrics(engine, metrics_buf, metrics_buf_len))
    if len > metrics_buf_len then
        metrics_buf_len = len * 2
        metrics_buf = ffi_new("uint8_t[?]", metrics_buf_len)
        len = tonumber(lib.moat_engine_metrics(engine, metrics_buf, metrics_buf_len))
    end
    return ffi_string(metrics_buf, len), METRICS_CONTENT_TYPE
end

--- The library version.
function _M.version()
    return ffi_string(lib.moat_version())
end

return _M
