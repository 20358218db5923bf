/* sc-worker.c: a worker thread.
 *
 * Each worker runs its own GMainContext with two sources: one epoll
 * source (every client socket of this worker plus an eventfd that other
 * threads ring when they post work) and a one-second tick for timeouts.
 * A round of the epoll source reads what arrived, serves a bounded number
 * of frames per connection, writes out everything that was queued during
 * the round in one send() per connection, and only then frees the
 * connections that closed, so no connection is freed while in use.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sc-backplane.h"
#include "sc-connection.h"
#include "sc-epoll-source.h"
#include "sc-outbox.h"
#include "sc-tsan.h"
#include "sc-worker.h"

struct _ScWorker
{
  ScServer *server;
  guint index;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  int epoll_fd;
  int wake_fd;
  GSource *epoll_source;
  GSource *tick_source;
  GSource *deadline_source;

  GMutex inbox_lock;
  GQueue inbox; /* ScWorkItem*, posted by any thread */

  GHashTable *connections; /* id -> ScConnection*, owning */
  GPtrArray *flush_list;   /* ScOutbox*, any worker's clients */
  GPtrArray *input_list;
  GPtrArray *close_list;
  GPtrArray *move_list; /* connections to hand to another worker */
  gboolean stopping;

  /* This thread's share of the server's memory count (written by this
   * thread only, read by any), and its value when the server last
   * looked: see sc-server-memory.c. */
  gssize memory_delta;
  gssize memory_mark;
};

/* The worker whose thread this is, or NULL on any other thread. */
static __thread ScWorker *self_worker;

static void handle_item (ScWorker *worker, ScWorkItem *item);

/* Lists of connections hold a reference each, so that a connection reaped
 * in one round is still valid memory when a later list reaches it. */
static GPtrArray *
new_connection_list (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) sc_connection_unref);
}

static void
drain_inbox (ScWorker *worker)
{
  GQueue items = G_QUEUE_INIT;
  guint64 count;
  ScWorkItem *item;

  if (read (worker->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
    g_warning ("worker %u: reading its wake-up descriptor failed: %s",
               worker->index, g_strerror (errno));
  g_mutex_lock (&worker->inbox_lock);
  SC_HAPPENS_AFTER (&worker->inbox);
  items = worker->inbox;
  g_queue_init (&worker->inbox);
  SC_HAPPENS_BEFORE (&worker->inbox);
  g_mutex_unlock (&worker->inbox_lock);

  while ((item = g_queue_pop_head (&items)) != NULL)
    {
      handle_item (worker, item);
      sc_work_item_free (item);
    }
}

/* Serves connections that still had whole frames buffered when their
 * per-round budget ran out. */
static void
serve_leftover_input (ScWorker *worker)
{
  g_autoptr (GPtrArray) list = worker->input_list;

  worker->input_list = new_connection_list ();
  for (guint i = 0; i < list->len; i++)
    sc_connection_serve_buffered (g_ptr_array_index (list, i));
}

static GPtrArray *
new_outbox_list (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) sc_outbox_unref);
}

static void
flush_scheduled (ScWorker *worker)
{
  g_autoptr (GPtrArray) list = worker->flush_list;

  worker->flush_list = new_outbox_list ();
  for (guint i = 0; i < list->len; i++)
    sc_outbox_flush (g_ptr_array_index (list, i), worker);
}

static void
reap_closed (ScWorker *worker)
{
  g_autoptr (GPtrArray) list = worker->close_list;

  worker->close_list = new_connection_list ();
  for (guint i = 0; i < list->len; i++)
    {
      ScConnection *connection = g_ptr_array_index (list, i);

      epoll_ctl (worker->epoll_fd, EPOLL_CTL_DEL,
                 sc_connection_get_fd (connection), NULL);
      sc_connection_finish_close (connection);
      g_hash_table_remove (
        worker->connections,
        GUINT_TO_POINTER (sc_connection_get_id (connection)));
    }
}

/* Hands @connection to @target: out of this worker's epoll set and
 * table, the outbox pointed at @target (so what other workers post about
 * it from now on reaches @target, after the MIGRATE item), then posted. */
