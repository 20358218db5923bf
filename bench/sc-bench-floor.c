/* sc-bench-floor.c: the floor relay.
 *
 * Forwarding writes straight to the partner's socket.  When the partner
 * cannot take everything, the rest waits in the partner's buffer and the
 * source stops being read until it drains, so memory stays bounded
 * (64 KiB per connection at most) and back-pressure reaches the sender
 * through TCP, as it would through any real relay.
 */
#include "sc-bench-floor.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "sc-socket.h"

#define CHUNK        65536
#define LINE_MAX_LEN 64

typedef struct _Relay Relay;

struct _Relay
{
  int fd;
  Relay *partner; /* NULL until paired; self for ECHO */
  gboolean handshaking;
  gboolean paused; /* not read while the partner's buffer drains */
  gboolean watching_out;
  char line[LINE_MAX_LEN];
  gsize line_length;
  GByteArray *pending; /* bytes for this connection not yet written */
};

struct _ScBenchFloor
{
  int listen_fd;
  int epoll_fd;
  int stop_fd;
  GHashTable *waiting; /* pair key (string) -> Relay* */
  GThread *thread;
  guint8 *buffer;
  GPtrArray *dead; /* Relay* closed in this batch, freed after it */
};

static const char listen_tag, stop_tag;

ScBenchFloor *
sc_bench_floor_new (const char *bind_address, guint16 port, GError **error)
{
  ScBenchFloor *floor;
  struct epoll_event event = { 0 };
  int fd = sc_socket_listen (bind_address, port, 4096, error);

  if (fd < 0)
    return NULL;
  if (!sc_socket_set_nonblocking (fd, TRUE, error))
    {
      close (fd);
      return NULL;
    }
  floor = g_new0 (ScBenchFloor, 1);
  floor->listen_fd = fd;
  floor->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  floor->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  floor->waiting =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  floor->buffer = g_malloc (CHUNK);
  floor->dead = g_ptr_array_new_with_free_func (g_free);
  event.events = EPOLLIN;
  event.data.ptr = (gpointer) &listen_tag;
  epoll_ctl (floor->epoll_fd, EPOLL_CTL_ADD, fd, &event);
  event.data.ptr = (gpointer) &stop_tag;
  epoll_ctl (floor->epoll_fd, EPOLL_CTL_ADD, floor->stop_fd, &event);
  return floor;
}

guint16
sc_bench_floor_get_port (ScBenchFloor *floor)
{
  return sc_socket_local_port (floor->listen_fd);
}

static void
set_events (ScBenchFloor *floor, Relay *relay)
{
  struct epoll_event event = { 0 };
  gboolean out = relay->pending != NULL && relay->pending->len > 0;

  event.events = (relay->paused ? 0 : EPOLLIN) | (out ? EPOLLOUT : 0);
  event.data.ptr = relay;
  epoll_ctl (floor->epoll_fd, EPOLL_CTL_MOD, relay->fd, &event);
  relay->watching_out = out;
}

static void
relay_close (ScBenchFloor *floor, Relay *relay)
{
  Relay *partner = relay->partner;

  if (relay->fd < 0)
    return;
  if (relay->handshaking && relay->line_length > 0)
    {
      /* A half-paired connection leaves the waiting table. */
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, floor->waiting);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (value == relay)
          g_hash_table_iter_remove (&iter);
    }
  epoll_ctl (floor->epoll_fd, EPOLL_CTL_DEL, relay->fd, NULL);
  close (relay->fd);
  relay->fd = -1;
  g_clear_pointer (&relay->pending, g_byte_array_unref);
  relay->partner = NULL;
  /* Freed after the batch: a later event of it may still name it. */
  g_ptr_array_add (floor->dead, relay);
  /* The pair goes down together. */
  if (partner != NULL && partner != relay)
    {
      partner->partner = NULL;
      relay_close (floor, partner);
    }
}

/* Writes data to relay, keeping what does not fit.  Returns FALSE when
 * relay failed. */
static gboolean
relay_write (ScBenchFloor *floor, Relay *relay, const guint8 *data, gsize n)
{
  if (relay->pending == NULL || relay->pending->len == 0)
    {
      while (n > 0)
        {
          gssize sent = send (relay->fd, data, n, MSG_NOSIGNAL);

          if (sent < 0 && errno == EINTR)
            continue;
          if (sent < 0 && errno == EAGAIN)
            break;
          if (sent < 0)
            return FALSE;
          data += sent;
          n -= sent;
        }
    }
  if (n > 0)
    {
      if (relay->pending == NULL)
        relay->pending = g_byte_array_new ();
      g_byte_array_append (relay->pending, data, n);
      set_events (floor, relay);
    }
  return TRUE;
}

static void
answer_ok (ScBenchFloor *floor, Relay *relay)
{
  relay->handshaking = FALSE;
  relay_write (floor, relay, (const guint8 *) "OK\n", 3);
}

