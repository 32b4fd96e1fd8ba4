//! The native module and the Lua binding reach the same verdict for the same request.

use moat_e2e::*;

const NATIVE: &str = r#"
    server {
        listen 127.0.0.1:PORT;
        access_log access.log moat;
        moat on;
        location / { proxy_pass http://127.0.0.1:BACKEND; }
    }
"#;

const LUA: &str = r#"
    server {
        listen 127.0.0.1:PORT;
        access_log access.log moat;
        set $moat_action '';
        set $moat_score '';
        set $moat_rule_ids '';
        access_by_lua_block { require("moat").protect() }
        location / { proxy_pass http://127.0.0.1:BACKEND; }
    }
"#;

#[test]
fn native_and_lua_agree_on_every_case() {
    let backend = Backend::start();
    let native = Nginx::start(Adapter::Native, NATIVE, &backend);
    let lua = Nginx::start(Adapter::Lua, LUA, &backend);
    let cases: Vec<Case> = benign_cases().into_iter().chain(attack_cases()).collect();
    for case in &cases {
        assert_eq!(
            case.send(native.port).status,
            case.send(lua.port).status,
            "{}",
            case.name
        );
    }
    let strip = |l: &str| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
    let a: Vec<String> = native
        .wait_access_lines(cases.len())
        .iter()
        .map(|l| strip(l))
        .collect();
    let b: Vec<String> = lua
        .wait_access_lines(cases.len())
        .iter()
        .map(|l| strip(l))
        .collect();
    assert_eq!(a, b, "status, action, score and rule ids differ");
}
