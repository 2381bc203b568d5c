/* wine-scprobe: tells scripts/wine-e2e.sh whether this Wine's service control
 * manager accepts what `twinsync service install` asks of it after creating
 * the service (SPEC §13: failure actions, also for non-crash failures).
 *
 *   wine-scprobe.exe SERVICE_NAME
 *
 * Prints one line per ChangeServiceConfig2W level tried:
 *   FAILURE_ACTIONS ok | FAILURE_ACTIONS error N
 *   FAILURE_ACTIONS_FLAG ok | FAILURE_ACTIONS_FLAG error N
 * Exit 0 when the service could be opened, 1 otherwise.
 * (Wine 8 answers ERROR_INVALID_LEVEL, 124, for FAILURE_ACTIONS_FLAG.)
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o wine-scprobe.exe wine-scprobe.c -ladvapi32
 */
#include <windows.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv) {
    if (argc != 2) {
        fwprintf(stderr, L"usage: wine-scprobe SERVICE_NAME\n");
        return 2;
    }
    SC_HANDLE m = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    SC_HANDLE s = m ? OpenServiceW(m, argv[1], SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG) : NULL;
    if (!s) {
        wprintf(L"open error %lu\n", GetLastError());
        return 1;
    }
    SC_ACTION a[1] = {{SC_ACTION_RESTART, 30000}};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 1, a};
    if (ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        wprintf(L"FAILURE_ACTIONS ok\n");
    else
        wprintf(L"FAILURE_ACTIONS error %lu\n", GetLastError());
    SERVICE_FAILURE_ACTIONS_FLAG f = {TRUE};
    if (ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &f))
        wprintf(L"FAILURE_ACTIONS_FLAG ok\n");
    else
        wprintf(L"FAILURE_ACTIONS_FLAG error %lu\n", GetLastError());
    fflush(stdout);
    CloseServiceHandle(s);
    CloseServiceHandle(m);
    return 0;
}
