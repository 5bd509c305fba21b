// entries.h - the table of kernel entry points that build.rs generates (entries.cpp in OUT_DIR).
#pragma once

struct EmuEntry {
    const char* name;
    // One character per parameter: p pointer, i int, u unsigned, l long long, L unsigned long
    // long, f float, d double.
    const char* signature;
    unsigned nparams;
    void (*call)(void** params);
};

extern const EmuEntry gg_emu_entries[];
extern const unsigned gg_emu_entry_count;

enum {
    EMU_E_UNKNOWN_ENTRY = 1,
    EMU_E_BLOCK = 2,
    EMU_E_GRID = 3,
    EMU_E_PARAMS = 4,
    EMU_E_THREADS = 5,
};
