//! The host: name, OS, kernel, CPU, memory and local disks (Linux `/proc` and `/sys`).
//!
//! Each parser takes the file's text and never fails: a missing or odd field yields an empty
//! string or zero.

use std::path::Path;

use crate::model::HostInfo;

/// Inventory of this host. Never panics; what cannot be read is left empty or zero.
pub fn host() -> HostInfo {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let (uname_host, uname_release) = uname();
    let hostname = non_empty(uname_host)
        .unwrap_or_else(|| read("/proc/sys/kernel/hostname").trim().to_string());
    let kernel = non_empty(uname_release)
        .unwrap_or_else(|| read("/proc/sys/kernel/osrelease").trim().to_string());
    let cpuinfo = read("/proc/cpuinfo");
    let (cpu_model, cpuinfo_cpus) = parse_cpuinfo(&cpuinfo);
    let logical_cpus = if cpuinfo_cpus > 0 {
        cpuinfo_cpus
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(0)
    };
    HostInfo {
        hostname,
        os: parse_os_release(&read("/etc/os-release")),
        kernel,
        cpu_model,
        logical_cpus,
        memory_bytes: parse_meminfo_total(&read("/proc/meminfo")),
        local_disk_bytes: local_disk_bytes(&read_block_devices(Path::new("/sys/block"))),
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// (nodename, release) from uname(2); empty strings when it fails.
fn uname() -> (String, String) {
    // SAFETY: `utsname` is plain old data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return (String::new(), String::new());
        }
        (c_field(&u.nodename), c_field(&u.release))
    }
}

fn c_field(f: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Value of `KEY=value` / `KEY="value"` in an os-release file.
fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        non_empty(v.to_string())
    })
}

/// OS name from `/etc/os-release`: PRETTY_NAME, else NAME and VERSION, else "".
pub fn parse_os_release(text: &str) -> String {
    if let Some(p) = os_release_field(text, "PRETTY_NAME") {
        return p;
    }
    match (
        os_release_field(text, "NAME"),
        os_release_field(text, "VERSION"),
    ) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        (Some(n), None) => n,
        _ => String::new(),
    }
}

/// (CPU model, logical CPUs) from `/proc/cpuinfo`.
///
/// The model is the first `model name` (x86), else `Hardware` / `Processor` / `cpu model`
/// (some ARM and MIPS kernels), else "". Logical CPUs count the `processor` lines.
pub fn parse_cpuinfo(text: &str) -> (String, u32) {
    let mut count = 0u32;
    let mut model: Option<String> = None;
    let mut fallback: Option<String> = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim();
        let v = v.trim();
        match k {
            "processor" => count += 1,
            "model name" if model.is_none() && !v.is_empty() => model = Some(v.to_string()),
            "Hardware" | "Processor" | "cpu model" if fallback.is_none() && !v.is_empty() => {
                fallback = Some(v.to_string())
            }
            _ => {}
        }
    }
    (model.or(fallback).unwrap_or_default(), count)
}

/// `MemTotal` from `/proc/meminfo`, in bytes (the file says kB, meaning KiB); 0 when absent.
pub fn parse_meminfo_total(text: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("MemTotal:")?;
            let mut parts = rest.split_whitespace();
            let value: u64 = parts.next()?.parse().ok()?;
            let mult = match parts.next().map(|u| u.to_ascii_lowercase()) {
                Some(u) if u == "kb" => 1024,
                Some(u) if u == "mb" => 1024 * 1024,
                Some(u) if u == "gb" => 1024 * 1024 * 1024,
                None => 1,
                Some(_) => return None,
            };
            value.checked_mul(mult)
        })
        .unwrap_or(0)
}

/// One entry of `/sys/block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    pub name: String,
    /// `/sys/block/<name>/size`: always in 512-byte sectors, whatever the logical block size.
    pub sectors: u64,
    pub removable: bool,
}

/// Name prefixes of block devices that are not local disks of their own:
/// loop devices, RAM disks and zram (memory), device-mapper and md RAID (built on top of disks
/// already counted: counting them too would double the total), optical and floppy drives,
/// network block devices, ZFS zvols and the null_blk test device.
const NOT_A_DISK: &[&str] = &[
    "loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "zd", "nullb",
];

/// The counting rule: whole disks listed in `/sys/block` (partitions live below their disk, so
/// they are never listed), minus [`NOT_A_DISK`] and anything marked removable.
pub fn is_local_disk(dev: &BlockDevice) -> bool {
    !dev.removable && !NOT_A_DISK.iter().any(|p| dev.name.starts_with(p))
}

/// Sum of the sizes of the local disks, in bytes.
pub fn local_disk_bytes(devs: &[BlockDevice]) -> u64 {
    devs.iter()
        .filter(|d| is_local_disk(d))
        .fold(0u64, |acc, d| {
            acc.saturating_add(d.sectors.saturating_mul(512))
        })
}

