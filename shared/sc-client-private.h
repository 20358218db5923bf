/* sc-client-private.h: shared by sc-client.c (the owner's side: requests,
 * signals, life cycle) and sc-client-receiver.c (the receiver thread and
 * the hand-over queue). */
#pragma once

#include "sc-client.h"
#include "sc-frame-reader.h"

G_BEGIN_DECLS

/* One item of the hand-over queue. */
typedef struct
{
  guint generation;   /* the connection it belongs to */
  ScMessage *message; /* NULL: the receiver stopped */
  ScDisconnectReason reason;
  char *detail;
} ScClientEvent;

struct _ScClient
{
  GObject parent_instance;

  GMainContext *owner;
  char *program_name;
  ScClientState state;
  char *host;
  guint16 port;
  char *nickname;
  char *password; /* sent in HELLO when set */
  ScMessage *greeting;
  guint32 id;
  gint64 rtt_us;
  guint request_timeout_ms;
  guint heartbeat_interval_s;

  /* The socket.  Written by the owner (requests, acknowledgements) and by
   * the receiver (pongs), so every send holds send_lock. */
  int fd;
  GMutex send_lock;
  GThread *receiver;
  ScFrameReader *reader; /* the receiver's, once it runs */

  /* Hand-over from the receiver to the owner. */
  GAsyncQueue *events;
  GSource *dispatch_source;
  gint dispatch_scheduled; /* atomic */
  guint generation;        /* atomic reads from the receiver */

  guint32 next_request_id;
  GHashTable *pending; /* request id -> GTask */
  GSource *heartbeat_source;
  GByteArray *ack_batch;
};

void sc_client_receiver_start (ScClient *self, GPtrArray *early_messages);
void sc_client_receiver_stop (ScClient *self);
void sc_client_events_attach (ScClient *self);
void sc_client_events_detach (ScClient *self);
void sc_client_events_drop (ScClient *self);
void sc_client_event_free (ScClientEvent *event);
gboolean sc_client_send_frame (ScClient *self,
                               const guint8 *data,
                               gsize length,
                               GError **error);

/* In sc-client.c: the owner handles what the receiver delivered. */
void sc_client_handle_message (ScClient *self, ScMessage *message);
void sc_client_handle_stopped (ScClient *self,
                               ScDisconnectReason reason,
                               const char *detail);
void sc_client_flush_acks (ScClient *self);

G_END_DECLS
