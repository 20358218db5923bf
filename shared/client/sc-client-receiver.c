/* sc-client-receiver.c: the receiver thread and the hand-over to the
 * owner's main context.  Sending lives in sc-client-sender.c; the
 * receiver only appends its pongs to that queue.
 *
 * The receiver loops on a blocking recv(), decodes frames and pushes them
 * on a GAsyncQueue.  Only when the queue goes from empty to busy does it
 * wake the owner, by attaching one idle source to the owner's context
 * (g_idle_source_new(), the thread-safe form of g_idle_add()); that idle
 * drains a bounded batch per dispatch and stays until the queue is empty, so a
 * flood of messages costs the owner's loop one source per burst, not one idle
 * callback per message, and the owner keeps repainting between batches.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-private.h"
#include "sc-tsan.h"

#define EVENTS_PER_DISPATCH 256
#define READ_CHUNK          (16 * 1024)

void
sc_client_event_free (ScClientEvent *event)
{
  sc_message_free (event->message);
  g_free (event->detail);
  g_free (event);
}

static gboolean dispatch_events (gpointer data);

/* Appends @event and, when the queue was idle, attaches one idle source
 * to the owner's context.  The idle holds no reference: the client
 * destroys it when it goes (sc_client_events_clear()), and while one
 * dispatch runs, that dispatch holds the client. */
static void
push_event (ScClient *self, ScClientEvent *event)
{
  g_async_queue_lock (self->events);
  SC_HAPPENS_AFTER (self->events);
  g_async_queue_push_unlocked (self->events, event);
  if (self->dispatch_idle == NULL)
    {
      self->dispatch_idle = g_idle_source_new ();
      g_source_set_priority (self->dispatch_idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->dispatch_idle, dispatch_events, self, NULL);
      g_source_set_name (self->dispatch_idle, "sockchat client events");
      g_source_attach (self->dispatch_idle, self->owner);
    }
  SC_HAPPENS_BEFORE (self->events);
  g_async_queue_unlock (self->events);
}

static void
push_message (ScClient *self, guint generation, ScMessage *message)
{
  ScClientEvent *event = g_new0 (ScClientEvent, 1);

  event->generation = generation;
  event->message = message;
  push_event (self, event);
}

static void
push_stopped (ScClient *self,
              guint generation,
              ScDisconnectReason reason,
              const char *detail)
{
  ScClientEvent *event = g_new0 (ScClientEvent, 1);

  event->generation = generation;
  event->reason = reason;
  event->detail = g_strdup (detail);
  push_event (self, event);
}

/* Server pings are answered here, not by the owner, so that a busy
 * owner does not make a live connection look dead. */
static void
answer_ping (ScClient *self, const ScMessage *ping)
{
  g_autoptr (ScMessage) pong = sc_message_new (SC_MSG_PONG, 0);
  g_autoptr (GBytes) frame = NULL;
  gsize size;
  const guint8 *data;

  pong->token = ping->token;
  frame = sc_message_encode (pong);
  data = g_bytes_get_data (frame, &size);
  /* Only queued: a server that stopped reading cannot hold us here. */
  sc_client_send_frame (self, data, size, NULL);
}

/* Returns FALSE when the stream is broken, with the reason set. */
static gboolean
deliver_frames (ScClient *self,
                guint generation,
                ScDisconnectReason *reason,
                char **detail)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      ScMessage *message;
      ScFrameStatus status =
        sc_frame_reader_next (self->reader, &header, &payload, &error);

      if (status == SC_FRAME_INCOMPLETE)
        return TRUE;
      message = status == SC_FRAME_READY
                  ? sc_message_decode (&header, payload, &error)
                  : NULL;
      if (message == NULL)
        {
          *reason = SC_DISCONNECT_PROTOCOL_ERROR;
          *detail = g_strdup (error->message);
          return FALSE;
        }
      if (message->type == SC_MSG_SERVER_PING)
        answer_ping (self, message);
      if (message->type == SC_MSG_SERVER_SHUTDOWN ||
          message->type == SC_MSG_PROTOCOL_ERROR)
        *reason = SC_DISCONNECT_BY_SERVER;
      push_message (self, generation, message);
    }
}

