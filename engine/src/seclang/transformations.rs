//! Transformation names (`t:…`).

macro_rules! transformations {
    ($($variant:ident => $name:literal,)*) => {
        /// Every transformation ModSecurity documents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Transformation {
            $(
                #[doc = concat!("`t:", $name, "`")]
                $variant,
            )*
        }

        impl Transformation {
            /// Every transformation, in declaration order.
            pub const ALL: &'static [Transformation] = &[$(Transformation::$variant,)*];

            /// The name as written after `t:`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Transformation::$variant => $name,)*
                }
            }

            /// Looks a name up, case-insensitively.
            pub fn from_name(name: &str) -> Option<Transformation> {
                Transformation::ALL
                    .iter()
                    .copied()
                    .find(|t| t.name().eq_ignore_ascii_case(name))
            }
        }
    };
}

transformations! {
    None => "none",
    Base64Decode => "base64Decode",
    Base64DecodeExt => "base64DecodeExt",
    Base64Encode => "base64Encode",
    CmdLine => "cmdLine",
    CompressWhitespace => "compressWhitespace",
    CssDecode => "cssDecode",
    EscapeSeqDecode => "escapeSeqDecode",
    HexDecode => "hexDecode",
    HexEncode => "hexEncode",
    HtmlEntityDecode => "htmlEntityDecode",
    JsDecode => "jsDecode",
    Length => "length",
    Lowercase => "lowercase",
    Md5 => "md5",
    NormalisePath => "normalisePath",
    NormalisePathWin => "normalisePathWin",
    NormalizePath => "normalizePath",
    NormalizePathWin => "normalizePathWin",
    ParityEven7bit => "parityEven7bit",
    ParityOdd7bit => "parityOdd7bit",
    ParityZero7bit => "parityZero7bit",
    RemoveComments => "removeComments",
    RemoveCommentsChar => "removeCommentsChar",
    RemoveNulls => "removeNulls",
    RemoveWhitespace => "removeWhitespace",
    ReplaceComments => "replaceComments",
    ReplaceNulls => "replaceNulls",
    Sha1 => "sha1",
    SqlHexDecode => "sqlHexDecode",
    Trim => "trim",
    TrimLeft => "trimLeft",
    TrimRight => "trimRight",
    Uppercase => "uppercase",
    UrlDecode => "urlDecode",
    UrlDecodeUni => "urlDecodeUni",
    UrlEncode => "urlEncode",
    Utf8ToUnicode => "utf8toUnicode",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(
            Transformation::from_name("urldecodeuni"),
            Some(Transformation::UrlDecodeUni)
        );
        assert_eq!(
            Transformation::from_name("utf8toUnicode"),
            Some(Transformation::Utf8ToUnicode)
        );
        assert_eq!(Transformation::from_name("rot13"), Option::None);
        assert_eq!(Transformation::ALL.len(), 38);
    }
}
