//! Hiding exported symbols of a built shared object, for simulating an old driver.
//!
//! The simulator is one shared object that exports every entry point it implements. A real old
//! driver lacks the newer ones, and a program that looks one up (`dlsym`) gets nothing. To give
//! that program exactly that, the launcher hands it a copy of the library in which each missing
//! symbol's name in the dynamic string table (`.dynstr`) has its first byte replaced: the
//! dynamic linker compares names after their hash, so a lookup by the real name finds nothing,
//! while the code itself (which never goes through those names) is untouched.

/// Why a library could not be patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ElfError {}

fn u16_at(b: &[u8], off: usize) -> Result<u16, ElfError> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| ElfError(format!("truncated ELF file (offset {off})")))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, ElfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| ElfError(format!("truncated ELF file (offset {off})")))
}

fn u64_at(b: &[u8], off: usize) -> Result<usize, ElfError> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| ElfError(format!("truncated ELF file (offset {off})")))
}

/// The byte range of the section named `want` in a 64-bit little-endian ELF file.
fn section(b: &[u8], want: &str) -> Result<std::ops::Range<usize>, ElfError> {
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1]) {
        return Err(ElfError(
            "not a 64-bit little-endian ELF shared object".into(),
        ));
    }
    let shoff = u64_at(b, 0x28)?;
    let shentsize = u16_at(b, 0x3a)? as usize;
    let shnum = u16_at(b, 0x3c)? as usize;
    let shstrndx = u16_at(b, 0x3e)? as usize;
    let header = |i: usize| -> Result<(u32, usize, usize), ElfError> {
        let h = shoff + i * shentsize;
        Ok((u32_at(b, h)?, u64_at(b, h + 0x18)?, u64_at(b, h + 0x20)?))
    };
    let (_, names_off, names_len) = header(shstrndx)?;
    for i in 0..shnum {
        let (name, off, len) = header(i)?;
        let start = names_off + name as usize;
        let end = b
            .get(start..names_off + names_len)
            .and_then(|s| s.iter().position(|&c| c == 0))
            .map(|n| start + n)
            .ok_or_else(|| ElfError("bad section name table".into()))?;
        if &b[start..end] == want.as_bytes() {
            if off + len > b.len() {
                return Err(ElfError(format!("section {want} runs past the file")));
            }
            return Ok(off..off + len);
        }
    }
    Err(ElfError(format!("no {want} section")))
}

/// A copy of the shared object `so` in which none of `names` can be found by `dlsym`. Each name
/// must be a whole entry of the dynamic string table (so that no other name shares its bytes).
pub fn hide_symbols(so: &[u8], names: &[&str]) -> Result<Vec<u8>, ElfError> {
    let mut out = so.to_vec();
    let range = section(so, ".dynstr")?;
    for name in names {
        if name.is_empty() || !name.is_ascii() {
            return Err(ElfError(format!("cannot hide symbol {name:?}")));
        }
        let table = &out[range.clone()];
        let mut key = Vec::with_capacity(name.len() + 2);
        key.push(0);
        key.extend_from_slice(name.as_bytes());
        key.push(0);
        let hits: Vec<usize> = table
            .windows(key.len())
            .enumerate()
            .filter(|(_, w)| *w == key.as_slice())
            .map(|(i, _)| i)
            .collect();
        let [at] = hits[..] else {
            return Err(ElfError(format!(
                "{name} is {} times a whole entry of .dynstr (want once)",
                hits.len()
            )));
        };
        // '#' cannot start a C identifier: no program can look the new name up by accident.
        out[range.start + at + 1] = b'#';
    }
    Ok(out)
}

/// The names of the symbols that the object both defines and refers to by name from a dynamic
/// relocation (`.rela.dyn`, `.rela.plt`): references the dynamic linker resolves by name at load
/// time. Hiding one of these would leave the object unable to load, so the launcher refuses to
/// (the library is linked with `-Bsymbolic`, see `build.rs`, which leaves none).
pub fn self_referenced_symbols(so: &[u8]) -> Result<Vec<String>, ElfError> {
    const SYM: usize = 24;
    const RELA: usize = 24;
    let dynsym = section(so, ".dynsym")?;
    let dynstr = section(so, ".dynstr")?;
    let name_at = |off: usize| -> Option<String> {
        let start = dynstr.start + off;
        let len = so.get(start..dynstr.end)?.iter().position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&so[start..start + len]).into_owned())
    };
    let mut out = Vec::new();
    for rela in [".rela.dyn", ".rela.plt"] {
        let Ok(r) = section(so, rela) else { continue };
        for e in (r.start..r.end).step_by(RELA) {
            let info = u64_at(so, e + 8)?;
            let sym = info >> 32;
            if sym == 0 {
                continue;
            }
            let s = dynsym.start + sym * SYM;
            if s + SYM > dynsym.end {
                return Err(ElfError(format!("{rela}: symbol {sym} is past .dynsym")));
            }
            let defined = u16_at(so, s + 6)? != 0;
            if defined {
                let name = name_at(u32_at(so, s)? as usize)
                    .ok_or_else(|| ElfError(format!("{rela}: bad name of symbol {sym}")))?;
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    Ok(out)
}

/// The names of `.dynstr` (for tests and messages).
pub fn dynamic_strings(so: &[u8]) -> Result<Vec<String>, ElfError> {
    let r = section(so, ".dynstr")?;
    Ok(so[r]
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_an_elf_file_is_an_error() {
        assert!(hide_symbols(b"hello", &["x"]).is_err());
        assert!(hide_symbols(&[0x7f, b'E', b'L', b'F', 2, 1, 0, 0], &["x"]).is_err());
    }
}
