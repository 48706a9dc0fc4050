/* envu.exe NAME[,NAME...] PROGRAM [ARGS...]: `env -u NAME PROGRAM ARGS` for Windows.
 *
 * The test suite uses it to start a child that opens its IPC channel itself
 * (pipewrap's openChannel) under a plain Node parent: Node's spawn() with an
 * 'ipc' stdio entry always sets NODE_CHANNEL_FD, and a Node child claims the
 * channel at startup when it sees that variable. On Linux the tests put
 * /usr/bin/env -u between the two; this is the same for Windows.
 *
 * The child inherits our handles AND our CRT fd table: libuv hands a child its
 * stdio (fd 0..N, the IPC pipe among them) in STARTUPINFO.lpReserved2, the
 * table the C runtime reads at startup, so the STARTUPINFO we were given is
 * passed on as is. We wait for the child and exit with its exit code.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

/* Skip one argument of a Windows command line (CommandLineToArgvW rules). */
static const wchar_t *skip_arg(const wchar_t *p)
{
    int quoted = 0;
    while (*p == L' ' || *p == L'\t') p++;
    while (*p && (quoted || (*p != L' ' && *p != L'\t'))) {
        if (*p == L'\\') {
            const wchar_t *q = p;
            while (*q == L'\\') q++;
            if (*q == L'"') { size_t n = (size_t)(q - p); p = q; if (n % 2) { p++; continue; } }
            else { p = q; continue; }
        }
        if (*p == L'"') quoted = !quoted;
        p++;
    }
    while (*p == L' ' || *p == L'\t') p++;
    return p;
}

int wmain(int argc, wchar_t **argv)
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 1;
    wchar_t *names, *name, *comma;
    const wchar_t *rest;
    wchar_t *cmd;
    size_t len;

    if (argc < 3) {
        fwprintf(stderr, L"usage: envu NAME[,NAME...] PROGRAM [ARGS...]\n");
        return 125;
    }
    names = _wcsdup(argv[1]);
    for (name = names; name; name = comma ? comma + 1 : NULL) {
        comma = wcschr(name, L',');
        if (comma) *comma = 0;
        if (*name) SetEnvironmentVariableW(name, NULL);
    }

    /* The child's command line: ours without argv[0] and argv[1], verbatim. */
    rest = skip_arg(skip_arg(GetCommandLineW()));
    len = wcslen(rest) + 1;
    cmd = (wchar_t *)malloc(len * sizeof(wchar_t));
    wmemcpy(cmd, rest, len);

    GetStartupInfoW(&si);
    if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fwprintf(stderr, L"envu: CreateProcess failed (%lu)\n", GetLastError());
        return 127;
    }
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    return (int)code;
}
