//! The engine's JSON laid out the way `docker … inspect` prints it.
//!
//! The docker CLI wraps the engine's raw bytes in `[` … `]` and runs Go's `json.Indent` with four
//! spaces. Re-indenting the raw bytes (instead of re-serialising a typed value) keeps every field,
//! the engine's field order and its string escapes, so a file equals the CLI's output byte for byte.

/// `[` + `raw` + `]`, indented with four spaces, plus the CLI's trailing newline.
pub fn inspect_document(raw: &[u8]) -> Vec<u8> {
    let mut wrapped = Vec::with_capacity(raw.len() + 2);
    wrapped.push(b'[');
    wrapped.extend_from_slice(raw);
    wrapped.push(b']');
    let mut out = indent(&wrapped, b"    ");
    out.push(b'\n');
    out
}

/// Go's `json.Indent(dst, src, "", unit)` for well-formed input: whitespace between tokens is
/// replaced by newlines and indentation, empty objects and arrays stay `{}` and `[]`.
pub fn indent(src: &[u8], unit: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth: usize = 0;
    let mut need_indent = false;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in src {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        if need_indent && byte != b'}' && byte != b']' {
            need_indent = false;
            depth += 1;
            newline(&mut out, unit, depth);
        }
        match byte {
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            b'{' | b'[' => {
                out.push(byte);
                need_indent = true;
            }
            b',' => {
                out.push(byte);
                newline(&mut out, unit, depth);
            }
            b':' => {
                out.push(byte);
                out.push(b' ');
            }
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, unit, depth);
                }
                out.push(byte);
            }
            _ => out.push(byte),
        }
    }
    out
}

fn newline(out: &mut Vec<u8>, unit: &[u8], depth: usize) {
    out.push(b'\n');
    for _ in 0..depth {
        out.extend_from_slice(unit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_like_the_docker_cli() {
        let raw = br#"{"Id":"abc","Empty":{},"None":[],"List":[1,{"a":"x, \"y\": {z}"}],"N":null}
"#;
        let expected = r#"[
    {
        "Id": "abc",
        "Empty": {},
        "None": [],
        "List": [
            1,
            {
                "a": "x, \"y\": {z}"
            }
        ],
        "N": null
    }
]
"#;
        assert_eq!(String::from_utf8_lossy(&inspect_document(raw)), expected);
    }

    #[test]
    fn keeps_escapes_and_non_ascii_bytes() {
        let raw = "{\"k\":\"\\u003cé\\\\\"}".as_bytes();
        assert_eq!(
            String::from_utf8_lossy(&indent(raw, b"  ")),
            "{\n  \"k\": \"\\u003cé\\\\\"\n}"
        );
    }
}
