/* A stand-in Python for the Windows discovery test (practice::python, run
 * under Wine by tests/windows/run.sh). Copied as `py.exe` (the launcher) and
 * as `real\python.exe` beside it. Asked `-c "...sys.executable..."` it names
 * `real\python.exe` next to itself, as `py -3` names the interpreter it
 * starts; asked for its version it says 3.12; `import venv, ensurepip` works. */
#include <stdio.h>
#include <string.h>
#include <windows.h>

int main(int argc, char **argv) {
    const char *code = argc > 1 ? argv[argc - 1] : "";
    if (strstr(code, "sys.executable")) {
        char self[MAX_PATH];
        DWORD n = GetModuleFileNameA(NULL, self, MAX_PATH);
        char *slash = strrchr(self, '\\');
        if (n == 0 || slash == NULL || (size_t)(slash - self) + 17 >= MAX_PATH) {
            return 1;
        }
        strcpy(slash + 1, "real\\python.exe");
        printf("%s\n", self);
        return 0;
    }
    if (strstr(code, "ensurepip")) {
        return 0;
    }
    if (strstr(code, "version_info")) {
        printf("3.12\n");
        return 0;
    }
    return 1;
}
