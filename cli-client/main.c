/* main.c: sockchat-cli's command line, signals and main loop. */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "sc-cli.h"
#include "sc-tls.h"
#include "sc-i18n.h"

static gboolean
on_stop_signal (gpointer data)
{
  sc_cli_quit (SC_CLI (data));
  return G_SOURCE_CONTINUE;
}

static gboolean
parse_port_option (const char *text, guint16 *port, GError **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("Invalid port \"%s\": use a number from 1 to 65535"),
                   text);
      return FALSE;
    }
  *port = (guint16) value;
  return TRUE;
}

/* The first line of @path, without its line ending; a password is
 * kept out of the command line, where every user could read it.
 * (transfer full) */
static char *
read_password_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, G_FILE_ERROR, local_error->code,
                   _ ("cannot read password file %s: %s"), path,
                   local_error->message);
      return NULL;
    }
  contents[strcspn (contents, "\r\n")] = '\0';
  return g_steal_pointer (&contents);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (ScClient) client = NULL;
  g_autoptr (ScCliOutput) output = NULL;
  g_autoptr (ScCli) cli = NULL;
  g_autofree char *host = NULL;
  g_autofree char *port_text = NULL;
  g_autofree char *nickname = NULL;
  g_autofree char *password_path = NULL;
  g_autofree char *password = NULL;
  gboolean version_only = FALSE;
  gboolean tls = FALSE;
  gboolean trust_new = FALSE;
  gboolean allow_plaintext_password = FALSE;
  guint16 port = 0;
  guint signal_sources[3];
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host,
      N_ ("Server to connect to at start (default 127.0.0.1)"),
      N_ ("ADDRESS") },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port_text,
      N_ ("Port to connect to at start (default 5330)"), N_ ("PORT") },
    { "nickname", 'n', 0, G_OPTION_ARG_STRING, &nickname,
      N_ ("Nickname to announce when connecting"), N_ ("NAME") },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_path,
      N_ ("Send the first line of FILE as the password: the server's, or "
          "the registered nickname's"),
      N_ ("FILE") },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &tls,
      N_ ("Connect over TLS (default port 5331), checking the server's "
          "certificate"),
      NULL },
    { "trust-new", 0, 0, G_OPTION_ARG_NONE, &trust_new,
      N_ ("With --tls: trust and remember a server certificate seen for the "
          "first time without asking (a changed one is still refused)"),
      NULL },
    { "allow-plaintext-password", 0, 0, G_OPTION_ARG_NONE,
      &allow_plaintext_password,
      N_ ("Send the password on a connection without TLS too (for a server "
          "started with --allow-plaintext-password); without it, the "
          "password crosses the network over TLS only"),
      NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version_only,
      N_ ("Print the version and exit"), NULL },
    G_OPTION_ENTRY_NULL,
  };

  sc_i18n_init ();
  g_set_prgname ("sockchat-cli");

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (
    context,
    _ ("The SockChat terminal client.  Choose actions from a numbered menu:\n"
       "connect, ask the server for its time, its name and its clients, and\n"
       "send messages.  With --host or --port it connects at start.  When\n"
       "standard input is not a terminal it reads one answer per line and\n"
       "exits at the end of the input."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, &argc, &argv, &error) ||
      (port_text != NULL && !parse_port_option (port_text, &port, &error)) ||
      (password_path != NULL &&
       (password = read_password_file (password_path, &error)) == NULL))
    {
      g_printerr ("sockchat-cli: %s\n", error->message);
      g_printerr (_ ("Try \"sockchat-cli --help\" for more information.\n"));
      return 2;
    }
  if (argc > 1)
    {
      g_printerr (_ ("sockchat-cli: unexpected argument \"%s\"\n"), argv[1]);
      g_printerr (_ ("Try \"sockchat-cli --help\" for more information.\n"));
      return 2;
    }
  if (version_only)
    {
      g_print ("sockchat-cli %s\n", PACKAGE_VERSION);
      return 0;
    }

  /* Every send() uses MSG_NOSIGNAL; this covers a closed output pipe. */
  signal (SIGPIPE, SIG_IGN);

  loop = g_main_loop_new (NULL, FALSE);
  client = sc_client_new ("sockchat-cli");
  sc_client_set_password (client, password);
  output = sc_cli_output_new (isatty (STDIN_FILENO) && isatty (STDOUT_FILENO));
  sc_client_set_tls (client, tls);
  sc_client_set_trust_new (client, trust_new);
  sc_client_set_allow_plaintext_password (client, allow_plaintext_password);
  if (tls && port == 0)
    port = SC_TLS_DEFAULT_PORT;
  cli = sc_cli_new (client, output);
  sc_cli_set_defaults (cli, host, port, nickname);
  g_signal_connect_swapped (cli, "finished", G_CALLBACK (g_main_loop_quit),
                            loop);

  signal_sources[0] = g_unix_signal_add (SIGINT, on_stop_signal, cli);
  signal_sources[1] = g_unix_signal_add (SIGTERM, on_stop_signal, cli);
  signal_sources[2] = g_unix_signal_add (SIGHUP, on_stop_signal, cli);

  sc_cli_start (cli, host != NULL || port_text != NULL);
  if (!sc_cli_is_finished (cli))
    g_main_loop_run (loop);

  for (guint i = 0; i < G_N_ELEMENTS (signal_sources); i++)
    g_source_remove (signal_sources[i]);
  g_clear_object (&cli);
  /* Let callbacks already due run, so nothing is left holding a
   * reference at exit. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
