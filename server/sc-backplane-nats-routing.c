/* sc-backplane-nats-routing.c: messages and receipts between nodes
 * (sc-backplane-nats.c has the whole picture).  A worker's batches go out
 * at the end of its round; a batch from another node is served on the
 * worker its origin maps to, which delivers, answers with receipts and
 * acknowledges the batch.
 *
 * Exactly one outcome per (message, recipient): the origin node keeps a
 * pending entry for each remote recipient and resolves it once, with the
 * receipt that comes back, RECIPIENT_LEFT when the recipient's node dies,
 * or UNREACHABLE once its own link has been down for --receipt-timeout.
 * Whatever comes for an entry already resolved is dropped.
 */
#include "config.h"

#include "sc-backplane-nats-private.h"

#define RECORD_MESSAGE 'M'
#define RECORD_RECEIPT 'R'
#define RECORD_ACK     'A' /* a batch was served: its sequence number */

/* ------------------------------------------------------------------ */
/* Per-thread batches: what a worker routed this round, by node.
 *
 * Every batch has a sequence number, and the node that serves a batch
 * holding messages or receipts answers with an acknowledgement record
 * for it.  Core NATS loses what is in flight when a connection breaks, so
 * the sender keeps what each batch carried until it is acknowledged: past
 * --receipt-timeout, a message's pending receipt fails with UNREACHABLE
 * and a receipt is sent again (the origin drops the duplicate). */

typedef struct
{
  guint8 kind;
  guint32 sender_id;
  guint32 recipient_id;
  guint64 message_id;
  guint16 status;
} SentItem;

struct _InFlight
{
  guint node;
  gint64 deadline;
  GArray *items; /* SentItem */
};

void
sc_nats_in_flight_free (InFlight *in_flight)
{
  g_array_unref (in_flight->items);
  g_free (in_flight);
}

typedef struct
{
  GByteArray *bytes;
  GArray *items; /* SentItem: what must be acknowledged */
  guint64 seq;
  /* It holds a message or a receipt, not only acknowledgements: it goes
   * at the end of the round. */
  gboolean urgent;
} NodeBatch;

static void
node_batch_free (NodeBatch *batch)
{
  g_byte_array_unref (batch->bytes);
  g_array_unref (batch->items);
  g_free (batch);
}

typedef struct
{
  ScBackplaneNats *owner;
  GHashTable *by_node; /* node -> NodeBatch */
  GSource *ack_timer;  /* publishes batches of acknowledgements only */
} Batches;

static void
batches_free (Batches *batches)
{
  if (batches->ack_timer != NULL)
    {
      g_source_destroy (batches->ack_timer);
      g_source_unref (batches->ack_timer);
    }
  g_hash_table_unref (batches->by_node);
  g_free (batches);
}

static GPrivate batches_key = G_PRIVATE_INIT ((GDestroyNotify) batches_free);

static NodeBatch *
batch_for (ScBackplaneNats *self, guint node)
{
  Batches *batches = g_private_get (&batches_key);
  NodeBatch *batch;

  if (batches == NULL || batches->owner != self)
    {
      batches = g_new0 (Batches, 1);
      batches->owner = self;
      batches->by_node = g_hash_table_new_full (
        NULL, NULL, NULL, (GDestroyNotify) node_batch_free);
      g_private_replace (&batches_key, batches);
    }
  batch = g_hash_table_lookup (batches->by_node, GUINT_TO_POINTER (node));
  if (batch == NULL)
    {
      batch = g_new0 (NodeBatch, 1);
      batch->bytes = g_byte_array_sized_new (4096);
      batch->items = g_array_new (FALSE, FALSE, sizeof (SentItem));
      g_hash_table_insert (batches->by_node, GUINT_TO_POINTER (node), batch);
    }
  if (batch->bytes->len == 0)
    {
      batch->seq = __atomic_add_fetch (&self->next_seq, 1, __ATOMIC_RELAXED);
      sc_wire_append_u32 (batch->bytes, self->node);
      sc_wire_append_u64 (batch->bytes, self->incarnation);
      sc_wire_append_u64 (batch->bytes, batch->seq);
    }
  return batch;
}

/* A batch that only acknowledges other batches can wait a little for a
 * message or a receipt to ride with (the origin waits --receipt-timeout
 * for it): in ping-pong traffic every delivery otherwise costs one more
 * publication, and one more wake-up of the origin's NATS client, on the
 * way back.  At most this long; never longer than a tenth of the
 * receipt timeout. */
#define ACK_DELAY_MS 20