static void
move_connection (ScWorker *worker, ScConnection *connection, ScWorker *target)
{
  guint32 id = sc_connection_get_id (connection);
  ScWorkItem *item = sc_work_item_new (SC_WORK_MIGRATE, id);

  epoll_ctl (worker->epoll_fd, EPOLL_CTL_DEL, sc_connection_get_fd (connection),
             NULL);
  g_hash_table_steal (worker->connections, GUINT_TO_POINTER (id));
  sc_connection_set_worker (connection, target);
  sc_outbox_set_owner (sc_connection_get_outbox (connection), target);
  item->connection = connection; /* the table's reference */
  item->connection_free = (GDestroyNotify) sc_connection_unref;
  sc_worker_post (target, item);
}

/* Moves the connections that asked to, if they still can be moved: their
 * input fully served, nothing of theirs waiting on this worker. */
static void
move_requested (ScWorker *worker)
{
  g_autoptr (GPtrArray) list = worker->move_list;

  worker->move_list = new_connection_list ();
  for (guint i = 0; i < list->len; i++)
    {
      ScConnection *connection = g_ptr_array_index (list, i);
      ScWorker *target = sc_connection_take_move (connection);

      /* A target that is stopping closes what it is given. */
      if (target != NULL && target != worker && !worker->stopping)
        move_connection (worker, connection, target);
    }
}

static void
finish_round (ScWorker *worker)
{
  /* Closing can queue notices for others, and flushing can close, so go
   * on until both lists are empty; each pass only shrinks the set of
   * open connections, so this ends. */
  while (worker->flush_list->len > 0 || worker->close_list->len > 0)
    {
      flush_scheduled (worker);
      reap_closed (worker);
    }
  sc_backplane_flush (worker->server->backplane);
  if (worker->move_list->len > 0)
    move_requested (worker);
  if (sc_worker_settle_memory (worker))
    sc_server_update_budget (worker->server);
  sc_server_relieve_memory (worker->server);
  if (worker->stopping && g_hash_table_size (worker->connections) == 0)
    g_main_loop_quit (worker->loop);
}

static void
worker_dispatch (struct epoll_event *events, int n_events, gpointer user_data)
{
  ScWorker *worker = user_data;

  for (int i = 0; i < n_events; i++)
    {
      ScConnection *connection;

      if (events[i].data.ptr == worker)
        {
          drain_inbox (worker);
          continue;
        }
      connection = events[i].data.ptr;
      if (sc_connection_is_closing (connection))
        continue;
      if (sc_connection_is_handshaking (connection))
        {
          sc_connection_on_handshake_event (connection, events[i].events);
          continue;
        }
      if (events[i].events & EPOLLOUT)
        sc_outbox_flush (sc_connection_get_outbox (connection), worker);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
        sc_connection_on_readable (connection);
      if (events[i].events & (EPOLLHUP | EPOLLERR))
        sc_connection_on_hangup (connection);
    }
  serve_leftover_input (worker);
  finish_round (worker);
}

static gboolean
worker_has_pending (gpointer user_data)
{
  ScWorker *worker = user_data;

  return worker->input_list->len > 0 || worker->flush_list->len > 0 ||
         worker->close_list->len > 0;
}

static gboolean
worker_tick (gpointer user_data)
{
  ScWorker *worker = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, worker->connections);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    sc_connection_tick (value, now);
  finish_round (worker);
  if (worker->index == 0 && sc_server_memory_released (worker->server))
    malloc_trim (0);
  return G_SOURCE_CONTINUE;
}

/* After the grace period, whatever has not drained is closed as is. */
static gboolean
worker_deadline (gpointer user_data)
{
  ScWorker *worker = user_data;
  GHashTableIter iter;
  gpointer value;

  worker->deadline_source = NULL;
  g_hash_table_iter_init (&iter, worker->connections);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    sc_connection_close (value, SC_STATUS_SHUTTING_DOWN, "server stopped");
  finish_round (worker);
  return G_SOURCE_REMOVE;
}

