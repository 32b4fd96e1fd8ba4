//! The ClickHouse schema shipped with Moat (`engine/schema/clickhouse.sql`) and its
//! application by `moat schema`.

use super::clickhouse::ClickHouse;

/// The schema text, with `{db}` and `{events}` placeholders.
pub const SQL: &str = include_str!("../../schema/clickhouse.sql");

/// The schema's statements for a database and events table, comments removed.
pub fn statements(database: &str, table: &str) -> Vec<String> {
    let text: String = SQL
        .lines()
        .map(|line| line.split("--").next().unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("{db}", database).replace("{events}", table))
        .collect()
}

/// Creates the database, tables and views that do not exist yet; returns how many statements
/// ran.
pub fn apply(clickhouse: &ClickHouse) -> Result<usize, String> {
    let all = statements(&clickhouse.database, &clickhouse.table);
    for statement in &all {
        clickhouse.execute(statement).map_err(|e| {
            let head: String = statement.chars().take(80).collect();
            format!("{e}\n  in: {head}…")
        })?;
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_configured_database_and_table() {
        let s = statements("waf", "ev");
        assert_eq!(s.len(), 7);
        assert_eq!(s[0], "CREATE DATABASE IF NOT EXISTS waf");
        assert!(s[1].starts_with("CREATE TABLE IF NOT EXISTS waf.ev\n"));
        assert!(s.iter().any(|x| x.contains("TO waf.ev_by_minute AS")));
        assert!(s.iter().all(|x| !x.contains("--") && !x.contains('{')));
    }

    #[test]
    fn events_table_has_every_inserted_column() {
        let table = &statements("moat", "events")[1];
        for column in crate::events::encode::COLUMNS {
            assert!(
                table
                    .lines()
                    .any(|l| l.trim_start().starts_with(&format!("{column} "))),
                "column {column} missing from the schema"
            );
        }
    }
}
