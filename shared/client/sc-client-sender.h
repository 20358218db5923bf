/* sc-client-sender.h: the client core's output queue and the thread that
 * writes it.
 *
 * Any thread may append a frame; only the sender's own thread writes to
 * the socket, so no caller ever waits on the network.  The sender also
 * decides when the connection has stalled: if the socket takes no bytes
 * for the send timeout, or the queue grows past its cap, it records why,
 * shuts the socket down (which wakes the receiver) and refuses further
 * frames.  The socket is closed by the sender's thread, after its owner
 * has called sc_client_sender_close(), so that its number cannot be
 * reused while the receiver may still read it.
 */
#pragma once

#include <glib.h>

#include "sc-client-tls.h"

G_BEGIN_DECLS

typedef struct _ScClientSender ScClientSender;

ScClientSender *
sc_client_sender_new (int fd, guint timeout_ms, gsize max_queued);
ScClientSender *sc_client_sender_new_tls (int fd,
                                          ScClientTls *tls,
                                          guint timeout_ms,
                                          gsize max_queued);
ScClientSender *sc_client_sender_ref (ScClientSender *self);
gboolean sc_client_sender_wait_closed (ScClientSender *self, guint timeout_ms);
void sc_client_sender_unref (ScClientSender *self);
gboolean sc_client_sender_push (ScClientSender *self,
                                const guint8 *data,
                                gsize length,
                                GError **error);
gsize sc_client_sender_get_queued (ScClientSender *self);
char *sc_client_sender_dup_failure (ScClientSender *self);
void sc_client_sender_close (ScClientSender *self, gboolean drain);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScClientSender, sc_client_sender_unref)

G_END_DECLS
