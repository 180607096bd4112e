//! The workbook measured before it is parsed: an `.xlsx` is a zip, and a few megabytes of zip
//! can unpack to gigabytes. calamine reads the whole shared-strings part into memory when it
//! opens a workbook (and reserves room for as many strings as the part *declares*), then
//! parses every sheet it is asked for in full, so the bounds have to hold before it starts.
//!
//! Every part is checked twice: its declared size against what is left of the budget, then its
//! bytes inflated into nothing, counting, and stopped at the first byte over (a zip may lie
//! about its sizes). The shared-strings part is also scanned for how many strings it holds and
//! how many it declares. Inflating costs CPU bounded by [`MAX_UNCOMPRESSED_BYTES`]; nothing is
//! held but one buffer.

use std::io::{Cursor, Read};

use super::SheetError;

/// What the parts of one workbook may unpack to, together. The largest real import,
/// [`super::MAX_ROWS`] product rows with a dozen columns, unpacks to about 100 MiB (some 50
/// bytes of sheet XML a cell, plus up to 50 MiB of text); 256 MiB leaves room for columns the
/// import ignores, while a bomb is stopped after inflating at most this much (about a second).
pub const MAX_UNCOMPRESSED_BYTES: u64 = 256 << 20;

/// What the shared-strings part alone may unpack to. calamine holds all of it as strings for
/// as long as the workbook is open; it is text plus a little markup, so the bound is the text
/// the reader holds at most ([`super::reader::MAX_TEXT_BYTES`]).
pub const MAX_SHARED_STRINGS_BYTES: u64 = super::reader::MAX_TEXT_BYTES as u64;

/// Shared strings one workbook may hold (or declare). Each costs calamine 24 bytes before its
/// text, so a part of empty strings (`<si/>`, five bytes each) would otherwise cost five times
/// its size. [`super::MAX_ROWS`] rows of a dozen text columns hold at most 1.2 million distinct
/// texts, and real sheets repeat most of them (makers, units, currencies).
pub const MAX_SHARED_STRINGS: u64 = 2_000_000;

/// Parts one workbook may hold. A workbook has a dozen or two (sheets, styles, theme,
/// relationships), a few hundred with pictures; the zip's directory is read whole, so its
/// length is bounded too.
pub const MAX_PARTS: usize = 10_000;

/// Checks every part of `xlsx` against the bounds above. A file that is not a zip at all is
/// left to calamine, which says so in its words.
pub(super) fn check(xlsx: &[u8]) -> Result<(), SheetError> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(xlsx)) else { return Ok(()) };
    if zip.len() > MAX_PARTS {
        return Err(SheetError::TooManyParts { limit: MAX_PARTS });
    }
    let too_large =
        |part: &str| SheetError::TooLarge { part: part.to_owned(), limit_mib: MAX_UNCOMPRESSED_BYTES >> 20 };
    let mut left = MAX_UNCOMPRESSED_BYTES;
    let mut buf = vec![0u8; 64 << 10];
    for index in 0..zip.len() {
        let mut part = zip.by_index(index).map_err(|e| SheetError::Unreadable(e.to_string()))?;
        let name = String::from_utf8_lossy(part.name_raw()).into_owned();
        let shared = name.to_ascii_lowercase().replace('\\', "/").ends_with("sharedstrings.xml");
        if part.size() > left {
            return Err(too_large(&name));
        }
        if shared && part.size() > MAX_SHARED_STRINGS_BYTES {
            return Err(SheetError::SharedStringsTooLarge { limit_mib: MAX_SHARED_STRINGS_BYTES >> 20 });
        }
        let mut scan = SharedStrings::default();
        let mut read = 0u64;
        loop {
            let n = match part.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SheetError::Unreadable(format!("part `{name}`: {e}"))),
            };
            read += n as u64;
            if read > left {
                return Err(too_large(&name));
            }
            if shared {
                if read > MAX_SHARED_STRINGS_BYTES {
                    return Err(SheetError::SharedStringsTooLarge { limit_mib: MAX_SHARED_STRINGS_BYTES >> 20 });
                }
                scan.feed(&buf[..n]);
                if scan.count > MAX_SHARED_STRINGS || scan.declared > MAX_SHARED_STRINGS {
                    return Err(SheetError::TooManySharedStrings { limit: MAX_SHARED_STRINGS });
                }
            }
        }
        left -= read;
    }
    Ok(())
}

