/* sc-connection.h: one client socket, owned by one worker for its life.
 *
 * The owner reads the socket and serves the client's requests.  Output is
 * shared: any worker may queue a frame for the client and write it to the
 * socket itself, so that a message crosses from one worker's client to
 * another's without waking the other worker's thread. */
#pragma once

#include <glib.h>

#include "sc-worker.h"

G_BEGIN_DECLS

ScConnection *
sc_connection_new (ScWorker *worker, int fd, const ScClientInfo *info);
ScConnection *sc_connection_ref (ScConnection *connection);
void sc_connection_unref (ScConnection *connection);

guint32 sc_connection_get_id (ScConnection *connection);
int sc_connection_get_fd (ScConnection *connection);
ScWorker *sc_connection_get_worker (ScConnection *connection);
gboolean sc_connection_is_ready (ScConnection *connection);
gboolean sc_connection_is_closing (ScConnection *connection);

/* Owner only. */
void sc_connection_start (ScConnection *connection);
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

/* Any worker; @current is the calling thread's worker. */
gboolean sc_connection_send_frame (ScConnection *connection,
                                   GBytes *frame,
                                   ScWorker *current);
ScStatus sc_connection_deliver (ScConnection *connection,
                                GBytes *frame,
                                guint64 message_id,
                                guint32 sender_id,
                                ScWorker *current);
gboolean sc_connection_take_pending_ack (ScConnection *connection,
                                         guint64 message_id,
                                         guint32 *sender_id);
void sc_connection_flush (ScConnection *connection, ScWorker *current);

G_END_DECLS
