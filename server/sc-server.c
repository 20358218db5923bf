/* sc-server.c: the listening socket, the accept thread and the workers.
 *
 * One thread accepts.  Each new connection gets an id (not one in use,
 * and not reused for 2^32 - 1 connections) and is handed to one worker,
 * round robin, which owns it until it closes.
 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-server-private.h"
#include "sc-socket.h"
#include "sc-tls.h"
#include "sc-tsan.h"
#include "sc-worker.h"

#define ACCEPTS_PER_WAKEUP 64
#define BACKOFF_MIN_MS     10
#define BACKOFF_MAX_MS     1000

static gboolean on_listen_ready (int fd, GIOCondition condition, gpointer data);

ScServer *
sc_server_new (const ScServerConfig *config)
{
  ScServer *server = g_new0 (ScServer, 1);

  server->config = sc_server_config_new ();
  g_free (server->config->server_name);
  g_free (server->config->cluster_name);
  *server->config = *config;
  server->config->bind_address = g_strdup (config->bind_address);
  server->config->server_name = g_strdup (config->server_name);
  server->config->password = g_strdup (config->password);
  server->config->accounts_path = g_strdup (config->accounts_path);
  if (config->accounts != NULL)
    {
      server->config->accounts = sc_accounts_ref (config->accounts);
      /* Two threads: a check takes tens of milliseconds, and more at
       * once would only take the workers' CPUs. */
      server->password_checker = sc_password_checker_new (2);
    }
  server->config->tls_cert = g_strdup (config->tls_cert);
  server->config->tls_key = g_strdup (config->tls_key);
  server->tls_listen_fd = -1;
  server->config->cluster_urls = g_strdup (config->cluster_urls);
  server->config->cluster_name = g_strdup (config->cluster_name);
  server->auth_failures = sc_auth_failures_new ();
  server->registry = sc_registry_new ();
  server->local_zone = g_time_zone_new_local ();
  server->listen_fd = -1;
  server->accept_context = g_main_context_new ();
  server->accept_loop = g_main_loop_new (server->accept_context, FALSE);
  g_mutex_init (&server->ids_lock);
  g_mutex_init (&server->accounts_lock);
  server->ids_in_use = g_hash_table_new (NULL, NULL);
  server->next_client_id = 1;
  server->pending = sc_pending_table_new (server->config->max_pending,
                                          server->config->max_per_address);
  return server;
}

/* A client said hello: it takes one of max_clients slots, if one is
 * free.  Connections that have not said hello take none. */
gboolean
sc_server_take_client_slot (ScServer *server)
{
  for (;;)
    {
      gint n = g_atomic_int_get (&server->n_ready);

      if ((guint) n >= server->config->max_clients)
        return FALSE;
      if (g_atomic_int_compare_and_exchange (&server->n_ready, n, n + 1))
        return TRUE;
    }
}

void
sc_server_release_client_slot (ScServer *server)
{
  g_atomic_int_add (&server->n_ready, -1);
}

/* Accept thread: a new client's id.  Ids increase, so one names the same
 * connection for a long time (2^32 - 1 connections); when the counter
 * wraps, 0 and the ids of connections still open are skipped.  At most
 * the open connections' ids are in use, so the loop ends quickly. */
static guint32
take_client_id (ScServer *server)
{
  guint32 id;

  g_mutex_lock (&server->ids_lock);
  SC_HAPPENS_AFTER (&server->ids_lock);
  /* In a cluster, ids come from blocks the node leased: never reused. */
  if (server->backplane != NULL)
    {
      if (!sc_backplane_take_client_id (server->backplane, &id))
        id = 0;
    }
  else
    do
      id = server->next_client_id++;
    while (id == 0 ||
           g_hash_table_contains (server->ids_in_use, GUINT_TO_POINTER (id)));
  if (id != 0)
    g_hash_table_add (server->ids_in_use, GUINT_TO_POINTER (id));
  SC_HAPPENS_BEFORE (&server->ids_lock);
  g_mutex_unlock (&server->ids_lock);
  return id;
}

/* Any thread: the connection with @id is gone for good. */
void
sc_server_release_client_id (ScServer *server, guint32 id)
{
  g_mutex_lock (&server->ids_lock);
  SC_HAPPENS_AFTER (&server->ids_lock);
  g_hash_table_remove (server->ids_in_use, GUINT_TO_POINTER (id));
  SC_HAPPENS_BEFORE (&server->ids_lock);
  g_mutex_unlock (&server->ids_lock);
}

