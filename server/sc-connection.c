/* sc-connection.c: a client connection's input and life cycle, run by
 * its owning worker (the output side is its ScOutbox, sc-outbox.c).
 *
 * Input: one recv() per readiness event into the frame reader, then at
 * most FRAMES_PER_ROUND frames served, so a client that pipelines
 * thousands of requests cannot starve the others on its worker.
 * Closing: a connection is marked closing and freed by its worker after
 * the round, never in the middle of serving; other workers that still
 * hold a reference find its output closed.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-connection-private.h"
#include "sc-tls.h"
#include "sc-tsan.h"

#define READ_CHUNK       (16 * 1024)
#define FRAMES_PER_ROUND 64

static gboolean
fans_out (const ScMessage *message)
{
  return message->type == SC_MSG_BROADCAST ||
         message->type == SC_MSG_LIST_CLIENTS;
}

static void
connection_clear (ScConnection *connection)
{
  /* Every thread that dropped a reference is done with it by now. */
  SC_HAPPENS_AFTER (connection);
  /* Nothing can reach it by its id any more. */
  sc_server_release_client_id (connection->server, connection->info.id);
  sc_client_info_clear (&connection->info);
  g_clear_pointer (&connection->reader, sc_frame_reader_free);
  g_clear_pointer (&connection->outbox, sc_outbox_unref);
  g_clear_pointer (&connection->peer_cache, sc_outbox_unref);
  g_free (connection->close_reason);
  g_free (connection->account_key);
}

ScConnection *
sc_connection_new (ScWorker *worker, int fd, const ScClientInfo *info)
{
  ScConnection *connection = g_atomic_rc_box_new0 (ScConnection);
  ScServer *server = sc_worker_get_server (worker);

  connection->worker = worker;
  connection->server = server;
  connection->fd = fd;
  sc_client_info_copy_into (&connection->info, info);
  /* The GREETING announces max_payload for the whole connection, so a
   * HELLO may not be larger either; until HELLO it is smaller still, so
   * that silent connections hold little. */
  connection->reader = sc_frame_reader_new (
    MIN (server->config->pre_hello_max_payload, server->config->max_payload));
  connection->outbox = sc_outbox_new (server, worker, info->id, fd, connection);
  connection->connected_at = g_get_monotonic_time ();
  connection->last_activity = connection->connected_at;
  return connection;
}

ScConnection *
sc_connection_ref (ScConnection *connection)
{
  return g_atomic_rc_box_acquire (connection);
}

void
sc_connection_unref (ScConnection *connection)
{
  SC_HAPPENS_BEFORE (connection);
  g_atomic_rc_box_release_full (connection, (GDestroyNotify) connection_clear);
}

guint32
sc_connection_get_id (ScConnection *connection)
{
  return connection->info.id;
}

int
sc_connection_get_fd (ScConnection *connection)
{
  return connection->fd;
}

ScOutbox *
sc_connection_get_outbox (ScConnection *connection)
{
  return connection->outbox;
}

/* Replies and notices to this client, from its owner. */
void
sc_connection_queue_message (ScConnection *connection, const ScMessage *message)
{
  sc_outbox_send_message (connection->outbox, message, connection->worker);
}

gboolean
sc_connection_is_closing (ScConnection *connection)
{
  return connection->closing;
}

/* Registers the client and greets it: the server always speaks first. */
void
sc_connection_start (ScConnection *connection)
{
  const ScServerConfig *config = connection->server->config;
  g_autoptr (ScMessage) greeting = sc_message_new (SC_MSG_GREETING, 0);

  sc_registry_add (connection->server->registry, &connection->info,
                   connection->outbox);
  if (connection->tls != NULL)
    {
      g_autofree char *description = gnutls_session_get_desc (connection->tls);

      g_message ("client %u connected from %s port %u over TLS %s",
                 connection->info.id, connection->info.address,
                 connection->info.port, description);
    }
  else
    g_message ("client %u connected from %s port %u", connection->info.id,
               connection->info.address, connection->info.port);

  greeting->flags = SC_FLAG_PROTOCOL_1_1;
  greeting->client_id = connection->info.id;
  greeting->max_payload = config->max_payload;
  greeting->max_clients = config->max_clients;
  greeting->heartbeat_s = config->idle_timeout_s;
  greeting->name = g_strdup (config->server_name);
  sc_connection_queue_message (connection, greeting);
}

static void
update_input (ScConnection *connection)
{
  sc_outbox_set_input (connection->outbox, !connection->peer_eof &&
                                             !connection->close_after_flush &&
                                             !connection->input_paused);
}

