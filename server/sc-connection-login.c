/* sc-connection-login.c: HELLO and SET_NICKNAME, the requests that
 * decide who a client is: the shared password, registered nicknames and
 * their passwords, and the nickname rules (docs/PROTOCOL.md, 5.1 and
 * 5.5).
 *
 * A password is checked as an attempt (sc-auth-failures.c): admitted or
 * refused before it is looked at, then checked and answered after the
 * delay it was given, the right password as late as a wrong one.  An
 * account's password is checked on the password checker's threads, never
 * on the worker's; meanwhile nothing else the client sends is read.
 */
#include "config.h"

#include <string.h>

#include "sc-connection-private.h"
#include "sc-nickname.h"
#include "sc-password-checker.h"

/* Replies INVALID_NICKNAME, with the rule broken, and returns FALSE
 * when @nickname may not be taken by anyone (sc-nickname.c). */
static gboolean
check_nickname (ScConnection *connection,
                const ScMessage *request,
                const char *nickname)
{
  g_autoptr (GError) error = NULL;

  if (sc_nickname_check (nickname, &error))
    return TRUE;
  sc_connection_reply (connection, request, SC_STATUS_INVALID_NICKNAME,
                       error->message);
  return FALSE;
}

/* The account that guards @nickname, if any.  Returns FALSE after
 * replying when the nickname cannot be had: on an accounts-only server
 * it is not registered; it looks like a registered one without being it;
 * it is registered and no password came.  Otherwise @hash is the
 * account's hash, or NULL when the nickname is free for anyone. */
static gboolean
find_account (ScConnection *connection,
              const ScMessage *request,
              ScAccounts *accounts,
              const char **hash)
{
  ScServerConfig *config = connection->server->config;
  const char *nickname = request->nickname;
  const char *registered = NULL;
  g_autofree char *key = NULL;
  g_autofree char *registered_key = NULL;
  g_autofree char *why = NULL;

  *hash = NULL;
  if (accounts == NULL)
    return TRUE;
  if (nickname[0] != '\0')
    *hash = sc_accounts_lookup (accounts, nickname, &registered);
  if (*hash == NULL)
    {
      if (!config->accounts_only)
        return TRUE;
      sc_connection_reply (connection, request, SC_STATUS_INVALID_NICKNAME,
                           "this server accepts only registered nicknames");
      return FALSE;
    }
  key = sc_nickname_key (nickname);
  registered_key = sc_nickname_key (registered);
  if (!g_str_equal (key, registered_key))
    {
      why = g_strdup_printf ("the nickname looks like “%s”, which is "
                             "registered",
                             registered);
      sc_connection_reply (connection, request, SC_STATUS_NICKNAME_IN_USE, why);
      return FALSE;
    }
  if (request->password == NULL)
    {
      why = g_strdup_printf ("the nickname “%s” is registered: send its "
                             "password",
                             registered);
      sc_connection_reply (connection, request, SC_STATUS_NICKNAME_REGISTERED,
                           why);
      return FALSE;
    }
  return TRUE;
}

/* Refuses a HELLO and closes once the reply has gone out. */
static void
refuse_hello (ScConnection *connection,
              const ScMessage *hello,
              ScStatus status,
              const char *reason)
{
  sc_connection_reply (connection, hello, status, reason);
  sc_connection_close_after_flush (connection, status, reason);
}

/* A HELLO's nickname is the client's: it is ready. */
static void
hello_claimed (ScConnection *connection,
               const ScMessage *hello,
               ScClaimOutcome outcome)
{
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) joined = NULL;

  if (outcome != SC_CLAIM_TAKEN)
    {
      sc_server_release_client_slot (connection->server);
      return;
    }
  sc_pending_table_remove (connection->server->pending, connection->info.id);
  connection->ready = TRUE;
  g_free (connection->info.nickname);
  connection->info.nickname = g_strdup (hello->nickname);
  sc_frame_reader_set_max_payload (connection->reader,
                                   connection->server->config->max_payload);
  sc_backplane_client_ready (connection->server->backplane, &connection->info,
                             !(hello->flags & SC_FLAG_NO_PRESENCE));
  g_debug ("client %u said hello as “%s” (%s)", connection->info.id,
           hello->nickname, hello->name);

  reply = sc_message_new_reply (hello, SC_STATUS_OK, NULL);
  reply->client_id = connection->info.id;
  reply->nickname = g_strdup (connection->info.nickname);
  sc_connection_queue_message (connection, reply);

  joined = sc_message_new (SC_MSG_CLIENT_JOINED, 0);
  sc_client_info_copy_into (&joined->sender, &connection->info);
  if (connection->server->config->hide_addresses)
    {
      g_free (joined->sender.address);
      joined->sender.address = g_strdup ("");
      joined->sender.port = 0;
    }
  sc_connection_notify_everyone (connection, joined);
}

