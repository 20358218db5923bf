/* sc-peer.h: another client of the server, as the client core reports
 * it: a boxed value, independent of the wire format.
 *
 * A client id is unique on one server run only; after a restart the same
 * number may belong to someone else.  sc_peer_same_person() compares id
 * and connection time together, which does not repeat. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct
{
  guint32 id;
  char *nickname; /* "" when the client has none */
  char *address;  /* as the server saw it */
  guint16 port;
  gint64 connected_since_ms; /* Unix time in milliseconds */
} ScPeer;

#define SC_TYPE_PEER (sc_peer_get_type ())
GType sc_peer_get_type (void) G_GNUC_CONST;

ScPeer *sc_peer_new (guint32 id,
                     const char *nickname,
                     const char *address,
                     guint16 port,
                     gint64 connected_since_ms);
ScPeer *sc_peer_copy (const ScPeer *peer);
void sc_peer_free (ScPeer *peer);
gboolean sc_peer_same_person (const ScPeer *a, const ScPeer *b);
char *sc_peer_describe (const ScPeer *peer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScPeer, sc_peer_free)

G_END_DECLS
