/* sc-bench-loop.c: the bench's own epoll loop over client connections. */
#include "sc-bench-loop.h"

#include <errno.h>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS       512
#define SCRATCH_SIZE     (256 * 1024)
#define MAX_CONNECTING   256 /* connects in progress at once */
#define READS_PER_WAKEUP 4

struct _ScBenchLoop
{
  const ScBenchAdapter *adapter;
  gsize payload;
  guint mode;   /* an index into adapter->modes, 0 without them */
  guint serial; /* unique in this process: names differ between runs */
  int epoll_fd;
  struct sockaddr_storage address;
  socklen_t address_length;

  GPtrArray *connections; /* ScBenchConn*, owning */
  guint next_to_connect;  /* connections before it have been started */
  guint n_connecting;     /* started but not ready */
  guint n_dead;
  GPtrArray *flush_list; /* ScBenchConn* with queued output */
  guint8 *scratch;

  ScBenchEventFunc handler;
  gpointer handler_data;

  /* --tls: every connection runs a TLS session (the certificate is not
   * checked: the bench measures, it does not trust). */
  gnutls_certificate_credentials_t tls_credentials;
  gnutls_priority_t tls_priority;
};

gint64
sc_bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

ScBenchLoop *
sc_bench_loop_new (const ScBenchAdapter *adapter,
                   const char *host,
                   guint16 port,
                   gsize payload,
                   GError **error)
{
  struct addrinfo hints = { 0 }, *result = NULL;
  char service[8];
  int status;
  ScBenchLoop *loop;
  static guint next_serial = 1;

  g_return_val_if_fail (adapter != NULL, NULL);

  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  g_snprintf (service, sizeof service, "%u", port);
  status = getaddrinfo (host, service, &hints, &result);
  if (status != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "cannot resolve %s: %s", host, gai_strerror (status));
      return NULL;
    }

  loop = g_new0 (ScBenchLoop, 1);
  loop->adapter = adapter;
  loop->payload = payload;
  loop->serial = next_serial++;
  memcpy (&loop->address, result->ai_addr, result->ai_addrlen);
  loop->address_length = result->ai_addrlen;
  freeaddrinfo (result);
  loop->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  loop->connections = g_ptr_array_new ();
  loop->flush_list = g_ptr_array_new ();
  loop->scratch = g_malloc (SCRATCH_SIZE);
  if (loop->epoll_fd < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "epoll_create1: %s", g_strerror (errsv));
      sc_bench_loop_free (loop);
      return NULL;
    }
  return loop;
}

static void
conn_close (ScBenchConn *conn)
{
  g_clear_pointer (&conn->tls, gnutls_deinit);
  if (conn->fd >= 0)
    {
      epoll_ctl (conn->loop->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
      close (conn->fd);
      conn->fd = -1;
    }
  g_clear_pointer (&conn->in, g_byte_array_unref);
  g_clear_pointer (&conn->out, g_byte_array_unref);
}

void
sc_bench_loop_close_all (ScBenchLoop *loop)
{
  g_return_if_fail (loop != NULL);

  for (guint i = 0; i < loop->connections->len; i++)
    conn_close (loop->connections->pdata[i]);
  g_ptr_array_set_size (loop->flush_list, 0);
}

void
sc_bench_loop_free (ScBenchLoop *loop)
{
  if (loop == NULL)
    return;
  sc_bench_loop_close_all (loop);
  for (guint i = 0; i < loop->connections->len; i++)
    g_free (loop->connections->pdata[i]);
  g_ptr_array_unref (loop->connections);
  g_ptr_array_unref (loop->flush_list);
  if (loop->epoll_fd >= 0)
    close (loop->epoll_fd);
  g_free (loop->scratch);
  if (loop->tls_priority)
    gnutls_priority_deinit (loop->tls_priority);
  if (loop->tls_credentials)
    gnutls_certificate_free_credentials (loop->tls_credentials);
  g_free (loop);
}

void
sc_bench_loop_set_handler (ScBenchLoop *loop,
                           ScBenchEventFunc handler,
                           gpointer user_data)
{
  loop->handler = handler;
  loop->handler_data = user_data;
}

gsize
sc_bench_loop_get_payload (const ScBenchLoop *loop)
{
  return loop->payload;
}

/* A number no other loop of this process has had: systems that keep a
 * name for a while after its connection closed (IRC nicknames, MQTT
 * client ids) get fresh names in every run. */
guint
sc_bench_loop_get_serial (const ScBenchLoop *loop)
{
  return loop->serial;
}

/* The adapter's mode, before any connection is added. */
/* Connections made from now on speak TLS 1.3 (or 1.2) to the server. */
gboolean
sc_bench_loop_set_tls (ScBenchLoop *loop, GError **error)
{
  int ret;

  ret = gnutls_certificate_allocate_credentials (&loop->tls_credentials);
  if (ret >= 0)
    ret = gnutls_priority_init (
      &loop->tls_priority, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL);
  if (ret < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS: %s",
                   gnutls_strerror (ret));
      return FALSE;
    }
  return TRUE;
}

