//! Web shell uploads (rules 100303–100304), in the file names and contents of a multipart
//! body's files and in the `X-Filename` headers some upload widgets send:
//!
//! - 100303: a file the web server would run or obey, by its name: a PHP, JSP, ASP(.NET),
//!   ColdFusion, CGI or SSI script (`shell.php`, `cmd.jsp`, `x.aspx`), a PHP extension before
//!   another (`shell.php.jpg`, which Apache's `AddHandler` runs), or a server configuration
//!   file (`.htaccess`, `.user.ini`, `web.config`). The name is read as the server's file
//!   system would store it: the last path segment, without trailing dots and blanks, an NTFS
//!   stream (`::$DATA`), or what follows a `;` (IIS) or a NUL. Like CRS 933110, 944140 and
//!   932180.
//! - 100304: PHP or JSP/ASP.NET code in a file named as an image (`GIF89a<?php …`, code in an
//!   EXIF comment): the polyglot that a local file inclusion then runs. Images never hold
//!   `<?php` or `<%@ page` by chance.
//!
//! An ordinary upload (`photo.jpg`, `report.pdf`, `notes.txt` holding code) passes.

use aho_corasick::AhoCorasick;

use super::targets::Classified;
use super::{Deadline, Detector, Finding, OutOfTime, Severity};
use crate::parse::Source;
use crate::request::Request;

/// Rule id: an upload named as a server-side script or a server configuration file.
pub const SCRIPT_UPLOAD: u32 = 100303;
/// Rule id: server-side script code in an uploaded image.
pub const SCRIPT_IN_IMAGE: u32 = 100304;

const MSG_SCRIPT: &str = "Upload of a server-side script or server configuration file";
const MSG_IMAGE: &str = "Server-side script code in an uploaded image";

/// Extensions the usual web servers run as scripts, lower case, without the dot. The PHP
/// family (`php`, `php5`, `phtml` …) is matched by [`is_php_extension`].
const SCRIPT_EXTENSIONS: &[&str] = &[
    "jsp", "jspx", "jspf", "jsw", "jsv", "asp", "aspx", "asa", "asax", "ascx", "ashx", "asmx",
    "cshtml", "vbhtml", "cfm", "cfml", "cfc", "cgi", "shtml", "shtm",
];

/// Files that change how the server treats a directory, lower case.
const SERVER_CONFIG_FILES: &[&str] = &[".htaccess", ".htpasswd", ".user.ini", "web.config"];

/// Image extensions, lower case, without the dot.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "ico", "tif", "tiff", "heic", "avif",
];

/// Header names that carry an upload's file name (ASCII case ignored).
const FILE_NAME_HEADERS: &[&str] = &["x-filename", "x_filename", "x.filename", "x-file-name"];

/// Openings of server-side code (ASCII case ignored).
const CODE_OPENINGS: &[&str] = &["<?php", "<%@ page"];

/// The web shell upload detector.
#[derive(Debug)]
pub struct Uploads {
    code: AhoCorasick,
}

impl Uploads {
    /// Builds the detector.
    pub fn new() -> Uploads {
        Uploads {
            code: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(CODE_OPENINGS)
                .expect("a few short literals build an automaton"),
        }
    }
}

impl Default for Uploads {
    fn default() -> Self {
        Uploads::new()
    }
}

impl Detector for Uploads {
    fn inspect(
        &self,
        _req: &Request<'_>,
        inputs: &Classified<'_, '_>,
        deadline: &Deadline,
        out: &mut Vec<Finding>,
    ) -> Result<(), OutOfTime> {
        for field in &inputs.fields {
            let carries_name = match field.source {
                Source::Filename => true,
                Source::Header => FILE_NAME_HEADERS
                    .iter()
                    .any(|h| h.as_bytes().eq_ignore_ascii_case(&field.name)),
                _ => false,
            };
            if carries_name && runs_on_server(&field.value) {
                out.push(Finding::new(
                    SCRIPT_UPLOAD,
                    MSG_SCRIPT,
                    Severity::Critical,
                    field.variable(),
                    &field.value,
                ));
            }
        }
        for file in &inputs.files {
            deadline.check()?;
            if is_image_name(&file.file_name) && self.code.is_match(file.content) {
                let f = Finding::new(
                    SCRIPT_IN_IMAGE,
                    MSG_IMAGE,
                    Severity::Critical,
                    format!("FILES:{}", String::from_utf8_lossy(&file.part)),
                    &file.file_name,
                );
                out.push(f);
            }
        }
        Ok(())
    }
}

/// True when a file stored under `name` is one the web server would run or obey.
fn runs_on_server(name: &[u8]) -> bool {
    stored_names(name).any(|stored| {
        let lower = stored.to_ascii_lowercase();
        if SERVER_CONFIG_FILES.iter().any(|c| lower == c.as_bytes()) {
            return true;
        }
        let mut parts = lower.split(|&b| b == b'.').skip(1).peekable();
        while let Some(ext) = parts.next() {
            let last = parts.peek().is_none();
            if is_php_extension(ext)
                || (last && SCRIPT_EXTENSIONS.iter().any(|s| s.as_bytes() == ext))
            {
                return true;
            }
        }
        false
    })
}