/* Returns FALSE when the line is not understood. */
static gboolean
handle_line (ScBenchFloor *floor, Relay *relay)
{
  const char *line = relay->line;

  if (g_str_equal (line, "ECHO"))
    {
      relay->partner = relay;
      answer_ok (floor, relay);
      return TRUE;
    }
  if (g_str_equal (line, "IDLE"))
    {
      answer_ok (floor, relay);
      return TRUE;
    }
  if (g_str_has_prefix (line, "PAIR "))
    {
      Relay *other = g_hash_table_lookup (floor->waiting, line + 5);

      if (other == NULL)
        {
          g_hash_table_insert (floor->waiting, g_strdup (line + 5), relay);
          return TRUE;
        }
      g_hash_table_remove (floor->waiting, line + 5);
      relay->partner = other;
      other->partner = relay;
      answer_ok (floor, relay);
      answer_ok (floor, other);
      return TRUE;
    }
  return FALSE;
}

/* Reads the handshake line a byte at a time: it is short, and nothing
 * may follow it before "OK". */
static gboolean
read_handshake (ScBenchFloor *floor, Relay *relay)
{
  for (;;)
    {
      char c;
      gssize n = recv (relay->fd, &c, 1, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0 || relay->line_length + 1 >= LINE_MAX_LEN)
        return FALSE;
      if (c == '\n')
        {
          relay->line[relay->line_length] = '\0';
          return handle_line (floor, relay);
        }
      relay->line[relay->line_length++] = c;
    }
}

static gboolean
forward (ScBenchFloor *floor, Relay *relay)
{
  Relay *to = relay->partner;
  gssize n;

  if (to == NULL)
    {
      /* Paired or idle connections may only send after "OK"; an idle
       * one that sends anything is dropped. */
      n = recv (relay->fd, floor->buffer, CHUNK, 0);
      return n < 0 && errno == EAGAIN;
    }
  if (to->pending != NULL && to->pending->len > 0)
    {
      relay->paused = TRUE;
      set_events (floor, relay);
      return TRUE;
    }
  n = recv (relay->fd, floor->buffer, CHUNK, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return TRUE;
  if (n <= 0)
    return FALSE;
  if (!relay_write (floor, to, floor->buffer, n))
    return FALSE;
  if (to->pending != NULL && to->pending->len > 0)
    {
      relay->paused = TRUE;
      set_events (floor, relay);
    }
  return TRUE;
}

static gboolean
drain (ScBenchFloor *floor, Relay *relay)
{
  GByteArray *pending = relay->pending;
  gsize done = 0;

  while (pending != NULL && done < pending->len)
    {
      gssize sent = send (relay->fd, pending->data + done, pending->len - done,
                          MSG_NOSIGNAL);

      if (sent < 0 && errno == EINTR)
        continue;
      if (sent < 0 && errno == EAGAIN)
        break;
      if (sent < 0)
        return FALSE;
      done += sent;
    }
  if (pending != NULL)
    g_byte_array_remove_range (pending, 0, done);
  if (pending == NULL || pending->len == 0)
    {
      Relay *from = relay->partner;

      /* The source that was paused for this buffer may go on. */
      if (from != NULL && from->paused)
        {
          from->paused = FALSE;
          set_events (floor, from);
        }
      if (relay->watching_out)
        set_events (floor, relay);
    }
  return TRUE;
}

static void
accept_all (ScBenchFloor *floor)
{
  for (int i = 0; i < 256; i++)
    {
      struct epoll_event event = { 0 };
      Relay *relay;
      int one = 1;
      int fd =
        accept4 (floor->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd < 0)
        return;
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      relay = g_new0 (Relay, 1);
      relay->fd = fd;
      relay->handshaking = TRUE;
      event.events = EPOLLIN;
      event.data.ptr = relay;
      epoll_ctl (floor->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
}

void
sc_bench_floor_run (ScBenchFloor *floor)
{
  struct epoll_event events[256];

  for (;;)
    {
      int n = epoll_wait (floor->epoll_fd, events, G_N_ELEMENTS (events), -1);

      for (int i = 0; i < n; i++)
        {
          Relay *relay = events[i].data.ptr;
          gboolean ok = TRUE;

          if (events[i].data.ptr == &stop_tag)
            return;
          if (events[i].data.ptr == &listen_tag)
            {
              accept_all (floor);
              continue;
            }
          if (relay->fd < 0)
            continue;
          if (events[i].events & EPOLLOUT)
            ok = drain (floor, relay);
          if (ok && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            ok = relay->handshaking ? read_handshake (floor, relay)
                                    : forward (floor, relay);
          if (!ok)
            relay_close (floor, relay);
        }
      g_ptr_array_set_size (floor->dead, 0);
    }
}

void
sc_bench_floor_stop (ScBenchFloor *floor)
{
  guint64 one = 1;

  if (write (floor->stop_fd, &one, sizeof one) < 0)
    g_warning ("cannot stop the floor relay: %s", g_strerror (errno));
}

static gpointer
floor_thread (gpointer data)
{
  sc_bench_floor_run (data);
  return NULL;
}

void
sc_bench_floor_start_thread (ScBenchFloor *floor)
{
  floor->thread = g_thread_new ("floor", floor_thread, floor);
}

void
sc_bench_floor_free (ScBenchFloor *floor)
{
  if (floor == NULL)
    return;
  if (floor->thread != NULL)
    {
      sc_bench_floor_stop (floor);
      g_thread_join (floor->thread);
    }
  close (floor->listen_fd);
  close (floor->epoll_fd);
  close (floor->stop_fd);
  g_hash_table_unref (floor->waiting);
  g_free (floor->buffer);
  g_ptr_array_unref (floor->dead);
  g_free (floor);
}