/* For tests: the id the next connection gets (or the next one free). */
void
sc_server_set_next_client_id (ScServer *server, guint32 id)
{
  g_mutex_lock (&server->ids_lock);
  SC_HAPPENS_AFTER (&server->ids_lock);
  server->next_client_id = id;
  SC_HAPPENS_BEFORE (&server->ids_lock);
  g_mutex_unlock (&server->ids_lock);
}

void
sc_server_post (ScServer *server, guint worker_index, ScWorkItem *item)
{
  g_assert (worker_index < server->n_workers);
  sc_worker_post (server->workers[worker_index], item);
}

guint16
sc_server_get_port (ScServer *server)
{
  return server->port;
}

/* 0 when there is no TLS listener. */
guint16
sc_server_get_tls_port (ScServer *server)
{
  return server->tls_port;
}

/* A worker: the server side of a TLS session on a new connection's
 * socket, non-blocking like the socket itself.  Session tickets are off:
 * a chat connection lives long and resumption would only add state. */
gnutls_session_t
sc_server_new_tls_session (ScServer *server, int fd)
{
  gnutls_session_t session;
  int ret;

  ret = gnutls_init (&session, GNUTLS_SERVER | GNUTLS_NONBLOCK |
                                 GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS);
  if (ret < 0)
    return NULL;
  if (gnutls_priority_set (session, server->tls_priority) < 0 ||
      gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE,
                              server->tls_credentials) < 0)
    {
      gnutls_deinit (session);
      return NULL;
    }
  gnutls_certificate_server_set_request (session, GNUTLS_CERT_IGNORE);
  gnutls_transport_set_int (session, fd);
  return session;
}

static gboolean
load_tls (ScServer *server, GError **error)
{
  const ScServerConfig *config = server->config;
  g_autofree char *fingerprint = NULL;
  const char *where = NULL;
  int ret;

  ret = gnutls_certificate_allocate_credentials (&server->tls_credentials);
  if (ret >= 0)
    ret = gnutls_certificate_set_x509_key_file (
      server->tls_credentials, config->tls_cert, config->tls_key,
      GNUTLS_X509_FMT_PEM);
  if (ret >= 0)
    ret = gnutls_priority_init (&server->tls_priority, SC_TLS_PRIORITY, &where);
  if (ret < 0)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TLS,
                   "cannot use certificate %s with key %s: %s",
                   config->tls_cert, config->tls_key, gnutls_strerror (ret));
      return FALSE;
    }
  fingerprint = sc_tls_fingerprint_file (config->tls_cert, NULL);
  g_message ("TLS certificate %s, SHA-256 fingerprint %s", config->tls_cert,
             fingerprint ? fingerprint : "(unreadable)");
  return TRUE;
}

guint
sc_server_get_n_clients (ScServer *server)
{
  return (guint) g_atomic_int_get (&server->n_clients);
}

static GSource *
watch_fd (ScServer *server, int fd)
{
  GSource *source;

  if (fd < 0)
    return NULL;
  source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (on_listen_ready), server, NULL);
  g_source_attach (source, server->accept_context);
  return source;
}

static void
watch_listener (ScServer *server)
{
  server->accept_source = watch_fd (server, server->listen_fd);
  server->tls_accept_source = watch_fd (server, server->tls_listen_fd);
}

static void
unwatch_listener (ScServer *server)
{
  if (server->accept_source)
    g_source_destroy (server->accept_source);
  if (server->tls_accept_source)
    g_source_destroy (server->tls_accept_source);
  g_clear_pointer (&server->accept_source, g_source_unref);
  g_clear_pointer (&server->tls_accept_source, g_source_unref);
}

