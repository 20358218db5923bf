/* main.c: sockchat-server's command line, signals and main loop. */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sc-accounts.h"
#include "sc-server.h"
#include "sc-i18n.h"

static gboolean
on_stop_signal (gpointer data)
{
  GMainLoop *loop = data;

  g_message ("stopping on signal");
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* SIGHUP (systemctl reload): the accounts file is read again, so that
 * --add-account takes effect without a restart. */
static gboolean
on_reload_signal (gpointer data)
{
  ScServer *server = data;
  g_autoptr (GError) error = NULL;
  guint n_accounts = 0;

  if (sc_server_reload_accounts (server, &n_accounts, &error))
    g_message ("reloaded the accounts file: %u registered nicknames",
               n_accounts);
  else
    g_warning ("SIGHUP: accounts not reloaded, the earlier ones stay: %s",
               error->message);
  return G_SOURCE_CONTINUE;
}

/* One line of standard input without its line ending, not echoed when it
 * comes from a terminal.  (transfer full) */
static char *
read_password (const char *prompt)
{
  struct termios saved, quiet;
  gboolean tty = isatty (STDIN_FILENO);
  char buffer[1024];
  char *line;

  if (tty)
    {
      fputs (prompt, stderr);
      fflush (stderr);
      tcgetattr (STDIN_FILENO, &saved);
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      quiet.c_lflag |= ECHONL;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  line = fgets (buffer, sizeof buffer, stdin);
  if (tty)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
  if (line == NULL)
    return NULL;
  buffer[strcspn (buffer, "\r\n")] = '\0';
  line = g_strdup (buffer);
  memset (buffer, 0, sizeof buffer);
  return line;
}

/* sockchat-server --accounts-file FILE --add-account NAME */
static int
add_account (ScServerConfig *config, const char *nickname)
{
  g_autofree char *password = NULL;
  g_autofree char *again = NULL;
  g_autoptr (GError) error = NULL;

  if (config->accounts_path == NULL)
    {
      g_printerr ("sockchat-server: %s\n",
                  _ ("--add-account needs an --accounts-file"));
      return 2;
    }
  password = read_password (_ ("Password: "));
  if (password != NULL && isatty (STDIN_FILENO))
    {
      again = read_password (_ ("The same password again: "));
      if (again == NULL || !g_str_equal (password, again))
        {
          g_printerr ("sockchat-server: %s\n", _ ("the passwords differ"));
          return 1;
        }
    }
  if (password == NULL ||
      !sc_accounts_append (config->accounts_path, nickname, password, &error))
    {
      g_printerr ("sockchat-server: %s\n",
                  error ? error->message : _ ("no password given"));
      return 1;
    }
  /* Translators: the nickname, then the accounts file. */
  g_print (_ ("Registered “%s” in %s\n"), nickname, config->accounts_path);
  g_print ("%s\n", _ ("A running server reads it again on SIGHUP "
                      "(systemctl reload sockchat-server)."));
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (ScServerConfig) config = NULL;
  g_autoptr (ScServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  gboolean version_only = FALSE;
  g_autofree char *new_account = NULL;

  sc_i18n_init ();
  g_set_prgname ("sockchat-server");

  config = sc_server_config_new ();
  if (!sc_server_config_parse_args (config, &argc, &argv, &version_only,
                                    &new_account, &error))
    {
      g_printerr ("sockchat-server: %s\n", error->message);
      g_printerr (_ ("Try “sockchat-server --help” for more information.\n"));
      return 2;
    }
  if (version_only)
    {
      g_print ("sockchat-server %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (new_account != NULL)
    return add_account (config, new_account);

  /* Every send() uses MSG_NOSIGNAL; this covers anything else. */
  signal (SIGPIPE, SIG_IGN);

  /* Before the port is announced, so that a signal sent as soon as it is
   * known already stops the server cleanly. */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_stop_signal, loop);
  g_unix_signal_add (SIGTERM, on_stop_signal, loop);

  server = sc_server_new (config);
  if (!sc_server_start (server, &error))
    {
      g_printerr ("sockchat-server: %s\n", error->message);
      return 1;
    }
  g_unix_signal_add (SIGHUP, on_reload_signal, server);
  /* Tools and tests read the port from here when started with --port 0. */
  if (!config->no_plaintext)
    g_print ("sockchat-server: listening on port %u\n",
             sc_server_get_port (server));
  if (sc_server_get_tls_port (server) != 0)
    g_print ("sockchat-server: listening for TLS on port %u\n",
             sc_server_get_tls_port (server));
  fflush (stdout);

  g_main_loop_run (loop);

  sc_server_stop (server);
  return 0;
}
