/* sc-connection-claim.c: taking a nickname for a client (HELLO or
 * SET_NICKNAME), unless another client holds it or one confusable with
 * it (docs/PROTOCOL.md, 5.5).
 *
 * A client that closes its connection and at once opens another under
 * the same nickname can find its old connection still holding it: the
 * end of stream reached the kernel before the new HELLO, but the old
 * connection's worker has not read it yet, or is still sending what the
 * old connection was owed.  Refusing with NICKNAME_IN_USE would fail a
 * client that did everything right.  So when the holder has already left
 * from its side (sc_outbox_peer_has_left()), the claim waits for it to be
 * gone, retried every CLAIM_RETRY_MS for at most CLAIM_WAIT_MS, and
 * nothing else the claiming client sends is read meanwhile. */
#include "config.h"

#include "sc-connection-private.h"
#include "sc-nickname.h"

#define CLAIM_RETRY_MS 5
#define CLAIM_WAIT_MS  1000

typedef enum
{
  HOLDER_NONE,    /* claimed */
  HOLDER_STAYS,   /* held by a client that is connected */
  HOLDER_LEAVING, /* held by a client whose connection has ended */
} Holder;

/* A claim waiting for a holder to leave. */
typedef struct
{
  ScConnection *connection;
  ScMessage *request; /* a copy */
  ScClaimDone done;
  gint64 deadline;
} Claim;

/* Makes the client ready under the request's nickname ("" for none), or
 * renames it, unless someone holds that nickname: then @holder is theirs. */
static Holder
try_claim (ScConnection *connection, const char *nickname, char **holder)
{
  ScServer *server = connection->server;
  g_auto (GStrv) looks =
    nickname[0] != '\0' ? sc_nickname_looks (nickname) : NULL;
  g_autoptr (ScOutbox) outbox = NULL;

  /* Another node's client first, as this node last heard of them (a
   * claim on two nodes within the directory's delay can still pass on
   * both, docs/CLUSTER.md). */
  for (guint i = 0; looks != NULL && looks[i] != NULL && *holder == NULL; i++)
    *holder = sc_backplane_nickname_holder (server->backplane, looks[i]);
  if (*holder != NULL)
    return HOLDER_STAYS;
  if (sc_registry_set_ready (server->registry, connection->info.id, nickname,
                             (const char *const *) looks, holder))
    return HOLDER_NONE;
  outbox = sc_registry_lookup_holder (
    server->registry, (const char *const *) looks, connection->info.id);
  return outbox != NULL && sc_outbox_peer_has_left (outbox) ? HOLDER_LEAVING
                                                            : HOLDER_STAYS;
}

static void
refuse_in_use (ScConnection *connection,
               const ScMessage *request,
               const char *holder)
{
  g_autofree char *key = sc_nickname_key (request->nickname);
  g_autofree char *holder_key = sc_nickname_key (holder);
  g_autofree char *why = NULL;

  if (g_str_equal (key, holder_key))
    why = g_strdup_printf ("the nickname “%s” is in use", holder);
  else
    why =
      g_strdup_printf ("the nickname looks like “%s”, which is in use", holder);
  sc_connection_reply (connection, request, SC_STATUS_NICKNAME_IN_USE, why);
}

static void
claim_free (Claim *claim)
{
  sc_connection_unref (claim->connection);
  sc_message_free (claim->request);
  g_free (claim);
}

static gboolean
retry_claim (gpointer data)
{
  Claim *claim = data;
  ScConnection *connection = claim->connection;
  g_autofree char *holder = NULL;
  Holder result;

  if (connection->closing || connection->close_after_flush)
    {
      connection->claim_waiting = FALSE;
      claim->done (connection, claim->request, SC_CLAIM_GONE);
      return G_SOURCE_REMOVE;
    }
  result = try_claim (connection, claim->request->nickname, &holder);
  if (result == HOLDER_LEAVING && g_get_monotonic_time () < claim->deadline)
    return G_SOURCE_CONTINUE;
  connection->claim_waiting = FALSE;
  if (result != HOLDER_NONE)
    refuse_in_use (connection, claim->request, holder);
  claim->done (connection, claim->request,
               result == HOLDER_NONE ? SC_CLAIM_TAKEN : SC_CLAIM_REFUSED);
  if (!connection->closing && !connection->close_after_flush)
    sc_connection_resume_input (connection);
  return G_SOURCE_REMOVE;
}

static void
wait_for_holder (ScConnection *connection,
                 const ScMessage *request,
                 ScClaimDone done)
{
  Claim *claim = g_new0 (Claim, 1);
  g_autoptr (GSource) timer = g_timeout_source_new (CLAIM_RETRY_MS);

  g_debug ("client %u: “%s” is held by a client that has left; waiting",
           connection->info.id, request->nickname);
  claim->connection = sc_connection_ref (connection);
  claim->request = sc_connection_copy_request (request);
  claim->done = done;
  claim->deadline = g_get_monotonic_time () + CLAIM_WAIT_MS * 1000;
  connection->claim_waiting = TRUE;
  sc_connection_pause_input (connection);
  g_source_set_callback (timer, retry_claim, claim,
                         (GDestroyNotify) claim_free);
  g_source_attach (timer, g_main_context_get_thread_default ());
}

/* Takes the request's nickname for the client, then calls @done, at once
 * or after waiting for a holder that is leaving.  A refusal is replied to
 * (NICKNAME_IN_USE) before @done is called. */
void
sc_connection_claim_nickname (ScConnection *connection,
                              const ScMessage *request,
                              ScClaimDone done)
{
  g_autofree char *holder = NULL;
  Holder result = try_claim (connection, request->nickname, &holder);

  if (result == HOLDER_LEAVING)
    {
      wait_for_holder (connection, request, done);
      return;
    }
  if (result != HOLDER_NONE)
    refuse_in_use (connection, request, holder);
  done (connection, request,
        result == HOLDER_NONE ? SC_CLAIM_TAKEN : SC_CLAIM_REFUSED);
}