static void
publish_batches (ScBackplaneNats *self, Batches *batches, gboolean acks_too);

static gboolean
on_ack_timer (gpointer data)
{
  Batches *batches = data;

  g_clear_pointer (&batches->ack_timer, g_source_unref);
  publish_batches (batches->owner, batches, TRUE);
  return G_SOURCE_REMOVE;
}

/* Whether a batch of acknowledgements only waits: on a worker (a
 * thread with a main context to wake it again), not on the cluster
 * thread. */
static gboolean
defer_acks (ScBackplaneNats *self, Batches *batches)
{
  GMainContext *context = g_main_context_get_thread_default ();
  guint delay = MIN (ACK_DELAY_MS, self->config->receipt_timeout_ms / 10);

  if (context == NULL || delay == 0)
    return FALSE;
  if (batches->ack_timer == NULL)
    {
      batches->ack_timer = g_timeout_source_new (delay);
      g_source_set_callback (batches->ack_timer, on_ack_timer, batches, NULL);
      g_source_attach (batches->ack_timer, context);
    }
  return TRUE;
}

void
sc_nats_flush (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  Batches *batches = g_private_get (&batches_key);

  if (batches == NULL || batches->owner != self)
    return;
  publish_batches (self, batches, FALSE);
}

/* Publishes this thread's batches; those holding acknowledgements only
 * when acks_too, or when they cannot wait. */
static void
publish_batches (ScBackplaneNats *self, Batches *batches, gboolean acks_too)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, batches->by_node);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      NodeBatch *batch = value;
      char subject[128];
      natsStatus s;

      if (batch->bytes->len == 0)
        continue;
      if (!batch->urgent && !acks_too && defer_acks (self, batches))
        continue;
      /* Registered before it goes, so that its acknowledgement cannot
       * come first. */
      if (batch->items->len > 0)
        {
          InFlight *in_flight = g_new0 (InFlight, 1);

          in_flight->node = GPOINTER_TO_UINT (key);
          in_flight->deadline =
            g_get_monotonic_time () +
            (gint64) self->config->receipt_timeout_ms * 1000;
          in_flight->items = batch->items;
          batch->items = g_array_new (FALSE, FALSE, sizeof (SentItem));
          g_mutex_lock (&self->lock);
          g_hash_table_insert (self->in_flight, g_memdup2 (&batch->seq, 8),
                               in_flight);
          g_mutex_unlock (&self->lock);
        }
      g_snprintf (subject, sizeof subject, "%s.node.%u",
                  self->config->cluster_name, GPOINTER_TO_UINT (key));
      s = natsConnection_Publish (self->nc, subject, batch->bytes->data,
                                  (int) batch->bytes->len);
      if (s != NATS_OK)
        g_debug ("cluster: cannot publish to node %u: %s",
                 GPOINTER_TO_UINT (key), natsStatus_GetText (s));
      g_byte_array_set_size (batch->bytes, 0);
      batch->urgent = FALSE;
    }
}

static void
append_receipt (ScBackplaneNats *self,
                guint node,
                guint32 sender_id,
                guint64 message_id,
                guint32 recipient_id,
                ScStatus status)
{
  NodeBatch *batch = batch_for (self, node);
  SentItem item = { RECORD_RECEIPT, sender_id, recipient_id, message_id,
                    (guint16) status };

  sc_wire_append_u8 (batch->bytes, RECORD_RECEIPT);
  sc_wire_append_u32 (batch->bytes, sender_id);
  sc_wire_append_u32 (batch->bytes, recipient_id);
  sc_wire_append_u64 (batch->bytes, message_id);
  sc_wire_append_u16 (batch->bytes, (guint16) status);
  g_array_append_val (batch->items, item);
  batch->urgent = TRUE;
}

