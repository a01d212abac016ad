/* Variadic entry points, which stable Rust cannot define: each takes its
 * optional argument as one machine word (as glibc's own fcntl and ioctl
 * do) and calls the Rust implementation with a fixed signature. The
 * exported symbols are Rust naked trampolines that jump here (symbols from
 * a C static library are not exported by a cdylib). */
#include <stdarg.h>

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
