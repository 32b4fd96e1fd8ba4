#!/usr/bin/env bash
# Builds Moat's Debian packages for Debian's own nginx, the way Debian ships libnginx-mod-*:
#
#   libnginx-mod-http-moat_<version>_<arch>.deb  the nginx module in /usr/lib/nginx/modules,
#       enabled through /usr/share/nginx/modules-available and /etc/nginx/modules-enabled;
#       default rules and an example under /etc/moat (conffiles); the moat CLI.
#       Depends on the nginx ABI the module was compiled against (nginx-abi-1.22.1-7), so dpkg
#       and apt refuse it next to any other nginx build.
#   lua-moat_<version>_<arch>.deb  /usr/lib/moat/libmoat.so and moat.lua for OpenResty and
#       lua-nginx-module.
#   <package>-dbgsym_<version>_<arch>.ddeb  the debug information stripped from each, as
#       debhelper makes them (for gdb and crash reports; optional).
#
# Runs scripts/build.sh first (skip with MOAT_SKIP_BUILD=1 when the release artifacts are
# current), then stages, strips, assembles with dpkg-deb and checks the result with lintian
# (skip with MOAT_SKIP_LINTIAN=1). The Dockerfile, README and scripts/test-package.sh all use
# this script.
#
# Environment:
#   MOAT_DEB_DIR   where the .deb files go (default build/deb)
#   NGINX_SRC      nginx sources, as for scripts/build.sh (default /usr/share/nginx/src)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

pkg_src="$repo_root/packaging"
out_dir="${MOAT_DEB_DIR:-$repo_root/build/deb}"
nginx_src="${NGINX_SRC:-/usr/share/nginx/src}"
release="$repo_root/target/release"

log() { printf '==> %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

export PATH="$HOME/.cargo/bin:$PATH"
if [[ "${MOAT_SKIP_BUILD:-0}" != 1 ]]; then
    scripts/build.sh
fi
for artifact in libngx_http_moat_module.so libmoat.so moat; do
    [[ -f "$release/$artifact" ]] || die "$release/$artifact is missing: run scripts/build.sh"
done

# --- Facts the packages are built from -----------------------------------------------------

changelog="$pkg_src/deb/changelog"
version="$(dpkg-parsechangelog -l "$changelog" -SVersion)"
maintainer="$(dpkg-parsechangelog -l "$changelog" -SMaintainer)"
# File dates inside the packages: the changelog's, so that the same sources give the same .deb.
SOURCE_DATE_EPOCH="$(dpkg-parsechangelog -l "$changelog" -STimestamp)"
export SOURCE_DATE_EPOCH
crate_version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)"
[[ "${version%-*}" == "$crate_version" ]] ||
    die "packaging/deb/changelog is at $version but Cargo.toml at $crate_version: add a changelog entry"
binary_version="$("$release/moat" version)"
[[ "$binary_version" == "moat $crate_version" ]] ||
    die "target/release/moat says \"$binary_version\", expected \"moat $crate_version\": rebuild"

arch="$(dpkg --print-architecture)"
# The ABI Debian's nginx-dev records for the sources the module was compiled against; Debian's
# nginx package Provides exactly this name (dh_nginx reads the same file for Debian's modules).
abi_file="$nginx_src/debian/libnginx-mod.abisubstvars"
[[ -f "$abi_file" ]] || die "$abi_file is missing (install nginx-dev)"
nginx_abi="$(sed -n 's/^nginx:abi=//p' "$abi_file")"
[[ "$nginx_abi" =~ ^nginx-abi-[0-9.]+-[0-9]+$ ]] || die "no nginx:abi in $abi_file"

work="$(mktemp -d "${TMPDIR:-/tmp}/moat-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: moat\n\nPackage: libnginx-mod-http-moat\nArchitecture: any\n\nPackage: lua-moat\nArchitecture: any\n' \
    >"$work/debian/control"
mkdir -p "$out_dir"

# --- Helpers -------------------------------------------------------------------------------

