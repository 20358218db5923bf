/* sc-outbox.h: the part of a client connection that every worker may use.
 *
 * The rule "any worker may append to a client's output; only its owner
 * reads, serves and closes it" is this type: the registry hands out
 * outboxes, never connections, so owner-only state (the frame reader, the
 * heartbeat, the request handlers) cannot be reached from another worker.
 *
 * An outbox holds, under one lock: the output queue, the table of
 * messages delivered and not yet acknowledged (whom to send the receipt
 * to), the receipts owed to this client (written as the client reads), and
 * the write side of the socket.  Everything it holds is charged to the
 * server's memory budget.
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

#include "sc-message.h"
#include "sc-server-private.h"

G_BEGIN_DECLS

typedef struct _ScOutbox ScOutbox;
typedef struct _ScWorker ScWorker;

/* A message delivered and not yet acknowledged: whom to tell.  The values
 * of the table sc_outbox_close_socket() hands back. */
typedef struct
{
  guint64 message_id;
  guint32 sender_id;
} ScPendingAck;

/* What a message waiting for its acknowledgement costs in the unacked
 * table, for the memory budget: a hash node plus the entry. */
#define SC_OUTBOX_UNACKED_COST 64
/* What one owed receipt costs until it is written. */
#define SC_OUTBOX_OWED_COST 16

ScOutbox *sc_outbox_new (
  ScServer *server, ScWorker *owner, guint32 id, int fd, gpointer epoll_tag);
void sc_outbox_set_tls (ScOutbox *outbox, gnutls_session_t session);
gnutls_session_t sc_outbox_get_tls (ScOutbox *outbox);
void sc_outbox_tls_wait (ScOutbox *outbox, gboolean for_output);
void sc_outbox_tls_established (ScOutbox *outbox);
ScOutbox *sc_outbox_ref (ScOutbox *outbox);
void sc_outbox_unref (ScOutbox *outbox);

guint32 sc_outbox_get_id (ScOutbox *outbox);
ScWorker *sc_outbox_get_owner (ScOutbox *outbox);
void sc_outbox_set_owner (ScOutbox *outbox, ScWorker *owner);
void sc_outbox_watch_from (ScOutbox *outbox, ScWorker *owner);
gsize sc_outbox_get_held (ScOutbox *outbox);
gboolean sc_outbox_is_open (ScOutbox *outbox);
gboolean sc_outbox_peer_has_left (ScOutbox *outbox);
gsize sc_outbox_get_unacked (ScOutbox *outbox);
gsize sc_outbox_get_owed (ScOutbox *outbox);

/* Any worker; @current is the calling thread's worker. */
gboolean
sc_outbox_send_frame (ScOutbox *outbox, GBytes *frame, ScWorker *current);
gboolean sc_outbox_send_message (ScOutbox *outbox,
                                 const ScMessage *message,
                                 ScWorker *current);
ScStatus sc_outbox_deliver (ScOutbox *outbox,
                            GBytes *frame,
                            guint64 message_id,
                            guint32 sender_id,
                            gboolean receipt,
                            ScWorker *current);
ScStatus sc_outbox_reserve (ScOutbox *outbox, guint64 message_id, gsize size);
ScStatus sc_outbox_deliver_reserved (ScOutbox *outbox,
                                     GBytes *frame,
                                     guint64 message_id,
                                     guint32 sender_id,
                                     gboolean receipt,
                                     ScWorker *current);
gboolean sc_outbox_take_pending_ack (ScOutbox *outbox,
                                     guint64 message_id,
                                     guint32 *sender_id);
void sc_outbox_owe_receipt (ScOutbox *outbox,
                            guint64 message_id,
                            guint32 recipient_id,
                            ScStatus status,
                            ScWorker *current);
void sc_outbox_flush (ScOutbox *outbox, ScWorker *current);
void sc_outbox_drop (ScOutbox *outbox,
                     ScWorker *current,
                     ScStatus status,
                     const char *reason);

/* Owner only. */
void sc_outbox_set_batch_receipts (ScOutbox *outbox, gboolean batches);
void sc_outbox_set_input (ScOutbox *outbox, gboolean want_input);
void sc_outbox_set_reader_held (ScOutbox *outbox, gsize bytes);
void sc_outbox_close (ScOutbox *outbox);
gboolean sc_outbox_overflowed (ScOutbox *outbox);
void sc_outbox_close_when_drained (ScOutbox *outbox);
void sc_outbox_trim (ScOutbox *outbox);
gboolean sc_outbox_stalled (ScOutbox *outbox, gint64 now, gint64 limit_us);
GHashTable *sc_outbox_close_socket (ScOutbox *outbox, gboolean send_rest);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScOutbox, sc_outbox_unref)

G_END_DECLS
