/* Variadic entry points, which stable Rust cannot define: each takes its
 * optional argument as one machine word (as glibc's own fcntl and ioctl
 * do) and calls the Rust implementation with a fixed signature. The
 * exported symbols are Rust naked trampolines that jump here (symbols from
 * a C static library are not exported by a cdylib). */
#include <stdarg.h>
#include <stddef.h>

long utcp_fcntl_impl(int fd, int cmd, unsigned long arg, int is64);
long utcp_ioctl_impl(int fd, unsigned long req, unsigned long arg);

int utcp_shim_fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)utcp_fcntl_impl(fd, cmd, arg, 0);
}

int utcp_shim_fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)utcp_fcntl_impl(fd, cmd, arg, 1);
}

int utcp_shim_ioctl(int fd, unsigned long req, ...) {
    va_list ap;
    va_start(ap, req);
    unsigned long arg = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)utcp_ioctl_impl(fd, req, arg);
}

/* execl, execlp, execle: the argument list as an array (counted first, as
 * glibc does), then the Rust side (utcp_exec_impl), which parks the stack
 * threads and calls the real execv, execvp or execve.
 * kind: 0 execv, 1 execvp, 2 execve. */
int utcp_exec_impl(int kind, const char *path, char *const argv[], char *const envp[]);

#define COLLECT_ARGS(arg, argv, after)                          \
    size_t n = 1;                                               \
    va_list ap;                                                 \
    va_start(ap, arg);                                          \
    if (arg)                                                    \
        while (va_arg(ap, const char *)) n++;                   \
    va_end(ap);                                                 \
    const char *argv[n + 1];                                    \
    argv[0] = arg;                                              \
    va_start(ap, arg);                                          \
    for (size_t i = 1; i <= n; i++)                             \
        argv[i] = arg ? va_arg(ap, const char *) : 0;           \
    after;                                                      \
    va_end(ap)

int utcp_shim_execl(const char *path, const char *arg, ...) {
    COLLECT_ARGS(arg, argv, (void)0);
    return utcp_exec_impl(0, path, (char *const *)argv, 0);
}

int utcp_shim_execlp(const char *file, const char *arg, ...) {
    COLLECT_ARGS(arg, argv, (void)0);
    return utcp_exec_impl(1, file, (char *const *)argv, 0);
}

int utcp_shim_execle(const char *path, const char *arg, ...) {
    char *const *envp;
    COLLECT_ARGS(arg, argv, envp = va_arg(ap, char *const *));
    return utcp_exec_impl(2, path, (char *const *)argv, envp);
}