/// The names a file system may store `name` under: its last path segment, and that segment
/// cut at a `;` (IIS), a NUL or a `%00`; each without trailing dots and blanks and without an
/// NTFS stream suffix.
fn stored_names(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    let base = match name.iter().rposition(|&b| b == b'/' || b == b'\\') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    let cut = [
        memchr::memchr2(b';', 0, base).map(|i| &base[..i]),
        memchr::memmem::find(base, b"%00").map(|i| &base[..i]),
    ];
    std::iter::once(base)
        .chain(cut.into_iter().flatten())
        .map(as_stored)
}

/// `name` without an NTFS stream suffix (`::$DATA`) and trailing dots and blanks, which
/// Windows drops.
fn as_stored(name: &[u8]) -> &[u8] {
    let name = match memchr::memmem::find(name, b"::") {
        Some(i) => &name[..i],
        None => name,
    };
    let keep = name
        .iter()
        .rposition(|&b| !matches!(b, b'.' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &name[..keep]
}

/// True for a PHP extension (`php`, `php3`–`php8`, `phtml`, `pht`, `phar`, `phps`, `phpt`),
/// lower case.
fn is_php_extension(ext: &[u8]) -> bool {
    if let Some(version) = ext.strip_prefix(b"php") {
        return version.iter().all(u8::is_ascii_digit) || version == b"t";
    }
    matches!(ext, b"phtml" | b"pht" | b"phar" | b"phps")
}

/// True when `name` ends in an image extension.
fn is_image_name(name: &[u8]) -> bool {
    let name = as_stored(name);
    name.iter().rposition(|&b| b == b'.').is_some_and(|i| {
        let ext = &name[i + 1..];
        IMAGE_EXTENSIONS
            .iter()
            .any(|e| e.as_bytes().eq_ignore_ascii_case(ext))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{inspect_post, inspect_request};

    const BOUNDARY: &str = "XyZ";

    /// A multipart body with one file part.
    fn upload(file_name: &str, content: &[u8]) -> Vec<u8> {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"{file_name}\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    fn rules_for_upload(file_name: &str, content: &[u8]) -> Vec<u32> {
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        inspect_post(&Uploads::new(), ct.as_bytes(), &upload(file_name, content))
            .iter()
            .map(|f| f.rule_id)
            .collect()
    }

    #[test]
    fn scripts_and_server_configuration_files_fire() {
        for name in [
            "shell.php",
            "SHELL.PHP",
            "x.php5",
            "x.phtml",
            "x.phar",
            "shell.php.jpg",
            "shell.php.",
            "shell.php  ",
            "shell.php::$DATA",
            "shell.asp;.jpg",
            "shell.php%00.jpg",
            "../../var/www/html/shell.php",
            "C:\\inetpub\\wwwroot\\cmd.aspx",
            "cmd.jsp",
            "cmd.jspx",
            "x.ashx",
            "x.cfm",
            "x.shtml",
            ".htaccess",
            ".user.ini",
            "web.config",
        ] {
            assert_eq!(rules_for_upload(name, b"data"), [SCRIPT_UPLOAD], "{name}");
        }
    }

    #[test]
    fn a_file_name_header_is_read_too() {
        let found = inspect_request(
            &Uploads::new(),
            b"PUT",
            b"/upload",
            b"HTTP/1.1",
            &[(b"X-File-Name", b"backdoor.php")],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule_id, SCRIPT_UPLOAD);
        assert_eq!(found[0].variable, "REQUEST_HEADERS:X-File-Name");
    }

    #[test]
    fn code_in_an_image_fires() {
        for content in [
            &b"GIF89a<?php system($_GET['c']); ?>"[..],
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<?PHP eval($_POST[1]);?>\xff\xd9",
            b"\x89PNG\r\n\x1a\n<%@ Page Language=\"C#\" %>",
        ] {
            assert_eq!(rules_for_upload("avatar.jpg", content), [SCRIPT_IN_IMAGE]);
        }
    }

    #[test]
    fn ordinary_uploads_pass() {
        for (name, content) in [
            (
                "photo.jpg",
                &b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x02<?xml?>\xff\xd9"[..],
            ),
            ("IMG_2024.HEIC", b"ftypheic"),
            ("report.pdf", b"%PDF-1.7"),
            ("notes.txt", b"<?php echo 'how do I fix this?'; ?>"),
            ("php-cheatsheet.pdf", b"%PDF-1.4"),
            ("my.photos.2024.png", b"\x89PNG"),
            ("aspnet-notes.docx", b"PK"),
            ("graph.jspdf.json", b"{}"),
            ("", b"x"),
        ] {
            assert_eq!(rules_for_upload(name, content), [] as [u32; 0], "{name}");
        }
    }
}