static void
begin_stop (ScWorker *worker)
{
  g_autoptr (ScMessage) notice = sc_message_new (SC_MSG_SERVER_SHUTDOWN, 0);
  GHashTableIter iter;
  gpointer value;

  worker->stopping = TRUE;
  notice->reason = g_strdup ("stopped by its operator");
  g_hash_table_iter_init (&iter, worker->connections);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      sc_connection_queue_message (value, notice);
      sc_connection_close_after_flush (value, SC_STATUS_SHUTTING_DOWN,
                                       "server shutting down");
    }
  worker->deadline_source =
    g_timeout_source_new (worker->server->config->shutdown_grace_ms);
  g_source_set_callback (worker->deadline_source, worker_deadline, worker,
                         NULL);
  g_source_attach (worker->deadline_source, worker->context);
  g_source_unref (worker->deadline_source);
}

static void
adopt (ScWorker *worker, ScWorkItem *item)
{
  ScConnection *connection = sc_connection_new (worker, item->fd, &item->info);
  struct epoll_event event = { EPOLLIN | EPOLLRDHUP, { .ptr = connection } };

  g_hash_table_insert (worker->connections, GUINT_TO_POINTER (item->info.id),
                       connection);
  if (epoll_ctl (worker->epoll_fd, EPOLL_CTL_ADD, item->fd, &event) < 0)
    {
      sc_connection_close (connection, SC_STATUS_INTERNAL, g_strerror (errno));
      return;
    }
  if (item->tls)
    {
      gnutls_session_t session =
        sc_server_new_tls_session (worker->server, item->fd);

      if (session == NULL)
        {
          sc_connection_close (connection, SC_STATUS_INTERNAL,
                               "cannot set up a TLS session");
          return;
        }
      /* The GREETING waits for the end of the handshake. */
      sc_connection_start_tls (connection, session);
    }
  else
    sc_connection_start (connection);
  if (worker->stopping)
    sc_connection_close (connection, SC_STATUS_SHUTTING_DOWN,
                         "server shutting down");
}

/* A request about a client that moved to another worker after it was
 * posted: it follows the client. */
static void
forward_to_owner (ScWorker *worker, ScWorkItem *item)
{
  g_autoptr (ScOutbox) outbox =
    sc_registry_lookup_ready (worker->server->registry, item->target_id);
  ScWorker *owner = outbox ? sc_outbox_get_owner (outbox) : NULL;
  ScWorkItem *copy;

  if (owner == NULL || owner == worker)
    return;
  copy = sc_work_item_new (item->kind, item->target_id);
  copy->status = item->status;
  copy->reason = g_strdup (item->reason);
  sc_worker_post (owner, copy);
}

/* A connection another worker handed over (move_connection). */
static void
take_moved (ScWorker *worker, ScWorkItem *item)
{
  ScConnection *connection = g_steal_pointer (&item->connection);

  g_hash_table_insert (worker->connections,
                       GUINT_TO_POINTER (sc_connection_get_id (connection)),
                       connection);
  sc_outbox_watch_from (sc_connection_get_outbox (connection), worker);
  sc_connection_moved (connection);
  if (worker->stopping)
    sc_connection_close (connection, SC_STATUS_SHUTTING_DOWN,
                         "server shutting down");
}

/* Another thread (or this one, through its own outbox) found this client
 * too slow or its socket broken, or its output drained after the owner
 * asked to close then. */
static void
close_on_request (ScWorker *worker, ScWorkItem *item)
{
  ScConnection *connection = g_hash_table_lookup (
    worker->connections, GUINT_TO_POINTER (item->target_id));

  if (connection == NULL)
    {
      forward_to_owner (worker, item);
      return;
    }
  if (sc_connection_is_closing (connection))
    return;
  if (item->reason == NULL)
    sc_connection_close_now_drained (connection);
  else
    sc_connection_close (connection, item->status, item->reason);
}

/* The accept thread made room among the connections waiting for their
 * hello. */
static void
evict_on_request (ScWorker *worker, ScWorkItem *item)
{
  ScConnection *connection = g_hash_table_lookup (
    worker->connections, GUINT_TO_POINTER (item->target_id));

  if (connection != NULL)
    sc_connection_evict (connection, item->status, item->reason);
}