/* The read buffer counts against the memory budget with the rest. */
void
sc_connection_account_reader (ScConnection *connection)
{
  sc_outbox_set_reader_held (connection->outbox,
                             sc_frame_reader_capacity (connection->reader));
}

/* Stops reading from the client; nothing it sends is served any more. */
void
sc_connection_pause_input (ScConnection *connection)
{
  connection->input_paused = TRUE;
  update_input (connection);
}

/* Reads again after a pause.  Frames that arrived with the one that
 * paused it are already buffered, so they are served in the next round. */
void
sc_connection_resume_input (ScConnection *connection)
{
  connection->input_paused = FALSE;
  update_input (connection);
  /* The pause was the server's doing: a frame under way starts afresh. */
  if (connection->frame_started_at != 0)
    connection->frame_started_at = g_get_monotonic_time ();
  if (!connection->input_scheduled)
    {
      connection->input_scheduled = TRUE;
      sc_worker_schedule_input (connection->worker, connection);
    }
}

static gboolean
end_throttle (gpointer data)
{
  ScConnection *connection = data;

  connection->throttled = FALSE;
  if (!connection->closing)
    sc_connection_resume_input (connection);
  return G_SOURCE_REMOVE;
}

/* Reads nothing more from the client for @delay_ms: a client that asks
 * for more than its share waits, and its further requests wait in its
 * own socket instead of costing the server a refusal each. */
void
sc_connection_throttle (ScConnection *connection, guint delay_ms)
{
  g_autoptr (GSource) timer = NULL;

  if (connection->throttled || connection->input_paused)
    return;
  connection->throttled = TRUE;
  sc_connection_pause_input (connection);
  timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (timer, end_throttle, sc_connection_ref (connection),
                         (GDestroyNotify) sc_connection_unref);
  g_source_attach (timer, g_main_context_get_thread_default ());
}

static void
close_with_errno (ScConnection *connection, const char *what, int errsv)
{
  g_autofree char *reason =
    g_strdup_printf ("connection lost (%s: %s)", what, g_strerror (errsv));

  sc_connection_close (connection, SC_STATUS_OK, reason);
}

static ScStatus
status_for_error (const GError *error)
{
  if (g_error_matches (error, SC_ERROR, SC_ERROR_TOO_LARGE))
    return SC_STATUS_TOO_LARGE;
  return SC_STATUS_PROTOCOL_ERROR;
}

/* Bytes of a frame not yet complete are buffered: its deadline runs from
 * the read that brought its first byte (at the latest). */
static void
note_partial_frame (ScConnection *connection)
{
  if (sc_frame_reader_buffered (connection->reader) == 0)
    connection->frame_started_at = 0;
  else if (connection->frame_started_at == 0)
    connection->frame_started_at = connection->last_activity;
}

/* Serves up to FRAMES_PER_ROUND buffered frames; the rest wait for the
 * worker's next round. */
void
sc_connection_serve_buffered (ScConnection *connection)
{
  guint served = 0;

  connection->input_scheduled = FALSE;
  while (!connection->closing && !connection->close_after_flush &&
         !connection->input_paused)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ScMessage) message = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      ScFrameStatus status;

      if (served == FRAMES_PER_ROUND)
        {
          connection->input_scheduled = TRUE;
          sc_worker_schedule_input (connection->worker, connection);
          return;
        }
      status =
        sc_frame_reader_next (connection->reader, &header, &payload, &error);
      if (status == SC_FRAME_INCOMPLETE)
        {
          note_partial_frame (connection);
          break;
        }
      if (status == SC_FRAME_READY)
        {
          connection->frame_started_at = 0;
          message = sc_message_decode (&header, payload, &error);
        }
      if (message == NULL)
        {
          sc_connection_protocol_error (connection, status_for_error (error),
                                        error->message);
          return;
        }
      /* A request that reaches every client ends the connection's turn:
       * a burst of broadcasts is spread over rounds, so the other clients
       * of this worker wait for one of them at most. */
      served += fans_out (message) ? FRAMES_PER_ROUND : 1;
      sc_connection_handle_message (connection, message);
    }
  if (connection->peer_eof && !connection->closing)
    sc_connection_close_after_flush (connection, SC_STATUS_OK, "disconnected");
}

