/* sc-accounts.c: the accounts file, and hashing and checking passwords
 * with libxcrypt. */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "sc-accounts.h"
#include "sc-nickname.h"
#include "sc-server-config.h"

typedef struct
{
  char *nickname; /* as registered */
  char *hash;
} Account;

struct _ScAccounts
{
  GPtrArray *all;      /* Account, owned, in file order */
  GHashTable *by_look; /* each look of its nickname -> Account */
};

static void
account_free (Account *account)
{
  g_free (account->nickname);
  g_free (account->hash);
  g_free (account);
}

static ScAccounts *
accounts_new (void)
{
  ScAccounts *accounts = g_atomic_rc_box_new0 (ScAccounts);

  accounts->all =
    g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
  accounts->by_look =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return accounts;
}

/* Read-only once loaded, so the configuration's copies share it. */
ScAccounts *
sc_accounts_ref (ScAccounts *accounts)
{
  return g_atomic_rc_box_acquire (accounts);
}

static void
accounts_clear (ScAccounts *accounts)
{
  g_hash_table_unref (accounts->by_look);
  g_ptr_array_unref (accounts->all);
}

void
sc_accounts_unref (ScAccounts *accounts)
{
  if (accounts != NULL)
    g_atomic_rc_box_release_full (accounts, (GDestroyNotify) accounts_clear);
}

static gboolean
file_error (GError **error,
            const char *path,
            guint line_number,
            const char *why)
{
  g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
               /* Translators: file name, line number, what is wrong. */
               _ ("%s:%u: %s"), path, line_number, why);
  return FALSE;
}

/* The account whose nickname has any of @looks, or NULL.  When the
 * looks lead to two accounts, the one that is not @nickname itself (in
 * any case or form): the name looks like that one, and may not be had
 * even with its own account's password. */
static Account *
find_account (ScAccounts *accounts,
              const char *nickname,
              const char *const *looks)
{
  g_autofree char *key = sc_nickname_key (nickname);
  Account *found = NULL;

  for (guint i = 0; looks[i] != NULL; i++)
    {
      Account *account = g_hash_table_lookup (accounts->by_look, looks[i]);
      g_autofree char *account_key = NULL;

      if (account == NULL || account == found)
        continue;
      if (found == NULL)
        {
          found = account;
          continue;
        }
      account_key = sc_nickname_key (account->nickname);
      if (!g_str_equal (account_key, key))
        found = account;
    }
  return found;
}

/* Adds one "nickname:HASH" line.  The nickname is split at the last
 * colon, since a hash has none. */
static gboolean
add_line (ScAccounts *accounts,
          char *line,
          const char *path,
          guint line_number,
          GError **error)
{
  char *colon = strrchr (line, ':');
  g_autoptr (GError) local_error = NULL;
  g_auto (GStrv) looks = NULL;
  Account *account;

  if (colon == NULL || colon[1] != '$')
    return file_error (error, path, line_number,
                       _ ("expected “nickname:HASH” with a crypt hash"));
  *colon = '\0';
  if (!sc_nickname_check (line, &local_error))
    return file_error (error, path, line_number, local_error->message);
  looks = sc_nickname_looks (line);
  if (find_account (accounts, line, (const char *const *) looks) != NULL)
    return file_error (error, path, line_number,
                       _ ("the nickname is registered already, or one too "
                          "like it"));
  account = g_new0 (Account, 1);
  account->nickname = g_strdup (line);
  account->hash = g_strdup (colon + 1);
  g_ptr_array_add (accounts->all, account);
  for (guint i = 0; looks[i] != NULL; i++)
    g_hash_table_insert (accounts->by_look, g_strdup (looks[i]), account);
  return TRUE;
}

/* (transfer full) */
ScAccounts *
sc_accounts_load (const char *path, GError **error)
{
  g_autoptr (ScAccounts) accounts = accounts_new ();
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
                   _ ("cannot read accounts file %s: %s"), path,
                   local_error->message);
      return NULL;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = lines[i];

      /* A file written on Windows ends its lines with CR LF. */
      line[strcspn (line, "\r")] = '\0';
      if (line[0] == '\0' || line[0] == '#')
        continue;
      if (!add_line (accounts, line, path, i + 1, error))
        return NULL;
    }
  return g_steal_pointer (&accounts);
}

