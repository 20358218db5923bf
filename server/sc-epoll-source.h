/* sc-epoll-source.h: one GSource over an epoll set.
 *
 * GLib polls every source's descriptors on every main-loop iteration, so
 * one source per client would make each iteration cost grow with the
 * number of clients.  Instead each worker's main context holds one source
 * whose single descriptor is an epoll set; the kernel tracks the clients
 * and an iteration costs the same with ten or ten thousand idle ones. */
#pragma once

#include <glib.h>
#include <sys/epoll.h>

G_BEGIN_DECLS

/* Returns TRUE when there is work to do without waiting for the kernel,
 * such as frames already buffered but not yet served. */
typedef gboolean (*ScEpollPendingFunc) (gpointer user_data);
typedef void (*ScEpollDispatchFunc) (struct epoll_event *events,
                                     int n_events,
                                     gpointer user_data);

GSource *sc_epoll_source_new (int epoll_fd,
                              ScEpollPendingFunc pending,
                              ScEpollDispatchFunc dispatch,
                              gpointer user_data);
void sc_epoll_source_take_poll (GSource *source, GMainContext *context);

G_END_DECLS