static gpointer
receiver_thread (gpointer data)
{
  ScClient *self = data;
  guint generation = (guint) g_atomic_int_get (&self->generation);
  ScDisconnectReason reason = SC_DISCONNECT_CONNECTION_LOST;
  g_autofree char *detail = NULL;
  g_autofree char *failure = NULL;

  while (deliver_frames (self, generation, &reason, &detail))
    {
      gsize room;
      guint8 *buffer =
        sc_frame_reader_reserve (self->reader, READ_CHUNK, &room);
      const char *why = NULL;
      ssize_t n = self->tls ? sc_client_tls_recv (self->tls, buffer, room, &why)
                            : recv (self->fd, buffer, room, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          detail = n == 0        ? g_strdup ("the server closed the connection")
                   : why != NULL ? g_strdup_printf ("TLS: %s", why)
                                 : g_strdup (g_strerror (errno));
          break;
        }
      sc_frame_reader_commit (self->reader, (gsize) n);
    }
  /* When the sender gave up (the server stopped reading), its shutdown is
   * what ended recv(); its reason is the real one. */
  failure = sc_client_sender_dup_failure (self->sender);
  if (failure)
    {
      g_free (detail);
      detail = g_steal_pointer (&failure);
    }
  push_stopped (self, generation, reason, detail);
  return NULL;
}

/* Takes the handshake's frame reader (it may hold bytes that arrived
 * after the hello reply) and the messages that came before it. */
void
sc_client_receiver_start (ScClient *self, GPtrArray *early_messages)
{
  guint generation = (guint) g_atomic_int_get (&self->generation);

  for (guint i = 0; early_messages && i < early_messages->len; i++)
    push_message (self, generation,
                  g_steal_pointer (&early_messages->pdata[i]));
  self->receiver = g_thread_new ("sc-receiver", receiver_thread, self);
}

/* Wakes the receiver by shutting down the reading side only, so that
 * what the sender still has queued (acknowledgements) can go out, and
 * waits for it.  The socket stays open until the sender's thread closes
 * it, so its number cannot be reused under the receiver. */
void
sc_client_receiver_stop (ScClient *self)
{
  if (self->receiver == NULL)
    return;
  shutdown (self->fd, SHUT_RD);
  g_thread_join (g_steal_pointer (&self->receiver));
}

static ScClientEvent *
pop_event (ScClient *self)
{
  ScClientEvent *event;

  g_async_queue_lock (self->events);
  SC_HAPPENS_AFTER (self->events);
  event = g_async_queue_try_pop_unlocked (self->events);
  SC_HAPPENS_BEFORE (self->events);
  g_async_queue_unlock (self->events);
  return event;
}

/* Drops the idle once the queue is empty; returns whether it stays. */
static gboolean
finish_dispatch (ScClient *self)
{
  gboolean again;

  g_async_queue_lock (self->events);
  SC_HAPPENS_AFTER (self->events);
  again = g_async_queue_length_unlocked (self->events) > 0;
  if (!again)
    g_clear_pointer (&self->dispatch_idle, g_source_unref);
  SC_HAPPENS_BEFORE (self->events);
  g_async_queue_unlock (self->events);
  return again;
}

static gboolean
dispatch_events (gpointer data)
{
  ScClient *self = g_object_ref (data);
  guint generation = (guint) g_atomic_int_get (&self->generation);
  ScClientEvent *event;
  guint handled = 0;
  gboolean again;

  while (handled < EVENTS_PER_DISPATCH && (event = pop_event (self)) != NULL)
    {
      handled++;
      if (event->generation == generation && event->message)
        sc_client_handle_message (self, g_steal_pointer (&event->message));
      else if (event->generation == generation)
        sc_client_handle_stopped (self, event->reason, event->detail);
      sc_client_event_free (event);
      generation = (guint) g_atomic_int_get (&self->generation);
    }
  sc_client_flush_acks (self);
  again = finish_dispatch (self);
  /* This may dispose of the client, which destroys this source. */
  g_object_unref (self);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void
sc_client_events_init (ScClient *self)
{
  self->events = g_async_queue_new_full ((GDestroyNotify) sc_client_event_free);
}

/* The receiver must be stopped: nothing else attaches the idle now. */
void
sc_client_events_clear (ScClient *self)
{
  if (self->events == NULL)
    return;
  sc_client_events_drop (self);
  if (self->dispatch_idle)
    {
      g_source_destroy (self->dispatch_idle);
      g_clear_pointer (&self->dispatch_idle, g_source_unref);
    }
  g_clear_pointer (&self->events, g_async_queue_unref);
}

/* Drops every queued event; called when a connection ends, so nothing of
 * it reaches the owner afterwards. */
void
sc_client_events_drop (ScClient *self)
{
  ScClientEvent *event;

  while ((event = pop_event (self)) != NULL)
    sc_client_event_free (event);
}