void
sc_connection_on_readable (ScConnection *connection)
{
  gsize room;
  guint8 *buffer;
  ssize_t n;

  if (connection->peer_eof || connection->close_after_flush ||
      connection->input_paused)
    return;
  if (connection->tls != NULL)
    {
      if (!sc_connection_read_tls (connection))
        return;
    }
  else
    {
      buffer = sc_frame_reader_reserve (connection->reader, READ_CHUNK, &room);
      do
        n = recv (connection->fd, buffer, room, MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);

      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n < 0)
        {
          close_with_errno (connection, "recv", errno);
          return;
        }
      /* A TLS client that came to the plain port: its ClientHello would
       * only be read as a bad frame header. */
      if (!connection->got_bytes && n >= 2 &&
          buffer[0] == SC_TLS_RECORD_HANDSHAKE &&
          buffer[1] == SC_TLS_RECORD_MAJOR)
        {
          sc_connection_reject_client_hello (connection);
          return;
        }
      connection->got_bytes = TRUE;
      if (n == 0)
        {
          /* The client half-closed: answer what it sent, then close. */
          connection->peer_eof = TRUE;
          update_input (connection);
        }
      else
        {
          sc_frame_reader_commit (connection->reader, (gsize) n);
          connection->last_activity = g_get_monotonic_time ();
        }
    }
  if (!connection->input_scheduled)
    sc_connection_serve_buffered (connection);
  /* A read buffer is kept only while it holds part of a frame: thousands
   * of idle clients then cost no read buffers at all. */
  if (!connection->input_scheduled && !connection->closing)
    sc_frame_reader_trim (connection->reader);
  sc_connection_account_reader (connection);
}

/* The socket reported an error or a hang-up (EPOLLERR, EPOLLHUP).  Epoll
 * reports those whether or not they are watched, on every round while
 * they last.  A connection that reads finds out from recv(), so only one
 * that no longer reads (its input paused while a password waits for its
 * answer, or past the peer's end of stream) is closed here; otherwise its
 * worker would be woken for it in a busy loop.  Nothing more can be read
 * from the peer or sent to it. */