/* The rest of a HELLO, once its password (if any) has been accepted. */
static void
complete_hello (ScConnection *connection, const ScMessage *hello)
{
  if (sc_backplane_refuses_clients (connection->server->backplane))
    {
      refuse_hello (connection, hello, SC_STATUS_SERVER_BUSY,
                    "this server has lost its cluster; try another one");
      return;
    }
  if (!sc_server_take_client_slot (connection->server))
    {
      g_autofree char *why =
        g_strdup_printf ("the server is full (%u clients)",
                         connection->server->config->max_clients);

      refuse_hello (connection, hello, SC_STATUS_SERVER_FULL, why);
      return;
    }
  /* Both are set before the client becomes reachable: from then on other
   * workers send it presence notices and receipts. */
  sc_registry_set_presence (connection->server->registry, connection->info.id,
                            !(hello->flags & SC_FLAG_NO_PRESENCE));
  sc_outbox_set_batch_receipts (connection->outbox,
                                hello->flags & SC_FLAG_RECEIPT_BATCHES);
  sc_connection_claim_nickname (connection, hello, hello_claimed);
}

/* A SET_NICKNAME's nickname is the client's now. */
static void
rename_claimed (ScConnection *connection,
                const ScMessage *request,
                ScClaimOutcome outcome)
{
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) renamed = NULL;
  gboolean changed =
    !g_str_equal (connection->info.nickname, request->nickname);

  if (outcome != SC_CLAIM_TAKEN)
    return;
  g_free (connection->info.nickname);
  connection->info.nickname = g_strdup (request->nickname);
  /* -1: the presence flag stays as the HELLO set it. */
  sc_backplane_client_ready (connection->server->backplane, &connection->info,
                             -1);

  reply = sc_message_new_reply (request, SC_STATUS_OK, NULL);
  reply->nickname = g_strdup (connection->info.nickname);
  sc_connection_queue_message (connection, reply);

  /* Renaming to the very same nickname tells the others nothing new. */
  if (!changed)
    return;
  renamed = sc_message_new (SC_MSG_CLIENT_RENAMED, 0);
  renamed->client_id = connection->info.id;
  renamed->nickname = g_strdup (connection->info.nickname);
  sc_connection_notify_everyone (connection, renamed);
}

/* The rest of a SET_NICKNAME, once the nickname's password (if it has
 * an account) has been accepted. */
static void
complete_rename (ScConnection *connection, const ScMessage *request)
{
  sc_connection_claim_nickname (connection, request, rename_claimed);
}

/* A password attempt on its way: the request (a copy) and, for a
 * registered nickname, the account's hash; NULL for the shared
 * password.  Reference counted: the delay's timer and the password
 * checker each hold one. */
typedef struct
{
  ScConnection *connection;
  ScMessage *request;
  char *hash;
  gboolean paused; /* the connection's input waits for the answer */
} Attempt;

static void
attempt_clear (Attempt *attempt)
{
  sc_connection_unref (attempt->connection);
  sc_message_free (attempt->request);
  g_free (attempt->hash);
}

static void
attempt_unref (Attempt *attempt)
{
  g_rc_box_release_full (attempt, (GDestroyNotify) attempt_clear);
}

/* A copy of a HELLO or SET_NICKNAME, for an answer given later. */
ScMessage *
sc_connection_copy_request (const ScMessage *request)
{
  ScMessage *copy = sc_message_new (request->type, request->request_id);

  copy->flags = request->flags;
  copy->version = request->version;
  copy->name = g_strdup (request->name);
  copy->nickname = g_strdup (request->nickname);
  copy->password = g_strdup (request->password);
  return copy;
}

static Attempt *
attempt_new (ScConnection *connection,
             const ScMessage *request,
             const char *hash)
{
  Attempt *attempt = g_rc_box_new0 (Attempt);

  attempt->connection = sc_connection_ref (connection);
  attempt->request = sc_connection_copy_request (request);
  attempt->hash = g_strdup (hash);
  return attempt;
}

