/* sc-client-private.h: shared by sc-client.c (the owner's side: life
 * cycle, sending, signals), sc-client-requests.c (the requests) and
 * sc-client-receiver.c (the receiver thread and the hand-over queue). */
#pragma once

#include "sc-client-sender.h"
#include "sc-client-tls.h"
#include "sc-client.h"
#include "sc-frame-reader.h"
#include "sc-message.h"

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
  guint send_timeout_ms;

  /* TLS settings, and what the last TLS handshake showed (also after it
   * was refused, so a program can show the fingerprint). */
  gboolean use_tls;
  gboolean trust_new;
  gboolean allow_plaintext_password;
  char *accepted_fingerprint;
  char *known_servers_path; /* NULL: the default one */
  char *tls_fingerprint;
  ScTlsTrust tls_trust;

  /* The socket.  The receiver thread reads it; every write goes through
   * the sender's queue, which the owner (requests, acknowledgements) and
   * the receiver (pongs) append to and only the sender's thread writes.
   * Set before the receiver starts, cleared after it is joined. */
  int fd;
  ScClientTls *tls; /* the sender's, which frees it; NULL when plain */
  ScClientSender *sender;
  /* The last connection's sender, still closing it: the next connection
   * waits for that (sc-client.c, connecting). */
  ScClientSender *last_sender;
  GThread *receiver;
  ScFrameReader *reader; /* the receiver's, once it runs */

  /* Hand-over from the receiver to the owner: an idle source is attached
   * to the owner's context whenever the queue goes from empty to busy,
   * and stays until a dispatch leaves it empty.  dispatch_idle is
   * guarded by the queue's lock. */
  GAsyncQueue *events;
  GSource *dispatch_idle;
  guint generation; /* atomic reads from the receiver */

  guint32 next_request_id;
  GHashTable *pending; /* request id -> GTask */
  GSource *heartbeat_source;
  GArray *ack_ids; /* guint64: shown, acknowledged at the end of a batch */
};

void sc_client_receiver_start (ScClient *self, GPtrArray *early_messages);
void sc_client_receiver_stop (ScClient *self);
void sc_client_events_init (ScClient *self);
void sc_client_events_clear (ScClient *self);
void sc_client_events_drop (ScClient *self);
void sc_client_event_free (ScClientEvent *event);
gboolean sc_client_send_frame (ScClient *self,
                               const guint8 *data,
                               gsize length,
                               GError **error);

/* A request waiting for its response. */
typedef struct _PendingRequest PendingRequest;
/* Returns TRUE when it kept @pending (filed again under a new request
 * id, or freed by a failed submit()), FALSE when the caller frees it. */
typedef gboolean (*ReplyHandler) (ScClient *self,
                                  PendingRequest *pending,
                                  ScMessage *reply);

struct _PendingRequest
{
  GTask *task;
  guint32 request_id;
  GSource *timeout;
  ReplyHandler on_reply;
  GPtrArray *pages; /* list requests: entries so far */
  gint64 sent_at;
  GSource *cancel_source; /* the task's GCancellable, in the owner */
};

PendingRequest *sc_client_new_pending (ScClient *self,
                                       gpointer source_tag,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
void
sc_client_submit (ScClient *self, PendingRequest *pending, ScMessage *request);
gboolean sc_client_return_reply (ScClient *self,
                                 PendingRequest *pending,
                                 ScMessage *reply);
void sc_client_pending_free (PendingRequest *pending);
void sc_client_take_nickname (ScClient *self, char *nickname);
ScPeer *sc_peer_new_from_info (const ScClientInfo *info);
void sc_client_set_rtt (ScClient *self, gint64 rtt_us);

/* In sc-client.c: the owner handles what the receiver delivered. */
void sc_client_handle_message (ScClient *self, ScMessage *message);
void sc_client_handle_stopped (ScClient *self,
                               ScDisconnectReason reason,
                               const char *detail);
void sc_client_flush_acks (ScClient *self);

G_END_DECLS
