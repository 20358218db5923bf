/* sc-accounts.h: registered nicknames, read from the accounts file.
 *
 * Each line of the file is "nickname:HASH", HASH a crypt(3) hash
 * (yescrypt, "$y$...", as libxcrypt makes them); empty lines and lines
 * starting with '#' are skipped.  A registered nickname, and any nickname
 * confusable with it (sc-nickname.h), can be taken only with the
 * account's password.  The file is read when the server starts and on
 * SIGHUP (sc-server-accounts.c).
 *
 * Checking a password costs tens of milliseconds on purpose; it is never
 * done on a worker's thread (sc-password-checker.h).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScAccounts ScAccounts;

ScAccounts *sc_accounts_load (const char *path, GError **error);
ScAccounts *sc_accounts_ref (ScAccounts *accounts);
void sc_accounts_unref (ScAccounts *accounts);
guint sc_accounts_get_n_accounts (ScAccounts *accounts);
const char *sc_accounts_lookup (ScAccounts *accounts,
                                const char *nickname,
                                const char **registered_name);

char *sc_accounts_hash_password (const char *password, GError **error);
gboolean sc_accounts_verify (const char *hash, const char *password);
gboolean sc_accounts_append (const char *path,
                             const char *nickname,
                             const char *password,
                             GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScAccounts, sc_accounts_unref)

G_END_DECLS
