/* sc-connection-private.h: shared by sc-connection.c (input and life
 * cycle), sc-connection-output.c (the output side, which any worker may
 * use) and sc-connection-requests.c (what each request does). */
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
} ScPendingAck;

struct _ScConnection
{
  /* Set at creation, then read-only. */
  ScWorker *worker; /* the owner */
  ScServer *server;
  int fd;

  /* Owner only: touched by the owning worker's thread alone. */
  ScClientInfo info;
  ScFrameReader *reader;
  gboolean ready;   /* said hello */
  gboolean closing; /* no more input; freed after the round */
  gboolean peer_eof;
  gboolean close_after_flush;
  gboolean input_paused; /* a failed password waits out its delay */
  gboolean input_scheduled;
  ScStatus close_status;
  char *close_reason;
  gint64 connected_at;  /* monotonic, microseconds */
  gint64 last_activity; /* monotonic, microseconds */
  guint64 ping_token;   /* non-zero while a server ping is unanswered */
  gint64 ping_sent_at;
  gboolean auth_waiting; /* a password attempt is admitted, not answered */
  ScAuthTicket auth_ticket;
  gint64 frame_started_at; /* first byte of a frame not yet complete; 0 */

  /* The output side.  Any worker may queue frames for this client and
   * write them to its socket, so all of this is guarded by out_lock.
   * Nobody holds two connections' locks at once. */
  GMutex out_lock;
  gboolean output_open; /* FALSE once closing: frames are refused */
  gboolean overflowed;  /* closed for passing the output cap */
  gboolean want_input;  /* mirrors the owner's input state for epoll */
  gboolean watching_output;
  gboolean close_when_drained;
  ScWorker *flush_by; /* the worker that will flush it next, if any */
  GByteArray *out;
  gsize out_head;      /* bytes of @out already sent */
  GHashTable *unacked; /* message id -> ScPendingAck, created on use */
};

void sc_connection_output_init (ScConnection *connection);
void sc_connection_output_clear (ScConnection *connection);
void sc_connection_output_close (ScConnection *connection);
void sc_connection_set_input (ScConnection *connection, gboolean want_input);
void sc_connection_trim_output (ScConnection *connection);
void sc_connection_close_socket (ScConnection *connection,
                                 gboolean send_rest,
                                 GHashTable **unacked);
void sc_connection_set_close_when_drained (ScConnection *connection);

void sc_connection_pause_input (ScConnection *connection);
void sc_connection_resume_input (ScConnection *connection);
void sc_connection_serve_final_acks (ScConnection *connection);
void sc_connection_send_receipt (ScWorker *current,
                                 guint32 sender_id,
                                 guint64 message_id,
                                 guint32 recipient_id,
                                 ScStatus status,
                                 const char *reason);
void sc_connection_notify_everyone (ScConnection *from,
                                    const ScMessage *message);
void sc_connection_handle_message (ScConnection *connection,
                                   ScMessage *message);
void sc_connection_reply (ScConnection *connection,
                          const ScMessage *request,
                          ScStatus status,
                          const char *reason);
void sc_connection_protocol_error (ScConnection *connection,
                                   ScStatus status,
                                   const char *reason);
const char *sc_connection_public_reason (ScConnection *connection);

G_END_DECLS
