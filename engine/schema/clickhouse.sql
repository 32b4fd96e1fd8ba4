-- Moat's ClickHouse schema: raw events, a per-minute aggregate by country and action, and a
-- per-session aggregate, both filled by materialized views as events arrive.
--
-- Applied by `moat schema` (which replaces {db} and {events} with the configured database and
-- table names). Works on ClickHouse 18.16 (Debian's package) and on current releases: no
-- DateTime64, IPv4/IPv6, Map, TTL or LowCardinality. Old data is removed by dropping daily
-- partitions, e.g. ALTER TABLE {db}.{events} DROP PARTITION 20240131.

CREATE DATABASE IF NOT EXISTS {db};

-- One row per inspected request (columns in the order Moat inserts them).
CREATE TABLE IF NOT EXISTS {db}.{events}
(
    time        DateTime,                 -- when the request was judged (UTC seconds)
    time_ms     UInt16,                   -- milliseconds within that second
    request_id  String,                   -- nginx's $request_id
    client_addr String,
    country     String,                   -- geo fields: empty / 0 until GeoIP data is configured
    city        String,
    latitude    Float32,
    longitude   Float32,
    asn         UInt32,
    as_org      String,
    method      String,
    host        String,
    uri         String,                   -- at most 2048 bytes
    status      UInt16,                   -- response status
    action      Enum8('allow' = 1, 'log' = 2, 'block' = 3),
    fail_open   String,                   -- '' or why inspection was incomplete
    score       UInt32,
    rule_ids    Array(UInt32),
    rule_msgs   Array(String),
    session_id  String,                   -- keyed hash of the session cookie or JWT, never the secret
    jwt_sub     String,
    jwt_iss     String,
    user_agent  String,
    bytes_in    UInt64,
    inspect_us  UInt32
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (time, request_id);

-- Requests per minute, country and action. Read with sum(): rows are merged in the background.
CREATE TABLE IF NOT EXISTS {db}.{events}_by_minute
(
    minute    DateTime,
    country   String,
    action    Enum8('allow' = 1, 'log' = 2, 'block' = 3),
    requests  UInt64,
    score     UInt64,
    bytes_in  UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, country, action);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{events}_by_minute_mv TO {db}.{events}_by_minute AS
SELECT
    toStartOfMinute(time) AS minute,
    country,
    action,
    count() AS requests,
    sum(toUInt64(score)) AS score,
    sum(bytes_in) AS bytes_in
FROM {db}.{events}
GROUP BY minute, country, action;

-- Per session: first and last request, counts, score, distinct clients, JWT subject.
-- Read with the -Merge combinators, or through the {events}_session_summary view.
CREATE TABLE IF NOT EXISTS {db}.{events}_sessions
(
    session_id  String,
    first_seen  AggregateFunction(min, DateTime),
    last_seen   AggregateFunction(max, DateTime),
    requests    AggregateFunction(count),
    blocked     AggregateFunction(sum, UInt64),
    flagged     AggregateFunction(sum, UInt64),
    score       AggregateFunction(sum, UInt64),
    clients     AggregateFunction(uniq, String),
    jwt_sub     AggregateFunction(anyLast, String)
)
ENGINE = AggregatingMergeTree
ORDER BY session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{events}_sessions_mv TO {db}.{events}_sessions AS
SELECT
    session_id,
    minState(time) AS first_seen,
    maxState(time) AS last_seen,
    countState() AS requests,
    sumState(toUInt64(action = 'block')) AS blocked,
    sumState(toUInt64(action != 'allow')) AS flagged,
    sumState(toUInt64(score)) AS score,
    uniqState(client_addr) AS clients,
    anyLastState(jwt_sub) AS jwt_sub
FROM {db}.{events}
WHERE session_id != ''
GROUP BY session_id;

CREATE VIEW IF NOT EXISTS {db}.{events}_session_summary AS
SELECT
    session_id,
    minMerge(first_seen) AS first_seen,
    maxMerge(last_seen) AS last_seen,
    countMerge(requests) AS requests,
    sumMerge(blocked) AS blocked,
    sumMerge(flagged) AS flagged,
    sumMerge(score) AS score,
    uniqMerge(clients) AS clients,
    anyLastMerge(jwt_sub) AS jwt_sub
FROM {db}.{events}_sessions
GROUP BY session_id;