void
sc_bench_loop_set_mode (ScBenchLoop *loop, guint mode)
{
  g_return_if_fail (loop->connections->len == 0);
  g_return_if_fail (mode == 0 ||
                    (loop->adapter->modes != NULL &&
                     mode < g_strv_length ((char **) loop->adapter->modes)));
  loop->mode = mode;
}

guint
sc_bench_loop_get_mode (const ScBenchLoop *loop)
{
  return loop->mode;
}

const ScBenchAdapter *
sc_bench_loop_get_adapter (const ScBenchLoop *loop)
{
  return loop->adapter;
}

static ScBenchConn *
add_one (ScBenchLoop *loop, ScBenchRole role, guint pair, guint side)
{
  ScBenchConn *conn = g_new0 (ScBenchConn, 1);

  conn->loop = loop;
  conn->fd = -1;
  conn->index = loop->connections->len;
  conn->role = role;
  conn->pair = pair;
  conn->side = side;
  conn->next_request_id = 1;
  conn->max_payload = 4096;
  g_ptr_array_add (loop->connections, conn);
  return conn;
}

/* Adds a connection, and its companion right after it when the
 * adapter wants one; returns the first. */
ScBenchConn *
sc_bench_loop_add (ScBenchLoop *loop, ScBenchRole role, guint pair, guint side)
{
  ScBenchConn *conn;

  g_return_val_if_fail (role != SC_BENCH_ROLE_COMPANION, NULL);

  conn = add_one (loop, role, pair, side);
  if (role == SC_BENCH_ROLE_PEER && loop->adapter->peer_companion)
    {
      conn->companion = add_one (loop, SC_BENCH_ROLE_COMPANION, pair, side);
      conn->companion->companion = conn;
    }
  return conn;
}

guint
sc_bench_loop_n_connections (const ScBenchLoop *loop)
{
  return loop->connections->len;
}

ScBenchConn *
sc_bench_loop_get (const ScBenchLoop *loop, guint index)
{
  g_return_val_if_fail (index < loop->connections->len, NULL);
  return loop->connections->pdata[index];
}

guint
sc_bench_loop_n_dead (const ScBenchLoop *loop)
{
  return loop->n_dead;
}

static void
watch (ScBenchConn *conn, gboolean output)
{
  struct epoll_event event = { 0 };

  event.events = EPOLLIN | (output ? EPOLLOUT : 0);
  event.data.ptr = conn;
  epoll_ctl (conn->loop->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event);
  conn->watching_output = output;
}

void
sc_bench_conn_fail (ScBenchConn *conn, const char *why)
{
  ScBenchLoop *loop = conn->loop;

  if (conn->dead)
    return;
  g_debug ("connection %u failed: %s", conn->index, why);
  /* Every connection that can fail was started, and counts as
   * connecting until it is ready. */
  if (!conn->ready)
    loop->n_connecting--;
  conn->dead = TRUE;
  conn->connecting = FALSE;
  loop->n_dead++;
  conn_close (conn);
  if (loop->handler != NULL)
    loop->handler (conn, SC_BENCH_EVENT_ERROR, (const guint8 *) why,
                   strlen (why), loop->handler_data);
}

GByteArray *
sc_bench_conn_output (ScBenchConn *conn)
{
  if (conn->out == NULL)
    conn->out = g_byte_array_sized_new (1024);
  if (!conn->dirty)
    {
      conn->dirty = TRUE;
      g_ptr_array_add (conn->loop->flush_list, conn);
    }
  return conn->out;
}

void
sc_bench_conn_emit (ScBenchConn *conn,
                    ScBenchEventType type,
                    const guint8 *body,
                    gsize length)
{
  ScBenchLoop *loop = conn->loop;

  if (type == SC_BENCH_EVENT_READY)
    {
      if (conn->ready)
        return;
      conn->ready = TRUE;
      loop->n_connecting--;
    }
  if (loop->handler != NULL)
    loop->handler (conn, type, body, length, loop->handler_data);
}

/* connect() to the loop's address, on the connection's own port if it
 * has one. */
static int
connect_to (ScBenchLoop *loop, ScBenchConn *conn)
{
  struct sockaddr_storage address = loop->address;

  if (conn->port != 0 && address.ss_family == AF_INET)
    ((struct sockaddr_in *) &address)->sin_port = htons (conn->port);
  else if (conn->port != 0 && address.ss_family == AF_INET6)
    ((struct sockaddr_in6 *) &address)->sin6_port = htons (conn->port);
  return connect (conn->fd, (struct sockaddr *) &address, loop->address_length);
}