static void
handle_item (ScWorker *worker, ScWorkItem *item)
{
  switch (item->kind)
    {
    case SC_WORK_ADOPT:
      adopt (worker, item);
      item->fd = -1;
      break;
    case SC_WORK_CLOSE: close_on_request (worker, item); break;
    case SC_WORK_SHUTDOWN: begin_stop (worker); break;
    case SC_WORK_EVICT: evict_on_request (worker, item); break;
    case SC_WORK_MIGRATE: take_moved (worker, item); break;
    case SC_WORK_CALL: item->call (worker, item->call_data); break;
    default: g_assert_not_reached ();
    }
}

/* Thread-safe.  The eventfd is rung only when the inbox goes from empty to
 * non-empty, so a burst of posts costs the receiver one wake-up. */
void
sc_worker_post (ScWorker *worker, ScWorkItem *item)
{
  gboolean was_empty;
  guint64 one = 1;

  g_mutex_lock (&worker->inbox_lock);
  SC_HAPPENS_AFTER (&worker->inbox);
  was_empty = g_queue_is_empty (&worker->inbox);
  g_queue_push_tail (&worker->inbox, item);
  SC_HAPPENS_BEFORE (&worker->inbox);
  g_mutex_unlock (&worker->inbox_lock);
  if (was_empty && write (worker->wake_fd, &one, sizeof one) < 0)
    g_warning ("worker %u: cannot wake it: %s", worker->index,
               g_strerror (errno));
}

/* The owner closes one of its own clients at once; takes @item. */
void
sc_worker_close_now (ScWorker *worker, ScWorkItem *item)
{
  close_on_request (worker, item);
  sc_work_item_free (item);
}

void
sc_worker_schedule_flush (ScWorker *worker, ScOutbox *outbox)
{
  g_ptr_array_add (worker->flush_list, sc_outbox_ref (outbox));
}

void
sc_worker_schedule_input (ScWorker *worker, ScConnection *connection)
{
  g_ptr_array_add (worker->input_list, sc_connection_ref (connection));
}

void
sc_worker_schedule_move (ScWorker *worker, ScConnection *connection)
{
  g_ptr_array_add (worker->move_list, sc_connection_ref (connection));
}

void
sc_worker_schedule_close (ScWorker *worker, ScConnection *connection)
{
  g_ptr_array_add (worker->close_list, sc_connection_ref (connection));
}

static struct epoll_event
events_for (gpointer tag, gboolean input, gboolean output)
{
  struct epoll_event event = { 0, { .ptr = tag } };

  if (input)
    event.events |= EPOLLIN | EPOLLRDHUP;
  if (output)
    event.events |= EPOLLOUT;
  return event;
}

