/* sc-server-accounts.c: the server's registered nicknames, which the
 * administrator may change while it runs.
 *
 * sockchat-server --add-account appends to the accounts file of a running
 * server; SIGHUP (systemctl reload) makes the server read the file again.
 * The accounts are immutable once read, so a reload swaps the whole set
 * under a lock, and a worker holds a reference to the set it is using:
 * a check that began with the old set ends with it.
 */
#include "config.h"

#include "sc-server-private.h"
#include "sc-tsan.h"

/* The registered nicknames now, or NULL when the server has none.
 * (transfer full) */
ScAccounts *
sc_server_dup_accounts (ScServer *server)
{
  ScAccounts *accounts = NULL;

  g_mutex_lock (&server->accounts_lock);
  SC_HAPPENS_AFTER (&server->accounts_lock);
  if (server->config->accounts != NULL)
    accounts = sc_accounts_ref (server->config->accounts);
  SC_HAPPENS_BEFORE (&server->accounts_lock);
  g_mutex_unlock (&server->accounts_lock);
  return accounts;
}

/* Reads the accounts file again.  On failure the accounts in use stay,
 * and @error says why.  A server started without --accounts-file has
 * nothing to read. */
gboolean
sc_server_reload_accounts (ScServer *server, guint *n_accounts, GError **error)
{
  ScAccounts *accounts, *old;

  if (server->config->accounts_path == NULL)
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID,
                   "the server was started without --accounts-file");
      return FALSE;
    }
  accounts = sc_accounts_load (server->config->accounts_path, error);
  if (accounts == NULL)
    return FALSE;
  *n_accounts = sc_accounts_get_n_accounts (accounts);
  g_mutex_lock (&server->accounts_lock);
  SC_HAPPENS_AFTER (&server->accounts_lock);
  old = server->config->accounts;
  server->config->accounts = accounts;
  SC_HAPPENS_BEFORE (&server->accounts_lock);
  g_mutex_unlock (&server->accounts_lock);
  sc_accounts_unref (old);
  return TRUE;
}
