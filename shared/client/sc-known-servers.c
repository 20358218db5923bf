/* sc-known-servers.c: the file of certificates trusted on first use
 * (see sc-known-servers.h).  Both clients share it, so a server trusted
 * in one is known in the other. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "sc-known-servers.h"

/* (transfer full) */
char *
sc_known_servers_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "sockchat",
                           "known-servers", NULL);
}

/* Splits a line into its three fields; FALSE for a comment, a blank or a
 * malformed line. */
static gboolean
parse_line (const char *line, char **host, guint16 *port, char **fingerprint)
{
  g_autofree char *copy = g_strdup (line);
  g_auto (GStrv) fields = NULL;
  guint64 value;

  if (line[0] == '#')
    return FALSE;
  fields = g_strsplit_set (g_strstrip (copy), " \t\r", -1);
  {
    g_autoptr (GPtrArray) kept = g_ptr_array_new ();

    for (guint i = 0; fields[i]; i++)
      if (fields[i][0] != '\0')
        g_ptr_array_add (kept, fields[i]);
    if (kept->len != 3 || !g_ascii_string_to_unsigned (kept->pdata[1], 10, 1,
                                                       65535, &value, NULL))
      return FALSE;
    *host = g_strdup (kept->pdata[0]);
    *port = (guint16) value;
    *fingerprint = g_strdup (kept->pdata[2]);
  }
  return TRUE;
}

static gboolean
read_lines (const char *path, GStrv *lines, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;

  *lines = NULL;
  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *lines = g_strsplit (contents, "\n", -1);
  return TRUE;
}

/* The fingerprint remembered for @host and @port, or NULL (and no error)
 * when there is none.  (transfer full) */
char *
sc_known_servers_lookup (const char *path,
                         const char *host,
                         guint16 port,
                         GError **error)
{
  g_auto (GStrv) lines = NULL;

  g_return_val_if_fail (path != NULL && host != NULL, NULL);
  if (!read_lines (path, &lines, error))
    return NULL;
  for (guint i = 0; lines && lines[i]; i++)
    {
      g_autofree char *line_host = NULL;
      g_autofree char *fingerprint = NULL;
      guint16 line_port;

      if (parse_line (lines[i], &line_host, &line_port, &fingerprint) &&
          line_port == port && g_ascii_strcasecmp (line_host, host) == 0)
        return g_steal_pointer (&fingerprint);
    }
  return NULL;
}

/* Records @fingerprint for @host and @port, replacing what was there,
 * and leaves the other lines as they were.  The file is replaced
 * atomically and readable by its owner only. */
gboolean
sc_known_servers_remember (const char *path,
                           const char *host,
                           guint16 port,
                           const char *fingerprint,
                           GError **error)
{
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree char *folder = g_path_get_dirname (path);

  g_return_val_if_fail (path != NULL && host != NULL, FALSE);
  g_return_val_if_fail (fingerprint != NULL, FALSE);
  if (strpbrk (host, " \t\n") != NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "cannot remember a host name with white space: “%s”", host);
      return FALSE;
    }
  if (!read_lines (path, &lines, error))
    return FALSE;
  for (guint i = 0; lines && lines[i]; i++)
    {
      g_autofree char *line_host = NULL;
      g_autofree char *old = NULL;
      guint16 line_port;

      if (lines[i][0] == '\0' && lines[i + 1] == NULL)
        break; /* the end of the last line */
      if (parse_line (lines[i], &line_host, &line_port, &old) &&
          line_port == port && g_ascii_strcasecmp (line_host, host) == 0)
        continue;
      g_string_append_printf (out, "%s\n", lines[i]);
    }
  if (out->len == 0)
    g_string_append (out, "# SockChat servers whose certificates were "
                          "trusted on first use: HOST PORT SHA-256\n");
  g_string_append_printf (out, "%s %u %s\n", host, port, fingerprint);
  if (g_mkdir_with_parents (folder, 0700) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "cannot create %s: %s", folder, g_strerror (errsv));
      return FALSE;
    }
  return g_file_set_contents_full (path, out->str, (gssize) out->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