/// A streaming count of the `<si>` elements of a shared-strings part, and its `uniqueCount`.
/// It reads tags, not XML: a tag in a comment counts too, which can only over-count.
#[derive(Default)]
struct SharedStrings {
    /// `<si` start tags seen (any namespace prefix).
    count: u64,
    /// The `<sst uniqueCount="…">` figure, what calamine reserves room for.
    declared: u64,
    state: Scan,
    /// The tag name being read, or the `<sst …>` tag's attributes.
    text: Vec<u8>,
}

#[derive(Default, PartialEq)]
enum Scan {
    #[default]
    Outside,
    Name,
    SstAttributes,
}

/// Longest tag name kept: `si` and `sst` with a prefix are far shorter.
const MAX_NAME: usize = 64;
/// Longest `<sst …>` tag kept: namespaces and two counts.
const MAX_SST_TAG: usize = 4096;

impl SharedStrings {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.state {
                Scan::Outside => {
                    if b == b'<' {
                        self.state = Scan::Name;
                        self.text.clear();
                    }
                }
                Scan::Name => {
                    if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/') {
                        let local = self.text.rsplit(|&c| c == b':').next().unwrap_or_default();
                        if local == b"si" {
                            self.count += 1;
                        }
                        let sst = local == b"sst";
                        self.text.clear();
                        self.state = if sst && b != b'>' { Scan::SstAttributes } else { Scan::Outside };
                    } else if self.text.len() < MAX_NAME {
                        self.text.push(b);
                    }
                }
                Scan::SstAttributes => {
                    if b == b'>' || self.text.len() >= MAX_SST_TAG {
                        self.declared = self.declared.max(unique_count(&self.text));
                        self.state = Scan::Outside;
                    } else {
                        self.text.push(b);
                    }
                }
            }
        }
    }
}

