//! Writing CSV for people to open in a spreadsheet.

use std::borrow::Cow;

/// A text cell for a CSV export, safe to open in a spreadsheet: a cell starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return is prefixed with a single quote so that it is never read as
/// a formula (OWASP's rule for CSV injection), and a cell holding a comma, a quote or a line break
/// is quoted (RFC 4180). Numbers that quantdesk formats itself are written as they are: a negative
/// P&L must stay a number.
pub fn text_cell(s: &str) -> Cow<'_, str> {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = s.contains([',', '"', '\n', '\r']);
    if !formula && !quote {
        return Cow::Borrowed(s);
    }
    let body = if formula { Cow::Owned(format!("'{s}")) } else { Cow::Borrowed(s) };
    if quote { Cow::Owned(format!("\"{}\"", body.replace('"', "\"\""))) } else { body }
}

#[cfg(test)]
mod tests {
    use super::text_cell;

    #[test]
    fn formulas_are_defused_and_separators_quoted() {
        assert_eq!(text_cell("600519.SH"), "600519.SH");
        assert_eq!(text_cell("=A1&B1"), "'=A1&B1");
        assert_eq!(text_cell("+1"), "'+1");
        assert_eq!(text_cell("-2+3"), "'-2+3");
        assert_eq!(text_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text_cell("\tx"), "'\tx");
        assert_eq!(text_cell("\rx"), "\"'\rx\"");
        assert_eq!(text_cell("a,b"), "\"a,b\"");
        assert_eq!(text_cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        // read back by a CSV reader, the cell is the defused text
        let line = format!("{},{}\n", text_cell("=cmd|' /C calc'!A0"), text_cell("a\"b"));
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "'=cmd|' /C calc'!A0");
        assert_eq!(&rec[1], "a\"b");
    }
}
