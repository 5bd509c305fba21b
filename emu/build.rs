//! Builds `kernels/*.cu` for the host against `cuda_emu.h`, plus the launcher and a table of
//! entry points generated from the kernels' `extern "C" __global__` signatures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// One `extern "C" __global__` entry point.
struct Entry {
    name: String,
    /// Parameter types as written, without `__restrict__`.
    types: Vec<String>,
    /// One character per parameter (see cpp/entries.h).
    signature: String,
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    // GPUGATE_EMU_KERNELS overrides the kernel directory (to test the tests with mutated kernels).
    println!("cargo:rerun-if-env-changed=GPUGATE_EMU_KERNELS");
    let kernels = match env::var_os("GPUGATE_EMU_KERNELS") {
        Some(dir) => PathBuf::from(dir),
        None => manifest.join("..").join("kernels"),
    };
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let header = manifest.join("cuda_emu.h");
    let cpp = manifest.join("cpp");

    println!("cargo:rerun-if-changed={}", kernels.display());
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed={}", cpp.display());

    let mut sources: Vec<PathBuf> = fs::read_dir(&kernels)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", kernels.display()))
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no kernels/*.cu found");

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++20")
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .flag("-Wno-unknown-pragmas")
        .flag("-fno-strict-aliasing")
        .flag("-pthread");

    let mut entries = Vec::new();
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        let text = fs::read_to_string(src).unwrap();
        let found = parse_entries(&text, src);
        assert!(
            !found.is_empty(),
            "{}: no extern \"C\" __global__ entry points",
            src.display()
        );
        entries.extend(found);
        // One translation unit per family, with the emulation header force-included first, then
        // cpp/<family>_probes.inc where it exists: extern "C" hooks that let the tests call a
        // family's device helpers directly (e.g. gemm.cu's binary16 conversion).
        let stem = src.file_stem().unwrap().to_string_lossy();
        let unit = out.join(format!("kernel_{stem}.cpp"));
        let mut text = format!("#include \"{}\"\n", src.display());
        let probes = cpp.join(format!("{stem}_probes.inc"));
        if probes.exists() {
            text.push_str(&format!("#include \"{}\"\n", probes.display()));
        }
        fs::write(&unit, text).unwrap();
        build.file(&unit);
    }
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("entry point {} is defined twice in kernels/*.cu", w[0]);
    }

    let table = out.join("entries.cpp");
    fs::write(&table, generate_table(&entries, &cpp.join("entries.h"))).unwrap();

    build
        .flag("-include")
        .flag(header.to_str().unwrap())
        .file(cpp.join("runtime.cpp"))
        .file(&table)
        .compile("gpugate_emu_kernels");
}

/// Removes `//` and `/* */` comments (string literals in kernels are not expected).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn parse_entries(text: &str, path: &Path) -> Vec<Entry> {
    let text = strip_comments(text);
    let mut entries = Vec::new();
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("extern \"C\"") {
        let after = &rest[pos + "extern \"C\"".len()..];
        let end = after.find(['{', ';']).unwrap_or(after.len());
        let head = &after[..end];
        rest = &after[end..];
        if !head.contains("__global__") {
            continue;
        }
        // The parameter list is the last balanced (...) before the body.
        let close = head
            .rfind(')')
            .unwrap_or_else(|| panic!("{}: cannot parse `{head}`", path.display()));
        let mut depth = 0i32;
        let mut open = None;
        for (i, c) in head[..=close].char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let open = open.unwrap_or_else(|| panic!("{}: unbalanced `{head}`", path.display()));
        let name: String = head[..open]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(!name.is_empty(), "{}: no name in `{head}`", path.display());
        let params = head[open + 1..close].trim();
        let mut types = Vec::new();
        let mut signature = String::new();
        if !params.is_empty() && params != "void" {
            for p in params.split(',') {
                let ty = param_type(p);
                signature.push(classify(&ty).unwrap_or_else(|| {
                    panic!(
                        "{}: {name}: unsupported parameter type `{ty}`",
                        path.display()
                    )
                }));
                types.push(ty);
            }
        }
        entries.push(Entry {
            name,
            types,
            signature,
        });
    }
    entries
}

/// The type of one parameter declaration: drops `__restrict__` and the parameter's name.
fn param_type(decl: &str) -> String {
    let cleaned = decl.replace("__restrict__", " ").replace("__restrict", " ");
    let tokens: Vec<String> = cleaned
        .replace('*', " * ")
        .replace('&', " & ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let is_ident = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    const TYPE_WORDS: &[&str] = &[
        "const", "volatile", "unsigned", "signed", "int", "long", "short", "char", "float",
        "double", "void", "bool",
    ];
    let mut tokens = tokens;
    if tokens.len() > 1 {
        let last = tokens.last().unwrap();
        if is_ident(last) && !TYPE_WORDS.contains(&last.as_str()) {
            tokens.pop();
        }
    }
    let mut ty = tokens.join(" ");
    ty = ty.replace(" *", "*");
    ty
}

fn classify(ty: &str) -> Option<char> {
    if ty.contains('*') {
        return Some('p');
    }
    let t: Vec<&str> = ty
        .split_whitespace()
        .filter(|w| *w != "const" && *w != "signed")
        .collect();
    Some(match t.join(" ").as_str() {
        "int" => 'i',
        "unsigned" | "unsigned int" => 'u',
        "long long" | "long long int" => 'l',
        "unsigned long long" | "unsigned long long int" => 'L',
        "float" => 'f',
        "double" => 'd',
        _ => return None,
    })
}

fn generate_table(entries: &[Entry], header: &Path) -> String {
    let mut s = String::new();
    writeln!(
        s,
        "// Generated by emu/build.rs from kernels/*.cu; do not edit."
    )
    .unwrap();
    writeln!(s, "#include \"{}\"", header.display()).unwrap();
    s.push_str(
        r#"#include <cstdint>
#include <cstring>
#include <type_traits>

namespace {
// params[i] points at the i-th argument's value; a pointer argument is a 64-bit device address.
template <typename T>
T gg_arg(void* p)
{
    if constexpr (std::is_pointer_v<T>) {
        std::uint64_t v;
        std::memcpy(&v, p, sizeof v);
        return reinterpret_cast<T>(static_cast<std::uintptr_t>(v));
    } else {
        T v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
}
} // namespace

"#,
    );
    for e in entries {
        writeln!(s, "extern \"C\" void {}({});", e.name, e.types.join(", ")).unwrap();
        writeln!(s, "static void gg_call_{}(void** p)\n{{", e.name).unwrap();
        let args: Vec<String> = e
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("gg_arg<{t}>(p[{i}])"))
            .collect();
        if args.is_empty() {
            writeln!(s, "    (void)p;").unwrap();
        }
        writeln!(s, "    {}({});\n}}\n", e.name, args.join(", ")).unwrap();
    }
    writeln!(s, "const EmuEntry gg_emu_entries[] = {{").unwrap();
    for e in entries {
        writeln!(
            s,
            "    {{\"{}\", \"{}\", {}, &gg_call_{}}},",
            e.name,
            e.signature,
            e.types.len(),
            e.name
        )
        .unwrap();
    }
    writeln!(s, "}};").unwrap();
    writeln!(s, "const unsigned gg_emu_entry_count = {};", entries.len()).unwrap();
    s
}
