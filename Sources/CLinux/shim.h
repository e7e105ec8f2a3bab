#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
/* Linux calls Swift's Glibc module does not export (they need _GNU_SOURCE). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <unistd.h>

/* Flush every dirty page of the file system holding fd: one barrier for a whole batch of files. */
static inline int certstore_syncfs(int fd) { return syncfs(fd); }
/* A pipe whose ends are born with `flags` (O_CLOEXEC): no child started meanwhile by another thread inherits them. */
static inline int certstore_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
#endif
