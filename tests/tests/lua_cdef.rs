//! `lua/moat.lua` declares exactly the C ABI of `engine/include/moat.h` (LuaJIT's `ffi.cdef`
//! cannot read preprocessor lines, so the binding carries a stripped copy).
//! Regenerate with `MOAT_UPDATE_LUA=1 cargo test -p moat-e2e --test lua_cdef`.

use moat_e2e::repo_root;

const BEGIN: &str = "-- BEGIN moat.h\nffi.cdef[[\n";
const END: &str = "]]\n-- END moat.h";

/// The header without preprocessor lines, `extern "C"` wrappers, comments and blank lines.
fn cdef_from_header(header: &str) -> String {
    let mut out = String::new();
    let mut in_comment = false;
    for line in header.lines() {
        let t = line.trim();
        if in_comment {
            in_comment = !t.ends_with("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.ends_with("*/");
            continue;
        }
        if t.is_empty()
            || t.starts_with('#')
            || t == "extern \"C\" {"
            || t.starts_with("}  // extern")
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_lua_binding_declares_the_current_c_abi() {
    let root = repo_root();
    let header = std::fs::read_to_string(root.join("engine/include/moat.h")).unwrap();
    let want = cdef_from_header(&header);
    let lua_path = root.join("lua/moat.lua");
    let lua = std::fs::read_to_string(&lua_path).unwrap();
    let start = lua.find(BEGIN).expect("moat.lua has a BEGIN moat.h block") + BEGIN.len();
    let end = lua.find(END).expect("moat.lua has an END moat.h block");
    if std::env::var("MOAT_UPDATE_LUA").is_ok_and(|v| v == "1") {
        let updated = format!("{}{}{}", &lua[..start], want, &lua[end..]);
        std::fs::write(&lua_path, updated).unwrap();
        return;
    }
    assert!(
        lua[start..end] == want,
        "lua/moat.lua's ffi.cdef differs from engine/include/moat.h: run MOAT_UPDATE_LUA=1 cargo test -p moat-e2e --test lua_cdef"
    );
}
