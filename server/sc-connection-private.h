/* sc-connection-private.h: shared by sc-connection.c (input and life
 * cycle) and sc-connection-requests.c (what each request does), both run
 * by the owning worker alone.  The output side, which any worker may use,
 * is the connection's ScOutbox (sc-outbox.c). */
#pragma once

#include "sc-connection.h"
#include "sc-frame-reader.h"
#include "sc-outbox.h"

G_BEGIN_DECLS

struct _ScConnection
{
  /* Set at creation, then read-only. */
  ScWorker *worker; /* the owner */
  ScServer *server;
  ScOutbox *outbox; /* the output side, shared with every worker */

  /* Owner only: touched by the owning worker's thread alone. */
  int fd; /* for reading; the outbox writes and closes it */
  /* The TLS session (the outbox owns it) for reading, or NULL. */
  gnutls_session_t tls;
  gboolean handshaking; /* TLS: no frame in either direction yet */
  gboolean got_bytes;   /* anything read yet (a ClientHello on the plain
                           port shows in the first bytes) */
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
  /* Fan-out budget: requests whose cost grows with the number of clients
   * (broadcasts, list pages) spend these; see charge_fanout(). */
  double fanout_tokens;
  gint64 fanout_refilled_at;
  gboolean throttled;     /* input paused until the fan-out budget refills */
  gboolean auth_waiting;  /* a password attempt is admitted, not answered */
  gboolean claim_waiting; /* its nickname's holder is leaving: input paused */
  char *account_key;      /* the account whose password it gave, as a key */
  ScAuthTicket auth_ticket;
  gint64 frame_started_at; /* first byte of a frame not yet complete; 0 */
  ScOutbox *peer_cache;    /* the last client looked up: see find_ready() */

  /* Affinity: the client it has been talking to, how many messages in a
   * row, and where it asked to move (see sc_connection_note_peer()). */
  guint32 talk_peer;
  guint talk_count;
  gint64 moved_at;
  ScWorker *move_to;
};

void sc_connection_note_peer (ScConnection *connection, guint32 peer_id);

/* sc-connection-claim.c */
typedef enum
{
  SC_CLAIM_TAKEN,   /* the client now holds the nickname */
  SC_CLAIM_REFUSED, /* someone else does; NICKNAME_IN_USE was replied */
  SC_CLAIM_GONE,    /* the client closed while the claim waited */
} ScClaimOutcome;

typedef void (*ScClaimDone) (ScConnection *connection,
                             const ScMessage *request,
                             ScClaimOutcome outcome);
void sc_connection_claim_nickname (ScConnection *connection,
                                   const ScMessage *request,
                                   ScClaimDone done);

/* sc-connection-login.c */
ScMessage *sc_connection_copy_request (const ScMessage *request);
gboolean sc_connection_read_tls (ScConnection *connection);
void sc_connection_reject_client_hello (ScConnection *connection);
void sc_connection_account_reader (ScConnection *connection);

void sc_connection_pause_input (ScConnection *connection);
void sc_connection_throttle (ScConnection *connection, guint delay_ms);
void sc_connection_resume_input (ScConnection *connection);
void sc_connection_serve_final_acks (ScConnection *connection);
ScOutbox *sc_connection_find_ready (ScConnection *connection, guint32 id);
void sc_connection_owe_receipt (ScConnection *connection,
                                guint32 sender_id,
                                guint64 message_id,
                                ScStatus status);
void sc_connection_fail_unacked (ScConnection *connection,
                                 GHashTable *unacked,
                                 ScStatus status);
void sc_connection_notify_everyone (ScConnection *from,
                                    const ScMessage *message);
void sc_connection_handle_hello (ScConnection *connection,
                                 const ScMessage *hello);
void sc_connection_handle_set_nickname (ScConnection *connection,
                                        const ScMessage *request);
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