/* A socket this worker takes over, with the events its outbox wants. */
void
sc_worker_watch (
  ScWorker *worker, int fd, gpointer tag, gboolean input, gboolean output)
{
  struct epoll_event event = events_for (tag, input, output);

  if (epoll_ctl (worker->epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0)
    g_warning ("worker %u: cannot watch a moved client: %s", worker->index,
               g_strerror (errno));
}

/* Input is watched until the peer's end of stream; output only while
 * bytes wait for room in the socket. */
void
sc_worker_set_events (
  ScWorker *worker, int fd, gpointer tag, gboolean input, gboolean output)
{
  struct epoll_event event = events_for (tag, input, output);

  epoll_ctl (worker->epoll_fd, EPOLL_CTL_MOD, fd, &event);
}

ScServer *
sc_worker_get_server (ScWorker *worker)
{
  return worker->server;
}

gboolean
sc_worker_is_stopping (ScWorker *worker)
{
  return worker->stopping;
}

ScWorker *
sc_worker_self (void)
{
  return self_worker;
}

/* This thread's worker only: adds @delta bytes to its share of the
 * memory count.  Returns TRUE when the share moved by @slack or more since
 * the server last looked, and marks it looked at. */
gboolean
sc_worker_charge_memory (ScWorker *worker, gssize delta, gsize slack)
{
  gssize value = worker->memory_delta + delta;

  __atomic_store_n (&worker->memory_delta, value, __ATOMIC_RELAXED);
  if ((gsize) ABS (value - worker->memory_mark) < slack)
    return FALSE;
  worker->memory_mark = value;
  return TRUE;
}

/* This thread's worker only: TRUE when its share moved at all since the
 * server last looked; marks it looked at. */
gboolean
sc_worker_settle_memory (ScWorker *worker)
{
  if (worker->memory_delta == worker->memory_mark)
    return FALSE;
  worker->memory_mark = worker->memory_delta;
  return TRUE;
}

/* Any thread. */
gssize
sc_worker_get_memory_delta (ScWorker *worker)
{
  return __atomic_load_n (&worker->memory_delta, __ATOMIC_RELAXED);
}

ScWorker *
sc_worker_new (ScServer *server, guint index, GError **error)
{
  ScWorker *worker = g_new0 (ScWorker, 1);
  struct epoll_event event = { EPOLLIN, { .ptr = worker } };

  worker->server = server;
  worker->index = index;
  g_mutex_init (&worker->inbox_lock);
  worker->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  worker->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (worker->epoll_fd < 0 || worker->wake_fd < 0 ||
      epoll_ctl (worker->epoll_fd, EPOLL_CTL_ADD, worker->wake_fd, &event) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot create worker %u: %s", index, g_strerror (errno));
      sc_worker_free (worker);
      return NULL;
    }
  worker->context = g_main_context_new ();
  worker->loop = g_main_loop_new (worker->context, FALSE);
  worker->connections = g_hash_table_new_full (
    NULL, NULL, NULL, (GDestroyNotify) sc_connection_unref);
  worker->flush_list = new_outbox_list ();
  worker->input_list = new_connection_list ();
  worker->close_list = new_connection_list ();
  worker->move_list = new_connection_list ();

  worker->epoll_source = sc_epoll_source_new (
    worker->epoll_fd, worker_has_pending, worker_dispatch, worker);
  g_source_attach (worker->epoll_source, worker->context);
  worker->tick_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (worker->tick_source, worker_tick, worker, NULL);
  g_source_attach (worker->tick_source, worker->context);
  return worker;
}

static gpointer
worker_thread (gpointer data)
{
  ScWorker *worker = data;

  self_worker = worker;
  sc_epoll_source_take_poll (worker->epoll_source, worker->context);
  g_main_context_push_thread_default (worker->context);
  g_main_loop_run (worker->loop);
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

void
sc_worker_start (ScWorker *worker)
{
  g_autofree char *name = g_strdup_printf ("sc-worker-%u", worker->index);

  worker->thread = g_thread_new (name, worker_thread, worker);
}

void
sc_worker_join (ScWorker *worker)
{
  if (worker->thread != NULL)
    g_thread_join (g_steal_pointer (&worker->thread));
}

void
sc_worker_free (ScWorker *worker)
{
  if (worker == NULL)
    return;
  g_assert (worker->thread == NULL);
  if (worker->epoll_source)
    {
      g_source_destroy (worker->epoll_source);
      g_source_unref (worker->epoll_source);
      g_source_destroy (worker->tick_source);
      g_source_unref (worker->tick_source);
    }
  if (worker->deadline_source)
    g_source_destroy (worker->deadline_source);
  g_clear_pointer (&worker->connections, g_hash_table_unref);
  g_queue_clear_full (&worker->inbox, (GDestroyNotify) sc_work_item_free);
  g_clear_pointer (&worker->flush_list, g_ptr_array_unref);
  g_clear_pointer (&worker->input_list, g_ptr_array_unref);
  g_clear_pointer (&worker->close_list, g_ptr_array_unref);
  g_clear_pointer (&worker->move_list, g_ptr_array_unref);
  g_clear_pointer (&worker->loop, g_main_loop_unref);
  g_clear_pointer (&worker->context, g_main_context_unref);
  if (worker->epoll_fd >= 0)
    close (worker->epoll_fd);
  if (worker->wake_fd >= 0)
    close (worker->wake_fd);
  g_mutex_clear (&worker->inbox_lock);
  g_free (worker);
}