/* Starts connecting the next connections, keeping at most
 * MAX_CONNECTING handshakes in progress so the server's listen backlog
 * never overflows. */
static void
start_connects (ScBenchLoop *loop)
{
  guint max = loop->adapter->max_handshakes > 0 ? loop->adapter->max_handshakes
                                                : MAX_CONNECTING;

  while (loop->next_to_connect < loop->connections->len &&
         loop->n_connecting < max)
    {
      ScBenchConn *conn = loop->connections->pdata[loop->next_to_connect++];
      struct epoll_event event = { 0 };
      int one = 1;

      loop->n_connecting++;
      conn->fd = socket (loop->address.ss_family,
                         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (conn->fd < 0)
        {
          sc_bench_conn_fail (conn, g_strerror (errno));
          continue;
        }
      setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect_to (loop, conn) < 0 && errno != EINPROGRESS)
        {
          sc_bench_conn_fail (conn, g_strerror (errno));
          continue;
        }
      conn->connecting = TRUE;
      event.events = EPOLLIN | EPOLLOUT;
      event.data.ptr = conn;
      epoll_ctl (loop->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event);
      conn->watching_output = TRUE;
    }
}

gboolean
sc_bench_loop_connect_all (ScBenchLoop *loop, guint timeout_ms, GError **error)
{
  gint64 deadline = sc_bench_now_ns () + (gint64) timeout_ms * 1000000;
  guint n_dead = loop->n_dead;

  start_connects (loop);
  while (loop->n_connecting > 0 ||
         loop->next_to_connect < loop->connections->len)
    {
      if (sc_bench_now_ns () >= deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "%u of %u connections still not ready after %u ms",
                       loop->n_connecting + loop->connections->len -
                         loop->next_to_connect,
                       loop->connections->len, timeout_ms);
          return FALSE;
        }
      sc_bench_loop_run_once (
        loop, MIN (deadline, sc_bench_now_ns () + 100 * 1000000));
      start_connects (loop);
    }
  if (loop->n_dead > n_dead)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%u connections failed during the handshake",
                   loop->n_dead - n_dead);
      return FALSE;
    }
  return TRUE;
}

static void
flush (ScBenchConn *conn)
{
  while (conn->out != NULL && conn->out_pos < conn->out->len)
    {
      gssize n;

      if (conn->tls != NULL)
        {
          /* One record at a time; after GNUTLS_E_AGAIN GnuTLS sends the
           * record it kept and reports the size it was given then. */
          n = gnutls_record_send (conn->tls, conn->out->data + conn->out_pos,
                                  MIN (conn->out->len - conn->out_pos, 16384));
          if (n == GNUTLS_E_INTERRUPTED)
            continue;
          if (n == GNUTLS_E_AGAIN)
            break;
          if (n < 0)
            {
              sc_bench_conn_fail (conn, gnutls_strerror ((int) n));
              return;
            }
          conn->out_pos += n;
          continue;
        }
      n = send (conn->fd, conn->out->data + conn->out_pos,
                conn->out->len - conn->out_pos, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          sc_bench_conn_fail (conn, g_strerror (errno));
          return;
        }
      conn->out_pos += n;
    }
  if (conn->out != NULL && conn->out_pos == conn->out->len)
    {
      g_byte_array_set_size (conn->out, 0);
      conn->out_pos = 0;
    }
  if (conn->out != NULL && conn->out_pos > 0 && conn->out_pos >= 65536)
    {
      g_byte_array_remove_range (conn->out, 0, conn->out_pos);
      conn->out_pos = 0;
    }
  {
    gboolean pending = conn->out != NULL && conn->out->len > 0;

    if (pending != conn->watching_output)
      watch (conn, pending);
  }
}

static void
flush_all (ScBenchLoop *loop)
{
  /* Flushing can fail a connection, whose handler may queue output on
   * another, so the list is walked by index while it may grow. */
  for (guint i = 0; i < loop->flush_list->len; i++)
    {
      ScBenchConn *conn = loop->flush_list->pdata[i];

      conn->dirty = FALSE;
      if (!conn->dead && !conn->connecting && !conn->handshaking)
        flush (conn);
    }
  g_ptr_array_set_size (loop->flush_list, 0);
}

static void
parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gssize used = conn->loop->adapter->parse (conn, data, length);

  if (conn->dead)
    return;
  if (used < 0)
    {
      sc_bench_conn_fail (conn, "protocol error");
      return;
    }
  if (conn->in != NULL && conn->in->len > 0)
    g_byte_array_remove_range (conn->in, 0, used);
  else if ((gsize) used < length)
    {
      if (conn->in == NULL)
        conn->in = g_byte_array_new ();
      g_byte_array_append (conn->in, data + used, length - used);
    }
}

