/* sc-connection-private.h: shared by sc-connection.c (input, output,
 * life cycle) and sc-connection-requests.c (what each request does). */
#pragma once

#include "sc-connection.h"
#include "sc-frame-reader.h"

G_BEGIN_DECLS

/* A message delivered to this connection and not yet acknowledged: whom
 * to send the receipt to. */
typedef struct
{
  guint64 message_id;
  guint32 sender_id;
  guint sender_worker;
} ScPendingAck;

struct _ScConnection
{
  ScWorker *worker;
  ScServer *server;
  int fd;
  ScClientInfo info;

  ScFrameReader *reader;
  GByteArray *out;
  gsize out_head; /* bytes of @out already sent */

  gboolean ready;   /* said hello */
  gboolean closing; /* no more input or output; freed after the round */
  gboolean peer_eof;
  gboolean input_paused; /* a failed password waits out its delay */
  gboolean close_after_flush;
  gboolean watching_output;
  gboolean flush_scheduled;
  gboolean input_scheduled;
  ScStatus close_status;
  char *close_reason;

  gint64 connected_at;  /* monotonic, microseconds */
  gint64 last_activity; /* monotonic, microseconds */
  guint64 ping_token;   /* non-zero while a server ping is unanswered */
  gint64 ping_sent_at;

  GHashTable *unacked; /* message id -> ScPendingAck */
};

void sc_connection_pause_input (ScConnection *connection);
void sc_connection_handle_message (ScConnection *connection,
                                   ScMessage *message);
void sc_connection_reply (ScConnection *connection,
                          const ScMessage *request,
                          ScStatus status,
                          const char *reason);
void sc_connection_protocol_error (ScConnection *connection,
                                   ScStatus status,
                                   const char *reason);
void sc_connection_send_receipt (ScWorker *worker,
                                 guint32 sender_id,
                                 guint sender_worker,
                                 guint64 message_id,
                                 guint32 recipient_id,
                                 ScStatus status,
                                 const char *reason);

G_END_DECLS
