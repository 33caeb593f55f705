/* A stand-in for Windows' bcryptprimitives.dll, for running our tests under
 * Wine 8 only (Debian 12's), which lacks it. Rust's standard library (1.78+)
 * takes its random bytes from ProcessPrng there (rust-lang/rust#121337);
 * this forwards to RtlGenRandom (advapi32's SystemFunction036), which Wine
 * has. Never shipped: Windows 10 and later have the real one. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
