/* wine-lock: hold files open with no sharing, as an office application does,
 * for scripts/wine-e2e.sh (scenario "locked file").
 *
 *   wine-lock.exe RELEASE_FILE SECONDS PATH...
 *
 * Opens every PATH with CreateFileW(GENERIC_READ | GENERIC_WRITE, share mode
 * 0), prints "locked" once all are open, then waits until RELEASE_FILE exists
 * or SECONDS have passed, closes them and prints "released".
 * Exit 0 on success, 2 on bad usage, 3 when a PATH cannot be opened.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o wine-lock.exe wine-lock.c
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv) {
    if (argc < 4) {
        fwprintf(stderr, L"usage: wine-lock RELEASE_FILE SECONDS PATH...\n");
        return 2;
    }
    const wchar_t *release = argv[1];
    long seconds = wcstol(argv[2], NULL, 10);
    int n = argc - 3;
    HANDLE *h = calloc((size_t)n, sizeof(HANDLE));
    if (!h) return 2;
    for (int i = 0; i < n; i++) {
        h[i] = CreateFileW(argv[3 + i], GENERIC_READ | GENERIC_WRITE, 0 /* no sharing */,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (h[i] == INVALID_HANDLE_VALUE) {
            fwprintf(stderr, L"wine-lock: cannot open %ls: error %lu\n", argv[3 + i],
                     GetLastError());
            for (int j = 0; j < i; j++) CloseHandle(h[j]);
            return 3;
        }
    }
    wprintf(L"locked\n");
    fflush(stdout);
    ULONGLONG deadline = GetTickCount64() + (ULONGLONG)seconds * 1000;
    while (GetTickCount64() < deadline &&
           GetFileAttributesW(release) == INVALID_FILE_ATTRIBUTES) {
        Sleep(100);
    }
    for (int i = 0; i < n; i++) CloseHandle(h[i]);
    wprintf(L"released\n");
    fflush(stdout);
    return 0;
}
