/* sc-epoll-source.c: the GSource behind every worker's main loop. */
#include "config.h"

#include <errno.h>

#include "sc-epoll-source.h"

#define MAX_EVENTS 256

typedef struct
{
  GSource source;
  int epoll_fd;
  gpointer tag;
  ScEpollPendingFunc pending;
  ScEpollDispatchFunc dispatch;
  gpointer user_data;
} ScEpollSource;

static gboolean
epoll_source_prepare (GSource *source, gint *timeout)
{
  ScEpollSource *self = (ScEpollSource *) source;

  *timeout = -1;
  return self->pending (self->user_data);
}

static gboolean
epoll_source_check (GSource *source)
{
  ScEpollSource *self = (ScEpollSource *) source;

  return (g_source_query_unix_fd (source, self->tag) & G_IO_IN) ||
         self->pending (self->user_data);
}

static gboolean
epoll_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  ScEpollSource *self = (ScEpollSource *) source;
  struct epoll_event events[MAX_EVENTS];
  int n;

  do
    n = epoll_wait (self->epoll_fd, events, MAX_EVENTS, 0);
  while (n < 0 && errno == EINTR);
  self->dispatch (events, MAX (n, 0), self->user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = {
  epoll_source_prepare,
  epoll_source_check,
  epoll_source_dispatch,
  NULL,
  NULL,
  NULL,
};

/* The caller keeps owning @epoll_fd and must keep it open as long as the
 * source is attached. (transfer full) */
GSource *
sc_epoll_source_new (int epoll_fd,
                     ScEpollPendingFunc pending,
                     ScEpollDispatchFunc dispatch,
                     gpointer user_data)
{
  GSource *source = g_source_new (&epoll_source_funcs, sizeof (ScEpollSource));
  ScEpollSource *self = (ScEpollSource *) source;

  self->epoll_fd = epoll_fd;
  self->pending = pending;
  self->dispatch = dispatch;
  self->user_data = user_data;
  self->tag = g_source_add_unix_fd (source, epoll_fd, G_IO_IN);
  g_source_set_name (source, "sockchat epoll");
  return source;
}