/* Records until the socket has no more, or 64 of them; never leaves
 * decrypted bytes inside GnuTLS, which epoll would not announce. */
static void
handle_tls_input (ScBenchConn *conn)
{
  ScBenchLoop *loop = conn->loop;

  for (int i = 0; !conn->dead; i++)
    {
      gssize n;

      if (i >= 64 && gnutls_record_check_pending (conn->tls) == 0)
        return;
      n = gnutls_record_recv (conn->tls, loop->scratch, SCRATCH_SIZE);
      if (n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n == GNUTLS_E_AGAIN)
        return;
      if (n <= 0)
        {
          sc_bench_conn_fail (conn, n == 0 ? "closed by the peer"
                                           : gnutls_strerror ((int) n));
          return;
        }
      if (conn->in != NULL && conn->in->len > 0)
        {
          g_byte_array_append (conn->in, loop->scratch, n);
          parse (conn, conn->in->data, conn->in->len);
        }
      else
        parse (conn, loop->scratch, n);
    }
}

static void
handle_input (ScBenchConn *conn)
{
  ScBenchLoop *loop = conn->loop;

  if (conn->tls != NULL)
    {
      handle_tls_input (conn);
      return;
    }
  for (int i = 0; i < READS_PER_WAKEUP && !conn->dead; i++)
    {
      gssize n = recv (conn->fd, loop->scratch, SCRATCH_SIZE, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          sc_bench_conn_fail (conn, n == 0 ? "closed by the peer"
                                           : g_strerror (errno));
          return;
        }
      if (conn->in != NULL && conn->in->len > 0)
        {
          g_byte_array_append (conn->in, loop->scratch, n);
          parse (conn, conn->in->data, conn->in->len);
        }
      else
        parse (conn, loop->scratch, n);
      if (n < SCRATCH_SIZE)
        return;
    }
}

/* One step of the TLS handshake; when it is done, the system's own
 * handshake starts as it would on a plain connection. */
static void
step_tls (ScBenchConn *conn)
{
  int ret;

  do
    ret = gnutls_handshake (conn->tls);
  while (ret < 0 && ret != GNUTLS_E_AGAIN && gnutls_error_is_fatal (ret) == 0);
  if (ret == GNUTLS_E_AGAIN)
    {
      watch (conn, gnutls_record_get_direction (conn->tls) == 1);
      return;
    }
  if (ret < 0)
    {
      sc_bench_conn_fail (conn, gnutls_strerror (ret));
      return;
    }
  conn->handshaking = FALSE;
  watch (conn, FALSE);
  conn->loop->adapter->start (conn);
  flush (conn);
}

static void
start_tls (ScBenchConn *conn)
{
  ScBenchLoop *loop = conn->loop;

  if (gnutls_init (&conn->tls,
                   GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0 ||
      gnutls_priority_set (conn->tls, loop->tls_priority) < 0 ||
      gnutls_credentials_set (conn->tls, GNUTLS_CRD_CERTIFICATE,
                              loop->tls_credentials) < 0)
    {
      sc_bench_conn_fail (conn, "cannot set up a TLS session");
      return;
    }
  gnutls_transport_set_int (conn->tls, conn->fd);
  conn->handshaking = TRUE;
  step_tls (conn);
}

static void
handle_connected (ScBenchConn *conn)
{
  int err = 0;
  socklen_t length = sizeof err;

  getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &err, &length);
  if (err != 0)
    {
      sc_bench_conn_fail (conn, g_strerror (err));
      return;
    }
  conn->connecting = FALSE;
  if (conn->loop->tls_credentials != NULL)
    {
      start_tls (conn);
      return;
    }
  conn->loop->adapter->start (conn);
  flush (conn);
}

void
sc_bench_loop_run_once (ScBenchLoop *loop, gint64 until_ns)
{
  struct epoll_event events[MAX_EVENTS];
  gint64 wait_ns = MAX (0, until_ns - sc_bench_now_ns ());
  struct timespec timeout = { wait_ns / 1000000000, wait_ns % 1000000000 };
  int n;

  /* Output queued since the last round (by timers, by the caller) goes
   * out before we sleep. */
  flush_all (loop);
  n = epoll_pwait2 (loop->epoll_fd, events, MAX_EVENTS, &timeout, NULL);
  for (int i = 0; i < n; i++)
    {
      ScBenchConn *conn = events[i].data.ptr;

      if (conn->dead)
        continue;
      if (conn->connecting)
        {
          if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            handle_connected (conn);
          continue;
        }
      if (conn->handshaking)
        {
          step_tls (conn);
          continue;
        }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        handle_input (conn);
      if (!conn->dead && (events[i].events & EPOLLOUT))
        flush (conn);
    }
  flush_all (loop);
}