/* Cluster thread: batches not acknowledged in time. */
void
sc_nats_check_in_flight (ScBackplaneNats *self)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) expired =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_nats_in_flight_free);
  GArray *outcomes = g_array_new (FALSE, FALSE, sizeof (Outcome));
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->in_flight);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((InFlight *) value)->deadline <= now)
      {
        g_ptr_array_add (expired, value);
        g_hash_table_iter_steal (&iter);
      }
  for (guint i = 0; i < expired->len; i++)
    {
      InFlight *in_flight = g_ptr_array_index (expired, i);

      for (guint j = 0; j < in_flight->items->len; j++)
        {
          SentItem *item = &g_array_index (in_flight->items, SentItem, j);
          PendingKey key = { item->message_id, item->recipient_id };
          Pending *pending;

          if (item->kind != RECORD_MESSAGE)
            continue;
          pending = g_hash_table_lookup (self->pending, &key);
          if (pending != NULL)
            {
              Outcome outcome = { pending->sender_id, key.recipient_id,
                                  key.message_id, SC_STATUS_UNREACHABLE };

              g_array_append_val (outcomes, outcome);
              g_hash_table_remove (self->pending, &key);
            }
        }
    }
  g_mutex_unlock (&self->lock);
  sc_nats_post_outcomes (self, outcomes);
  /* Receipts are sent again while their node lives. */
  for (guint i = 0; i < expired->len; i++)
    {
      InFlight *in_flight = g_ptr_array_index (expired, i);
      gboolean alive;

      g_mutex_lock (&self->lock);
      alive =
        g_hash_table_contains (self->nodes, GUINT_TO_POINTER (in_flight->node));
      g_mutex_unlock (&self->lock);
      for (guint j = 0; alive && j < in_flight->items->len; j++)
        {
          SentItem *item = &g_array_index (in_flight->items, SentItem, j);

          if (item->kind == RECORD_RECEIPT)
            append_receipt (self, in_flight->node, item->sender_id,
                            item->message_id, item->recipient_id, item->status);
        }
    }
  sc_nats_flush (&self->parent);
}

/* ------------------------------------------------------------------ */
/* Routing: worker side. */

ScStatus
sc_nats_route_message (ScBackplane *backplane,
                       guint32 sender_id,
                       guint32 recipient_id,
                       guint64 message_id,
                       GBytes *frame,
                       gboolean receipt)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  RemoteClient *client;
  NodeBatch *batch;
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  guint node;

  g_mutex_lock (&self->lock);
  client = g_hash_table_lookup (self->remote, GUINT_TO_POINTER (recipient_id));
  if (client == NULL)
    {
      g_mutex_unlock (&self->lock);
      return SC_STATUS_RECIPIENT_LEFT;
    }
  if (!link_is_up (self))
    {
      g_mutex_unlock (&self->lock);
      return SC_STATUS_UNREACHABLE;
    }
  node = client->node;
  if (receipt)
    {
      Pending *pending = g_new0 (Pending, 1);

      pending->key.message_id = message_id;
      pending->key.recipient_id = recipient_id;
      pending->sender_id = sender_id;
      pending->node = node;
      pending->incarnation = client->incarnation;
      g_hash_table_replace (self->pending, &pending->key, pending);
    }
  g_mutex_unlock (&self->lock);

  batch = batch_for (self, node);
  sc_wire_append_u8 (batch->bytes, RECORD_MESSAGE);
  sc_wire_append_u32 (batch->bytes, sender_id);
  sc_wire_append_u32 (batch->bytes, recipient_id);
  sc_wire_append_u64 (batch->bytes, message_id);
  sc_wire_append_u8 (batch->bytes, receipt);
  sc_wire_append_u32 (batch->bytes, (guint32) size);
  g_byte_array_append (batch->bytes, data, (guint) size);
  batch->urgent = TRUE;
  if (receipt)
    {
      SentItem item = { RECORD_MESSAGE, sender_id, recipient_id, message_id,
                        0 };

      g_array_append_val (batch->items, item);
    }
  return SC_STATUS_OK;
}

gboolean
sc_nats_route_receipt (ScBackplane *backplane,
                       guint32 sender_id,
                       guint64 message_id,
                       guint32 recipient_id,
                       ScStatus status)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  gpointer node_value;
  RemoteClient *client;
  guint node;

  g_mutex_lock (&self->lock);
  if (g_hash_table_lookup_extended (self->routes, GUINT_TO_POINTER (sender_id),
                                    NULL, &node_value))
    node = GPOINTER_TO_UINT (node_value);
  else if ((client =
              g_hash_table_lookup (self->remote, GUINT_TO_POINTER (sender_id))))
    node = client->node;
  else
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  g_mutex_unlock (&self->lock);

  append_receipt (self, node, sender_id, message_id, recipient_id, status);
  return TRUE;
}

/* A receipt came back for a pending entry: resolved here, once. */
static void
resolve_receipt (ScBackplaneNats *self,
                 ScWorker *worker,
                 guint32 sender_id,
                 guint32 recipient_id,
                 guint64 message_id,
                 ScStatus status)
{
  PendingKey key = { message_id, recipient_id };
  g_autoptr (ScOutbox) sender = NULL;
  gboolean found;

  g_mutex_lock (&self->lock);
  found = g_hash_table_remove (self->pending, &key);
  g_mutex_unlock (&self->lock);
  if (!found)
    return; /* a duplicate, or resolved already by a node's death */
  sender = sc_registry_lookup_ready (self->parent.server->registry, sender_id);
  if (sender != NULL)
    sc_outbox_owe_receipt (sender, message_id, recipient_id, status, worker);
}

