/* bcryptprimitives.dll for Wine 8: one export, ProcessPrng.
 *
 * Rust's std (1.78+) on Windows gets its random bytes (HashMap seeds) from
 * ProcessPrng in bcryptprimitives.dll. Wine 8 has no such DLL, so any Rust
 * addon fails to load ("Module not found"). setup.sh builds this file with
 * mingw and puts the DLL beside node.exe, where the loader looks first.
 * Newer Wine ships the DLL; real Windows (10+) always has it. Test use only:
 * it is never shipped in a package.
 *
 * The bytes come from RtlGenRandom (advapi32's SystemFunction036), which Wine
 * implements over the host's random source.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance; (void)reason; (void)reserved;
    return TRUE;
}
