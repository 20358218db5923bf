/* sc-connection.h: one client socket, owned by one worker for its life.
 *
 * Only the owner reads the socket, serves the client's requests and
 * closes it; nothing here may be called from another worker.  Output is
 * shared through the connection's ScOutbox, which is all the registry
 * hands out to other workers. */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

#include "sc-worker.h"

G_BEGIN_DECLS

ScConnection *
sc_connection_new (ScWorker *worker, int fd, const ScClientInfo *info);
ScConnection *sc_connection_ref (ScConnection *connection);
void sc_connection_unref (ScConnection *connection);

guint32 sc_connection_get_id (ScConnection *connection);
int sc_connection_get_fd (ScConnection *connection);
ScOutbox *sc_connection_get_outbox (ScConnection *connection);
gboolean sc_connection_is_closing (ScConnection *connection);

/* Owner only. */
void sc_connection_start (ScConnection *connection);
void sc_connection_start_tls (ScConnection *connection,
                              gnutls_session_t session);
gboolean sc_connection_is_handshaking (ScConnection *connection);
void sc_connection_on_handshake_event (ScConnection *connection,
                                       guint32 events);
void sc_connection_check_handshake_deadline (ScConnection *connection,
                                             gint64 now);
void sc_connection_on_readable (ScConnection *connection);
void sc_connection_on_hangup (ScConnection *connection);
void sc_connection_serve_buffered (ScConnection *connection);
void sc_connection_tick (ScConnection *connection, gint64 now);
void sc_connection_queue_message (ScConnection *connection,
                                  const ScMessage *message);
void sc_connection_close (ScConnection *connection,
                          ScStatus status,
                          const char *reason);
void sc_connection_close_after_flush (ScConnection *connection,
                                      ScStatus status,
                                      const char *reason);
void sc_connection_close_now_drained (ScConnection *connection);
void sc_connection_turn_away (ScConnection *connection,
                              ScStatus status,
                              const char *reason);
void sc_connection_evict (ScConnection *connection,
                          ScStatus status,
                          const char *reason);
void sc_connection_finish_close (ScConnection *connection);
void sc_connection_set_worker (ScConnection *connection, ScWorker *worker);
ScWorker *sc_connection_take_move (ScConnection *connection);
void sc_connection_moved (ScConnection *connection);

G_END_DECLS
