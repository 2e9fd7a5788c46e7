/// Splits `content` into lines the way git does: on '\n', each line keeping its terminator,
/// a last line without '\n' counting as a line, and empty content having none.
pub(crate) fn split_lines(content: &[u8]) -> Vec<&[u8]> {
    content.split_inclusive(|byte| *byte == b'\n').collect()
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn counts_a_last_line_without_newline() {
        assert_eq!(split_lines(b"a\nb"), vec![&b"a\n"[..], &b"b"[..]]);
        assert_eq!(split_lines(b"a\nb\n"), vec![&b"a\n"[..], &b"b\n"[..]]);
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"\n\n").len(), 2);
        assert_eq!(
            split_lines(b"a\r\nb\r\n"),
            vec![&b"a\r\n"[..], &b"b\r\n"[..]]
        );
    }
}