static gboolean
end_backoff (gpointer data)
{
  ScServer *server = data;

  g_clear_pointer (&server->backoff_source, g_source_unref);
  watch_listener (server);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors: stop watching the listener for a while instead of
 * being woken for the same pending connection in a tight loop. */
static void
back_off (ScServer *server, int errsv)
{
  server->backoff_ms = server->backoff_ms == 0
                         ? BACKOFF_MIN_MS
                         : MIN (server->backoff_ms * 2, BACKOFF_MAX_MS);
  g_warning ("cannot accept connections (%s); retrying in %u ms",
             g_strerror (errsv), server->backoff_ms);
  unwatch_listener (server);
  server->backoff_source = g_timeout_source_new (server->backoff_ms);
  g_source_set_callback (server->backoff_source, end_backoff, server, NULL);
  g_source_attach (server->backoff_source, server->accept_context);
}

/* A client beyond max-clients (counting those that said hello) is told
 * why before it is closed. */
static void
refuse (ScServer *server, int fd)
{
  g_autoptr (ScMessage) notice = sc_message_new (SC_MSG_PROTOCOL_ERROR, 0);
  g_autoptr (GBytes) frame = NULL;
  gsize size;
  const void *data;

  notice->status = SC_STATUS_SERVER_FULL;
  notice->reason = g_strdup_printf ("the server is full (%u clients)",
                                    server->config->max_clients);
  frame = sc_message_encode (notice);
  data = g_bytes_get_data (frame, &size);
  (void) send (fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown (fd, SHUT_WR);
  close (fd);
}

/* Connections that waited too long for their hello, as new ones came:
 * their owners close them unless they have said hello meanwhile. */
static void
turn_away (ScServer *server, GArray *evicted)
{
  for (guint i = 0; i < evicted->len; i++)
    {
      guint32 id = g_array_index (evicted, guint32, i);
      ScWorkItem *item = sc_work_item_new (SC_WORK_EVICT, id);

      item->status = SC_STATUS_SERVER_FULL;
      item->reason = g_strdup ("too many connections waiting for their "
                               "hello; the oldest are closed");
      sc_server_post (server, id % server->n_workers, item);
    }
}

static void
hand_over (ScServer *server,
           int fd,
           const struct sockaddr *address,
           socklen_t length,
           gboolean tls)
{
  g_autoptr (GArray) evicted = g_array_new (FALSE, FALSE, sizeof (guint32));
  ScWorkItem *item;
  int one = 1;
  guint32 id;

  if ((guint) g_atomic_int_get (&server->n_ready) >=
      server->config->max_clients)
    {
      g_message ("refused a connection: %u clients already connected",
                 server->config->max_clients);
      if (tls)
        close (fd); /* a notice in clear would mean nothing to it */
      else
        refuse (server, fd);
      return;
    }
  id = take_client_id (server);
  if (id == 0)
    {
      g_message ("refused a connection: no client id to give it");
      refuse (server, fd);
      return;
    }
  g_atomic_int_inc (&server->n_clients);

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sc_socket_set_keepalive (
    fd, 60, 20, 3,
    (server->config->idle_timeout_s + server->config->ping_timeout_s) * 1000);

  item = sc_work_item_new (SC_WORK_ADOPT, id);
  item->fd = fd;
  item->tls = tls;
  item->info.id = id;
  item->info.address =
    sc_socket_format_address (address, length, &item->info.port);
  item->info.nickname = g_strdup ("");
  item->info.connected_since_ms = g_get_real_time () / 1000;
  sc_pending_table_add (server->pending, id, item->info.address, evicted);
  sc_server_post (server, id % server->n_workers, item);
  turn_away (server, evicted);
}

static gboolean
on_listen_ready (int fd, GIOCondition condition, gpointer data)
{
  ScServer *server = data;

  for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++)
    {
      struct sockaddr_storage address;
      socklen_t length = sizeof address;
      int client = accept4 (fd, (struct sockaddr *) &address, &length,
                            SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (client >= 0)
        {
          server->backoff_ms = 0;
          hand_over (server, client, (struct sockaddr *) &address, length,
                     fd == server->tls_listen_fd);
          continue;
        }
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM)
        {
          back_off (server, errno);
          return G_SOURCE_REMOVE;
        }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        g_warning ("accept failed: %s", g_strerror (errno));
      break;
    }
  return G_SOURCE_CONTINUE;
}

static gpointer
accept_thread (gpointer data)
{
  ScServer *server = data;

  g_main_context_push_thread_default (server->accept_context);
  g_main_loop_run (server->accept_loop);
  g_main_context_pop_thread_default (server->accept_context);
  return NULL;
}

gboolean
sc_server_start (ScServer *server, GError **error)
{
  const ScServerConfig *config = server->config;
  g_autoptr (GError) local_error = NULL;

  if (!config->no_plaintext)
    {
      server->listen_fd = sc_socket_listen (config->bind_address,
                                            (guint16) config->port, 511, error);
      if (server->listen_fd < 0)
        return FALSE;
      server->port = sc_socket_local_port (server->listen_fd);
    }
  if (config->tls_cert != NULL)
    {
      if (!load_tls (server, error))
        return FALSE;
      server->tls_listen_fd = sc_socket_listen (
        config->bind_address, (guint16) config->tls_port, 511, error);
      if (server->tls_listen_fd < 0)
        return FALSE;
      server->tls_port = sc_socket_local_port (server->tls_listen_fd);
      g_message ("listening for TLS on port %u%s", server->tls_port,
                 config->no_plaintext ? " only" : "");
    }
  if (config->password != NULL && !config->allow_plaintext_password)
    g_message ("the password is accepted over TLS only");
  else if (config->password != NULL)
    g_message ("the password is accepted over plain connections too: it "
               "crosses the network in clear there");
  /* Decided once: asking per request reads the environment each time. */
  server->log_requests =
    !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);

  server->n_workers = config->threads;
  server->workers = g_new0 (ScWorker *, server->n_workers);
  for (guint i = 0; i < server->n_workers; i++)
    {
      server->workers[i] = sc_worker_new (server, i, error);
      if (server->workers[i] == NULL)
        return FALSE;
    }
  /* Before the workers run, so that a node refused by the cluster never
   * serves; what the backplane hands them meanwhile waits in their
   * inboxes. */
  server->backplane = sc_backplane_new (server, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!sc_backplane_start (server->backplane, error))
    return FALSE;
  for (guint i = 0; i < server->n_workers; i++)
    sc_worker_start (server->workers[i]);

  watch_listener (server);
  server->accept_thread = g_thread_new ("sc-accept", accept_thread, server);
  g_message ("listening on %s port %u with %u worker thread%s; "
             "at most %u clients and %u waiting for their hello "
             "(%u per address), payloads up to %u bytes, "
             "output queue up to %" G_GSIZE_FORMAT " bytes, "
             "ping after %u s of silence",
             config->bind_address ? config->bind_address
                                  : "all addresses (IPv6 and IPv4)",
             server->port ? server->port : server->tls_port, server->n_workers,
             server->n_workers == 1 ? "" : "s", config->max_clients,
             config->max_pending, config->max_per_address, config->max_payload,
             config->output_cap, config->idle_timeout_s);
  return TRUE;
}

