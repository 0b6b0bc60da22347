// Linux system calls the reactor needs that Swift's Glibc module does not bring in (epoll, with a nanosecond
// wait, eventfd, TCP options), and accessors for epoll_event, which glibc packs on x86_64.
#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H


#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>
#include <pthread.h>

static inline int clinux_epoll_add(int epfd, int op, int fd, unsigned int events) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = 0;
    event.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &event);
}

/// accept4 is a GNU extension, declared only under _GNU_SOURCE, which would change the system headers' struct
/// definitions from those Swift's Glibc module sees; so it is declared here by hand.
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// Accepts a connection already non-blocking and close-on-exec.
static inline int clinux_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

/// pthread_setname_np is a GNU extension too (see accept4).
extern int pthread_setname_np(pthread_t thread, const char *name);

/// Names the calling thread for the kernel (at most 15 bytes; a longer name is refused with ERANGE).
static inline int clinux_name_this_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

static inline int clinux_event_fd(const struct epoll_event *events, int index) { return events[index].data.fd; }
static inline unsigned int clinux_event_bits(const struct epoll_event *events, int index) {
    return events[index].events;
}
static inline size_t clinux_epoll_event_size(void) { return sizeof(struct epoll_event); }

/// Waits for events at most `timeout_ns` nanoseconds (negative: without limit). epoll_pwait2 (Linux 5.11) takes the
/// timeout in nanoseconds; on an older kernel it fails with ENOSYS and epoll_wait is used, its timeout rounded up
/// to whole milliseconds so a timer is never run early.
static inline int clinux_epoll_wait_ns(int epfd, struct epoll_event *events, int max, long long timeout_ns) {
    static int pwait2_missing = 0;
    if (!__atomic_load_n(&pwait2_missing, __ATOMIC_RELAXED)) {
        struct timespec timeout;
        timeout.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        timeout.tv_nsec = (long)(timeout_ns % 1000000000LL);
        int count = epoll_pwait2(epfd, events, max, timeout_ns < 0 ? NULL : &timeout, NULL);
        if (count >= 0 || errno != ENOSYS) return count;
        __atomic_store_n(&pwait2_missing, 1, __ATOMIC_RELAXED);
    }
    int milliseconds = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999LL) / 1000000LL);
    return epoll_wait(epfd, events, max, milliseconds);
}

#endif