guint
sc_accounts_get_n_accounts (ScAccounts *accounts)
{
  g_return_val_if_fail (accounts != NULL, 0);

  return accounts->all->len;
}

/* The hash of the account whose nickname is @nickname or confusable with
 * it, or NULL; @registered_name gets the nickname as registered, to tell
 * the two apart.  Cheap: no password is hashed. */
const char *
sc_accounts_lookup (ScAccounts *accounts,
                    const char *nickname,
                    const char **registered_name)
{
  g_auto (GStrv) looks = NULL;
  Account *account;

  g_return_val_if_fail (accounts != NULL, NULL);
  g_return_val_if_fail (nickname != NULL, NULL);

  looks = sc_nickname_looks (nickname);
  account = find_account (accounts, nickname, (const char *const *) looks);
  if (account == NULL)
    return NULL;
  if (registered_name != NULL)
    *registered_name = account->nickname;
  return account->hash;
}

/* A new yescrypt hash of @password, with a random salt at libxcrypt's
 * default cost.  (transfer full) */
char *
sc_accounts_hash_password (const char *password, GError **error)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  g_autofree struct crypt_data *data = g_new0 (struct crypt_data, 1);
  const char *hash;

  g_return_val_if_fail (password != NULL, NULL);

  if (crypt_gensalt_rn ("$y$", 0, NULL, 0, setting, sizeof setting) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   _ ("cannot make a salt: %s"), g_strerror (saved_errno));
      return NULL;
    }
  hash = crypt_r (password, setting, data);
  if (hash == NULL || hash[0] != '$')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           _ ("cannot hash the password"));
      return NULL;
    }
  return g_strdup (hash);
}

/* Whether @computed (crypt_r's output) is @hash.  The comparison takes
 * as long wherever the two differ. */
static gboolean
same_hash (const char *computed, const char *hash)
{
  gsize length = strlen (hash);
  guint8 difference = 0;

  /* libxcrypt fails with a hash starting with '*', never with NULL. */
  if (computed == NULL || computed[0] != '$' || strlen (computed) != length)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    difference |= (guint8) (computed[i] ^ hash[i]);
  return difference == 0;
}

/* Whether @password hashes to @hash.  Slow by design: call it off the
 * workers' threads. */
gboolean
sc_accounts_verify (const char *hash, const char *password)
{
  struct crypt_data *data = g_new0 (struct crypt_data, 1);
  gboolean right;

  g_return_val_if_fail (hash != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);

  right = same_hash (crypt_r (password, hash, data), hash);
  /* The work area holds what the password was turned into. */
  memset (data, 0, sizeof *data);
  g_free (data);
  return right;
}

/* Registers @nickname with @password in @path, creating the file with
 * mode 0600; refuses a nickname registered already (or one confusable
 * with it). */
gboolean
sc_accounts_append (const char *path,
                    const char *nickname,
                    const char *password,
                    GError **error)
{
  g_autoptr (ScAccounts) existing = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *line = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *registered = NULL;
  int fd;
  gssize written;

  if (!sc_nickname_check (nickname, &local_error))
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR,
                   SC_SERVER_CONFIG_ERROR_INVALID, "%s", local_error->message);
      return FALSE;
    }
  if (password[0] == '\0')
    {
      g_set_error_literal (error, SC_SERVER_CONFIG_ERROR,
                           SC_SERVER_CONFIG_ERROR_INVALID,
                           _ ("the password is empty"));
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      existing = sc_accounts_load (path, error);
      if (existing == NULL)
        return FALSE;
      if (sc_accounts_lookup (existing, nickname, &registered) != NULL)
        {
          g_set_error (
            error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_INVALID,
            _ ("“%s” is registered already (as “%s”)"), nickname, registered);
          return FALSE;
        }
    }
  hash = sc_accounts_hash_password (password, error);
  if (hash == NULL)
    return FALSE;
  line = g_strdup_printf ("%s:%s\n", nickname, hash);
  fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
                   _ ("cannot write accounts file %s: %s"), path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  written = write (fd, line, strlen (line));
  if (close (fd) != 0 || written != (gssize) strlen (line))
    {
      g_set_error (error, SC_SERVER_CONFIG_ERROR, SC_SERVER_CONFIG_ERROR_FILE,
                   _ ("cannot write accounts file %s"), path);
      return FALSE;
    }
  return TRUE;
}
