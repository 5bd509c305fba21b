//! Withholding exported symbols of a built shared object, for simulating an old driver.
//!
//! The simulator is one shared object that exports every entry point it implements. A real old
//! driver lacks the newer ones, and a program that looks one up (`dlsym`) gets nothing. To give
//! that program exactly that, the launcher hands it a copy of the library in which each missing
//! symbol's entry of the dynamic symbol table (`.dynsym`) is made local and hidden: binding
//! `STB_LOCAL`, visibility `STV_HIDDEN`. Its name, value and size stay as they were.
//!
//! Why that and nothing else: the dynamic linker's lookup (`dlsym`, and every other object's
//! relocations) ignores local symbols, so the name is not found; but a relocation *inside the
//! library* that refers to the symbol (a call from one entry point to another through the PLT
//! or GOT, which is how an optimised build may compile it) resolves to the library's own
//! definition, because glibc binds local and hidden symbols to the object that holds them
//! without a lookup (`RESOLVE_MAP` for `STB_LOCAL` at load time, `_dl_fixup` for a non-default
//! visibility when binding lazily). So the copy loads and behaves the same whatever the
//! compiler did with calls between entry points. (Renaming the symbol instead, as this module
//! once did, broke exactly those relocations: an optimised build failed to load with
//! "undefined symbol".)

/// Why a library could not be patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ElfError {}

fn truncated(off: usize) -> ElfError {
    ElfError(format!("truncated ELF file (offset {off})"))
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, ElfError> {
    b.get(off..off + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| truncated(off))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, ElfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")))
        .ok_or_else(|| truncated(off))
}

fn u64_at(b: &[u8], off: usize) -> Result<usize, ElfError> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| truncated(off))
}

/// `SHT_DYNSYM`: the dynamic symbol table's section type.
const SHT_DYNSYM: u32 = 11;
/// Size of one `Elf64_Sym`.
const SYM_SIZE: usize = 24;
/// `STB_LOCAL` and `STB_GLOBAL`, `STB_WEAK` (the high nibble of `st_info`).
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
/// `STV_HIDDEN` (the low two bits of `st_other`).
const STV_HIDDEN: u8 = 2;
/// `SHN_UNDEF`: a symbol this object needs, not one it defines.
const SHN_UNDEF: u16 = 0;

/// One section header: type, link, file offset and size.
#[derive(Debug, Clone, Copy)]
struct Section {
    kind: u32,
    link: usize,
    offset: usize,
    size: usize,
}

/// Every section header of a 64-bit little-endian ELF file.
fn sections(b: &[u8]) -> Result<Vec<Section>, ElfError> {
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1]) {
        return Err(ElfError(
            "not a 64-bit little-endian ELF shared object".into(),
        ));
    }
    let shoff = u64_at(b, 0x28)?;
    let shentsize = u16_at(b, 0x3a)? as usize;
    let shnum = u16_at(b, 0x3c)? as usize;
    (0..shnum)
        .map(|i| {
            let h = shoff + i * shentsize;
            let s = Section {
                kind: u32_at(b, h + 4)?,
                link: u32_at(b, h + 0x28)? as usize,
                offset: u64_at(b, h + 0x18)?,
                size: u64_at(b, h + 0x20)?,
            };
            if s.offset.checked_add(s.size).is_none_or(|end| end > b.len()) && s.kind != 8 {
                return Err(ElfError(format!("section {i} runs past the file")));
            }
            Ok(s)
        })
        .collect()
}

/// The dynamic symbol table: its section, and its string table's.
fn dynsym(b: &[u8]) -> Result<(Section, Section), ElfError> {
    let all = sections(b)?;
    let syms = all
        .iter()
        .find(|s| s.kind == SHT_DYNSYM)
        .copied()
        .ok_or_else(|| ElfError("no dynamic symbol table (.dynsym)".into()))?;
    let strs = all
        .get(syms.link)
        .copied()
        .ok_or_else(|| ElfError("the dynamic symbol table names no string table".into()))?;
    Ok((syms, strs))
}

/// The NUL-terminated name at `off` of the string table `strs`.
fn name_at(b: &[u8], strs: Section, off: usize) -> Option<&[u8]> {
    let table = b.get(strs.offset..strs.offset + strs.size)?;
    let rest = table.get(off..)?;
    rest.iter().position(|&c| c == 0).map(|n| &rest[..n])
}

/// One entry of the dynamic symbol table, as the dynamic linker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynSym {
    pub name: String,
    /// Whether this object defines it (rather than needs it from another).
    pub defined: bool,
    /// Whether another object (`dlsym`, a relocation elsewhere) can find it: a defined global
    /// or weak symbol of default or protected visibility.
    pub visible: bool,
}

fn entries(b: &[u8]) -> Result<Vec<(usize, DynSym)>, ElfError> {
    let (syms, strs) = dynsym(b)?;
    (0..syms.size / SYM_SIZE)
        .map(|i| {
            let at = syms.offset + i * SYM_SIZE;
            let name = u32_at(b, at)? as usize;
            let info = *b.get(at + 4).ok_or_else(|| truncated(at + 4))?;
            let other = *b.get(at + 5).ok_or_else(|| truncated(at + 5))?;
            let defined = u16_at(b, at + 6)? != SHN_UNDEF;
            let name = name_at(b, strs, name)
                .ok_or_else(|| ElfError(format!("symbol {i} has a bad name offset")))?;
            let bind = info >> 4;
            Ok((
                at,
                DynSym {
                    name: String::from_utf8_lossy(name).into_owned(),
                    defined,
                    visible: defined
                        && matches!(bind, STB_GLOBAL | STB_WEAK)
                        && other & 3 != STV_HIDDEN,
                },
            ))
        })
        .collect()
}

/// The dynamic symbol table of a shared object (for tests and messages).
pub fn dynamic_symbols(so: &[u8]) -> Result<Vec<DynSym>, ElfError> {
    Ok(entries(so)?.into_iter().map(|(_, s)| s).collect())
}

/// A copy of the shared object `so` in which none of `names` can be found by `dlsym`, while the
/// library's own references to them still resolve to its own definitions (see the module
/// documentation). Each name must be defined by `so` exactly once.
pub fn hide_symbols(so: &[u8], names: &[&str]) -> Result<Vec<u8>, ElfError> {
    let table = entries(so)?;
    let mut out = so.to_vec();
    for name in names {
        let hits: Vec<usize> = table
            .iter()
            .filter(|(_, s)| s.defined && s.name == *name)
            .map(|(at, _)| *at)
            .collect();
        let [at] = hits[..] else {
            return Err(ElfError(format!(
                "{name} is defined {} times in .dynsym (want once)",
                hits.len()
            )));
        };
        out[at + 4] = (STB_LOCAL << 4) | (out[at + 4] & 0xf);
        out[at + 5] = (out[at + 5] & !3) | STV_HIDDEN;
    }
    Ok(out)
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