/* The password was checked: the outcome is counted and answered. */
static void
finish_attempt (ScConnection *connection,
                const ScMessage *request,
                gboolean right)
{
  ScServer *server = connection->server;
  gboolean hello = request->type == SC_MSG_HELLO;

  connection->auth_waiting = FALSE;
  sc_auth_failures_end (
    server->auth_failures, connection->info.address, &connection->auth_ticket,
    right ? SC_AUTH_SUCCEEDED : SC_AUTH_FAILED, g_get_monotonic_time ());
  if (!right)
    {
      g_message ("client %u (%s port %u): wrong password%s",
                 connection->info.id, connection->info.address,
                 connection->info.port,
                 request->password != NULL && request->nickname[0] != '\0'
                   ? " for its nickname"
                   : "");
      if (hello)
        refuse_hello (connection, request, SC_STATUS_AUTH_FAILED,
                      "wrong or missing password");
      else
        sc_connection_reply (connection, request, SC_STATUS_AUTH_FAILED,
                             "wrong password for this nickname");
      return;
    }
  if (hello)
    complete_hello (connection, request);
  else
    complete_rename (connection, request);
}

/* Called in the worker's context, after the delay and the check. */
static void
on_checked (gboolean right, gpointer data)
{
  Attempt *attempt = data;
  ScConnection *connection = attempt->connection;

  /* A connection closed (or closing) meanwhile gave its attempt up when
   * it closed. */
  if (connection->closing || connection->close_after_flush)
    return;
  /* The account's owner, from now on (see
   * sc_connection_handle_set_nickname()). */
  if (right && attempt->hash != NULL)
    {
      g_free (connection->account_key);
      connection->account_key = sc_nickname_key (attempt->request->nickname);
    }
  finish_attempt (connection, attempt->request, right);
  /* A claim waiting for its nickname's holder to leave resumes it. */
  if (attempt->paused && !connection->claim_waiting && !connection->closing &&
      !connection->close_after_flush)
    sc_connection_resume_input (connection);
}

/* The admitted attempt's time has come: the password is checked now (on
 * the checker's threads for an account). */
static gboolean
check_attempt (gpointer data)
{
  Attempt *attempt = data;
  ScConnection *connection = attempt->connection;
  ScServer *server = connection->server;

  if (connection->closing || connection->close_after_flush)
    return G_SOURCE_REMOVE;
  if (attempt->hash == NULL)
    {
      on_checked (sc_auth_password_matches (server->config->password,
                                            attempt->request->password),
                  attempt);
      return G_SOURCE_REMOVE;
    }
  sc_password_checker_verify (
    server->password_checker, attempt->hash, attempt->request->password,
    on_checked, g_rc_box_acquire (attempt), (GDestroyNotify) attempt_unref);
  return G_SOURCE_REMOVE;
}

/* Refuses an attempt that was not admitted; a HELLO is closed. */
static void
refuse_unadmitted (ScConnection *connection,
                   const ScMessage *request,
                   ScAuthAdmission admission)
{
  const char *why = admission == SC_AUTH_BUSY_ADDRESS
                      ? "too many logins from your address under way; "
                        "try again later"
                      : "too many logins under way; try again later";

  g_message ("client %u (%s port %u): password not checked: %s",
             connection->info.id, connection->info.address,
             connection->info.port, why);
  if (request->type == SC_MSG_HELLO)
    refuse_hello (connection, request, SC_STATUS_SERVER_FULL, why);
  else
    sc_connection_reply (connection, request, SC_STATUS_SERVER_FULL, why);
}

/* A request with a password to check (the shared one when @hash is
 * NULL, else the account's) is an attempt: admitted or refused before
 * the password is looked at, then checked and answered after its delay. */
static void
attempt_login (ScConnection *connection,
               const ScMessage *request,
               const char *hash)
{
  ScServer *server = connection->server;
  Attempt *attempt;
  g_autoptr (GSource) timer = NULL;
  guint delay_ms = 0;
  ScAuthAdmission admission = sc_auth_failures_begin (
    server->auth_failures, connection->info.address, g_get_monotonic_time (),
    &delay_ms, &connection->auth_ticket);

  if (admission != SC_AUTH_ADMITTED)
    {
      refuse_unadmitted (connection, request, admission);
      return;
    }
  /* Bounded as an attempt from now on, a HELLO no longer waits among the
   * connections that have not said hello, where a flood could push it
   * out. */
  if (!connection->ready)
    sc_pending_table_remove (server->pending, connection->info.id);
  connection->auth_waiting = TRUE;
  attempt = attempt_new (connection, request, hash);
  if (delay_ms == 0 && hash == NULL)
    {
      check_attempt (attempt);
      attempt_unref (attempt);
      return;
    }
  if (delay_ms > 0)
    g_message ("client %u (%s port %u): answering its password in %u ms",
               connection->info.id, connection->info.address,
               connection->info.port, delay_ms);
  sc_connection_pause_input (connection);
  attempt->paused = TRUE;
  timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (timer, check_attempt, attempt,
                         (GDestroyNotify) attempt_unref);
  g_source_attach (timer, g_main_context_get_thread_default ());
}