/// Reads `<root>/*/{size,removable}` (root is normally `/sys/block`). Unreadable entries get
/// size 0; a missing `removable` counts as not removable.
pub fn read_block_devices(root: &Path) -> Vec<BlockDevice> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut devs: Vec<BlockDevice> = entries
        .flatten()
        .map(|e| {
            let path = e.path();
            let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap_or_default();
            BlockDevice {
                name: e.file_name().to_string_lossy().into_owned(),
                sectors: read("size").trim().parse().unwrap_or(0),
                removable: read("removable").trim() == "1",
            }
        })
        .collect();
    devs.sort_by(|a, b| a.name.cmp(&b.name));
    devs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_variants() {
        let ubuntu = "NAME=\"Ubuntu\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\n\
                      PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n";
        assert_eq!(parse_os_release(ubuntu), "Ubuntu 22.04.4 LTS");
        let single = "PRETTY_NAME='Rocky Linux 9.3 (Blue Onyx)'\n";
        assert_eq!(parse_os_release(single), "Rocky Linux 9.3 (Blue Onyx)");
        let unquoted = "NAME=Alpine\nVERSION=3.19\n";
        assert_eq!(parse_os_release(unquoted), "Alpine 3.19");
        assert_eq!(parse_os_release("NAME=Minimal\n"), "Minimal");
        assert_eq!(
            parse_os_release("PRETTY_NAME=\"\"\nNAME=Fallback\n"),
            "Fallback"
        );
        assert_eq!(parse_os_release(""), "");
        assert_eq!(parse_os_release("garbage without equals\n=\n==\n"), "");
        // A key that merely starts with PRETTY_NAME is not it.
        assert_eq!(parse_os_release("PRETTY_NAMES=x\n"), "");
    }

    #[test]
    fn cpuinfo_x86_arm_and_broken() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz\n\n\
                   processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz\n";
        assert_eq!(
            parse_cpuinfo(x86),
            ("Intel(R) Xeon(R) CPU E5-2670 v3 @ 2.30GHz".to_string(), 2)
        );
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\n\
                   processor\t: 1\nBogoMIPS\t: 50.00\n\nHardware\t: BCM2835\n";
        assert_eq!(parse_cpuinfo(arm), ("BCM2835".to_string(), 2));
        let no_model = "processor : 0\nprocessor : 1\nprocessor : 2\n";
        assert_eq!(parse_cpuinfo(no_model), (String::new(), 3));
        assert_eq!(parse_cpuinfo(""), (String::new(), 0));
        assert_eq!(
            parse_cpuinfo("model name:\n:::\nno colon\n"),
            (String::new(), 0)
        );
        // model name wins over the fallbacks, wherever it appears.
        let both = "Hardware : Board\nprocessor : 0\nmodel name : Real CPU\n";
        assert_eq!(parse_cpuinfo(both), ("Real CPU".to_string(), 1));
    }

    #[test]
    fn meminfo_total() {
        let text = "MemTotal:       263859176 kB\nMemFree:        1000 kB\n";
        assert_eq!(parse_meminfo_total(text), 263_859_176 * 1024);
        assert_eq!(parse_meminfo_total("MemFree: 5 kB\n"), 0);
        assert_eq!(parse_meminfo_total(""), 0);
        assert_eq!(parse_meminfo_total("MemTotal: lots kB\n"), 0);
        assert_eq!(parse_meminfo_total("MemTotal: 12 parsecs\n"), 0);
        assert_eq!(parse_meminfo_total("MemTotal: 4096\n"), 4096);
        assert_eq!(
            parse_meminfo_total("MemTotal: 18446744073709551615 kB\n"),
            0
        );
    }

    fn dev(name: &str, sectors: u64, removable: bool) -> BlockDevice {
        BlockDevice {
            name: name.into(),
            sectors,
            removable,
        }
    }

    #[test]
    fn disk_counting_rule() {
        let devs = [
            dev("nvme0n1", 1_000_000, false),
            dev("sda", 2_000_000, false),
            dev("vda", 10, false),
            dev("loop0", 999, false),
            dev("ram0", 999, false),
            dev("zram0", 999, false),
            dev("dm-0", 999, false),
            dev("md127", 999, false),
            dev("sr0", 999, false),
            dev("nbd0", 999, false),
            dev("sdb", 999, true), // a USB stick
        ];
        assert_eq!(local_disk_bytes(&devs), (1_000_000 + 2_000_000 + 10) * 512);
        assert_eq!(local_disk_bytes(&[]), 0);
        assert_eq!(
            local_disk_bytes(&[dev("sda", u64::MAX, false), dev("sdb", 5, false)]),
            u64::MAX
        );
    }

    #[test]
    fn block_devices_are_read_from_sysfs_layout() {
        let root = tempfile::tempdir().unwrap();
        let mk = |name: &str, size: Option<&str>, removable: Option<&str>| {
            let d = root.path().join(name);
            std::fs::create_dir(&d).unwrap();
            if let Some(s) = size {
                std::fs::write(d.join("size"), s).unwrap();
            }
            if let Some(r) = removable {
                std::fs::write(d.join("removable"), r).unwrap();
            }
        };
        mk("sda", Some("2048\n"), Some("0\n"));
        mk("sdb", Some("4096\n"), Some("1\n"));
        mk("loop0", Some("8\n"), Some("0\n"));
        mk("nvme0n1", Some("junk\n"), None);
        mk("vdb", None, None);
        let devs = read_block_devices(root.path());
        assert_eq!(
            devs,
            vec![
                dev("loop0", 8, false),
                dev("nvme0n1", 0, false),
                dev("sda", 2048, false),
                dev("sdb", 4096, true),
                dev("vdb", 0, false),
            ]
        );
        assert_eq!(local_disk_bytes(&devs), 2048 * 512);
        assert!(read_block_devices(&root.path().join("missing")).is_empty());
    }

    #[test]
    fn host_on_this_machine() {
        let h = host();
        assert!(h.logical_cpus >= 1, "{h:?}");
        assert!(!h.kernel.is_empty(), "{h:?}");
        assert!(!h.hostname.is_empty(), "{h:?}");
        if Path::new("/proc/meminfo").exists() {
            assert!(h.memory_bytes > 0, "{h:?}");
        }
    }
}