/// The figure of `uniqueCount="…"` in an `<sst>` tag's attributes, read the way calamine
/// reads it (leading digits), saturating: 0 when absent.
fn unique_count(attributes: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(attributes);
    let Some(at) = text.find("uniqueCount") else { return 0 };
    let rest = text[at + "uniqueCount".len()..].trim_start().trim_start_matches('=').trim_start();
    let rest = rest.trim_start_matches(['"', '\'']).trim_start_matches('+');
    rest.bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::super::fixture::{Cell, workbook};
    use super::super::{SheetKind, import};
    use super::*;

    /// A workbook whose shared strings are `strings` copies of `<si><t>x…</t></si>` (`text`
    /// letters each) behind an `<sst uniqueCount=declared>`, deflated: a few hundred kilobytes of
    /// zip for millions of strings.
    pub(crate) fn shared_strings_bomb(strings: u64, text: usize, declared: u64) -> Vec<u8> {
        bomb(0, strings, text, declared)
    }

    /// Like [`shared_strings_bomb`], with `padding` bytes of comment in the sheet.
    fn bomb(padding: usize, strings: u64, text: usize, declared: u64) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let parts: [(&str, &str); 4] = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#,
            ),
        ];
        for (name, text) in parts {
            zip.start_file(name, deflated).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.start_file("xl/worksheets/sheet1.xml", deflated).unwrap();
        zip.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>"#,
        )
        .unwrap();
        if padding > 0 {
            let dashes = vec![b'x'; 1 << 20];
            zip.write_all(b"<!--").unwrap();
            for _ in 0..padding >> 20 {
                zip.write_all(&dashes).unwrap();
            }
            zip.write_all(b"-->").unwrap();
        }
        zip.write_all(b"</worksheet>").unwrap();
        zip.start_file("xl/sharedStrings.xml", deflated).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{declared}">"#
        )
        .unwrap();
        let one = format!("<si><t>{}</t></si>", "x".repeat(text));
        let chunk = one.repeat(1024);
        let mut left = strings;
        while left > 0 {
            let n = left.min(1024) as usize;
            zip.write_all(&chunk.as_bytes()[..n * one.len()]).unwrap();
            left -= n as u64;
        }
        zip.write_all(b"</sst>").unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_shared_strings_bomb_is_refused_before_calamine_sees_it() {
        // 140,000 strings of a kilobyte: 140 MB unpacked, a few hundred kilobytes packed.
        let bomb = shared_strings_bomb(140_000, 1_000, 140_000);
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let err = import(SheetKind::Stock, &bomb, 0).unwrap_err();
        assert!(matches!(err, SheetError::SharedStringsTooLarge { .. }), "{err}");
        assert_eq!(err.limit(), Some(("shared_strings_bytes", MAX_SHARED_STRINGS_BYTES)), "{err}");

        // Three million tiny strings fit the bytes but not the count.
        let err = import(SheetKind::Stock, &shared_strings_bomb(3_000_000, 1, 1), 0).unwrap_err();
        assert!(matches!(err, SheetError::TooManySharedStrings { limit: MAX_SHARED_STRINGS }), "{err}");
        assert_eq!(err.limit(), Some(("shared_strings", MAX_SHARED_STRINGS)), "{err}");

        // A lie about the count is what calamine would reserve room for.
        let err = import(SheetKind::Stock, &shared_strings_bomb(1, 1, 1 << 40), 0).unwrap_err();
        assert!(matches!(err, SheetError::TooManySharedStrings { .. }), "{err}");
    }

    #[test]
    fn a_sheet_that_unpacks_past_the_budget_is_refused_naming_the_part() {
        let bomb = bomb((MAX_UNCOMPRESSED_BYTES + (1 << 20)) as usize, 1, 1, 1);
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let err = import(SheetKind::Stock, &bomb, 0).unwrap_err();
        assert!(matches!(&err, SheetError::TooLarge { part, .. } if part == "xl/worksheets/sheet1.xml"), "{err}");
        assert_eq!(err.limit(), Some(("uncompressed_bytes", MAX_UNCOMPRESSED_BYTES)), "{err}");
    }

    #[test]
    fn an_honest_workbook_passes_and_a_small_bomb_is_only_a_header() {
        let book = workbook(&[&[Cell::s("outer_sku_id"), Cell::s("quantity")], &[Cell::s("A"), Cell::n(1.0)]]);
        check(&book).unwrap();
        // The crafted workbook itself is readable when small: the bounds, not the shape, refuse it.
        check(&shared_strings_bomb(10, 1, 10)).unwrap();
        let err = import(SheetKind::Stock, &shared_strings_bomb(10, 1, 10), 0).unwrap_err();
        assert!(matches!(err, SheetError::MissingColumns { .. }), "{err}");
    }

    #[test]
    fn counts_read_across_chunks_and_prefixes() {
        let text = br#"<x:sst xmlns:x="urn:x" count="9" uniqueCount = "12345"><x:si><x:t>a</x:t></x:si><si/><si ><t/></si></x:sst>"#;
        let mut whole = SharedStrings::default();
        whole.feed(text);
        assert_eq!((whole.count, whole.declared), (3, 12_345));
        let mut split = SharedStrings::default();
        for b in text.chunks(1) {
            split.feed(b);
        }
        assert_eq!((split.count, split.declared), (3, 12_345));
        assert_eq!(unique_count(b" uniqueCount=\"99999999999999999999999\""), u64::MAX);
        assert_eq!(unique_count(b" count=\"5\""), 0);
    }
}