/* Passwords (the server's and registered nicknames') cross the network
 * over TLS only, unless the operator allowed them in clear.  The
 * request is refused before its password is looked at, whether or not
 * it carried one, so nothing is learnt from it and no guess is counted.
 * Returns TRUE when it refused. */
static gboolean
refuse_plaintext_password (ScConnection *connection, const ScMessage *request)
{
  guint16 tls_port = sc_server_get_tls_port (connection->server);
  g_autofree char *why = NULL;

  if (connection->tls != NULL ||
      connection->server->config->allow_plaintext_password)
    return FALSE;
  why = tls_port != 0
          ? g_strdup_printf ("the password is accepted over TLS only (port %u)",
                             tls_port)
          : g_strdup ("the password is accepted over TLS only, and this "
                      "server has no TLS listener");
  g_message ("client %u (%s port %u): %s refused: %s", connection->info.id,
             connection->info.address, connection->info.port,
             request->type == SC_MSG_HELLO ? "hello" : "nickname change", why);
  if (request->type == SC_MSG_HELLO)
    refuse_hello (connection, request, SC_STATUS_ENCRYPTION_REQUIRED, why);
  else
    sc_connection_reply (connection, request, SC_STATUS_ENCRYPTION_REQUIRED,
                         why);
  return TRUE;
}

void
sc_connection_handle_hello (ScConnection *connection, const ScMessage *hello)
{
  ScServerConfig *config = connection->server->config;
  g_autoptr (ScAccounts) accounts = NULL;
  const char *hash = NULL;

  if (connection->ready)
    {
      sc_connection_reply (connection, hello, SC_STATUS_BAD_REQUEST,
                           "hello was already done");
      return;
    }
  if (hello->version != SC_PROTOCOL_VERSION)
    {
      g_autofree char *why =
        g_strdup_printf ("this server speaks protocol version %d, "
                         "the client version %u",
                         SC_PROTOCOL_VERSION, hello->version);
      refuse_hello (connection, hello, SC_STATUS_VERSION_MISMATCH, why);
      return;
    }
  if (sc_server_memory_exceeded (connection->server))
    {
      refuse_hello (connection, hello, SC_STATUS_SERVER_BUSY,
                    "the server is at its memory limit; try again later");
      return;
    }
  if (strlen (hello->name) > SC_PROGRAM_MAX)
    {
      sc_connection_reply (connection, hello, SC_STATUS_BAD_REQUEST,
                           "the program string is longer than 255 bytes");
      return;
    }
  if (hello->nickname[0] != '\0' &&
      !check_nickname (connection, hello, hello->nickname))
    return;
  /* Held until the check has copied the hash: a reload may replace the
   * accounts meanwhile (sc-server-accounts.c). */
  accounts = sc_server_dup_accounts (connection->server);
  if (!find_account (connection, hello, accounts, &hash))
    return;
  if ((hash != NULL || config->password != NULL) &&
      refuse_plaintext_password (connection, hello))
    return;
  /* A registered nickname's password stands for the shared one: the
   * account's owner is known to the server. */
  if (hash != NULL || config->password != NULL)
    attempt_login (connection, hello, hash);
  else
    complete_hello (connection, hello);
}

void
sc_connection_handle_set_nickname (ScConnection *connection,
                                   const ScMessage *request)
{
  g_autofree char *key = NULL;
  g_autofree char *current_key = NULL;
  g_autoptr (ScAccounts) accounts = NULL;
  const char *hash = NULL;

  if (!check_nickname (connection, request, request->nickname))
    return;
  /* The account's owner may change its nickname's case or composition
   * without the password again; a client that took the name before it
   * was registered is not its owner. */
  key = sc_nickname_key (request->nickname);
  current_key = sc_nickname_key (connection->info.nickname);
  accounts = sc_server_dup_accounts (connection->server);
  if (!(g_str_equal (key, current_key) &&
        g_strcmp0 (key, connection->account_key) == 0) &&
      !find_account (connection, request, accounts, &hash))
    return;
  if (hash != NULL && refuse_plaintext_password (connection, request))
    return;
  if (hash != NULL)
    attempt_login (connection, request, hash);
  else
    complete_rename (connection, request);
}
