/* sc-epoll-source.c: the GSource behind every worker's main loop.
 *
 * Each round used to cost two system calls: GLib's poll() on the epoll
 * descriptor, then epoll_wait() to learn which sockets were ready.  The
 * worker's context therefore gets a poll function of its own
 * (g_main_context_set_poll_func) that waits in epoll_wait() directly, with
 * GLib's own wake-up descriptor added to the epoll set, and hands the
 * events it got to the source's dispatch.  Should the context ever be
 * asked to poll a descriptor it does not know (another source added one),
 * it falls back to g_poll() and the source reads the events itself.
 */
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

  /* Filled by the poll function, used by the next dispatch. */
  struct epoll_event events[MAX_EVENTS];
  int n_events;  /* -1: nothing fetched, dispatch calls epoll_wait() */
  int wakeup_fd; /* GLib's wake-up descriptor, once in the epoll set */
} ScEpollSource;

/* The source whose context this thread runs, for the poll function,
 * which GLib calls without user data. */
static __thread ScEpollSource *thread_source;

/* Marks GLib's wake-up descriptor among the epoll events. */
static char wakeup_tag;

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
  int n = self->n_events;

  self->n_events = -1;
  if (n < 0)
    {
      do
        n = epoll_wait (self->epoll_fd, self->events, MAX_EVENTS, 0);
      while (n < 0 && errno == EINTR);
    }
  self->dispatch (self->events, MAX (n, 0), self->user_data);
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

/* Sorts the descriptors GLib wants polled into ours and its wake-up one.
 * Returns FALSE when there is any other: then g_poll() must do. */
static gboolean
known_fds (ScEpollSource *self,
           GPollFD *fds,
           guint n_fds,
           GPollFD **ours,
           GPollFD **wakeup)
{
  *ours = *wakeup = NULL;
  for (guint i = 0; i < n_fds; i++)
    {
      if (fds[i].fd == self->epoll_fd && *ours == NULL)
        *ours = &fds[i];
      else if (*wakeup == NULL &&
               (self->wakeup_fd < 0 || fds[i].fd == self->wakeup_fd))
        *wakeup = &fds[i];
      else
        return FALSE;
    }
  return *ours != NULL;
}

static gboolean
watch_wakeup (ScEpollSource *self, GPollFD *wakeup)
{
  struct epoll_event event = { EPOLLIN, { .ptr = &wakeup_tag } };

  if (self->wakeup_fd >= 0 || wakeup == NULL)
    return TRUE;
  if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, wakeup->fd, &event) < 0)
    return FALSE;
  self->wakeup_fd = wakeup->fd;
  return TRUE;
}

/* Takes GLib's wake-up out of the events, so dispatch sees sockets only. */
static int
split_wakeup (ScEpollSource *self, int n, gboolean *woken)
{
  int kept = 0;

  *woken = FALSE;
  for (int i = 0; i < n; i++)
    {
      if (self->events[i].data.ptr == &wakeup_tag)
        *woken = TRUE;
      else
        self->events[kept++] = self->events[i];
    }
  return kept;
}

static gint
epoll_poll_func (GPollFD *fds, guint n_fds, gint timeout)
{
  ScEpollSource *self = thread_source;
  GPollFD *ours, *wakeup;
  gboolean woken;
  int n;

  if (self == NULL || !known_fds (self, fds, n_fds, &ours, &wakeup) ||
      !watch_wakeup (self, wakeup))
    return g_poll (fds, n_fds, timeout);
  do
    n = epoll_wait (self->epoll_fd, self->events, MAX_EVENTS, timeout);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -1;
  n = split_wakeup (self, n, &woken);
  self->n_events = n;
  ours->revents = n > 0 ? G_IO_IN : 0;
  if (wakeup != NULL)
    wakeup->revents = woken ? G_IO_IN : 0;
  return (n > 0) + (woken ? 1 : 0);
}

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
  self->n_events = -1;
  self->wakeup_fd = -1;
  self->tag = g_source_add_unix_fd (source, epoll_fd, G_IO_IN);
  g_source_set_name (source, "sockchat epoll");
  return source;
}

/* On the thread that runs @context, before it runs it: from then on the
 * context waits in @source's epoll_wait() itself. */
void
sc_epoll_source_take_poll (GSource *source, GMainContext *context)
{
  thread_source = (ScEpollSource *) source;
  g_main_context_set_poll_func (context, epoll_poll_func);
}