typedef struct
{
  ScBackplaneNats *self;
  GBytes *bytes;
} Arrival;

static void
arrival_free (Arrival *arrival)
{
  g_bytes_unref (arrival->bytes);
  g_free (arrival);
}

/* A batch from another node, on the worker its origin maps to. */
static void
serve_batch (ScWorker *worker, gpointer data)
{
  Arrival *arrival = data;
  ScBackplaneNats *self = arrival->self;
  ScServer *server = self->parent.server;
  Reader reader = { { 0 }, FALSE };
  gsize size;
  const guint8 *bytes = g_bytes_get_data (arrival->bytes, &size);
  guint origin;
  guint64 seq;
  gboolean answer = FALSE;

  sc_wire_reader_init (&reader.wire, bytes, size);
  origin = get_u32 (&reader);
  get_u64 (&reader);
  seq = get_u64 (&reader);
  while (!reader_done (&reader))
    {
      guint8 kind = get_u8 (&reader);
      guint32 sender_id = get_u32 (&reader);
      guint32 recipient_id = get_u32 (&reader);
      guint64 message_id = get_u64 (&reader);

      if (kind == RECORD_MESSAGE || kind == RECORD_RECEIPT)
        answer = TRUE;
      if (kind == RECORD_MESSAGE)
        {
          gboolean receipt = get_u8 (&reader);
          guint32 length = get_u32 (&reader);
          gsize offset = reader.wire.pos;
          g_autoptr (GBytes) frame = NULL;
          g_autoptr (ScOutbox) recipient = NULL;
          ScStatus status = SC_STATUS_RECIPIENT_LEFT;

          skip (&reader, length);
          if (reader.bad)
            break;
          g_mutex_lock (&self->lock);
          g_hash_table_insert (self->routes, GUINT_TO_POINTER (sender_id),
                               GUINT_TO_POINTER (origin));
          g_mutex_unlock (&self->lock);
          frame = g_bytes_new_from_bytes (arrival->bytes, offset, length);
          recipient = sc_registry_lookup_ready (server->registry, recipient_id);
          if (recipient != NULL)
            status = sc_outbox_deliver (recipient, frame, message_id, sender_id,
                                        receipt, worker);
          if (status != SC_STATUS_OK && receipt)
            sc_nats_route_receipt (&self->parent, sender_id, message_id,
                                   recipient_id, status);
        }
      else if (kind == RECORD_ACK)
        {
          g_mutex_lock (&self->lock);
          g_hash_table_remove (self->in_flight, &message_id);
          g_mutex_unlock (&self->lock);
          continue;
        }
      else if (kind == RECORD_RECEIPT)
        {
          ScStatus status = get_u16 (&reader);

          if (!reader.bad)
            resolve_receipt (self, worker, sender_id, recipient_id, message_id,
                             status);
        }
      else
        reader.bad = TRUE;
    }
  if (reader.bad)
    g_warning ("cluster: a malformed batch from node %u", origin);
  else if (answer)
    {
      NodeBatch *batch = batch_for (self, origin);

      /* Acknowledgements are not acknowledged. */
      sc_wire_append_u8 (batch->bytes, RECORD_ACK);
      sc_wire_append_u32 (batch->bytes, 0);
      sc_wire_append_u32 (batch->bytes, 0);
      sc_wire_append_u64 (batch->bytes, seq);
    }
}

/* libnats thread. */
void
sc_nats_on_route (natsConnection *nc,
                  natsSubscription *sub,
                  natsMsg *msg,
                  void *closure)
{
  ScBackplaneNats *self = closure;
  Arrival *arrival = g_new0 (Arrival, 1);
  int length = natsMsg_GetDataLength (msg);
  guint32 origin = 0;

  arrival->self = self;
  arrival->bytes = g_bytes_new (natsMsg_GetData (msg), (gsize) length);
  if (length >= 4)
    {
      memcpy (&origin, natsMsg_GetData (msg), 4);
      origin = GUINT32_FROM_BE (origin);
    }
  natsMsg_Destroy (msg);
  sc_nats_post_call (self, origin, serve_batch, arrival,
                     (GDestroyNotify) arrival_free);
}
