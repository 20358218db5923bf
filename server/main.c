/* main.c: sockchat-server's command line, signals and main loop. */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>

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

int
main (int argc, char **argv)
{
  g_autoptr (ScServerConfig) config = NULL;
  g_autoptr (ScServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GError) error = NULL;
  gboolean version_only = FALSE;

  sc_i18n_init ();
  g_set_prgname ("sockchat-server");

  config = sc_server_config_new ();
  if (!sc_server_config_parse_args (config, &argc, &argv, &version_only,
                                    &error))
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
