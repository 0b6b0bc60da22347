// Linux system calls the reactor needs that Swift's Glibc module does not bring in (epoll, eventfd, timerfd,
// TCP options), and accessors for epoll_event, which glibc packs on x86_64.
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
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

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

static inline int clinux_event_fd(const struct epoll_event *events, int index) { return events[index].data.fd; }
static inline unsigned int clinux_event_bits(const struct epoll_event *events, int index) {
    return events[index].events;
}
static inline size_t clinux_epoll_event_size(void) { return sizeof(struct epoll_event); }

#endif
