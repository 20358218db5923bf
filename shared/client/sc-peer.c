/* sc-peer.c: ScPeer, another client as the client core reports it. */
#include "config.h"

#include "sc-client-private.h"
#include "sc-peer.h"

G_DEFINE_BOXED_TYPE (ScPeer, sc_peer, sc_peer_copy, sc_peer_free)

/* @nickname and @address may be NULL. */
ScPeer *
sc_peer_new (guint32 id,
             const char *nickname,
             const char *address,
             guint16 port,
             gint64 connected_since_ms)
{
  ScPeer *peer = g_new0 (ScPeer, 1);

  peer->id = id;
  peer->nickname = g_strdup (nickname ? nickname : "");
  peer->address = g_strdup (address ? address : "");
  peer->port = port;
  peer->connected_since_ms = connected_since_ms;
  return peer;
}

ScPeer *
sc_peer_copy (const ScPeer *peer)
{
  g_return_val_if_fail (peer != NULL, NULL);
  return sc_peer_new (peer->id, peer->nickname, peer->address, peer->port,
                      peer->connected_since_ms);
}

void
sc_peer_free (ScPeer *peer)
{
  if (peer == NULL)
    return;
  g_free (peer->nickname);
  g_free (peer->address);
  g_free (peer);
}

/* The same client of the same server run: same id, same connection
 * time.  A nickname may change; that is still the same person. */
gboolean
sc_peer_same_person (const ScPeer *a, const ScPeer *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  return a->id == b->id && a->connected_since_ms == b->connected_since_ms;
}

/* "#4 alice" or "#4". */
char *
sc_peer_describe (const ScPeer *peer)
{
  g_return_val_if_fail (peer != NULL, NULL);
  if (*peer->nickname)
    return g_strdup_printf ("#%u %s", peer->id, peer->nickname);
  return g_strdup_printf ("#%u", peer->id);
}

/* The wire struct in, the public value out; only the client core reads
 * wire structs. */
ScPeer *
sc_peer_new_from_info (const ScClientInfo *info)
{
  return sc_peer_new (info->id, info->nickname, info->address, info->port,
                      info->connected_since_ms);
}