static gboolean
quit_accept_loop (gpointer data)
{
  ScServer *server = data;

  unwatch_listener (server);
  if (server->backoff_source)
    g_source_destroy (server->backoff_source);
  g_main_loop_quit (server->accept_loop);
  return G_SOURCE_REMOVE;
}

/* Stops accepting, tells every client the server is going, lets the
 * workers flush for the grace period, and waits for them. */
void
sc_server_stop (ScServer *server)
{
  if (!g_atomic_int_compare_and_exchange (&server->stopping, 0, 1))
    return;
  if (server->accept_thread == NULL)
    return; /* never started */
  if (server->accept_thread)
    {
      g_main_context_invoke (server->accept_context, quit_accept_loop, server);
      g_thread_join (g_steal_pointer (&server->accept_thread));
    }
  if (server->listen_fd >= 0)
    {
      close (server->listen_fd);
      server->listen_fd = -1;
    }
  if (server->tls_listen_fd >= 0)
    {
      close (server->tls_listen_fd);
      server->tls_listen_fd = -1;
    }
  for (guint i = 0; i < server->n_workers; i++)
    if (server->workers[i])
      sc_worker_post (server->workers[i],
                      sc_work_item_new (SC_WORK_SHUTDOWN, 0));
  for (guint i = 0; i < server->n_workers; i++)
    if (server->workers[i])
      sc_worker_join (server->workers[i]);
  sc_backplane_stop (server->backplane);
  g_message ("stopped");
}

void
sc_server_free (ScServer *server)
{
  if (server == NULL)
    return;
  sc_server_stop (server);
  /* Before the workers: a check under way hands its outcome to a
   * worker's context. */
  g_clear_pointer (&server->password_checker, sc_password_checker_free);
  /* Freeing a worker frees its connections, whose outboxes still count
   * what the other workers hold: each slot is emptied once freed. */
  for (guint i = 0; i < server->n_workers; i++)
    g_clear_pointer (&server->workers[i], sc_worker_free);
  g_free (server->workers);
  g_clear_pointer (&server->backplane, sc_backplane_free);
  g_clear_pointer (&server->accept_source, g_source_unref);
  g_clear_pointer (&server->tls_accept_source, g_source_unref);
  g_clear_pointer (&server->backoff_source, g_source_unref);
  g_main_loop_unref (server->accept_loop);
  g_main_context_unref (server->accept_context);
  if (server->listen_fd >= 0)
    close (server->listen_fd);
  if (server->tls_listen_fd >= 0)
    close (server->tls_listen_fd);
  if (server->tls_priority)
    gnutls_priority_deinit (server->tls_priority);
  if (server->tls_credentials)
    gnutls_certificate_free_credentials (server->tls_credentials);
  sc_registry_free (server->registry);
  g_hash_table_unref (server->ids_in_use);
  sc_pending_table_free (server->pending);
  g_mutex_clear (&server->ids_lock);
  g_mutex_clear (&server->accounts_lock);
  g_time_zone_unref (server->local_zone);
  sc_auth_failures_free (server->auth_failures);
  sc_server_config_free (server->config);
  g_free (server);
}