void
sc_connection_on_hangup (ScConnection *connection)
{
  int error = 0;
  socklen_t length = sizeof error;

  if (connection->closing ||
      !(connection->peer_eof || connection->close_after_flush ||
        connection->input_paused))
    return;
  if (getsockopt (connection->fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0 ||
      error == 0)
    error = EPIPE;
  close_with_errno (connection, "hang-up", error);
}

static void
send_ping (ScConnection *connection, gint64 now)
{
  g_autoptr (ScMessage) ping = sc_message_new (SC_MSG_SERVER_PING, 0);

  do
    connection->ping_token =
      ((guint64) g_random_int () << 32) | g_random_int ();
  while (connection->ping_token == 0);
  connection->ping_sent_at = now;
  ping->token = connection->ping_token;
  sc_connection_queue_message (connection, ping);
}

/* An idle connection keeps no buffers: the frame reader's and the output
 * queue's memory is given back after a second without traffic. */
static void
trim_buffers (ScConnection *connection)
{
  sc_frame_reader_trim (connection->reader);
  sc_connection_account_reader (connection);
  sc_outbox_trim (connection->outbox);
}

/* Called once a second: hello deadline, heartbeat and its deadline. */
void
sc_connection_tick (ScConnection *connection, gint64 now)
{
  const ScServerConfig *config = connection->server->config;

  if (connection->closing)
    return;
  if (connection->handshaking)
    {
      sc_connection_check_handshake_deadline (connection, now);
      return;
    }
  if (now - connection->last_activity > G_USEC_PER_SEC)
    trim_buffers (connection);
  /* A frame must be completed in time once it has started, so a client
   * cannot hold a read buffer by trickling bytes (not while the server
   * itself has stopped reading). */
  if (connection->frame_started_at != 0 && !connection->input_paused &&
      now - connection->frame_started_at >
        (gint64) config->frame_timeout_s * G_USEC_PER_SEC)
    {
      g_autofree char *why = g_strdup_printf (
        "a frame was not completed within %u s", config->frame_timeout_s);

      sc_connection_protocol_error (connection, SC_STATUS_TIMEOUT, why);
    }
  /* A password attempt under way has its own bounded wait, and so has a
   * hello waiting for its nickname's holder to leave. */
  else if (!connection->ready && !connection->auth_waiting &&
           !connection->claim_waiting &&
           now - connection->connected_at >
             (gint64) config->hello_timeout_s * G_USEC_PER_SEC)
    sc_connection_protocol_error (connection, SC_STATUS_TIMEOUT,
                                  "no hello in time");
  else if (connection->ping_token != 0 &&
           now - connection->ping_sent_at >
             (gint64) config->ping_timeout_s * G_USEC_PER_SEC)
    sc_connection_close (connection, SC_STATUS_TIMEOUT,
                         "timed out: no answer to ping");
  else if (sc_outbox_stalled (connection->outbox, now,
                              (gint64) config->write_timeout_s *
                                G_USEC_PER_SEC))
    {
      g_autofree char *why =
        g_strdup_printf ("too slow: read nothing of its output for %u s",
                         config->write_timeout_s);
      sc_connection_close (connection, SC_STATUS_RECIPIENT_SLOW, why);
    }
  else if (connection->ping_token == 0 &&
           now - connection->last_activity >
             (gint64) config->idle_timeout_s * G_USEC_PER_SEC)
    send_ping (connection, now);
}

void
sc_connection_close (ScConnection *connection,
                     ScStatus status,
                     const char *reason)
{
  if (connection->closing)
    return;
  if (reason != connection->close_reason)
    {
      g_free (connection->close_reason);
      connection->close_reason = g_strdup (reason);
    }
  connection->closing = TRUE;
  connection->close_status = status;
  /* Its slot, or its place among those waiting for hello, is free. */
  if (connection->ready)
    sc_server_release_client_slot (connection->server);
  else
    sc_pending_table_remove (connection->server->pending, connection->info.id);
  if (connection->auth_waiting)
    {
      /* Its password was never checked: the attempt is given up. */
      connection->auth_waiting = FALSE;
      sc_auth_failures_end (connection->server->auth_failures,
                            connection->info.address, &connection->auth_ticket,
                            SC_AUTH_ABANDONED, g_get_monotonic_time ());
    }
  sc_outbox_close (connection->outbox);
  sc_worker_schedule_close (connection->worker, connection);
}

/* Tells a client that has not said hello why it is closed, and closes it
 * once that has gone out. */
void
sc_connection_turn_away (ScConnection *connection,
                         ScStatus status,
                         const char *reason)
{
  g_autoptr (ScMessage) notice = sc_message_new (SC_MSG_PROTOCOL_ERROR, 0);

  g_message ("client %u (%s port %u) turned away: %s", connection->info.id,
             connection->info.address, connection->info.port, reason);
  notice->status = status;
  notice->reason = g_strdup (reason);
  sc_connection_queue_message (connection, notice);
  sc_connection_close_after_flush (connection, status, reason);
}

/* The accept thread wants room among the connections waiting for hello:
 * this one goes, unless it has said hello meanwhile (and is ready, or its
 * password is being checked, or it waits for its nickname's holder to
 * leave). */
void
sc_connection_evict (ScConnection *connection,
                     ScStatus status,
                     const char *reason)
{
  if (connection->closing || connection->close_after_flush ||
      connection->ready || connection->auth_waiting ||
      connection->claim_waiting)
    return;
  if (connection->handshaking)
    {
      /* Nothing can be said to it before its handshake is done. */
      g_message ("client %u (%s port %u) turned away during its TLS "
                 "handshake: %s",
                 connection->info.id, connection->info.address,
                 connection->info.port, reason);
      sc_connection_close (connection, status, reason);
      return;
    }
  sc_connection_turn_away (connection, status, reason);
}

/* Its output drained after sc_connection_close_after_flush(). */
void
sc_connection_close_now_drained (ScConnection *connection)
{
  sc_connection_close (connection, connection->close_status,
                       connection->close_reason);
}

/* Stops reading and closes once everything queued has been written (a
 * reply to a half-closed client, the shutdown notice). */
void
sc_connection_close_after_flush (ScConnection *connection,
                                 ScStatus status,
                                 const char *reason)
{
  if (connection->closing || connection->close_after_flush)
    return;
  connection->close_after_flush = TRUE;
  connection->close_status = status;
  g_free (connection->close_reason);
  connection->close_reason = g_strdup (reason);
  sc_outbox_close_when_drained (connection->outbox);
}

/* The reason word other clients are given for a departure
 * (docs/PROTOCOL.md 5.8).  The detailed reason describes what the client
 * did or what happened to its socket; it goes to the client itself and to
 * the server log, never to the others. */
const char *
sc_connection_public_reason (ScConnection *connection)
{
  switch (connection->close_status)
    {
    case SC_STATUS_OK: return "disconnected";
    case SC_STATUS_TIMEOUT: return "timed out";
    case SC_STATUS_RECIPIENT_SLOW: return "too slow";
    case SC_STATUS_PROTOCOL_ERROR: return "protocol error";
    default: return sc_status_to_string (connection->close_status);
    }
}

static void
announce_departure (ScConnection *connection)
{
  g_autoptr (ScMessage) left = sc_message_new (SC_MSG_CLIENT_LEFT, 0);

  left->client_id = connection->info.id;
  left->status = connection->close_status;
  left->reason = g_strdup (sc_connection_public_reason (connection));
  sc_connection_notify_everyone (connection, left);
}

/* The last step of a connection's life, run by its worker after the
 * round in which it was closed and after its socket left the epoll set.
 * The registry forgets it first, so no new message can be addressed to
 * it; messages it never acknowledged are reported to their senders. */
void
sc_connection_finish_close (ScConnection *connection)
{
  ScServer *server = connection->server;
  g_autoptr (GHashTable) unacked = NULL;

  g_assert (connection->closing);
  sc_registry_remove (server->registry, connection->info.id);
  if (connection->close_status != SC_STATUS_PROTOCOL_ERROR)
    sc_connection_serve_final_acks (connection);
  unacked = sc_outbox_close_socket (
    connection->outbox, connection->close_status != SC_STATUS_RECIPIENT_SLOW);
  connection->fd = -1;
  g_atomic_int_add (&server->n_clients, -1);
  g_message ("client %u (%s port %u) disconnected: %s", connection->info.id,
             connection->info.address, connection->info.port,
             connection->close_reason);
  if (unacked)
    sc_connection_fail_unacked (connection, unacked,
                                connection->close_status ==
                                    SC_STATUS_RECIPIENT_SLOW
                                  ? SC_STATUS_RECIPIENT_SLOW
                                  : SC_STATUS_RECIPIENT_LEFT);
  if (connection->ready)
    sc_backplane_client_left (server->backplane, connection->info.id);
  if (connection->ready && !sc_worker_is_stopping (connection->worker))
    announce_departure (connection);
}

/* ------------------------------------------------------------------ */
/* Affinity: clients that talk to each other on one worker.
 *
 * A message between clients of two workers costs both of them: the
 * sender's worker writes into the recipient's outbox, the recipient's
 * worker writes the receipt into the sender's, and their locks and queues
 * travel between the cores.  So once a client has sent to (or
 * acknowledged) the same other client AFFINITY_RUN times in a row, the
 * pair's worker is computed from their two ids, the same for both, and a
 * client that is not on it moves there at the end of its worker's round.
 * Pairs spread over the workers as evenly as the ids hash; a client moves
 * at most once per MOVE_INTERVAL_US. */

#define AFFINITY_RUN     64
#define MOVE_INTERVAL_US (5 * G_USEC_PER_SEC)

static guint
pair_worker (guint32 a, guint32 b, guint n_workers)
{
  guint64 lo = MIN (a, b), hi = MAX (a, b);

  return (guint) (((lo * 0x9E3779B1u) ^ (hi * 0x85EBCA6Bu)) >> 7) % n_workers;
}

void
sc_connection_note_peer (ScConnection *connection, guint32 peer_id)
{
  ScServer *server = connection->server;
  ScWorker *target;

  if (peer_id != connection->talk_peer)
    {
      connection->talk_peer = peer_id;
      connection->talk_count = 1;
      return;
    }
  if (++connection->talk_count < AFFINITY_RUN || server->n_workers < 2)
    return;
  connection->talk_count = 0;
  target =
    server
      ->workers[pair_worker (connection->info.id, peer_id, server->n_workers)];
  if (target == connection->worker || connection->move_to != NULL ||
      g_get_monotonic_time () - connection->moved_at < MOVE_INTERVAL_US)
    return;
  connection->move_to = target;
  sc_worker_schedule_move (connection->worker, connection);
}

/* The owner, at the end of its round: where the connection should move,
 * if it still may.  A connection with anything pending on this worker
 * (frames to serve, a timer, a close) stays. */
ScWorker *
sc_connection_take_move (ScConnection *connection)
{
  ScWorker *target = g_steal_pointer (&connection->move_to);

  if (!connection->ready || connection->closing ||
      connection->close_after_flush || connection->peer_eof ||
      connection->input_paused || connection->throttled ||
      connection->auth_waiting || connection->input_scheduled)
    return NULL;
  return target;
}

void
sc_connection_set_worker (ScConnection *connection, ScWorker *worker)
{
  connection->worker = worker;
}

/* The new owner took the connection: frames it had already read are
 * served in the new owner's next round. */
void
sc_connection_moved (ScConnection *connection)
{
  connection->moved_at = g_get_monotonic_time ();
  if (sc_frame_reader_buffered (connection->reader) > 0)
    {
      connection->input_scheduled = TRUE;
      sc_worker_schedule_input (connection->worker, connection);
    }
}