# install_stripped MODE SRC DEST DBGSYM_STAGE: installs a binary stripped as dh_strip does
# (shared objects lose their unneeded symbols but keep the dynamic ones nginx and LuaJIT
# resolve), its debug information going to DBGSYM_STAGE/usr/lib/debug/.build-id/, where gdb
# and debuginfod clients look for it.
install_stripped() {
    local mode="$1" src="$2" dest="$3" dbgsym="$4"
    install -D -m "$mode" "$src" "$dest"
    local id
    id="$(readelf -n "$dest" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')"
    [[ -n "$id" ]] || die "$src has no GNU build ID"
    local debug_file="$dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    mkdir -p "${debug_file%/*}"
    objcopy --only-keep-debug --compress-debug-sections "$dest" "$debug_file"
    chmod 0644 "$debug_file"
    printf '%s\n' "$id" >>"$dbgsym.build-ids"
    if [[ "$dest" == *.so ]]; then
        strip --strip-unneeded --remove-section=.comment --remove-section=.note "$dest"
    else
        strip --remove-section=.comment --remove-section=.note "$dest"
    fi
}

# shlibs_depends FILE...: the shared-library dependencies of FILEs (staged under
# $work/debian/PACKAGE, the layout dpkg-shlibdeps expects), as it computes them for Debian's own
# packages.
shlibs_depends() {
    # The module's ngx_* symbols resolve against /usr/sbin/nginx at load time, which no library
    # provides: dpkg-shlibdeps would warn about each; only its result matters here.
    local depends
    depends="$(cd "$work" && dpkg-shlibdeps -O --warnings=0 "${@#"$work"/}" | sed -n 's/^shlibs:Depends=//p')"
    [[ -n "$depends" ]] || die "dpkg-shlibdeps found no library dependencies for $*"
    printf '%s\n' "$depends"
}

# doc_files PACKAGE STAGE ROOTS...: copyright and changelog.Debian.gz for PACKAGE.
doc_files() {
    local package="$1" stage="$2"
    shift 2
    local doc="$stage/usr/share/doc/$package"
    mkdir -p "$doc"
    cargo metadata --format-version 1 --locked |
        python3 "$pkg_src/deb/copyright.py" "$@" >"$doc/copyright"
    gzip -9n <"$changelog" >"$doc/changelog.Debian.gz"
    if [[ -d "$pkg_src/deb/$package/lintian" ]]; then
        install -D -m 0644 "$pkg_src/deb/$package/lintian/overrides" \
            "$stage/usr/share/lintian/overrides/$package"
    fi
}

# assemble PACKAGE STAGE SHLIBS: writes DEBIAN/ (control, maintainer scripts, conffiles,
# md5sums) and builds $out_dir/PACKAGE_VERSION_ARCH.deb.
assemble() {
    local package="$1" stage="$2" shlibs="$3"
    local meta="$pkg_src/deb/$package" debian="$stage/DEBIAN"
    mkdir -p "$debian"
    local script
    for script in postinst prerm postrm; do
        if [[ -f "$meta/$script" ]]; then
            install -m 0755 "$meta/$script" "$debian/$script"
        fi
    done
    if [[ -d "$stage/etc" ]]; then
        (cd "$stage" && find etc -type f -printf '/%p\n' | sort) >"$debian/conffiles"
    fi
    # md5sums of everything but the conffiles (dpkg tracks those itself), as dh_md5sums does.
    (cd "$stage" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0r md5sum) >"$debian/md5sums"
    local size
    size="$(du -k -s --apparent-size --exclude=DEBIAN "$stage" | cut -f1)"
    sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
        -e "s|@INSTALLED_SIZE@|$size|" -e "s|@NGINX_ABI@|$nginx_abi|" -e "s|@SHLIBS@|$shlibs|" \
        "$meta/control" >"$debian/control"
    if grep -q '@[A-Z_]*@' "$debian/control"; then
        die "$meta/control: unreplaced placeholder $(grep -o '@[A-Z_]*@' "$debian/control" | head -1)"
    fi
    # Directories 0755, files 0644 unless set executable above; no group/other write.
    find "$stage" -type d -exec chmod 0755 {} +
    chmod -R go-w "$stage"
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local deb="$out_dir/${package}_${version}_${arch}.deb"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
    log "built $deb"
}

# assemble_dbgsym PACKAGE STAGE: builds PACKAGE-dbgsym from STAGE (filled by install_stripped)
# as debhelper does: Section debug, exact dependency on PACKAGE, Build-Ids, a .ddeb file.
assemble_dbgsym() {
    local package="$1" stage="$2"
    mkdir -p "$stage/DEBIAN" "$stage/usr/share/doc"
    ln -s "$package" "$stage/usr/share/doc/$package-dbgsym"
    (cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0r md5sum) >"$stage/DEBIAN/md5sums"
    local size build_ids
    size="$(du -k -s --apparent-size --exclude=DEBIAN "$stage" | cut -f1)"
    build_ids="$(sort "$stage.build-ids" | tr '\n' ' ')"
    {
        printf 'Package: %s-dbgsym\nSource: moat\nVersion: %s\n' "$package" "$version"
        printf 'Auto-Built-Package: debug-symbols\nArchitecture: %s\nMaintainer: %s\n' "$arch" "$maintainer"
        printf 'Installed-Size: %s\nDepends: %s (= %s)\n' "$size" "$package" "$version"
        printf 'Section: debug\nPriority: optional\nDescription: debug symbols for %s\n' "$package"
        printf 'Build-Ids: %s\n' "${build_ids% }"
    } >"$stage/DEBIAN/control"
    find "$stage" -type d -exec chmod 0755 {} +
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local ddeb="$out_dir/${package}-dbgsym_${version}_${arch}.ddeb"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$ddeb" >/dev/null
    log "built $ddeb"
}

# --- libnginx-mod-http-moat ----------------------------------------------------------------

mod="$work/debian/libnginx-mod-http-moat"
mkdir -p "$mod/DEBIAN"
module_so="$mod/usr/lib/nginx/modules/ngx_http_moat_module.so"
mod_dbg="$work/debian/libnginx-mod-http-moat-dbgsym"
install_stripped 0644 "$release/libngx_http_moat_module.so" "$module_so" "$mod_dbg"
install_stripped 0755 "$release/moat" "$mod/usr/bin/moat" "$mod_dbg"
# The module stays loadable: nginx looks these up with dlsym.
for sym in ngx_modules ngx_module_names ngx_module_order; do
    nm -D --defined-only "$module_so" | grep -qw "$sym" || die "stripped module lost symbol $sym"
done
install -D -m 0644 "$pkg_src/deb/mod-http-moat.conf" \
    "$mod/usr/share/nginx/modules-available/mod-http-moat.conf"
install -D -m 0644 "$pkg_src/etc/moat/main.conf" "$mod/etc/moat/main.conf"
install -D -m 0644 "$pkg_src/etc/moat/nginx-moat.conf" "$mod/etc/moat/nginx-moat.conf"
mkdir -p "$mod/usr/share/man/man1"
gzip -9n <"$pkg_src/man/moat.1" >"$mod/usr/share/man/man1/moat.1.gz"
doc_files libnginx-mod-http-moat "$mod" moat ngx_http_moat_module
install -D -m 0644 "$repo_root/nginx-conf/moat-native.conf" \
    "$mod/usr/share/doc/libnginx-mod-http-moat/examples/moat-native.conf"
mod_shlibs="$(shlibs_depends "$module_so" "$mod/usr/bin/moat")"
assemble libnginx-mod-http-moat "$mod" "$mod_shlibs"
assemble_dbgsym libnginx-mod-http-moat "$mod_dbg"

# --- lua-moat ------------------------------------------------------------------------------

lua="$work/debian/lua-moat"
mkdir -p "$lua/DEBIAN"
lua_dbg="$work/debian/lua-moat-dbgsym"
install_stripped 0644 "$release/libmoat.so" "$lua/usr/lib/moat/libmoat.so" "$lua_dbg"
for sym in moat_engine_new_with_rules moat_check moat_verdict_free; do
    nm -D --defined-only "$lua/usr/lib/moat/libmoat.so" | grep -qw "$sym" ||
        die "stripped libmoat.so lost symbol $sym"
done
install -D -m 0644 "$repo_root/lua/moat.lua" "$lua/usr/share/lua/5.1/moat.lua"
doc_files lua-moat "$lua" moat
install -D -m 0644 "$repo_root/nginx-conf/moat-lua.conf" \
    "$lua/usr/share/doc/lua-moat/examples/moat-lua.conf"
lua_shlibs="$(shlibs_depends "$lua/usr/lib/moat/libmoat.so")"
assemble lua-moat "$lua" "$lua_shlibs"
assemble_dbgsym lua-moat "$lua_dbg"

# --- Checks --------------------------------------------------------------------------------

if [[ "${MOAT_SKIP_LINTIAN:-0}" != 1 ]]; then
    command -v lintian >/dev/null || die "lintian is not installed (scripts/install-deps.sh installs it)"
    log "lintian (errors and warnings fail; overridden tags and their reasons: packaging/deb/*/lintian/overrides)"
    # lintian refuses to run as root unless told; it only reads the .deb files. With
    # --show-overrides it lists the overridden tags (O:) with their reasons (N:) and exits 2 for
    # them too, so the verdict is taken from the E:/W: lines it prints.
    lintian_status=0
    lintian_out="$(lintian --allow-root --display-info --show-overrides \
        "$out_dir/libnginx-mod-http-moat_${version}_${arch}.deb" \
        "$out_dir/lua-moat_${version}_${arch}.deb" 2>&1)" || lintian_status=$?
    [[ -z "$lintian_out" ]] || printf '%s\n' "$lintian_out"
    [[ "$lintian_status" -eq 0 || "$lintian_status" -eq 2 ]] || die "lintian failed (exit $lintian_status)"
    if grep -qE '^[EW]: ' <<<"$lintian_out"; then
        die "lintian reports errors or warnings: fix them or override them with the reason in packaging/deb/*/lintian/overrides"
    fi
fi
log "packages in $out_dir (version $version, $nginx_abi)"
